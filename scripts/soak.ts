// `npm run soak`: a bounded chaos run (R42, shortened) on a 3-node netns mesh (needs root and dist/):
// random kill -9 + restart, graceful restart, live static-key rotation (`tunmesh keys rotate`), session-key
// rotation every 10 s (test-only rekey timer), and 0–10 % underlay loss toggling, while every ordered pair
// is probed with one ping per second. A key rotation opens a recovery window like a restart. With
// --load-mbit N an iperf3 TCP stream paced to N Mbit/s runs n1 → n2 throughout (R42 runs at 50 % of the
// measured line rate), restarted whenever chaos breaks it; the bytes it moved are reported.
// Prints the reachability SLO (probes outside the 20 s recovery window after a restart) and resource
// growth (RSS and fds of daemons that were never restarted). Exit 1 if the SLO < 99 % or a daemon died
// unexpectedly.
//   npm run soak -- --seconds 300 --seed 7
import { parseArgs } from 'node:util';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Lab } from '../test/helpers/netns.js';
import { cliPath, Mesh } from '../test/helpers/mesh.js';
import { ping } from '../test/helpers/transfer.js';
import { nftClearLoss, nftLoss } from '../test/helpers/impair-nft.js';
import { Rng } from '../test/fuzz/engine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '180' },
    seed: { type: 'string', default: '42' },
    'load-mbit': { type: 'string', default: '0' },
  },
});
const seconds = Number(values.seconds);
const loadMbit = Number(values['load-mbit']);
const rng = new Rng(Number(values.seed));
const nodes = ['n1', 'n2', 'n3'];
const recoveryMs = 20_000;
const env = { TUNMESH_TEST_REKEY_AFTER_MS: '10000' };

function proc(pid: number): { rssKiB: number; fds: number } {
  try {
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssKiB: Number(rss?.[1] ?? 0), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssKiB: 0, fds: 0 };
  }
}

/** iperf3 n1 → n2 at loadMbit, in 20 s runs, until `more()` is false; a run chaos breaks is counted. */
async function backgroundLoad(more: () => boolean): Promise<{ bytes: number; runs: number; failed: number }> {
  // Bound to the wildcard, so the server outlives n2's TUN (and its daemon) across restarts.
  const server = lab.spawn(lab.node('n2').ns, 'iperf3', ['-s', '-p', '5299']);
  const total = { bytes: 0, runs: 0, failed: 0 };
  try {
    while (more()) {
      total.runs++;
      const r = await lab
        .exec(
          lab.node('n1').ns,
          'iperf3',
          [
            '-c',
            mesh.overlay4('n2'),
            '-p',
            '5299',
            '-t',
            '20',
            '-b',
            `${loadMbit}M`,
            '-J',
            '--connect-timeout',
            '2000',
          ],
          { timeoutMs: 40_000 },
        )
        .catch(() => undefined);
      let bytes: number | undefined;
      try {
        bytes = r && (JSON.parse(r.stdout) as { end?: { sum_received?: { bytes?: number } } }).end?.sum_received?.bytes;
      } catch {
        bytes = undefined;
      }
      if (bytes === undefined) {
        total.failed++;
        await new Promise((res) => setTimeout(res, 2000));
      } else total.bytes += bytes;
    }
  } finally {
    server.kill('SIGKILL');
  }
  return total;
}

