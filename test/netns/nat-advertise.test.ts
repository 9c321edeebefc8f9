// Listen on one address/port, advertise another (issue #4, NAT): node A sits behind router r1, which
// forwards public ports to it (nft DNAT, as a port forward or a Kubernetes NodePort would):
//
//   n1 (P) ─┐                          ┌ lan ── n3 (A) listens 0.0.0.0:51820 (UDP) and 0.0.0.0:4567 (API)
//   n2 (Q) ─┴─ bridge ── wan ─ r1: 198.18.<k>.254:40001/udp → A:51820, :40002/tcp → A:4567, masquerade
//
// A announces wireguard.advertise 198.18.<k>.254:40001 and control.advertiseUrl https://198.18.<k>.254:40002.
// P bootstraps through A's advertised URL, membership probes A there, and P's packets to A go to the
// advertised endpoint. Then a public node Q whose address changes (roams) during a transfer: it keeps its
// sessions, announces its new address (re-derived), and stays alive in membership.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh, testEngine, type PeerRow } from '../helpers/mesh.js';
import { assertPings, assertTransfers } from '../helpers/mesh-traffic.js';
import { forwarded, natRouter, type NatRouter } from '../helpers/nat-router.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const failureTimeoutMs = 4000;
let lab: Lab;
let mesh: Mesh;
let router: NatRouter;
let advertisedUdp: string;
let advertisedUrl: string;

const peerRow = async (on: string, name: string): Promise<PeerRow | undefined> =>
  (await mesh.status(on)).peers.find((p) => p.name === name);

before(async () => {
  lab = await Lab.create('nat-a-', { nodes: 3 });
  router = await natRouter(lab, lab.node('n3'), {
    name: 'r1',
    wanHost: 254,
    lanNet: 252,
    forwards: [
      { proto: 'udp', wanPort: 40001, toPort: 51820 },
      { proto: 'tcp', wanPort: 40002, toPort: 4567 },
    ],
  });
  advertisedUdp = `${router.wanIp}:40001`;
  advertisedUrl = `https://${router.wanIp}:40002`;
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs };
      if (node === 'n1') c.cluster = { ...c.cluster, bootstrap: [advertisedUrl] };
      // Q derives what it announces from its interfaces (the roaming test changes its address).
      if (node === 'n2') {
        c.wireguard = { ...c.wireguard, listen: '0.0.0.0:51820' };
        c.control = { ...c.control, listen: '0.0.0.0:4567', advertiseUrl: '' };
      }
      if (node === 'n3') {
        c.wireguard = { ...c.wireguard, listen: '0.0.0.0:51820', advertise: [advertisedUdp] };
        c.control = { ...c.control, listen: '0.0.0.0:4567', advertiseUrl: advertisedUrl };
      }
    },
  });
  mesh.start('n3');
  await waitFor(async () => (await mesh.status('n3')).node.apiUrl === advertisedUrl, {
    what: 'A to run',
    timeoutMs: 15_000,
    intervalMs: 250,
  });
  mesh.start('n1');
  mesh.start('n2');
});

after(async () => {
  if (mesh) console.log(mesh.logs().slice(-5000));
  await mesh?.cleanup();
  await lab?.destroy();
});

test('(3) A announces the forwarded address and port; P joins through them and reaches A first', async () => {
  await mesh.waitConverged(['n1', 'n2', 'n3'], 30_000);
  const a = await mesh.status('n3');
  assert.deepEqual(a.node.endpoints, [advertisedUdp]);
  assert.equal(a.node.apiUrl, advertisedUrl);
  // P and Q hold A's advertised endpoint (from its record; A's own packets leave from it too).
  for (const pub of ['n1', 'n2']) assert.equal((await peerRow(pub, 'n3'))?.endpoint, advertisedUdp, pub);
  // The router's port forwards carried the membership requests (TCP) and handshakes/data (UDP) to A.
  const udpIn = await forwarded(lab, router, 'udp', 51820);
  const tcpIn = await forwarded(lab, router, 'tcp', 4567);
  assert.ok(tcpIn > 0, 'no control request came through the advertised URL');
  // P reaches A: through the advertised port, which the router forwards to A's listen port.
  const r = await ping(lab, lab.node('n1').ns, mesh.overlay4('n3'), { count: 3 });
  assert.equal(r.received, 3, r.output);
  assert.equal((await peerRow('n1', 'n3'))?.endpoint, advertisedUdp, 'P still talks to the advertised endpoint');
  const udpAfter = await forwarded(lab, router, 'udp', 51820);
  assert.ok(udpAfter > udpIn, 'the pings did not come through the advertised UDP port');
  console.log(
    `# advertise: port forwards carried ${tcpIn} TCP packets (API) and ${udpAfter} UDP packets (WireGuard) to A`,
  );
  await assertPings(lab, mesh, [
    ['n2', 'n3'],
    ['n3', 'n1'],
    ['n3', 'n2'],
  ]);
  const pairs = [
    ['n1', 'n3'],
    ['n3', 'n2'],
  ] as const;
  await assertTransfers(lab, mesh, pairs, 8 * 1024 * 1024, 'advertise');
});

