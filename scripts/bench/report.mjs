// Turns the JSON lines of one scripts/bench.sh run into artifacts/bench/<stamp>.json and a markdown
// report (printed; with --docs also written between the bench markers of docs/BENCHMARKS.md).
//   node report.mjs results.jsonl --out artifacts/bench/<stamp>.json --stamp <stamp> [--docs docs/BENCHMARKS.md]
//     [--baseline scripts/bench/baseline.json] [--record-baseline | --no-baseline]
// The run is compared with the baseline (R27: > 20 % worse on the same machine kind is a regression, exit 1);
// --record-baseline writes the baseline from this run instead (do it on a quiet machine).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { baselineFrom, compareWithBaseline } from './regression.mjs';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    stamp: { type: 'string' },
    docs: { type: 'string' },
    baseline: { type: 'string', default: new URL('baseline.json', import.meta.url).pathname },
    'record-baseline': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const lines = readFileSync(positionals[0], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const systems = lines.filter((l) => l.system !== undefined);
const scaling = lines.filter((l) => l.scaling !== undefined);

const tool = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
};
const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? 'unknown';
const machine = {
  cpu: cpuModel,
  vcpus: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  iperf3: tool('iperf3', ['--version']),
  os: (readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m) ?? [])[1] ?? 'linux',
};

const isPeer = (s) => s.system === 'wireguard-go' || s.system.startsWith('fastd-');
const ok = (s) => s.error === undefined;
const peers = systems.filter((s) => ok(s) && isPeer(s));
const best = (pick, better) =>
  peers.reduce((acc, s) => {
    const v = pick(s);
    return v == null || v <= 0 ? acc : acc === undefined || better(v, acc.v) ? { v, system: s.system } : acc;
  }, undefined);
const bestTcp1 = best(
  (s) => s.tcp1?.gbps,
  (a, b) => a > b,
);
const bestCpu = best(
  (s) => s.tcp1?.vpn_cpu_s_per_gb,
  (a, b) => a < b,
);
const raw = systems.find((s) => s.system === 'raw' && ok(s));
const native = systems.find((s) => s.system === 'tunmesh-native' && ok(s));

const f = (v, d = 2) => (v == null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));
const ratio = (a, b) => (a == null || b == null || b === 0 ? '-' : `${(a / b).toFixed(2)}×`);
const mb = (kb) => (kb ? (kb / 1024).toFixed(0) : '-');

const table = [
  '| system | version | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 1400 B rx Gbit/s | RTT avg / median ms (added over raw) | VPN CPU-s per GB (TCP 1) | peak RSS MB | TCP 1 vs best peer | CPU per GB vs best peer |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...systems.map((s) => {
    if (!ok(s)) return `| ${s.system} | - | ${s.error} | | | | | | | |`;
    const added =
      raw && s.system !== 'raw'
        ? ` (+${f(s.ping.rtt_avg_ms - raw.ping.rtt_avg_ms, 3)} / +${f(s.ping.rtt_median_ms - raw.ping.rtt_median_ms, 3)})`
        : '';
    const rss = Math.max(s.tcp1?.peak_rss_kb ?? 0, s.tcp4?.peak_rss_kb ?? 0, s.udp?.peak_rss_kb ?? 0);
    const vpn = s.system !== 'raw';
    return `| ${s.system} | ${s.version} | ${f(s.tcp1?.gbps)} | ${f(s.tcp4?.gbps)} | ${f(s.udp?.gbps)} | ${f(s.ping?.rtt_avg_ms, 3)} / ${f(s.ping?.rtt_median_ms, 3)}${added} | ${vpn ? f(s.tcp1?.vpn_cpu_s_per_gb, 1) : '-'} | ${vpn ? mb(rss) : '-'} | ${vpn ? ratio(s.tcp1?.gbps, bestTcp1?.v) : '-'} | ${vpn ? ratio(s.tcp1?.vpn_cpu_s_per_gb, bestCpu?.v) : '-'} |`;
  }),
];

const scaleTable = [
  '| configured peers | TCP 1 stream Gbit/s | VPN CPU-s per GB | daemon RSS MB (after the run) |',
  '|---|---|---|---|',
  ...scaling.map((s) =>
    s.error
      ? `| ${s.scaling} | ${s.error} | | |`
      : `| ${s.scaling} | ${f(s.tcp1.gbps)} | ${f(s.tcp1.vpn_cpu_s_per_gb, 1)} | ${mb(s.rss_kb)} |`,
  ),
];

const rss100 = scaling.find((s) => s.scaling === 100 && !s.error)?.rss_kb;
const goals = [];
const goal = (what, value, pass) => goals.push(`- ${pass ? 'met' : 'NOT met'}: ${what} — ${value}`);
if (native && bestTcp1)
  goal(
    'tunmesh native TCP 1-stream ≥ 2× the best peer',
    `${f(native.tcp1.gbps)} vs ${f(bestTcp1.v)} Gbit/s (${bestTcp1.system}) = ${ratio(native.tcp1.gbps, bestTcp1.v)}`,
    native.tcp1.gbps >= 2 * bestTcp1.v,
  );
