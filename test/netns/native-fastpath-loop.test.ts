// The native fast path driven directly, in one namespace: a test process plays the remote peer over
// loopback (it seals transport messages with fastPathSeal under the keypair it installed), and what the rx
// thread does with each opened packet is observed at a UDP listener behind the TUN and in the slow queue.
// Proves: packets from a routed source are delivered; an unrouted source or a broadcast/multicast
// destination goes up as SlowItem kind 2 with the peer's id; consecutive UDP datagrams of one flow are
// written as one USO super-packet when the kernel accepts it (and arrive intact either way); a local UDP
// GSO train read from the TUN is split into valid datagrams and sealed for the peer; start/stop
// cycles of the fast path and the TUN reader leave no file descriptor behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { Lab } from '../helpers/netns.js';
import { fastPathChildPrelude } from '../helpers/fastpath-child.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const skip = loadFastPath() === undefined && 'native addon not built (run npm install)';
const nativeDir = resolve(import.meta.dirname, '..', '..', 'native');
let lab: Lab;

// CommonJS child run inside the namespace: argv[1] the addon dir, argv[2] the scenario.
const child = `
${fastPathChildPrelude}const fdCount = () => fs.readdirSync('/proc/self/fd').length;

async function rx() {
  ip('link', 'set', 'lo', 'up');
  const fp = new addon.FastPath({ mtu: 1420, offload: true });
  const tun = fp.openTun('nf0');
  ip('addr', 'add', '198.19.0.1/24', 'dev', 'nf0'); ip('link', 'set', 'nf0', 'up');
  const b = fp.bind('127.0.0.1', 0);
  const peer = dgram.createSocket('udp4');
  await new Promise((r) => peer.bind(0, '127.0.0.1', r));
  const listener = dgram.createSocket('udp4');
  await new Promise((r) => listener.bind(9000, '198.19.0.1', r));
  const got = [];
  listener.on('message', (m, r) => got.push(r.address + ':' + r.port + ':' + m.toString('hex')));
  fp.setPeer(7, '127.0.0.1', peer.address().port);
  fp.setRoutes(7, Uint8Array.from([4, 32, 198, 19, 0, 2]));
  const recvKey = crypto.randomBytes(32);
  const sendKey = crypto.randomBytes(32);
  fp.addKeypair(7, 1001, 2002, sendKey, recvKey, 0, true);
  const fill = (n, v) => Buffer.alloc(n, v);
  const inner = [
    udp4('198.19.0.2', '198.19.0.1', 5000, 9000, fill(100, 1)),   // routed: delivered
    udp4('198.19.0.9', '198.19.0.1', 5000, 9000, fill(100, 2)),   // unrouted source: kind 2
    udp4('198.19.0.2', '239.1.2.3', 5000, 9000, fill(100, 3)),    // multicast: kind 2
    udp4('198.19.0.2', '255.255.255.255', 5000, 9000, fill(100, 4)), // broadcast: kind 2
  ];
  // One flow of equal-size datagrams (a train to coalesce; the last is shorter), then another flow.
  for (let i = 0; i < 20; i++) inner.push(udp4('198.19.0.2', '198.19.0.1', 5001, 9000, fill(i === 19 ? 300 : 1000, 10 + i)));
  for (let i = 0; i < 4; i++) inner.push(udp4('198.19.0.2', '198.19.0.1', 5002, 9000, fill(1000, 40 + i)));
  let counter = 0;
  for (const p of inner)
    await new Promise((r) => peer.send(addon.fastPathSeal(recvKey, 1001, counter++, p, 1420), b.port, '127.0.0.1', r));
  await sleep(100); // everything is queued at the socket: the rx thread's first recvmmsg takes it as one batch
  const items = [];
  fp.start((its) => { for (const it of its) items.push({ kind: it.kind, peer: it.peer, data: it.data.toString('hex') }); }, limits);
  await sleep(600);
  const stats = fp.stats();
  // Outbound: a local sender with UDP_SEGMENT hands the TUN one 4500-byte train (one super-packet when
  // the TUN takes USO); the peer must get five sealed datagrams that open to valid UDP packets.
  const sealed = [];
  peer.on('message', (m) => sealed.push(m));
  const py = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(17, 103, 1000); " +
    "s.sendto(bytes(i % 251 for i in range(4500)), ('198.19.0.2', 7000))";
  execFileSync('python3', ['-c', py]);
  await sleep(500);
  const outbound = sealed.map((m) => {
    const d = crypto.createDecipheriv('chacha20-poly1305', sendKey, Buffer.concat([Buffer.alloc(4), m.subarray(8, 16)]), { authTagLength: 16 });
    d.setAuthTag(m.subarray(m.length - 16));
    const p = Buffer.concat([d.update(m.subarray(16, m.length - 16)), d.final()]);
    const n = p.readUInt16BE(2), udp = p.subarray(20, n);
    const pseudo = sum(p.subarray(12, 20)) + 17 + udp.length;
    return { receiver: m.readUInt32LE(4), len: n, udpOk: fold(sum(udp, pseudo)) === 0xffff, payload: udp.subarray(8).toString('hex') };
  });
  const superPackets = fp.stats().tunSuperPackets - stats.tunSuperPackets;
  fp.stop(); fp.close(); peer.close(); listener.close();
  const train = Buffer.from(Array.from({ length: 4500 }, (_, i) => i % 251)).toString('hex');
  console.log(JSON.stringify({ tun, items, got, stats, inner: inner.map((p) => p.toString('hex')), outbound, superPackets, train }));
}

async function fds() {
  ip('link', 'set', 'lo', 'up');
  const t = addon.openTun('nf1');
  const base = fdCount();
  for (let i = 0; i < 100; i++) addon.startTunReader(t.fd, () => {}).stop();
  const afterReaders = fdCount();
  const fpBase = fdCount();
  for (let i = 0; i < 20; i++) {
    const fp = new addon.FastPath({ mtu: 1420 });
    fp.openTun('nf2'); fp.bind('127.0.0.1', 0);
    fp.start(() => {}, limits);
    fp.stop(); fp.close();
  }
  const afterFastPath = fdCount();
  fs.closeSync(t.fd);
  console.log(JSON.stringify({ base, afterReaders, fpBase, afterFastPath }));
}

(process.argv[2] === 'rx' ? rx() : fds()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

async function run(scenario: string): Promise<Record<string, unknown>> {
  const r = await lab.exec('n1', process.execPath, ['-e', child, nativeDir, scenario], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

before(async () => {
  if (skip) return;
  lab = await Lab.create('nf-fl-', { nodes: 1 });
});

after(async () => {
  await lab?.destroy();
});

interface RxResult {
  outbound: { receiver: number; len: number; udpOk: boolean; payload: string }[];
  superPackets: number;
  train: string;
  tun: { vnetHdr: boolean; uso?: boolean };
  items: { kind: number; peer?: number; data: string }[];
  got: string[];
  stats: { coalesced: number; tunWrites: number; rxPackets: number; puntedInner: number; usoWrites?: number };
  inner: string[];
}

test(
  'rx: routed sources are delivered; unrouted sources and broadcast/multicast go up as kind 2; UDP trains coalesce',
  { skip },
  async () => {
    const r = (await run('rx')) as unknown as RxResult;
    const payloadOf = (hex: string): string => hex.slice(56);
    // Hand-up (kind 0 items are the kernel's own IPv6 solicitations read from the TUN): exactly the three
    // policy packets, in order, with the peer id and the decrypted bytes.
    assert.deepEqual(
      r.items.filter((i) => i.kind === 2).map((i) => [i.kind, i.peer, i.data]),
      [1, 2, 3].map((k) => [2, 7, r.inner[k]]),
    );
    assert.equal(r.stats.puntedInner, 3);
    // Delivered: the routed packet and both flows, every payload intact and each flow in order.
    const want = [0, ...Array.from({ length: 24 }, (_, i) => 4 + i)].map(
      (k) => `198.19.0.2:${k === 0 ? 5000 : k < 24 ? 5001 : 5002}:${payloadOf(r.inner[k]!)}`,
    );
    const flow = (port: number, l: string[]): string[] => l.filter((s) => s.includes(`:${port}:`));
    for (const port of [5000, 5001, 5002]) assert.deepEqual(flow(port, r.got), flow(port, want), `flow ${port}`);
    assert.equal(r.got.length, 25);
    assert.equal(r.stats.rxPackets, 25);
    if (r.tun.uso) {
      // One write for the 20-datagram train, one for the 4-datagram flow, one for the lone packet.
      assert.equal(r.stats.usoWrites, 2, JSON.stringify(r.stats));
      assert.equal(r.stats.coalesced, 24, JSON.stringify(r.stats));
      assert.equal(r.stats.tunWrites, 3, JSON.stringify(r.stats));
    } else {
      assert.equal(r.stats.tunWrites, 25, JSON.stringify(r.stats));
    }
    // Outbound UDP GSO train: split into five datagrams with valid checksums, sealed for receiver 2002.
    assert.equal(r.superPackets, r.tun.uso ? 1 : 0);
    assert.deepEqual(
      r.outbound.map((o) => [o.receiver, o.len, o.udpOk]),
      [1028, 1028, 1028, 1028, 528].map((n) => [2002, n, true]),
    );
    assert.equal(r.outbound.map((o) => o.payload).join(''), r.train);
  },
);

test('start/stop cycles of the TUN reader and the fast path leave no file descriptor open', { skip }, async () => {
  const r = (await run('fds')) as { base: number; afterReaders: number; fpBase: number; afterFastPath: number };
  assert.equal(r.afterReaders, r.base, 'TUN reader: 100 start/stop cycles');
  assert.equal(r.afterFastPath, r.fpBase, 'fast path: 20 open/start/stop/close cycles');
});
