// R27 baseline throughput through real TUN devices: iperf3 TCP over IPv4 and IPv6 (1 stream), TCP with 4
// streams, and UDP (1380-byte datagrams), between two tunmesh nodes. npm test runs each for 1 s on the
// native engine (the js engine without the addon) and checks that every path carries traffic and TCP
// reaches a loose floor (native ≥ 100, js ≥ 10 Mbit/s); the figures are logged. With TUNMESH_PERF=1 (a quiet machine) each runs 10 s, 50 streams are added, both
// engines are measured, and every figure must stay ≥ 80 % of the stored baseline (test/helpers/
// r27-baseline.json: same machine kind; a figure missing from it fails); TUNMESH_R27_RECORD=1 writes that
// file from the run instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadFastPath } from '../../src/dataplane/native-addon.js';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

const perf = process.env.TUNMESH_PERF === '1';
const record = process.env.TUNMESH_R27_RECORD === '1';
const seconds = perf ? 10 : 1;
const nativeOk = loadFastPath() !== undefined;
const engines: ('native' | 'js')[] = perf ? ['native', 'js'] : [nativeOk ? 'native' : 'js'];
const baselineFile = new URL('../helpers/r27-baseline.json', import.meta.url).pathname;
/** A figure may fall to this share of the baseline before the check fails (the row: > 20 % regression). */
const floor = 0.8;

let lab: Lab;
let mesh: Mesh;
let engine: 'native' | 'js' = engines[0]!;

before(async () => {
  lab = await Lab.create('hd27-', { nodes: 2 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (_n, c) => {
      c.dataplane = { engine };
    },
  });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

interface Run {
  readonly name: string;
  readonly args: string[];
  readonly v6?: boolean;
  readonly udp?: boolean;
}
const runs: Run[] = [
  { name: 'tcp4', args: [] },
  { name: 'tcp6', args: [], v6: true },
  { name: 'tcp4x4', args: ['-P', '4'] },
  { name: 'udp4', args: ['-u', '-b', '2G', '-l', '1380'], udp: true },
  ...(perf ? [{ name: 'tcp4x50', args: ['-P', '50'] }] : []),
];

/** Received Mbit/s of one iperf3 run n2 → n1. */
async function iperf(run: Run, port: number): Promise<number> {
  const to = run.v6 ? mesh.overlay6('n1') : mesh.overlay4('n1');
  const server = lab.spawn(lab.node('n1').ns, 'iperf3', ['-s', '-1', '-p', String(port)]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = await lab.exec(
      lab.node('n2').ns,
      'iperf3',
      ['-c', to, '-p', String(port), '-t', String(seconds), '-J', ...run.args],
      { timeoutMs: (seconds + 30) * 1000 },
    );
    const j = JSON.parse(r.stdout) as {
      end: { sum_received?: { bits_per_second: number }; sum?: { bits_per_second: number; lost_percent?: number } };
    };
    if (run.udp) return ((j.end.sum!.bits_per_second * (1 - (j.end.sum!.lost_percent ?? 0) / 100)) / 1e6) | 0;
    return (j.end.sum_received!.bits_per_second / 1e6) | 0;
  } finally {
    server.kill('SIGKILL');
  }
}

test(`R27: baseline throughput (${seconds} s per run; ${engines.join(', ')})`, { timeout: 600_000 }, async () => {
  const figures: Record<string, Record<string, number>> = {};
  let port = 5301;
  for (const e of engines) {
    engine = e;
    await mesh.stopAll();
    for (const n of ['n1', 'n2']) await mesh.writeConfig(n);
    mesh.start('n1');
    mesh.start('n2');
    await mesh.waitConverged(['n1', 'n2']);
    assert.equal((await ping(lab, lab.node('n2').ns, mesh.overlay4('n1'), { count: 2, timeoutS: 5 })).received, 2);
    figures[e] = {};
    for (const run of runs) figures[e][run.name] = await iperf(run, port++);
    console.log(`# R27 ${e} engine, Mbit/s received: ${JSON.stringify(figures[e])}`);
    for (const run of runs) assert.ok(figures[e][run.name]! > 0, `${e} ${run.name} carried nothing`);
    // A loose floor that holds on a loaded 2-core machine (≈ 6 % of the stored baseline), so a collapse of
    // the data path fails npm test too, not only the PERF run.
    const looseTcpFloor = e === 'native' ? 100 : 10;
    for (const name of ['tcp4', 'tcp6'])
      assert.ok(figures[e][name]! >= looseTcpFloor, `${e} ${name}: ${figures[e][name]} < ${looseTcpFloor} Mbit/s`);
  }
  if (!perf) return;
  if (record) {
    writeFileSync(
      baselineFile,
      JSON.stringify({ recorded: new Date().toISOString(), seconds, figures }, null, 2) + '\n',
    );
    console.log(`# R27 baseline written to ${baselineFile}`);
    return;
  }
  assert.ok(existsSync(baselineFile), 'no stored baseline: run once with TUNMESH_R27_RECORD=1');
  const base = (JSON.parse(readFileSync(baselineFile, 'utf8')) as { figures: Record<string, Record<string, number>> })
    .figures;
  const regressions: string[] = [];
  for (const [e, f] of Object.entries(figures))
    for (const [name, v] of Object.entries(f)) {
      const b = base[e]?.[name];
      if (b === undefined) regressions.push(`${e} ${name}: no baseline figure (record one: TUNMESH_R27_RECORD=1)`);
      else if (v < b * floor) regressions.push(`${e} ${name}: ${v} < ${floor} × ${b} Mbit/s`);
    }
  assert.deepEqual(regressions, [], 'throughput regressed > 20 % against the stored baseline');
});
