// One daemon in a namespace with 3000 static WireGuard peers in its config (what a node of a 3000-node mesh
// holds): it must start within 5 s (spawn → "tunmesh node started" and /health answering) and stay within
// 150 MB of resident memory (VmHWM, the peak) — asserted with TUNMESH_PERF=1 on a quiet machine. Always
// asserted: generous bounds (15 s, 250 MiB) that still catch a several-fold regression on a loaded machine.
// Sessions are lazy, so no peer costs a handshake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

const PEERS = Number(process.env.SCALE_PEERS ?? 3000);
const MAX_STARTUP_MS = 5_000;
const MAX_RSS_BYTES = 150 * 1024 * 1024;
/** Ungated bounds: 3× the start-up figure, and 250 MiB (the figure is ~110–155 MiB). */
const LOOSE_STARTUP_MS = 15_000;
const LOOSE_RSS_BYTES = 250 * 1024 * 1024;

let lab: Lab;
let mesh: Mesh;

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status);
  assert.ok(m, `no ${field} in /proc status`);
  return Number(m[1]) * 1024;
}

before(async () => {
  lab = await Lab.create('t2s-', { nodes: 1 });
  const k = lab.subnetIndex;
  mesh = await Mesh.create(lab, {
    patch: (_node, c) => {
      const peers = [];
      for (let i = 0; i < PEERS; i++)
        peers.push({
          name: `p${i}`,
          publicKey: encodeKey(publicKeyOf(generatePrivateKey())),
          endpoint: `198.18.${k}.${2 + (i % 250)}:${20_000 + i}`,
          // Inside the node's own fd00:19:k::/64, so no route per peer is needed.
          allowedIps: [`fd00:19:${k}::${(0x1000 + i).toString(16)}/128`],
        });
      c.wireguard = { ...c.wireguard, staticPeers: peers };
    },
  });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test(`a daemon with ${PEERS} static peers starts in ≤ 5 s and stays ≤ 150 MB RSS (ungated: ≤ 15 s, ≤ 250 MiB)`, async () => {
  const t0 = performance.now();
  const p = mesh.start('n1');
  await waitFor(() => p.log().includes('tunmesh node started') || !p.running, {
    timeoutMs: 30_000,
    intervalMs: 20,
    what: 'the "tunmesh node started" log line',
  });
  const startedMs = performance.now() - t0;
  assert.ok(p.running, `the daemon exited:\n${p.log()}`);
  await waitFor(async () => (await mesh.status('n1')).peers.length >= PEERS, {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: 'status listing every static peer',
  });
  const status = await mesh.status('n1');
  assert.equal(status.peers.filter((r) => r.lastHandshake !== null).length, 0, 'no peer should have handshaken');
  await new Promise((r) => setTimeout(r, 3_000)); // a few timer ticks over every peer
  const proc = readFileSync(`/proc/${p.pid}/status`, 'utf8');
  const hwm = kib(proc, 'VmHWM');
  const rss = kib(proc, 'VmRSS');
  console.log(
    `# ${PEERS} static peers: started in ${Math.round(startedMs)} ms; VmHWM ${(hwm / 2 ** 20).toFixed(1)} MiB, ` +
      `VmRSS ${(rss / 2 ** 20).toFixed(1)} MiB`,
  );
  // Start-up time and peak RSS are performance figures: they swing with the machine's load and GC timing
  // (141–155 MiB seen with default node flags, 110 MiB with the shipped --max-semi-space-size=1), so the tight
  // figures are asserted with TUNMESH_PERF=1 on a quiet machine; the loose bounds always.
  assert.ok(startedMs <= LOOSE_STARTUP_MS, `took ${Math.round(startedMs)} ms to start (bound ${LOOSE_STARTUP_MS})`);
  assert.ok(hwm <= LOOSE_RSS_BYTES, `peak RSS ${(hwm / 2 ** 20).toFixed(1)} MiB (bound 250 MiB)`);
  if (process.env.TUNMESH_PERF === '1') {
    assert.ok(startedMs <= MAX_STARTUP_MS, `took ${Math.round(startedMs)} ms to start`);
    assert.ok(hwm <= MAX_RSS_BYTES, `peak RSS ${(hwm / 2 ** 20).toFixed(1)} MiB`);
  }
});
