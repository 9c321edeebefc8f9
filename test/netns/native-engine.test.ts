// The native engine end to end through the real CLI: two native daemons and one JS daemon in one mesh
// (engine chosen with TUNMESH_DATAPLANE__ENGINE, the config's env override). Native↔native and
// native↔JS carry IPv4/IPv6 ping and checksummed TCP both ways, and the native nodes' status counts the
// traffic their threads carried. Skips when the addon has no fast path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const skip = loadFastPath() === undefined && 'native addon without the fast path';
const engines: Record<string, 'native' | 'js'> = { n1: 'native', n2: 'native', n3: 'js' };
const nodes = Object.keys(engines);
let lab: Lab;
let mesh: Mesh;

before(async () => {
  if (skip) return;
  lab = await Lab.create('tp6-', { nodes: 3 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (_node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
    },
  });
  for (const n of nodes) mesh.start(n, { TUNMESH_DATAPLANE__ENGINE: engines[n]! });
  await mesh.waitConverged(nodes, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${mesh.logs()}`);
  });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('the native daemons run the fast path with offloads, the JS one does not', { skip }, () => {
  for (const n of nodes) {
    const log = mesh.proc(n).log();
    const started = /"engine":"(\w+)"[^\n]*tunmesh node started/.exec(log);
    assert.equal(started?.[1], engines[n], `${n} engine`);
    if (engines[n] === 'native') assert.match(log, /"vnetHdr":true,"tso":true,"msg":"native fast path: TUN opened"/);
  }
});

test('every pair exchanges IPv4 and IPv6 ICMP echo', { skip }, async () => {
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b) continue;
      const v4 = await ping(lab, lab.node(a).ns, mesh.overlay4(b), { count: 2 });
      assert.equal(v4.received, 2, `${a} -> ${b} IPv4: ${v4.output}`);
      const v6 = await ping(lab, lab.node(a).ns, mesh.overlay6(b), { count: 2 });
      assert.equal(v6.received, 2, `${a} -> ${b} IPv6: ${v6.output}`);
    }
  }
});

for (const [from, to] of [
  ['n1', 'n2'],
  ['n2', 'n1'],
  ['n1', 'n3'],
  ['n3', 'n1'],
] as const) {
  test(
    `TCP ${from} (${engines[from]}) -> ${to} (${engines[to]}): 32 MB over IPv4 and 8 MB over IPv6 arrive intact`,
    { skip },
    async () => {
      const v4 = await tcpTransfer(lab, lab.node(from).ns, lab.node(to).ns, mesh.overlay4(to), 32 << 20);
      assert.equal(v4.bytesReceived, 32 << 20);
      assert.equal(v4.receivedSha256, v4.sentSha256);
      const v6 = await tcpTransfer(lab, lab.node(from).ns, lab.node(to).ns, mesh.overlay6(to), 8 << 20);
      assert.equal(v6.receivedSha256, v6.sentSha256);
    },
  );
}

test('status of a native node counts what its threads carried', { skip }, async () => {
  // The summaries reach the device within a tick; the transfers above moved > 80 MB each way n1<->n2.
  const s = await mesh.status('n1');
  const n2 = s.peers.find((p) => p.name === 'n2');
  assert.ok(n2?.lastHandshake, JSON.stringify(n2));
  assert.ok(n2!.txBytes > 40e6 && n2!.rxBytes > 40e6, JSON.stringify(n2));
});