test('(3) membership reaches A only through its advertised URL, and keeps it alive', async () => {
  // Three failure timeouts: A is probed directly at the forwarded port and never suspected.
  const until = Date.now() + 3 * failureTimeoutMs;
  let samples = 0;
  while (Date.now() < until) {
    for (const pub of ['n1', 'n2']) assert.equal((await peerRow(pub, 'n3'))?.state, 'alive', pub);
    samples++;
    await new Promise((r) => setTimeout(r, 500));
  }
  const metrics = await mesh.metricsText('n1');
  const pings = /tunmesh_membership_messages_total\{type="ping",direction="out"\} (\d+)/.exec(metrics);
  assert.ok(pings && Number(pings[1]) > 0, 'P probes members');
  console.log(`# advertise: A alive on P and Q in ${samples} samples over ${(3 * failureTimeoutMs) / 1000} s`);
});

test('roaming of a public node: Q changes address mid-transfer, keeps its sessions and announces the new one', async () => {
  const q = lab.node('n2');
  const next = `198.18.${lab.subnetIndex}.12`;
  // Long enough that the move happens mid-transfer on either engine (native moves ~1 GiB/s here).
  const size = (testEngine() === 'native' ? 1024 : 64) * 1024 * 1024;
  const transfer = tcpTransfer(lab, lab.node('n1').ns, q.ns, mesh.overlay4('n2'), size, { timeoutMs: 120_000 });
  let doneAt = Infinity;
  void transfer.then(
    () => (doneAt = Date.now()),
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 700));
  const movedAt = Date.now();
  // The new address first, then the old one goes (promote_secondaries keeps the new one alive).
  await lab.exec(q.ns, 'sysctl', ['-qw', 'net.ipv4.conf.eth0.promote_secondaries=1']);
  await lab.exec(q.ns, 'ip', ['addr', 'add', `${next}/24`, 'dev', 'eth0']);
  await lab.exec(q.ns, 'ip', ['addr', 'del', `${q.ipv4}/24`, 'dev', 'eth0']);
  const movedBy = Date.now();
  await waitFor(
    async () => (await ping(lab, lab.node('n1').ns, mesh.overlay4('n2'), { count: 1, timeoutS: 1 })).received === 1,
    { what: 'P → Q ping after the move', timeoutMs: 5000, intervalMs: 50 },
  );
  const resumedMs = Date.now() - movedAt;
  const t = await transfer;
  assert.ok(doneAt > movedBy, 'the transfer ended before the move: it proves nothing');
  assert.equal(t.bytesReceived, size);
  assert.equal(t.receivedSha256, t.sentSha256);
  // Q announces the new address (re-derived every 2 s), and P's peer follows it.
  await waitFor(async () => (await mesh.status('n2')).node.endpoints.includes(`${next}:51820`), {
    what: "Q's record to carry its new endpoint",
    timeoutMs: 10_000,
    intervalMs: 250,
  });
  assert.equal((await peerRow('n1', 'n2'))?.endpoint, `${next}:51820`);
  // Membership reaches Q at its new URL: alive on P and A for three failure timeouts.
  const until = Date.now() + 3 * failureTimeoutMs;
  while (Date.now() < until) {
    for (const on of ['n1', 'n3']) assert.equal((await peerRow(on, 'n2'))?.state, 'alive', `${on} holds Q`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const r = await ping(lab, lab.node('n3').ns, mesh.overlay4('n2'), { count: 3 });
  assert.equal(r.received, 3, `A → Q after the move: ${r.output}`);
  console.log(
    `# roaming (public node): Q ${q.ipv4} → ${next} mid-transfer; ping through after ${resumedMs} ms; ${size >> 20} MiB P→Q in ${t.seconds.toFixed(2)} s, sha256 equal; alive on P and A for ${(3 * failureTimeoutMs) / 1000} s after`,
  );
  assert.ok(resumedMs <= 5000);
});
