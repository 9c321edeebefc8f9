// The data-plane half of the scale simulation: one "hub" WgDevice configured with n-1 peers (what a
// daemon in an n-node mesh holds), and `pairs` of those peers, each a WgDevice of its own, exchanging
// packets with the hub over the memory internet with a fake clock. Shows that sessions are lazy (handshakes
// = peers with traffic, none for the rest), and what a configured-but-idle peer costs in heap and in
// timer work.
import { createHash } from 'node:crypto';
import { Secret } from '../../src/base/secret.js';
import { clamp, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { WgDevice } from '../../src/noise/device.js';
import type { WgAction } from '../../src/noise/actions.js';
import { FakeClock } from '../../src/platform/memory/clock.js';
import { MemoryInternet, type MemorySocket } from '../../src/platform/memory/internet.js';

export interface LazySessionFigures {
  readonly configuredPeers: number;
  readonly peersWithTraffic: number;
  /** Handshakes completed by the hub (as initiator or responder). */
  readonly handshakes: number;
  readonly packetsDelivered: number;
  /** Heap bytes per configured peer on the hub (undefined without a gc). */
  readonly heapBytesPerPeer: number | undefined;
  /** Real microseconds one hub timer tick takes over all its peers. */
  readonly tickMicros: number;
}

function seeded(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const block = createHash('sha256').update(`${seed}/${counter++}`).digest();
      const take = Math.min(block.length, n - at);
      out.set(block.subarray(0, take), at);
      at += take;
    }
    return out;
  };
}

const keyOf = (seed: number, i: number): Uint8Array =>
  clamp(createHash('sha256').update(`sim-key/${seed}/${i}`).digest());
const ipOf = (i: number): string => `198.18.${(i >> 8) & 255}.${i & 255}`;

function ipv4(src: number, dst: number, payload: number): Uint8Array {
  const p = new Uint8Array(20 + payload);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 255;
  p[8] = 64;
  p[9] = 17;
  p.set([198, 19, (src >> 8) & 255, src & 255], 12);
  p.set([198, 19, (dst >> 8) & 255, dst & 255], 16);
  return p;
}

interface SimDevice {
  readonly index: number;
  readonly dev: WgDevice;
  readonly key: string;
  socket: MemorySocket;
}

export async function runLazySessions(o: {
  nodes: number;
  pairs: number;
  seed: number;
  gc?: () => void;
}): Promise<LazySessionFigures> {
  const clock = new FakeClock();
  const internet = new MemoryInternet({ clock, seed: o.seed, conditions: { latencyMs: 2 } });
  let handshakes = 0;
  let delivered = 0;
  const devices = new Map<number, SimDevice>();
  const byKey = new Map<string, SimDevice>();
  const run = (d: SimDevice, actions: WgAction[]): void => {
    for (const a of actions) {
      if (a.type === 'send') d.socket.send(a.data, a.to);
      else if (a.type === 'handshake' && d.index === 1) handshakes++;
      else if (a.type === 'deliver') delivered++;
    }
  };
  const make = async (i: number): Promise<SimDevice> => {
    const priv = keyFromIndex(o.seed, i);
    const dev = new WgDevice({
      privateKey: new Secret(priv),
      random: seeded(`${o.seed}/${i}`),
      wallClockMs: () => clock.wallNow(),
    });
    const socket = await internet.addHost(ipOf(i)).bind(ipOf(i), 51820);
    const d: SimDevice = { index: i, dev, key: encodeKey(dev.publicKey), socket };
    socket.onMessage((m) => run(d, dev.receive(m.data, m.from, clock.now())));
    devices.set(i, d);
    byKey.set(d.key, d);
    return d;
  };
  const keyFromIndex = (seed: number, i: number): Uint8Array => keyOf(seed, i);

  o.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const hub = await make(1);
  const n = Math.max(2, o.nodes);
  for (let i = 2; i <= n; i++)
    hub.dev.addPeer({ publicKey: publicKeyOf(keyOf(o.seed, i)), endpoint: { host: ipOf(i), port: 51820 } });
  o.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  // Peers with traffic: spread over the index range, each configured with the hub.
  const pairs = Math.min(o.pairs, n - 1);
  const talkers: SimDevice[] = [];
  for (let k = 0; k < pairs; k++) {
    const d = await make(2 + Math.floor((k * (n - 1)) / pairs));
    d.dev.addPeer({ publicKey: hub.dev.publicKey, endpoint: { host: ipOf(1), port: 51820 } });
    talkers.push(d);
  }
  // Half the talkers start the conversation, the hub starts the other half; a few packets each way.
  for (let round = 0; round < 3; round++) {
    for (const [k, t] of talkers.entries()) {
      if (k % 2 === 0) run(t, t.dev.send(hub.key, ipv4(t.index, 1, 64), clock.now()));
      else run(hub, hub.dev.send(t.key, ipv4(1, t.index, 64), clock.now()));
      clock.advance(10);
    }
    clock.advance(100);
    for (const d of devices.values()) run(d, d.dev.tick(clock.now()));
  }
  // The daemon's tick rate: one tick per 100 ms of (simulated) time; only the tick itself is timed.
  const ticks = 20;
  let tickNs = 0n;
  for (let i = 0; i < ticks; i++) {
    clock.advance(100);
    const t0 = process.hrtime.bigint();
    const acts = hub.dev.tick(clock.now());
    tickNs += process.hrtime.bigint() - t0;
    run(hub, acts);
  }
  const tickMicros = Number(tickNs) / 1000 / ticks;
  for (const d of devices.values()) await d.socket.close();
  return {
    configuredPeers: n - 1,
    peersWithTraffic: pairs,
    handshakes,
    packetsDelivered: delivered,
    heapBytesPerPeer: o.gc ? Math.max(0, Math.round((heapAfter - heapBefore) / (n - 1))) : undefined,
    tickMicros: Math.round(tickMicros),
  };
}
