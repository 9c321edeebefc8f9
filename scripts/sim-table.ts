// Writes the scale table of docs/BENCHMARKS.md from `npm run sim -- --json` outputs:
//   npm run sim -- --nodes 1000 --seed 1 --json > artifacts/sim/n1000-s1.json
//   node --import tsx scripts/sim-table.ts artifacts/sim/n*-s1.json [--docs docs/BENCHMARKS.md]
// Prints the table; with --docs replaces what lies between the scale-table markers.
import { readFileSync, writeFileSync } from 'node:fs';

interface SimOut {
  nodes: number;
  seed: number;
  convergeMs?: number;
  steadyMsgsPerNodeSec: number;
  steadyBytesPerNodeSec: number;
  steadyHttpsBytesPerNodeSec: number;
  failureP50Ms?: number;
  failureP99Ms?: number;
  failureMissing: number;
  healMs?: number;
  /** Said in the heal cell when there is no healMs (e.g. a run stopped before its partition phase ended). */
  healNote?: string;
  heapBytesPerNode?: number;
  realMs: number;
  cpuMs?: number;
}

const args = process.argv.slice(2);
const docsAt = args.indexOf('--docs');
const docs = docsAt >= 0 ? args[docsAt + 1] : undefined;
const files = args.filter((_, i) => docsAt < 0 || (i !== docsAt && i !== docsAt + 1));
// The last JSON line of each file (`npm run sim` prints its own header lines first).
const lastJson = (f: string): SimOut =>
  JSON.parse(
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1) ?? '{}',
  ) as SimOut;
const runs = files.map(lastJson).sort((a, b) => a.nodes - b.nodes);

const secs = (ms: number | undefined, missing = 'not within the limit'): string =>
  ms === undefined ? missing : `${(ms / 1000).toFixed(1)} s`;
const bytes = (b: number): string =>
  b >= 1e6
    ? `${(b / 1e6).toFixed(2)} MB`
    : b >= 1e3
      ? `${(b / 1e3).toFixed(b >= 1e4 ? 0 : 2)} KB`
      : `${b.toFixed(0)} B`;
const duration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
};

const header = [
  'nodes',
  'convergence after join storm',
  'failure: all 10 % dropped, p50 / p99',
  'heal 50/50 partition',
  'control per node at steady state (JSON / HTTPS)',
  'memory per node (sim heap)',
  'real time (CPU) of the run',
];
const rows = runs.map((r) => [
  String(r.nodes),
  secs(r.convergeMs),
  r.failureMissing > 0 ? `${r.failureMissing} survivors missing` : `${secs(r.failureP50Ms)} / ${secs(r.failureP99Ms)}`,
  secs(r.healMs, r.healNote ?? 'not run'),
  `${r.steadyMsgsPerNodeSec.toFixed(2)} msg/s, ${bytes(r.steadyBytesPerNodeSec)}/s / ${bytes(r.steadyHttpsBytesPerNodeSec)}/s`,
  r.heapBytesPerNode === undefined ? '—' : bytes(r.heapBytesPerNode),
  r.cpuMs === undefined ? `${duration(r.realMs)}` : `${duration(r.realMs)} (${duration(r.cpuMs)})`,
]);
const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
const table = [
  line(header),
  line(header.map((_, i) => (i === 0 ? '----:' : '---:'))),
  ...rows.map(line),
  '',
  `Seeds: ${[...new Set(runs.map((r) => r.seed))].join(', ')}.`,
].join('\n');
console.log(table);

if (docs) {
  const begin = '<!-- scale-table:begin (scripts/sim-table.ts rewrites this part) -->';
  const end = '<!-- scale-table:end -->';
  const text = readFileSync(docs, 'utf8');
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${docs}: scale-table markers not found`);
  writeFileSync(docs, `${text.slice(0, a + begin.length)}\n\n${table}\n\n${text.slice(b)}`);
}
