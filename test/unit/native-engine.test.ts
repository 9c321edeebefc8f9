// The native engine's control logic without the addon: two engines over a fake fast path whose "wire"
// carries every datagram through the slow path. Proves what the engine installs natively (keys, which
// keypair sends, confirmation, removal, routes), that device-sealed transport goes through the native
// re-seal, and that the traffic summaries drive the device's timers (rekey) as per-packet traffic would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../../src/base/secret.js';
import { silentLogger } from '../../src/base/log.js';
import {
  nativeDropReasons,
  type FastPathHandle,
  type NativeDropReason,
  type SlowItem,
} from '../../src/dataplane/native-addon.js';
import { NativeEngine } from '../../src/dataplane/native-engine.js';
import { Metrics } from '../../src/metrics/registry.js';
import { WgDevice } from '../../src/noise/device.js';
import { FakeClock } from '../../src/platform/memory/clock.js';
import { encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { keyFromSeed, seededRandom } from '../helpers/wg-pair.js';

interface Installed {
  peerId: number;
  localIndex: number;
  remoteIndex: number;
  sendKey: string;
  receiveKey: string;
  confirmed: boolean;
}

function noDrops(): Record<NativeDropReason, number> {
  return Object.fromEntries(nativeDropReasons.map((r) => [r, 0])) as Record<NativeDropReason, number>;
}

/** Records what the engine asks of the native side; datagrams go to `wire`. */
class FakeFast implements FastPathHandle {
  onSlow: ((items: SlowItem[]) => void) | undefined;
  readonly keypairs = new Map<number, Installed>();
  readonly confirmed: number[] = [];
  readonly peers = new Map<number, { host?: string; port?: number }>();
  readonly routes = new Map<number, string>();
  readonly tunWrites: Buffer[] = [];
  readonly sent: { kind: 'plain' | 'transport'; data: Buffer }[] = [];
  rows: number[] = [];
  drops = noDrops();
  wire: ((data: Buffer) => void) | undefined;

  openTun(name: string) {
    return { fd: -1, name, vnetHdr: false, tso: false, uso: false };
  }
  bind(_host: string, port: number) {
    return { port, gso: false, gro: false };
  }
  start(onSlow: (items: SlowItem[]) => void): void {
    this.onSlow = onSlow;
  }
  stop(): void {}
  close(): void {}
  setPeer(id: number, host?: string, port?: number): boolean {
    this.peers.set(id, { host, port });
    return host !== undefined;
  }
  removePeer(id: number): void {
    this.peers.delete(id);
    this.routes.delete(id);
  }
  setRoutes(id: number, packed: Uint8Array): boolean {
    this.routes.set(id, Buffer.from(packed).toString('hex'));
    return true;
  }
  addKeypair(
    peerId: number,
    localIndex: number,
    remoteIndex: number,
    s: Uint8Array,
    r: Uint8Array,
    _age: number,
    confirmed: boolean,
  ): boolean {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    this.keypairs.set(localIndex, { peerId, localIndex, remoteIndex, sendKey: hex(s), receiveKey: hex(r), confirmed });
    return true;
  }
  confirmKeypair(localIndex: number): boolean {
    this.confirmed.push(localIndex);
    return true;
  }
  removeKeypair(localIndex: number): void {
    this.keypairs.delete(localIndex);
  }
  sendTo(data: Uint8Array): boolean {
    this.sent.push({ kind: 'plain', data: Buffer.from(data) });
    this.wire?.(Buffer.from(data));
    return true;
  }
  sendTransport(_peerId: number, data: Uint8Array): boolean {
    this.sent.push({ kind: 'transport', data: Buffer.from(data) });
    this.wire?.(Buffer.from(data));
    return true;
  }
  setPaddingMtu(): void {}
  setHandshakeKeys(): boolean {
    return true;
  }
  writeTun(packet: Uint8Array): boolean {
    this.tunWrites.push(Buffer.from(packet));
    return true;
  }
  activity(): Float64Array {
    const r = Float64Array.from(this.rows);
    this.rows = [];
    return r;
  }
  stats() {
    const z = 0;
    return {
      tunReads: z,
      tunSuperPackets: z,
      txPackets: z,
      sendCalls: z,
      gsoSends: z,
      rxDatagrams: z,
      recvCalls: z,
      groDatagrams: z,
      rxPackets: z,
      tunWrites: z,
      coalesced: z,
      puntedTun: z,
      puntedUdp: z,
      puntedInner: z,
      usoWrites: z,
      puntedUnconfirmed: z,
      cookieReplies: z,
      slowQueued: z,
      slowPeak: z,
      resealed: z,
      drops: { ...this.drops },
      running: true,
    };
  }
}

function ipv4(src: string, dst: string, payload = 'ping'): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  p.write(payload, 20);
  return p;
}

function node(name: string, clock: FakeClock, rekeyAfterTimeMs?: number) {
  const priv = keyFromSeed(name);
  const device = new WgDevice({
    privateKey: new Secret(priv),
    random: seededRandom(name),
    wallClockMs: () => clock.wallNow(),
    limits: rekeyAfterTimeMs ? { rekeyAfterTimeMs } : undefined,
  });
  const fast = new FakeFast();
  const metrics = new Metrics();
  const engine = new NativeEngine({ fast, device, clock, metrics, log: silentLogger() });
  return { name, key: encodeKey(publicKeyOf(priv)), device, fast, engine, metrics };
}

