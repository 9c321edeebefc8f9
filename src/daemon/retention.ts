// Membership runs over the control API, so a member it declares failed may only have lost that path (a
// firewall on the API port, a control plane down for minutes) while its WireGuard session still works.
// Such a member keeps its data-plane peer for as long as authenticated traffic from it keeps arriving,
// and loses it once that traffic has been quiet for `quietMs` (docs/SECURITY.md, promise P8).
import type { Logger } from '../base/log.js';
import type { Clock, Timer } from '../platform/ports.js';

const sampleIntervalMs = 1000;

interface Progress {
  rxBytes: number;
  changedAt: number;
}

export interface RetentionOptions {
  readonly clock: Clock;
  readonly quietMs: number;
  /** Authenticated bytes received from a data-plane peer so far (undefined once it is gone). */
  readonly rxBytes: (publicKey: string) => number | undefined;
  /** The member ids and keys currently installed as data-plane peers. */
  readonly installed: () => Iterable<[id: string, publicKey: string]>;
  /** Removes a retained member's peer for good. */
  readonly remove: (id: string, reason: string) => void;
  readonly log: Logger;
}

export class FailedPeerRetention {
  readonly #o: RetentionOptions;
  readonly #progress = new Map<string, Progress>();
  readonly #retained = new Set<string>();
  #timer: Timer | undefined;

  constructor(o: RetentionOptions) {
    this.#o = o;
  }

  start(): void {
    const tick = (): void => {
      this.#sample();
      this.#timer = this.#o.clock.after(sampleIntervalMs, tick);
    };
    tick();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Called when membership declares `id` failed: true when its peer is kept because traffic still flows. */
  retain(id: string, publicKey: string): boolean {
    this.#sample();
    const p = this.#progress.get(publicKey);
    if (!p || this.#o.clock.now() - p.changedAt > this.#o.quietMs) return false;
    if (!this.#retained.has(id))
      this.#o.log.warn(
        { peer: id },
        'membership declared the node failed, but its WireGuard traffic still arrives: keeping the tunnel until it goes quiet',
      );
    this.#retained.add(id);
    return true;
  }

  /** The member is back (or gone for another reason): no longer on probation. */
  release(id: string): void {
    this.#retained.delete(id);
  }

  isRetained(id: string): boolean {
    return this.#retained.has(id);
  }

  #sample(): void {
    const now = this.#o.clock.now();
    const seen = new Set<string>();
    for (const [id, key] of this.#o.installed()) {
      seen.add(key);
      const rx = this.#o.rxBytes(key) ?? 0;
      const p = this.#progress.get(key);
      if (!p || rx !== p.rxBytes) this.#progress.set(key, { rxBytes: rx, changedAt: p ? now : now - this.#o.quietMs });
      if (this.#retained.has(id) && now - this.#progress.get(key)!.changedAt > this.#o.quietMs) {
        this.#retained.delete(id);
        this.#o.remove(id, 'failed, and its traffic went quiet');
      }
    }
    for (const key of this.#progress.keys()) if (!seen.has(key)) this.#progress.delete(key);
  }
}
