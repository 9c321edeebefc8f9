// Memory of one daemon with N static WireGuard peers (what a node of an N-node mesh holds), in its own
// network namespace (prefix sc-; needs root and a built dist/). Prints start-up time, VmHWM and VmRSS; with
// --snapshot also writes a heap snapshot and the largest constructors by retained self size.
//   node --import tsx scripts/profile-daemon.ts --peers 3000 [--node-options "--max-semi-space-size=1"] [--snapshot]
import { chmodSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { encodeKey } from '../src/crypto/keys.js';
import { Lab, waitFor } from '../test/helpers/netns.js';
import { Mesh } from '../test/helpers/mesh.js';

const o = new Command('profile-daemon')
  .option('--peers <n>', 'static peers', '3000')
  .option('--node-options <flags>', 'NODE_OPTIONS for the daemon', '')
  .option('--snapshot', 'write a heap snapshot (SIGUSR2) and summarise it')
  .parse()
  .opts<{ peers: string; nodeOptions: string; snapshot?: boolean }>();
const PEERS = Number(o.peers);
const dir = '/tmp/sc-heap';
mkdirSync(dir, { recursive: true });
chmodSync(dir, 0o777);

const kib = (status: string, field: string): number =>
  Number(new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status)![1]) * 1024;
const lab = await Lab.create('sc-', { nodes: 1 });
console.error('# lab up');
try {
  const k = lab.subnetIndex;
  const mesh = await Mesh.create(lab, {
    patch: (_node, c) => {
      console.error('# writing the config');
      const peers = [];
      for (let i = 0; i < PEERS; i++)
        peers.push({
          name: `p${i}`,
          // Any 32 bytes are an X25519 public key; generating 3000 real key pairs takes tens of seconds.
          publicKey: encodeKey(randomBytes(32)),
          endpoint: `198.18.${k}.${2 + (i % 250)}:${20_000 + i}`,
          allowedIps: [`fd00:19:${k}::${(0x1000 + i).toString(16)}/128`],
        });
      c.wireguard = { ...c.wireguard, staticPeers: peers };
    },
  });
  try {
    const flags = [o.nodeOptions, o.snapshot ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}` : '']
      .join(' ')
      .trim();
    console.error('# starting the daemon');
    const t0 = performance.now();
    const p = mesh.start('n1', flags ? { NODE_OPTIONS: flags } : {});
    await waitFor(() => p.log().includes('tunmesh node started') || !p.running, {
      timeoutMs: 30_000,
      intervalMs: 20,
      what: 'the "tunmesh node started" log line',
    });
    const startedMs = performance.now() - t0;
    if (!p.running) throw new Error(`the daemon exited:\n${p.log()}`);
    await waitFor(async () => (await mesh.status('n1')).peers.length >= PEERS, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'status listing every static peer',
    });
    await new Promise((r) => setTimeout(r, 3_000));
    const proc = readFileSync(`/proc/${p.pid}/status`, 'utf8');
    console.log(
      JSON.stringify({
        peers: PEERS,
        nodeOptions: o.nodeOptions,
        startedMs: Math.round(startedMs),
        hwmMiB: +(kib(proc, 'VmHWM') / 2 ** 20).toFixed(1),
        rssMiB: +(kib(proc, 'VmRSS') / 2 ** 20).toFixed(1),
      }),
    );
    if (o.snapshot) {
      const before = new Set(readdirSync(dir));
      process.kill(p.pid, 'SIGUSR2');
      await waitFor(() => readdirSync(dir).some((f) => !before.has(f) && f.endsWith('.heapsnapshot')), {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: 'the heap snapshot',
      });
      await new Promise((r) => setTimeout(r, 5_000));
      console.log(
        `snapshot in ${dir}: ${readdirSync(dir)
          .filter((f) => !before.has(f))
          .join(', ')}`,
      );
    }
  } finally {
    await mesh.cleanup();
  }
} finally {
  await lab.destroy();
}