function pair(rekeyAfterTimeMs?: number) {
  const clock = new FakeClock({ startMs: 1_000_000 });
  const a = node('na', clock, rekeyAfterTimeMs);
  const b = node('nb', clock, rekeyAfterTimeMs);
  a.fast.wire = (d) => b.fast.onSlow?.([{ kind: 1, data: d, host: '198.18.0.1', port: 51820 }]);
  b.fast.wire = (d) => a.fast.onSlow?.([{ kind: 1, data: d, host: '198.18.0.2', port: 51820 }]);
  a.engine.start();
  b.engine.start();
  a.engine.upsertPeer({
    publicKey: b.key,
    name: 'nb',
    allowedIps: ['198.19.0.2/32'],
    endpoint: { host: '198.18.0.2', port: 51820 },
  });
  b.engine.upsertPeer({
    publicKey: a.key,
    name: 'na',
    allowedIps: ['198.19.0.1/32'],
    endpoint: { host: '198.18.0.1', port: 51820 },
  });
  return { clock, a, b };
}

test('a punted packet starts the handshake; keys are installed crossed, the responder’s only after confirmation', () => {
  const { a, b } = pair();
  // Family 4, prefix length 32, 198.19.0.2 (written out, not taken from packRoutes).
  assert.equal(a.fast.routes.get(1), '0420c6130002');
  assert.deepEqual(a.fast.peers.get(1), { host: '198.18.0.2', port: 51820 });
  const pkt = ipv4('198.19.0.1', '198.19.0.2');
  // The tx thread had no session for this destination and handed the packet up.
  a.fast.onSlow!([{ kind: 0, data: pkt }]);
  const ka = [...a.fast.keypairs.values()];
  const kb = [...b.fast.keypairs.values()];
  assert.equal(ka.length, 1);
  assert.equal(kb.length, 1);
  assert.equal(ka[0]!.confirmed, true, 'the initiator sends at once');
  assert.equal(kb[0]!.sendKey, ka[0]!.receiveKey);
  assert.equal(kb[0]!.receiveKey, ka[0]!.sendKey);
  assert.equal(ka[0]!.remoteIndex, kb[0]!.localIndex);
  // B confirmed its keypair on A's first transport message and delivered the staged packet.
  assert.deepEqual(b.fast.confirmed, [kb[0]!.localIndex]);
  assert.ok(
    b.fast.tunWrites.some((w) => w.equals(pkt)),
    'the staged packet reached B’s TUN',
  );
  // Every transport message the devices sealed went through the native re-seal, never plain.
  for (const side of [a, b]) {
    for (const s of side.fast.sent) assert.equal(s.kind, s.data[0] === 4 ? 'transport' : 'plain');
  }
  assert.ok(a.fast.sent.some((s) => s.kind === 'transport'));
});

test('traffic summaries drive the device timers: data sent past rekey-after-time starts a rekey', () => {
  const rekeyMs = 5000;
  const { clock, a, b } = pair(rekeyMs);
  a.fast.onSlow!([{ kind: 0, data: ipv4('198.19.0.1', '198.19.0.2') }]);
  const first = [...a.fast.keypairs.keys()];
  const row = (peer: number, sentAgo: number, rxAgo: number, localIndex: number) => [
    peer,
    10,
    14000,
    10,
    14000,
    sentAgo,
    rxAgo,
    rxAgo,
    localIndex,
    11,
  ];
  // Traffic flows natively for a while: no rekey before rekey-after-time...
  for (let t = 0; t < rekeyMs - 500; t += 500) {
    a.fast.rows = row(1, 10, 20, first[0]!);
    b.fast.rows = row(1, 10, 20, [...b.fast.keypairs.keys()][0]!);
    clock.advance(500);
  }
  assert.equal(a.fast.keypairs.size, 1, 'still the first session');
  // ...then the initiator's next summary with data sent rekeys, and both sides install the new keypair.
  for (let t = 0; t < 1500; t += 100) {
    a.fast.rows = row(1, 5, 20, first[0]!);
    clock.advance(100);
  }
  assert.equal(a.fast.keypairs.size, 2, 'old and new keypair installed on A');
  const fresh = [...a.fast.keypairs.values()].find((k) => k.localIndex !== first[0])!;
  assert.equal(fresh.confirmed, true);
  assert.equal(b.fast.keypairs.size, 2, 'B has the new keypair waiting for confirmation');
  assert.equal(a.device.peerStatus(b.key)!.txPackets >= 80, true, 'summaries count as traffic');
});

test('native drop counters reach the metrics; removing a peer removes it natively', async () => {
  const { clock, a, b } = pair();
  a.fast.drops = { ...noDrops(), decrypt_failed: 3, replayed: 1 };
  clock.advance(200);
  assert.equal(await a.metrics.value('packets_dropped_total', { reason: 'decrypt_failed' }), 3);
  a.fast.drops = { ...noDrops(), decrypt_failed: 5, replayed: 1 };
  clock.advance(200);
  assert.equal(await a.metrics.value('packets_dropped_total', { reason: 'decrypt_failed' }), 5);
  assert.equal(await a.metrics.value('packets_dropped_total', { reason: 'replayed' }), 1);
  a.engine.removePeer(b.key);
  assert.equal(a.fast.peers.size, 0);
  assert.equal(a.fast.routes.size, 0);
  assert.equal(a.engine.counters(b.key), undefined);
});