if (native && bestCpu)
  goal(
    'CPU-s per GB ≤ half the best peer’s',
    `${f(native.tcp1.vpn_cpu_s_per_gb, 1)} vs ${f(bestCpu.v, 1)} (${bestCpu.system}) = ${ratio(native.tcp1.vpn_cpu_s_per_gb, bestCpu.v)}`,
    native.tcp1.vpn_cpu_s_per_gb <= bestCpu.v / 2,
  );
if (native && raw) {
  const avg = native.ping.rtt_avg_ms - raw.ping.rtt_avg_ms;
  const median = native.ping.rtt_median_ms - raw.ping.rtt_median_ms;
  goal('added RTT over raw veth ≤ 0.3 ms (average of 40 pings)', `${f(avg, 3)} ms`, avg <= 0.3);
  goal('added RTT over raw veth ≤ 0.3 ms (median of 40 pings)', `${f(median, 3)} ms`, median <= 0.3);
}
if (rss100) goal('RSS with 100 peers ≤ 80 MB', `${mb(rss100)} MB`, rss100 <= 80 * 1024);

const busy = systems
  .flatMap((s) => [s.ping, s.tcp1, s.tcp4, s.udp].map((t) => t?.background_busy_pct))
  .filter((v) => typeof v === 'number')
  .sort((a, b) => a - b);
const busyLine = busy.length
  ? `Machine busy just before the tests (other jobs): median ${busy[Math.floor(busy.length / 2)]} %, max ${busy.at(-1)} %.`
  : '';
const when = values.stamp ?? new Date().toISOString();

// R27: against the stored baseline.
const regressionLines = [];
let regressed = false;
if (values['record-baseline']) {
  writeFileSync(values.baseline, JSON.stringify(baselineFrom({ stamp: when, machine, systems }), null, 2) + '\n');
  regressionLines.push(`Baseline recorded from this run (${values.baseline}).`);
} else if (!values['no-baseline'] && existsSync(values.baseline)) {
  const baseline = JSON.parse(readFileSync(values.baseline, 'utf8'));
  const cmp = compareWithBaseline(baseline, { machine, systems });
  if (!cmp.comparable) regressionLines.push(`Not compared with baseline ${baseline.stamp}: ${cmp.reason}.`);
  else {
    regressed = cmp.rows.some((r) => r.regressed);
    regressionLines.push(
      `Against baseline ${baseline.stamp} (same machine kind; more than 20 % worse is a regression): ${regressed ? '**REGRESSION**' : 'no regression'}.`,
      '',
      '| system | figure | baseline | this run | change | |',
      '|---|---|---|---|---|---|',
      ...cmp.rows.map(
        (r) =>
          `| ${r.system} | ${r.label} | ${f(r.base)} | ${f(r.now)} | ${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(0)} % | ${r.regressed ? 'REGRESSION' : 'ok'} |`,
      ),
    );
  }
}
const machineLine = `${machine.cpu}, ${machine.vcpus} vCPU, ${machine.memoryGiB} GiB, ${machine.os}, kernel ${machine.kernel}, Node ${machine.node}, ${machine.iperf3}`;
const report = [
  `Run \`${when}\` on: ${machineLine}. Both namespaces, both VPN ends and both iperf3 ends share these CPUs. ${busyLine}`,
  '',
  ...table,
  '',
  `Best peer: TCP 1 stream ${bestTcp1?.system ?? '-'}, CPU per GB ${bestCpu?.system ?? '-'}. "CPU-s per GB" is user+system time of every process in the two namespaces except iperf3 and ping, per 10⁹ bytes delivered (both ends: encryption and decryption).`,
  '',
  'Scaling (tunmesh native; the extra peers are static peers with their own /32, no endpoint):',
  '',
  ...scaleTable,
  '',
  'Goals:',
  '',
  ...goals,
  ...(regressionLines.length ? ['', 'Regression check (R27):', '', ...regressionLines] : []),
].join('\n');

console.log(`\n${report}\n`);
if (values.out) {
  writeFileSync(values.out, JSON.stringify({ stamp: when, machine, systems, scaling, bestTcp1, bestCpu }, null, 2));
  console.log(`wrote ${values.out}`);
}
if (values.docs) {
  const begin = '<!-- bench:begin (scripts/bench.sh --update-docs rewrites this part) -->';
  const end = '<!-- bench:end -->';
  const old = existsSync(values.docs) ? readFileSync(values.docs, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  const doc =
    a >= 0 && b > a
      ? `${old.slice(0, a + begin.length)}\n${report}\n${old.slice(b)}`
      : `${old.trimEnd()}\n\n${begin}\n${report}\n${end}\n`;
  writeFileSync(values.docs, doc);
  console.log(`updated ${values.docs}`);
}
if (regressed) process.exitCode = 1;
