// The native engine end to end through the real CLI: two native daemons and one JS daemon in one mesh
// (engine chosen with TUNMESH_DATAPLANE__ENGINE, the config's env override). Native↔native and
// native↔JS carry IPv4/IPv6 ping and checksummed TCP both ways, and the native nodes' status counts the
// traffic their threads carried. Skips when the addon is not built.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { allPairs, assertPings } from '../helpers/mesh-traffic.js';
import { Mesh } from '../helpers/mesh.js';
import { tcpTransfer } from '../helpers/transfer.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const skip = loadFastPath() === undefined && 'native addon not built (run npm install)';
const engines: Record<string, 'native' | 'js'> = { n1: 'native', n2: 'native', n3: 'js' };
const nodes = Object.keys(engines);
let lab: Lab;
let mesh: Mesh;

before(async () => {
  if (skip) return;
  lab = await Lab.create('nf-ne-', { nodes: 3 });
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
    if (engines[n] === 'native')
      assert.match(log, /"vnetHdr":true,"tso":true,"uso":(true|false),"msg":"native fast path: TUN opened"/);
  }
});

test('every pair exchanges IPv4 and IPv6 ICMP echo', { skip }, async () => {
  await assertPings(lab, mesh, allPairs(nodes), { count: 2, v6: true });
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

// Multicast into a native node takes the rx thread's hand-up (SlowItem kind 2): the engine checks the
// group membership and writes the packet to the TUN. n2 joins 239.1.2.3; n1 (native) sends 50 datagrams.
test('multicast to a native member goes up from the rx thread and arrives once each', { skip }, async () => {
  const port = 9210;
  const receiver = `
const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });
let n = 0; s.on('message', () => n++);
s.bind(${port}, '0.0.0.0', () => { s.addMembership('239.1.2.3', process.argv[1]); console.log('joined'); });
process.on('SIGTERM', () => { console.log('count ' + n); process.exit(0); });
setTimeout(() => process.exit(0), 60000);
`;
  const sender = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, async () => {
  s.setMulticastInterface(process.argv[1]); s.setMulticastTTL(8);
  for (let i = 0; i < Number(process.argv[2]); i++) { s.send('m' + i, ${port}, '239.1.2.3'); await new Promise((r) => setTimeout(r, 5)); }
  setTimeout(() => s.close(), 200);
});
`;
  const counter = async (node: string, re: RegExp): Promise<number> =>
    Number(re.exec(await mesh.metricsText(node))?.[1] ?? 0);
  const copies = (): Promise<number> => counter('n1', /^tunmesh_fanout_packets_total\{kind="multicast"\} (\d+)$/m);
  const send = (count: number) =>
    lab.exec(lab.node('n1').ns, process.execPath, ['-e', sender, mesh.overlay4('n1'), String(count)]);
  let rx = lab.spawn(lab.node('n2').ns, process.execPath, ['-e', receiver, mesh.overlay4('n2')]);
  await waitFor(
    async () => {
      const before = await copies();
      await send(1);
      return (await copies()) - before === 1;
    },
    { what: 'n1 to see n2 in 239.1.2.3', timeoutMs: 20_000, intervalMs: 500 },
  );
  rx.kill('SIGTERM');
  await rx.waitExit(5000);
  rx = lab.spawn(lab.node('n2').ns, process.execPath, ['-e', receiver, mesh.overlay4('n2')]);
  await waitFor(() => rx.lines().includes('joined'), { what: 'receiver to join' });
  const inner = () => counter('n2', /^tunmesh_fastpath_punted_total\{kind="inner"\} (\d+)$/m);
  const innerBefore = await inner();
  await send(50);
  await new Promise((r) => setTimeout(r, 500));
  rx.kill('SIGTERM');
  await rx.waitExit(5000);
  const got = Number(/count (\d+)/.exec(rx.log())?.[1] ?? -1);
  assert.equal(got, 50, rx.log());
  assert.ok((await inner()) - innerBefore >= 50, 'handed up by the rx thread');
});
