// Transport-method negotiation end to end (issue #4): four daemons whose method lists give every row of
// the table — (null) × (null, wireguard) → null, (null, wireguard) × (wireguard, tls) → wireguard,
// (wireguard, tls) × (tls) → tls, (null) × (wireguard, tls) → none — each asserted from status, metrics
// and traffic. The null pair is shown to carry plaintext with an nft counter on the null type byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh, type Status } from '../helpers/mesh.js';
import { nftCounter, readCounter } from '../helpers/impair-nft.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const methods: Record<string, string[]> = {
  n1: ['null', 'wireguard'],
  n2: ['null'],
  n3: ['wireguard', 'tls'],
  n4: ['tls'],
};
const expected: [string, string, string][] = [
  ['n1', 'n2', 'null'],
  ['n1', 'n3', 'wireguard'],
  ['n1', 'n4', 'none'],
  ['n2', 'n3', 'none'],
  ['n2', 'n4', 'none'],
  ['n3', 'n4', 'tls'],
];
const nodes = Object.keys(methods);
let lab: Lab;
let mesh: Mesh;
const status = new Map<string, Status>();

before(async () => {
  lab = await Lab.create('tr-m-', { nodes: 4 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'], n4: ['n1'] },
    patch: (node, c) => {
      c.transport = { methods: methods[node] };
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('status on both sides shows the negotiated method of every pair; none says why', async () => {
  for (const n of nodes) status.set(n, await mesh.status(n));
  for (const [a, b, m] of expected) {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const row = status.get(x!)!.peers.find((p) => p.name === y);
      assert.ok(row, `${x} lists ${y}`);
      assert.equal(row.method, m, `${x} -> ${y}`);
      if (m === 'none') assert.match(String((row as { note?: string }).note), /no common transport method/);
    }
  }
});

test('pairs with a method carry traffic; pairs without one do not', async () => {
  for (const [a, b, m] of expected) {
    const r = await ping(lab, lab.node(a).ns, mesh.overlay4(b), { count: m === 'none' ? 1 : 3, timeoutS: 8 });
    if (m === 'none') assert.equal(r.received, 0, `${a} -> ${b} must not get through: ${r.output}`);
    else assert.ok(r.received >= 1, `${a} -> ${b} over ${m}: ${r.output}`);
  }
});

test('metrics show the method per peer', async () => {
  for (const [a, b, m] of expected) {
    const text = await mesh.metricsText(a);
    assert.match(text, new RegExp(`^tunmesh_peer_transport\\{peer="${b}",method="${m}"\\} 1`, 'm'), `${a}: ${b} ${m}`);
  }
});

test('null carries plaintext UDP (type 0x10 datagrams on the WireGuard port) and a TCP transfer intact', async () => {
  const ns = lab.node('n2').ns;
  await nftCounter(lab, ns, 'nullin', 'in', `udp dport ${mesh.udpPort} @th,64,8 0x10`);
  const t = await tcpTransfer(lab, lab.node('n1').ns, ns, mesh.overlay4('n2'), 2_000_000, { timeoutMs: 30_000 });
  assert.equal(t.receivedSha256, t.sentSha256);
  const c = await readCounter(lab, ns, 'nullin');
  assert.ok(c.packets > 1000, `null datagrams seen: ${c.packets}`);
  console.log(`null: 2 MB transfer in ${t.seconds.toFixed(2)} s; ${c.packets} plaintext datagrams counted`);
});

test('tls carries the pair on its stream: a transfer n3 -> n4 sends no UDP to n4, and a stream was opened', async () => {
  const ns = lab.node('n4').ns;
  await nftCounter(lab, ns, 'udpfrom3', 'in', `ip saddr ${lab.node('n3').ipv4} udp dport ${mesh.udpPort}`);
  const t = await tcpTransfer(lab, lab.node('n3').ns, ns, mesh.overlay4('n4'), 2_000_000, { timeoutMs: 30_000 });
  assert.equal(t.receivedSha256, t.sentSha256);
  assert.equal((await readCounter(lab, ns, 'udpfrom3')).packets, 0);
  const opened = async (n: string) =>
    [...(await mesh.metricsText(n)).matchAll(/^tunmesh_transport_streams_total\{event="(dialed|accepted)"\} (\d+)/gm)]
      .map((m) => Number(m[2]))
      .reduce((a, b) => a + b, 0);
  assert.ok((await opened('n3')) + (await opened('n4')) >= 2, 'one side dialed, the other accepted');
  console.log(`tls: 2 MB transfer in ${t.seconds.toFixed(2)} s, 0 UDP datagrams n3 -> n4`);
});
