// When a pair on `wireguard` falls back to the TLS stream and when it comes back: a pure state machine,
// time passed in. On UDP: the peer went quiet (nothing received for silenceMs) while we have something
// to send → authenticated UDP probes; none answered within probeTimeoutMs → `tls`. On `tls`: a burst of
// probes every recoverEveryMs (sooner when the peer's own probe arrives); a pong proves UDP works both
// ways (our ping got there, its pong came back) → `udp`.

export type Path = 'udp' | 'tls';

export interface PathTiming {
  /** Nothing received from a peer we are sending to for this long starts probing. */
  readonly silenceMs: number;
  /** Interval between probes of one burst. */
  readonly probeEveryMs: number;
  /** A burst without a pong: UDP does not get through. */
  readonly probeTimeoutMs: number;
  /** On `tls`: how often a burst tests UDP again. */
  readonly recoverEveryMs: number;
}

export const defaultPathTiming: PathTiming = {
  silenceMs: 3_000,
  probeEveryMs: 500,
  probeTimeoutMs: 2_500,
  recoverEveryMs: 10_000,
};

export interface PathObservation {
  /** Something authenticated arrived from the peer since the last tick. */
  readonly received: boolean;
  /** We sent data, or have packets waiting for a handshake, since the last tick. */
  readonly sending: boolean;
}

export interface PathStep {
  /** Send one probe (ping) to the peer now. */
  readonly probe: boolean;
  /** The path changed to this one. */
  readonly switched?: Path;
}

const none: PathStep = { probe: false };

export class PathMachine {
  #path: Path;
  readonly #t: PathTiming;
  #lastRxAt: number;
  #burstSince: number | undefined;
  #lastProbeAt = -Infinity;
  #nextRecoverAt: number;

  constructor(t: PathTiming, now: number, initial: Path = 'udp') {
    this.#t = t;
    this.#path = initial;
    this.#lastRxAt = now;
    this.#nextRecoverAt = now + t.recoverEveryMs;
  }

  get path(): Path {
    return this.#path;
  }

  get probing(): boolean {
    return this.#burstSince !== undefined;
  }

  tick(now: number, o: PathObservation): PathStep {
    if (this.#path === 'udp') {
      if (o.received) this.#lastRxAt = now;
      if (this.#burstSince === undefined) {
        if (!o.sending || now - this.#lastRxAt < this.#t.silenceMs) return none;
        return this.#startBurst(now);
      }
      if (now - this.#burstSince >= this.#t.probeTimeoutMs) {
        this.#burstSince = undefined;
        this.#path = 'tls';
        this.#nextRecoverAt = now + this.#t.recoverEveryMs;
        return { probe: false, switched: 'tls' };
      }
      return this.#maybeProbe(now);
    }
    if (this.#burstSince === undefined) return now >= this.#nextRecoverAt ? this.#startBurst(now) : none;
    if (now - this.#burstSince >= this.#t.probeTimeoutMs) {
      this.#burstSince = undefined;
      this.#nextRecoverAt = now + this.#t.recoverEveryMs;
      return none;
    }
    return this.#maybeProbe(now);
  }

  /** An authenticated pong to one of our pings came back over UDP. */
  pong(now: number): PathStep {
    this.#lastRxAt = now;
    this.#burstSince = undefined;
    if (this.#path === 'udp') return none;
    this.#path = 'udp';
    return { probe: false, switched: 'udp' };
  }

  /** The peer's authenticated ping arrived over UDP: on `tls`, test UDP ourselves at the next tick. */
  pingReceived(now: number): void {
    if (this.#path === 'tls' && this.#burstSince === undefined)
      this.#nextRecoverAt = Math.min(this.#nextRecoverAt, now);
  }

  #startBurst(now: number): PathStep {
    this.#burstSince = now;
    this.#lastProbeAt = now;
    return { probe: true };
  }

  #maybeProbe(now: number): PathStep {
    if (now - this.#lastProbeAt < this.#t.probeEveryMs) return none;
    this.#lastProbeAt = now;
    return { probe: true };
  }
}