const lab = await Lab.create('tp8s-', { nodes: 3 });
const mesh = await Mesh.create(lab, {
  bootstrap: { n2: ['n1'], n3: ['n1', 'n2'] },
  // `tunmesh keys rotate` needs the node's operator token.
  patch: (node, config) => {
    const file = join(dirname(String(config.cluster!.secretFile)), `operator-${node}.token`);
    writeFileSync(file, `soak-operator-token-${node}-`.padEnd(40, 'x') + '\n', { mode: 0o600 });
    config.control = { ...config.control, operatorTokenFile: file };
  },
});
let rotations = 0;
const lastRestart = new Map<string, number>();
const restarted = new Set<string>();
const events: string[] = [];
let unexpectedDeaths = 0;
try {
  for (const n of nodes) mesh.start(n, env);
  await mesh.waitConverged(nodes, 60_000);
  await new Promise((r) => setTimeout(r, 3000));
  const startRes = Object.fromEntries(nodes.map((n) => [n, proc(mesh.proc(n).pid)]));
  const started = Date.now();
  const load = loadMbit > 0 ? backgroundLoad(() => Date.now() - started < seconds * 1000) : undefined;
  let nextChaos = started + 10_000;
  let probes = 0;
  let ok = 0;
  let probesInRecovery = 0;
  let okInRecovery = 0;
  let lossOn: string | undefined;
  const misses: string[] = [];
  while (Date.now() - started < seconds * 1000) {
    if (Date.now() >= nextChaos) {
      const n = nodes[rng.below(nodes.length)]!;
      const action = rng.below(5);
      if (action === 4) {
        const r = await lab
          .exec(lab.node(n).ns, process.execPath, [cliPath, 'keys', 'rotate', '--json', '-c', mesh.configFile(n)])
          .catch((e: unknown) => ({ stdout: String(e) }));
        let ok = false;
        try {
          ok = (JSON.parse(r.stdout) as { ok?: boolean }).ok === true;
        } catch {
          ok = false;
        }
        if (ok) rotations++;
        lastRestart.set(n, Date.now());
        events.push(`${Math.round((Date.now() - started) / 1000)}s key rotate ${n}${ok ? '' : ' FAILED'}`);
      } else if (action === 0 || action === 1) {
        const p = mesh.proc(n);
        p.kill(action === 0 ? 'SIGKILL' : 'SIGTERM');
        await p.waitExit(10_000).catch(() => undefined);
        mesh.start(n, env);
        lastRestart.set(n, Date.now());
        restarted.add(n);
        events.push(`${Math.round((Date.now() - started) / 1000)}s ${action === 0 ? 'kill -9' : 'restart'} ${n}`);
      } else if (lossOn === undefined) {
        const pct = 1 + rng.below(10);
        await nftLoss(lab, lab.node(n).ns, pct, `udp dport ${mesh.udpPort}`);
        lossOn = n;
        events.push(`${Math.round((Date.now() - started) / 1000)}s loss ${pct}% on ${n}`);
      } else {
        await nftClearLoss(lab, lab.node(lossOn).ns);
        events.push(`${Math.round((Date.now() - started) / 1000)}s loss off on ${lossOn}`);
        lossOn = undefined;
      }
      nextChaos = Date.now() + 15_000 + rng.below(20_000);
    }
    for (const n of nodes) if (!mesh.proc(n).running && !restarted.has(n)) unexpectedDeaths++;
    const round = nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as const));
    const results = await Promise.all(
      round.map(([a, b]) => ping(lab, lab.node(a).ns, mesh.overlay4(b), { count: 1, timeoutS: 1 })),
    );
    const now = Date.now();
    round.forEach(([a, b], i) => {
      const recovering = [a, b].some((x) => now - (lastRestart.get(x) ?? -Infinity) < recoveryMs);
      const good = results[i]!.received === 1;
      if (recovering) {
        probesInRecovery++;
        if (good) okInRecovery++;
      } else {
        probes++;
        if (good) ok++;
        else misses.push(`${Math.round((now - started) / 1000)}s ${a}→${b}`);
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
  }
  const growth = nodes
    .filter((n) => !restarted.has(n))
    .map((n) => {
      const end = proc(mesh.proc(n).pid);
      const s = startRes[n]!;
      return `${n}: RSS ${(s.rssKiB / 1024).toFixed(1)} -> ${(end.rssKiB / 1024).toFixed(1)} MiB (${(((end.rssKiB - s.rssKiB) / s.rssKiB) * 100).toFixed(1)} %), fds ${s.fds} -> ${end.fds}`;
    });
  const moved = load ? await load : undefined;
  const slo = probes === 0 ? 1 : ok / probes;
  console.log(`soak: ${seconds} s, events:\n  ${events.join('\n  ')}`);
  if (misses.length) console.log(`missed probes outside recovery windows: ${misses.slice(0, 40).join(', ')}`);
  console.log(
    `reachability SLO outside recovery windows: ${ok}/${probes} = ${(slo * 100).toFixed(2)} %` +
      ` (inside recovery windows: ${okInRecovery}/${probesInRecovery})`,
  );
  console.log(
    `resource growth (never-restarted daemons): ${growth.length ? growth.join('; ') : 'none left unrestarted'}`,
  );
  if (moved)
    console.log(
      `background load: ${loadMbit} Mbit/s n1 → n2, ${(moved.bytes / 2 ** 30).toFixed(2)} GiB in ${moved.runs} iperf3 runs` +
        ` (${moved.failed} broken by chaos)`,
    );
  console.log(`unexpected daemon deaths: ${unexpectedDeaths}; live key rotations: ${rotations}`);
  const failedRotations = events.filter((e) => e.endsWith('FAILED')).length;
  process.exitCode = slo >= 0.99 && unexpectedDeaths === 0 && failedRotations === 0 ? 0 : 1;
} finally {
  await mesh.cleanup();
  await lab.destroy();
}
