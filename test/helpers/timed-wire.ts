// Two WgDevices joined by a wire with a fixed one-way delay, on the project's one fake clock
// (ManualClock): datagrams arrive `delayMs` after they were sent, in order, and both devices tick every
// 100 ms as the engines do. Every action is logged with its simulated time. Inner packets carry a
// 32-bit sequence number so a test can prove each one arrived exactly once. For the reliability rows that
// state figures in simulated time (R15, R19, R23), where the zero-latency wire of wg-pair.ts cannot.
import type { ManualClock } from '../../src/base/manual-clock.js';
import { Secret } from '../../src/base/secret.js';
import { encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { WgDevice, type WgDeviceOptions } from '../../src/noise/device.js';
import type { WgAction, WgEndpoint } from '../../src/noise/actions.js';
import { ipv4Packet, keyFromSeed, seededRandom } from './wg-pair.js';

/** The engines' tick interval (src/dataplane/js-engine.ts). */
export const engineTickMs = 100;

export interface TimedSide {
  readonly name: string;
  readonly dev: WgDevice;
  readonly key: string;
  readonly endpoint: WgEndpoint;
}

export interface SideOptions {
  /** Seed of the device's random source (handshake jitter, indices); default the name. */
  readonly seed?: string;
  readonly limits?: WgDeviceOptions['limits'];
  readonly loadMeter?: WgDeviceOptions['loadMeter'];
}

/** A device whose key comes from `name`, its wall clock from `clock`. */
export function makeTimedSide(name: string, port: number, clock: ManualClock, o: SideOptions = {}): TimedSide {
  const priv = keyFromSeed(name);
  return {
    name,
    key: encodeKey(publicKeyOf(priv)),
    endpoint: { host: `198.18.0.${port}`, port: 51820 + port },
    dev: new WgDevice({
      privateKey: new Secret(priv),
      random: seededRandom(o.seed ?? name),
      wallClockMs: () => clock.wallNow(),
      limits: o.limits,
      loadMeter: o.loadMeter,
    }),
  };
}

/** Makes `a` and `b` peers of each other with known endpoints. */
export function connect(a: TimedSide, b: TimedSide): void {
  a.dev.addPeer({ publicKey: b.dev.publicKey, endpoint: b.endpoint });
  b.dev.addPeer({ publicKey: a.dev.publicKey, endpoint: a.endpoint });
}

export interface LoggedAction {
  readonly t: number;
  readonly side: TimedSide;
  readonly action: WgAction;
}

export class TimedWire {
  readonly log: LoggedAction[] = [];
  /** Called after every batch of actions a side produced (state may have changed). */
  afterBatch: ((side: TimedSide, actions: WgAction[]) => void) | undefined;
  #ticking = true;
  #a: TimedSide;
  #b: TimedSide;
  /** Sides replaced by `restart`: a dead process neither ticks nor receives. */
  readonly #dead = new Set<TimedSide>();

  constructor(
    a: TimedSide,
    b: TimedSide,
    readonly clock: ManualClock,
    readonly delayMs: number,
  ) {
    this.#a = a;
    this.#b = b;
    this.#startTicking(a);
    this.#startTicking(b);
  }

  get a(): TimedSide {
    return this.#a;
  }

  get b(): TimedSide {
    return this.#b;
  }

  /**
   * `old` dies and `fresh` takes its place on the wire, as a process restarted on the same endpoint:
   * datagrams in flight reach whoever listens there when they arrive. `fresh` must already know its peer.
   */
  restart(old: TimedSide, fresh: TimedSide): void {
    this.#dead.add(old);
    if (old === this.#a) this.#a = fresh;
    else this.#b = fresh;
    this.#startTicking(fresh);
  }

  #startTicking(s: TimedSide): void {
    const tick = (): void => {
      if (!this.#ticking || this.#dead.has(s)) return;
      this.handle(s, s.dev.tick(this.clock.now()));
      this.clock.after(engineTickMs, tick);
    };
    this.clock.after(engineTickMs, tick);
  }

  other(s: TimedSide): TimedSide {
    return s === this.#a ? this.#b : this.#a;
  }

  /** Hands an inner packet to `src`'s device for its peer. */
  send(src: TimedSide, packet: Uint8Array): WgAction[] {
    return this.handle(src, src.dev.send(this.other(src).key, packet, this.clock.now()));
  }

  /** Logs `src`'s actions and puts its datagrams on the wire towards the other side. */
  handle(src: TimedSide, actions: WgAction[]): WgAction[] {
    const t = this.clock.now();
    const dst = this.other(src);
    for (const action of actions) {
      this.log.push({ t, side: src, action });
      if (action.type !== 'send') continue;
      const data = action.data;
      this.clock.after(this.delayMs, () => {
        // Addressed to the endpoint, not the process: whoever listens there when it arrives gets it.
        const to = this.#dead.has(dst) ? this.other(src) : dst;
        if (to === src || this.#dead.has(to)) return;
        this.handle(to, to.dev.receive(data, src.endpoint, this.clock.now()));
      });
    }
    this.afterBatch?.(src, actions);
    return actions;
  }

  /** Stops the tick loops (pending deliveries still arrive). */
  stopTicking(): void {
    this.#ticking = false;
  }

  /** Actions of one type logged for `side`, with their times. */
  of<T extends WgAction['type']>(side: TimedSide, type: T): { t: number; action: Extract<WgAction, { type: T }> }[] {
    return this.log
      .filter((x) => x.side === side && x.action.type === type)
      .map((x) => ({ t: x.t, action: x.action as Extract<WgAction, { type: T }> }));
  }
}

/** An IPv4 packet from `from` to `to` (198.19.0.x) carrying `seq`. */
export function seqPacket(from: number, to: number, seq: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, seq);
  return ipv4Packet(`198.19.0.${from}`, `198.19.0.${to}`, payload);
}

/** The sequence number of a packet made by seqPacket. */
export function seqOf(packet: Uint8Array): number {
  return new DataView(packet.buffer, packet.byteOffset + 20, 4).getUint32(0);
}

/** Receiver index of a transport message (bytes 4..8, little endian). */
export function receiverIndex(datagram: Uint8Array): number {
  return new DataView(datagram.buffer, datagram.byteOffset + 4, 4).getUint32(0, true);
}

/** Sent and delivered sequence numbers of one direction: how many never arrived, and arrived twice. */
export function accounting(sent: readonly number[], delivered: readonly number[]): { lost: number; dup: number } {
  const seen = new Map<number, number>();
  for (const s of delivered) seen.set(s, (seen.get(s) ?? 0) + 1);
  let lost = 0;
  let dup = 0;
  for (const s of sent) {
    const n = seen.get(s) ?? 0;
    if (n === 0) lost++;
    if (n > 1) dup += n - 1;
  }
  return { lost, dup };
}
