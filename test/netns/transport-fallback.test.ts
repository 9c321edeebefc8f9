// Fallback and recovery end to end (issue #4), default method lists (wireguard, tls): nft drops UDP on
// the WireGuard port while a TCP transfer runs → the pair moves to tls by itself and the transfer
// completes intact; the rule is removed while a second transfer runs → back on wireguard (UDP), and that
// transfer completes intact too. A second lab blocks UDP before the daemons start: the pair forms over tls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const receiverJs = `
const net = require('node:net'), crypto = require('node:crypto');
const server = net.createServer((s) => {
  const h = crypto.createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => { console.log(JSON.stringify({ sha256: h.digest('hex'), bytes: n })); s.end(); server.close(); });
  s.on('error', (e) => { console.error('receiver: ' + e.message); process.exit(2); });
});
server.listen(Number(process.argv[2]), process.argv[1], () => console.log('listening'));
`;

/** One TCP connection that sends 32 KiB every 10 ms for durationMs (about 3 MB/s), so it spans a switch. */
const pacedSenderJs = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port, durationMs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const s = net.connect({ host, port });
s.on('error', (e) => { console.error('sender: ' + e.message); process.exit(2); });
s.on('connect', () => {
  const h = crypto.createHash('sha256'); let sent = 0; const end = Date.now() + durationMs;
  const timer = setInterval(() => {
    if (Date.now() >= end) { clearInterval(timer); s.end(); return; }
    if (s.writableLength > 4 << 20) return;
    const chunk = crypto.randomBytes(32768); h.update(chunk); sent += chunk.length; s.write(chunk);
  }, 10);
  s.resume();
  s.on('end', () => { console.log(JSON.stringify({ sha256: h.digest('hex'), bytes: sent })); process.exit(0); });
});
`;

interface Paced {
  sent: { sha256: string; bytes: number };
  received: { sha256: string; bytes: number };
}

