// The core mesh, end to end: three daemons in three namespaces form a mesh through one bootstrap URL and
// gossip, carry IPv4 and IPv6, run without privileges, prune a killed node and take it back on restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Lab, waitFor } from '../helpers/netns.js';
import { allPairs, assertPings } from '../helpers/mesh-traffic.js';
import { Mesh, testEngine } from '../helpers/mesh.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const failureTimeoutMs = 6000;
let lab: Lab;
let mesh: Mesh;
const nodes = ['n1', 'n2', 'n3'];

before(async () => {
  // n4 is started only by the address-conflict test: it claims n1's overlay addresses.
  lab = await Lab.create('t2m-', { nodes: 4 });
  // n3 knows only n2: it must learn n1 (and n1 learn n3) through gossip.
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n2'], n4: ['n3'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs };
      if (node === 'n4') c.node!.addresses = [`198.19.${lab.subnetIndex}.1/24`, `fd00:19:${lab.subnetIndex}::4/64`];
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('every daemon runs the engine under test (native by default, TUNMESH_TEST_ENGINE=js in mesh-js)', () => {
  for (const n of nodes) {
    const started = /"engine":"(\w+)"[^\n]*tunmesh node started/.exec(mesh.proc(n).log());
    assert.equal(started?.[1], testEngine(), `${n} engine`);
  }
});

test('daemons run as the configured uid/gid with no capabilities', () => {
  for (const n of nodes) {
    const status = readFileSync(`/proc/${mesh.proc(n).pid}/status`, 'utf8');
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/);
    assert.deepEqual(field('Uid'), ['65534', '65534', '65534', '65534'], `${n} uid`);
    assert.deepEqual(field('Gid'), ['65534', '65534', '65534', '65534'], `${n} gid`);
    assert.deepEqual(field('CapEff'), ['0000000000000000'], `${n} CapEff`);
    assert.deepEqual(field('CapPrm'), ['0000000000000000'], `${n} CapPrm`);
  }
});

test('every pair exchanges IPv4 and IPv6 ICMP echo', async () => {
  await assertPings(lab, mesh, allPairs(nodes), { count: 2, v6: true });
});

test('status shows handshakes and traffic for every peer', async () => {
  const s = await mesh.status('n1');
  assert.equal(s.node.name, 'n1');
  for (const peer of ['n2', 'n3']) {
    const row = s.peers.find((p) => p.name === peer);
    assert.ok(row, `n1 lists ${peer}`);
    assert.equal(row.state, 'alive');
    assert.ok(row.lastHandshake, `handshake with ${peer}`);
    assert.ok(row.rxBytes > 0 && row.txBytes > 0, `traffic with ${peer}`);
    assert.deepEqual(row.addresses, [`${mesh.overlay4(peer)}/24`, `${mesh.overlay6(peer)}/64`]);
  }
});

test('metrics count per-peer traffic and handshakes', async () => {
  const text = await mesh.metricsText('n1');
  for (const peer of ['n2', 'n3']) {
    const rx = new RegExp(`^tunmesh_peer_rx_bytes_total\\{peer="${peer}"\\} (\\d+)`, 'm').exec(text);
    assert.ok(rx && Number(rx[1]) > 0, `rx bytes from ${peer}`);
    assert.match(text, new RegExp(`^tunmesh_peer_tx_packets_total\\{peer="${peer}"\\} [1-9]`, 'm'));
    assert.match(
      text,
      new RegExp(`^tunmesh_handshakes_total\\{peer="${peer}",role="(initiator|responder)"\\} [1-9]`, 'm'),
    );
  }
  assert.match(text, /^tunmesh_peers\{state="alive"\} 2$/m);
});

test('a 20 MB TCP transfer between every pair arrives intact', async () => {
  const pairs: [string, string][] = [
    ['n1', 'n2'],
    ['n2', 'n3'],
    ['n3', 'n1'],
  ];
  for (const [a, b] of pairs) {
    const addr = a === 'n2' ? mesh.overlay6(b) : mesh.overlay4(b);
    const r = await tcpTransfer(lab, lab.node(a).ns, lab.node(b).ns, addr, 20 * 1024 * 1024, { timeoutMs: 90_000 });
    assert.equal(r.bytesReceived, 20 * 1024 * 1024, `${a} -> ${b} bytes`);
    assert.equal(r.receivedSha256, r.sentSha256, `${a} -> ${b} sha256`);
  }
});

test('kill -9 of a node: the others prune it within the failure timeout; a restart rejoins', async () => {
  const killedAt = Date.now();
  mesh.proc('n3').kill('SIGKILL');
  await mesh.proc('n3').waitExit(5000);
  for (const n of ['n1', 'n2']) {
    // Pruned = declared dead (or gone), not merely suspected.
    const pruned = async () => {
      const row = (await mesh.status(n)).peers.find((p) => p.name === 'n3');
      return row === undefined || row.state === 'dead';
    };
    await waitFor(pruned, {
      what: `${n} to drop n3`,
      timeoutMs: failureTimeoutMs + 2000,
      intervalMs: 200,
    });
  }
  const prunedMs = Date.now() - killedAt;
  assert.ok(prunedMs <= failureTimeoutMs + 2000, `pruned after ${prunedMs} ms`);
  // The killed daemon's TUN device went away with its file descriptor.
  const links = await lab.exec(lab.node('n3').ns, 'ip', ['-o', 'link', 'show']);
  assert.doesNotMatch(links.stdout, /tunmesh0/);

  const restartedAt = Date.now();
  mesh.start('n3');
  await waitFor(
    async () => (await ping(lab, lab.node('n1').ns, mesh.overlay4('n3'), { count: 1, timeoutS: 1 })).received === 1,
    {
      what: 'n1 to reach the restarted n3',
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${mesh.logs()}`);
  });
  const resumedMs = Date.now() - restartedAt;
  assert.ok(resumedMs <= 10_000, `traffic resumed after ${resumedMs} ms`);
  await mesh.waitConverged(nodes, 15_000);
});

test('SIGTERM shuts a node down cleanly and removes its TUN device', async () => {
  const p = mesh.proc('n2');
  p.kill('SIGTERM');
  const exit = await p.waitExit(10_000);
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${p.log().slice(-2000)}`);
  const links = await lab.exec(lab.node('n2').ns, 'ip', ['-o', 'link', 'show']);
  assert.doesNotMatch(links.stdout, /tunmesh0/);
});

test('an overlay address claimed by a second node is refused everywhere, with a clear log line', async () => {
  mesh.start('n4');
  for (const n of ['n1', 'n3']) {
    await waitFor(async () => (await mesh.status(n)).peers.find((p) => p.name === 'n4')?.state === 'refused', {
      what: `${n} to list n4 as refused`,
      timeoutMs: 15_000,
      intervalMs: 200,
    });
  }
  const line = mesh
    .proc('n1')
    .lines()
    .find((l) => l.includes('claimed by n4'));
  assert.ok(line, 'n1 logs the refusal');
  assert.match(
    line,
    new RegExp(`overlay address ${mesh.overlay4('n1').replace(/\./g, '\\.')} claimed by n4 is already held by n1`),
  );
  // Traffic to the contested address still reaches its holder.
  const r = await ping(lab, lab.node('n3').ns, mesh.overlay4('n1'), { count: 2 });
  assert.equal(r.received, 2);
});
