// Throughput of two native daemons (a performance figure, run with TUNMESH_PERF=1; skipped otherwise):
// iperf3 UDP at full rate with datagrams that fit the tunnel MTU (1392 B) and with the bench's 1400 B
// (fragmented at MTU 1420), and one TCP stream, n1 -> n2. Prints each figure with the CPU-seconds both
// daemons used and the fast-path counters of the receiver; asserts only that traffic flowed without
// loss beyond what UDP at an unlimited rate may lose.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const skip =
  (process.env.TUNMESH_PERF !== '1' && 'a performance figure: TUNMESH_PERF=1') ||
  (loadFastPath() === undefined && 'native addon not built (run npm install)');
const seconds = Number(process.env.TUNMESH_PERF_SECONDS ?? 5);
// n1 gets this many extra static peers (no endpoint, one /32 each) to size the tables, like the bench's
// scaling run; TUNMESH_PERF_NODE_OPTIONS is the daemons' NODE_OPTIONS (e.g. --max-semi-space-size=1).
const fakePeers = Number(process.env.TUNMESH_PERF_FAKE_PEERS ?? 0);
const nodeOptions = process.env.TUNMESH_PERF_NODE_OPTIONS;
// TUNMESH_PERF_PROFILE=<dir>: `perf record -g` of both daemons during each run, top symbols printed.
const profileDir = process.env.TUNMESH_PERF_PROFILE;
let lab: Lab;
let mesh: Mesh;

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

async function iperf(
  args: string[],
): Promise<{ gbps: number; lost: number; cpuS: number; text: string; profile: string[] }> {
  const [n1, n2] = [lab.node('n1'), lab.node('n2')];
  const server = lab.spawn(n2.ns, 'iperf3', ['-s', '-1', '-B', mesh.overlay4('n2')]);
  await new Promise((r) => setTimeout(r, 300));
  const pids = ['n1', 'n2'].map((n) => mesh.proc(n).pid);
  const cpu0 = pids.reduce((a, p) => a + cpuSeconds(p), 0);
  const data = profileDir && `${profileDir}/perf-${args.join('') || 'tcp'}.data`;
  const rec =
    data &&
    spawn('perf', ['record', '-g', '-o', data, '-p', pids.join(','), '--', 'sleep', String(seconds)], {
      stdio: 'ignore',
    });
  const r = await lab.exec(n1.ns, 'iperf3', ['-c', mesh.overlay4('n2'), '-J', '-t', String(seconds), ...args], {
    timeoutMs: (seconds + 20) * 1000,
  });
  const cpuS = pids.reduce((a, p) => a + cpuSeconds(p), 0) - cpu0;
  if (rec) await new Promise((r) => (rec.exitCode !== null ? r(null) : rec.once('exit', r)));
  await server.waitExit(5000);
  const j = JSON.parse(r.stdout) as {
    end: {
      sum_received?: { bits_per_second: number };
      sum?: { bits_per_second: number; lost_percent?: number };
    };
  };
  const udp = args.includes('-u');
  const bps = udp
    ? j.end.sum!.bits_per_second * (1 - (j.end.sum!.lost_percent ?? 0) / 100)
    : j.end.sum_received!.bits_per_second;
  const lost = udp ? (j.end.sum!.lost_percent ?? 0) : 0;
  const gbps = bps / 1e9;
  const gb = (bps * seconds) / 8 / 1e9;
  const profile: string[] = [];
  if (data) {
    const args = ['report', '-i', data, '--no-children', '--sort', 'comm,sym', '--stdio', '-g', 'none'];
    const report = spawnSync('perf', args, { encoding: 'utf8' }).stdout;
    const lines = report.split('\n').filter((x) => /^\s+\d/.test(x));
    profile.push(...lines.slice(0, 30).map((l) => `profile ${l.trim()}`));
  }
  const text = `${args.join(' ')}: ${gbps.toFixed(2)} Gbit/s received, lost ${lost.toFixed(1)} %, CPU ${cpuS.toFixed(1)} s (${(cpuS / gb).toFixed(1)} CPU-s/GB)`;
  return { gbps, lost, cpuS, text, profile };
}

before(async () => {
  if (skip) return;
  lab = await Lab.create('nf-pf-', { nodes: 2 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (node, config) => {
      if (node !== 'n1' || fakePeers === 0) return;
      config.wireguard!.staticPeers = Array.from({ length: fakePeers }, (_, i) => ({
        name: `fake-${i}`,
        publicKey: randomBytes(32).toString('base64'),
        allowedIps: [`198.19.${200 + Math.floor(i / 250)}.${1 + (i % 250)}/32`],
      }));
    },
  });
  const env: Record<string, string> = { TUNMESH_DATAPLANE__ENGINE: 'native' };
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  mesh.start('n1', env);
  mesh.start('n2', env);
  await mesh.waitConverged(['n1', 'n2'], 30_000);
  const p = await ping(lab, lab.node('n1').ns, mesh.overlay4('n2'), { count: 2 });
  assert.ok(p.received >= 1, p.output);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('native engine: UDP and TCP throughput n1 -> n2', { skip, timeout: 120_000 }, async (t) => {
  const results = [];
  for (const args of [['-u', '-b', '0', '-l', '1392'], ['-u', '-b', '0', '-l', '1400'], []]) {
    const r = await iperf(args);
    t.diagnostic(r.text);
    for (const l of r.profile) t.diagnostic(l);
    results.push(r);
  }
  for (const n of ['n1', 'n2']) {
    const st = readFileSync(`/proc/${mesh.proc(n).pid}/status`, 'utf8');
    const kb = (k: string): number => Number(st.match(new RegExp(`${k}:\\s+(\\d+)`))?.[1]);
    t.diagnostic(`${n} RSS ${(kb('VmRSS') / 1024).toFixed(1)} MB, peak ${(kb('VmHWM') / 1024).toFixed(1)} MB`);
  }
  // Where datagrams are lost: the kernel's UDP receive-buffer overflows (the daemon's socket on n2, the
  // iperf3 server behind the TUN) and the TUN queue of n1 (iperf3 writes faster than the tx thread reads).
  for (const n of ['n1', 'n2']) {
    const ns = lab.node(n).ns;
    const udp = (await lab.exec(ns, 'nstat', ['-asz', 'UdpRcvbufErrors', 'UdpInErrors'])).stdout;
    const link = (await lab.exec(ns, 'ip', ['-s', '-o', 'link'])).stdout;
    t.diagnostic(
      `${n} ${udp
        .replace(/#kernel\n/, '')
        .replace(/\s+0\.0\n?/g, ';')
        .replace(/\s+/g, ' ')}`,
    );
    for (const l of link.split('\n').filter((x) => /tun|tm/.test(x) && !/lo:/.test(x)))
      t.diagnostic(`${n} ${l.replace(/\\\s+/g, ' | ').replace(/\s+/g, ' ').slice(0, 400)}`);
    const m = await mesh.metricsText(n);
    for (const line of m.split('\n').filter((l) => /^tunmesh_fastpath_|^tunmesh_packets_dropped/.test(l)))
      t.diagnostic(`${n} ${line}`);
  }
  for (const r of results) assert.ok(r.gbps > 0.05, r.text);
  assert.ok(results[2]!.lost === 0);
});
