// Two WgDevices in memory with a deterministic random source and a fake clock, and a tiny "wire" that
// carries their send actions to each other. For unit tests of the noise layer.
import { createHash } from 'node:crypto';
import { Secret } from '../../src/base/secret.js';
import { clamp, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { WgDevice, type WgDeviceOptions } from '../../src/noise/device.js';
import type { WgAction, WgEndpoint } from '../../src/noise/actions.js';

/** Deterministic bytes: SHA-256 of (seed, counter) blocks. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n: number) => {
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

export function keyFromSeed(seed: string): Uint8Array {
  return clamp(createHash('sha256').update(`key/${seed}`).digest());
}

export interface Side {
  readonly name: string;
  readonly dev: WgDevice;
  readonly key: string;
  readonly endpoint: WgEndpoint;
  underLoad: boolean;
}

export class Clock {
  now = 1_000_000;
  wall = 1_700_000_000_000;
  advance(ms: number): void {
    this.now += ms;
    this.wall += ms;
  }
}

export interface PairOptions {
  psk?: Uint8Array;
  limits?: WgDeviceOptions['limits'];
  /** Give B's endpoint to A (default true) and A's to B (default true). */
  aKnowsB?: boolean;
  bKnowsA?: boolean;
  persistentKeepaliveSec?: number;
}

export function makePair(o: PairOptions = {}): { a: Side; b: Side; clock: Clock } {
  const clock = new Clock();
  const mk = (name: string, port: number): Side => {
    const priv = keyFromSeed(name);
    const side: Side = {
      name,
      key: encodeKey(publicKeyOf(priv)),
      endpoint: { host: '198.18.0.' + port, port: 51820 + port },
      underLoad: false,
      dev: undefined as unknown as WgDevice,
    };
    (side as { dev: WgDevice }).dev = new WgDevice({
      privateKey: new Secret(priv),
      random: seededRandom(name),
      wallClockMs: () => clock.wall,
      limits: o.limits,
      underLoad: () => side.underLoad,
    });
    return side;
  };
  const a = mk('a', 1);
  const b = mk('b', 2);
  const psk = o.psk ? new Secret(o.psk) : undefined;
  a.dev.addPeer({
    publicKey: b.dev.publicKey,
    presharedKey: psk,
    endpoint: o.aKnowsB === false ? undefined : b.endpoint,
    persistentKeepaliveSec: o.persistentKeepaliveSec,
  });
  b.dev.addPeer({
    publicKey: a.dev.publicKey,
    presharedKey: psk,
    endpoint: o.bKnowsA === false ? undefined : a.endpoint,
  });
  return { a, b, clock };
}

export type Sent = Extract<WgAction, { type: 'send' }>;

export function sends(actions: WgAction[]): Sent[] {
  return actions.filter((x): x is Sent => x.type === 'send');
}

export function ofType<T extends WgAction['type']>(actions: WgAction[], t: T): Extract<WgAction, { type: T }>[] {
  return actions.filter((x): x is Extract<WgAction, { type: T }> => x.type === t);
}

/**
 * An in-memory wire between two sides: send actions are queued for the other side; flush() delivers
 * until quiet (bounded); every side's actions are logged in order.
 */
export class Wire {
  readonly log = new Map<Side, WgAction[]>();
  inflight: { dst: Side; src: Side; data: Uint8Array }[] = [];
  /** Drop datagrams for which this returns true (still counted in `dropped`). */
  filter: ((d: { dst: Side; src: Side; data: Uint8Array }) => boolean) | undefined;
  dropped = 0;

  constructor(
    readonly a: Side,
    readonly b: Side,
    readonly clock: Clock,
  ) {
    this.log.set(a, []);
    this.log.set(b, []);
  }

  other(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  /** Records `actions` as produced by `src` and queues its datagrams. */
  push(src: Side, actions: WgAction[]): WgAction[] {
    this.log.get(src)!.push(...actions);
    for (const x of sends(actions)) {
      const d = { dst: this.other(src), src, data: x.data };
      if (this.filter?.(d)) this.dropped++;
      else this.inflight.push(d);
    }
    return actions;
  }

  flush(maxRounds = 20): void {
    for (let round = 0; round < maxRounds && this.inflight.length > 0; round++) {
      const batch = this.inflight;
      this.inflight = [];
      for (const d of batch) this.push(d.dst, d.dst.dev.receive(d.data, d.src.endpoint, this.clock.now));
    }
  }

  send(src: Side, packet: Uint8Array): WgAction[] {
    const acts = this.push(src, src.dev.send(this.other(src).key, packet, this.clock.now));
    this.flush();
    return acts;
  }

  /** Advances the clock by `ms` in `stepMs` steps, ticking both sides and delivering after each step. */
  run(ms: number, stepMs = 100): void {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.advance(stepMs);
      this.push(this.a, this.a.dev.tick(this.clock.now));
      this.push(this.b, this.b.dev.tick(this.clock.now));
      this.flush();
    }
  }

  /** Takes (and clears) the log of one side. */
  take(s: Side): WgAction[] {
    const l = this.log.get(s)!;
    this.log.set(s, []);
    return l;
  }
}

/** IPv4 packet with a payload, good enough for the device's inner-packet check. */
export function ipv4Packet(src: string, dst: string, payload: Uint8Array = new Uint8Array(8)): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  p.set(payload, 20);
  return p;
}