async function pacedTransfer(l: Lab, fromNs: string, toNs: string, addr: string, durationMs: number): Promise<Paced> {
  const port = 20000 + Math.floor(Math.random() * 30000);
  const receiver = l.spawn(toNs, process.execPath, ['-e', receiverJs, addr, String(port)]);
  try {
    await waitFor(() => receiver.lines().includes('listening'), {
      what: 'receiver',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const r = await l.exec(fromNs, process.execPath, ['-e', pacedSenderJs, addr, String(port), String(durationMs)], {
      timeoutMs: durationMs + 60_000,
    });
    await receiver.waitExit(10_000);
    const last = (t: string) =>
      JSON.parse(
        t
          .split('\n')
          .filter((x) => x.startsWith('{'))
          .at(-1) ?? 'null',
      );
    const sent = last(r.stdout);
    const received = last(receiver.lines().join('\n'));
    if (!sent || !received) throw new Error(`paced transfer: ${r.stdout} ${r.stderr} ${receiver.log()}`);
    return { sent, received };
  } finally {
    receiver.kill('SIGKILL');
  }
}

let lab: Lab;
let mesh: Mesh;
const recoverIntervalMs = 10_000;

async function pathOf(m: Mesh, node: string, peer: string): Promise<string | undefined> {
  const s = await m.status(node);
  return (s.peers.find((p) => p.name === peer) as { path?: string } | undefined)?.path;
}

/** Drops UDP to and from the WireGuard port in `ns` (both directions, so both peers lose UDP). */
async function blockUdp(l: Lab, ns: string, port: number): Promise<void> {
  await l.exec(ns, 'nft', ['-f', '-'], {
    input: `table inet trblock {
  chain in { type filter hook input priority -10; policy accept; udp dport ${port} drop; udp sport ${port} drop; }
  chain out { type filter hook output priority -10; policy accept; udp dport ${port} drop; udp sport ${port} drop; }
}`,
  });
}

async function unblockUdp(l: Lab, ns: string): Promise<void> {
  await l.exec(ns, 'nft', ['delete', 'table', 'inet', 'trblock']);
}

async function waitPath(m: Mesh, a: string, b: string, path: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => (await pathOf(m, a, b)) === path && (await pathOf(m, b, a)) === path, {
    what: `${a}<->${b} on ${path}`,
    timeoutMs,
    intervalMs: 200,
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n${m.logs()}`);
  });
  return Date.now() - t0;
}

before(async () => {
  lab = await Lab.create('tr-f-', { nodes: 2 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (_node, c) => {
      c.transport = { recoverIntervalMs };
    },
  });
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2'], 30_000);
  const p = await ping(lab, lab.node('n1').ns, mesh.overlay4('n2'), { count: 2, timeoutS: 5 });
  assert.equal(p.received, 2, p.output);
  assert.equal(await pathOf(mesh, 'n1', 'n2'), 'wireguard');
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('UDP dropped mid-transfer: the pair moves to tls within 15 s and the transfer completes intact', async () => {
  const n1 = lab.node('n1').ns;
  const n2 = lab.node('n2').ns;
  const started = Date.now();
  const transfer = pacedTransfer(lab, n1, n2, mesh.overlay4('n2'), 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  const blockedAt = Date.now();
  await blockUdp(lab, n2, mesh.udpPort);
  const switchMs = await waitPath(mesh, 'n1', 'n2', 'tls', 15_000).then(() => Date.now() - blockedAt);
  const t = await transfer;
  const ms = Date.now() - started;
  assert.ok(ms > switchMs + 1500, 'the transfer was still running when the pair switched');
  assert.equal(t.received.bytes, t.sent.bytes);
  assert.equal(t.received.sha256, t.sent.sha256);
  const bytes = t.sent.bytes;
  const text = await mesh.metricsText('n1');
  assert.match(text, /^tunmesh_transport_switches_total\{from="wireguard",to="tls"\} [1-9]/m);
  assert.match(text, /^tunmesh_peer_transport\{peer="n2",method="tls"\} 1/m);
  console.log(
    `fallback: switch seen ${switchMs} ms after the block; one TCP connection, ${bytes} B in ${ms} ms, sha256 ok`,
  );
});

test('UDP back mid-transfer: the pair returns to wireguard within the probe interval, transfer intact', async () => {
  const n1 = lab.node('n1').ns;
  const n2 = lab.node('n2').ns;
  const started = Date.now();
  const transfer = pacedTransfer(lab, n1, n2, mesh.overlay4('n2'), 25_000);
  await new Promise((r) => setTimeout(r, 1500));
  const unblockedAt = Date.now();
  await unblockUdp(lab, n2);
  await waitPath(mesh, 'n1', 'n2', 'wireguard', recoverIntervalMs + 10_000);
  const backMs = Date.now() - unblockedAt;
  const t = await transfer;
  const ms = Date.now() - started;
  assert.ok(ms > backMs + 1500, 'the transfer was still running when the pair switched back');
  assert.equal(t.received.bytes, t.sent.bytes);
  assert.equal(t.received.sha256, t.sent.sha256);
  const bytes = t.sent.bytes;
  assert.match(await mesh.metricsText('n2'), /^tunmesh_peer_transport\{peer="n1",method="wireguard"\} 1/m);
  console.log(`recovery: back on wireguard ${backMs} ms after the unblock; one TCP connection, ${bytes} B in ${ms} ms`);
});

test('UDP blocked from the start: the pair forms over tls', async () => {
  const lab2 = await Lab.create('tr-b-', { nodes: 2 });
  const mesh2 = await Mesh.create(lab2, { bootstrap: { n2: ['n1'] } });
  try {
    await blockUdp(lab2, lab2.node('n2').ns, mesh2.udpPort);
    mesh2.start('n1');
    mesh2.start('n2');
    await mesh2.waitConverged(['n1', 'n2'], 30_000);
    const t0 = Date.now();
    const p = await ping(lab2, lab2.node('n1').ns, mesh2.overlay4('n2'), { count: 3, timeoutS: 20 });
    assert.equal(p.received, 3, p.output);
    const formMs = Date.now() - t0;
    assert.equal(await pathOf(mesh2, 'n1', 'n2'), 'tls');
    const t = await tcpTransfer(lab2, lab2.node('n2').ns, lab2.node('n1').ns, mesh2.overlay4('n1'), 10_000_000);
    assert.equal(t.receivedSha256, t.sentSha256);
    console.log(`blocked from the start: ping through in ${formMs} ms over tls; 10 MB in ${t.seconds.toFixed(2)} s`);
  } finally {
    await mesh2.cleanup();
    await lab2.destroy();
  }
});
