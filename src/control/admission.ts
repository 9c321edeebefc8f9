// Who may hold a control-port connection, and how many request-body bytes the server buffers at once.
// One unauthenticated source must not be able to take every slot (security review 2, finding 4) nor
// make the daemon buffer gigabytes (finding 1):
//
//   - every source IP holds at most `perSource` connections (upgraded `tls` streams included: they stay
//     counted until their socket closes);
//   - `reserve` of the `max` slots are kept for sources that authenticated before (members, the CLI,
//     streams) and for this host itself (a connection whose source is its own local address: the CLI), so a flood from unknown sources leaves them room;
//   - bodies are buffered only under a global byte budget; beyond it the request is answered 503.
//
// Sources remembered as authenticated are bounded (oldest forgotten first) and expire, so the table
// itself cannot be grown by anyone: only a verified signature adds to it.

export interface AdmissionOptions {
  /** All connections at once (the hard limit). */
  readonly max: number;
  /** Connections per source IP. */
  readonly perSource: number;
  /** Slots of `max` only known sources may use. */
  readonly reserve: number;
  /** Known (authenticated) sources remembered. */
  readonly knownMax?: number;
  /** How long a source stays known after its last authenticated request. */
  readonly knownTtlMs?: number;
}

export type AdmitVerdict = 'ok' | 'per_source' | 'full';

export class ConnectionAdmission {
  readonly #o: Required<AdmissionOptions>;
  readonly #bySource = new Map<string, number>();
  readonly #known = new Map<string, number>();
  #total = 0;

  constructor(o: AdmissionOptions) {
    this.#o = { knownMax: 4096, knownTtlMs: 3600_000, ...o };
  }

  get total(): number {
    return this.#total;
  }

  connections(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /** A source that verified a signature (or this host itself) may use the reserved slots. */
  isKnown(source: string, now: number, local = false): boolean {
    if (local) return true;
    const at = this.#known.get(source);
    if (at === undefined) return false;
    if (now - at > this.#o.knownTtlMs) {
      this.#known.delete(source);
      return false;
    }
    return true;
  }

  /** Remembers a source after a verified request (most recent last, so eviction drops the oldest). */
  markKnown(source: string, now: number): void {
    this.#known.delete(source);
    this.#known.set(source, now);
    while (this.#known.size > this.#o.knownMax) this.#known.delete(this.#known.keys().next().value!);
  }

  /** Takes a slot for a new connection, or says why not (the caller then destroys the socket). */
  admit(source: string, now: number, local = false): AdmitVerdict {
    const mine = this.#bySource.get(source) ?? 0;
    if (mine >= this.#o.perSource) return 'per_source';
    const limit = this.isKnown(source, now, local) ? this.#o.max : this.#o.max - this.#o.reserve;
    if (this.#total >= limit) return 'full';
    this.#bySource.set(source, mine + 1);
    this.#total++;
    return 'ok';
  }

  release(source: string): void {
    const mine = this.#bySource.get(source);
    if (mine === undefined) return;
    if (mine <= 1) this.#bySource.delete(source);
    else this.#bySource.set(source, mine - 1);
    this.#total--;
  }
}

/** Request-body bytes buffered across all connections; a request that would exceed it gets 503. */
export class BodyBudget {
  readonly #max: number;
  #used = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get used(): number {
    return this.#used;
  }

  /** Reserves `bytes`; false when the budget cannot hold them now. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.#max) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
