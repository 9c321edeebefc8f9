// Failed operator-token checks, limited per key (a source IP, a signer id): without a limit the token
// check would be an online oracle (security review 2, finding 10). Past `maxFailures` within `windowMs`
// the key is refused without the token even being compared, until its oldest failure leaves the window.
// The table is bounded: beyond `maxKeys` the key that failed least recently is forgotten.

export interface FailureLimitOptions {
  readonly maxFailures?: number;
  readonly windowMs?: number;
  readonly maxKeys?: number;
}

export class FailureLimiter {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  /** key -> failure times (ms), oldest first; map order = least recently failed first. */
  readonly #failures = new Map<string, number[]>();

  constructor(o: FailureLimitOptions = {}) {
    this.#maxFailures = o.maxFailures ?? 5;
    this.#windowMs = o.windowMs ?? 60_000;
    this.#maxKeys = o.maxKeys ?? 4096;
  }

  /** True when any of the keys has used up its failures. */
  blocked(keys: readonly string[], now: number): boolean {
    return keys.some((k) => this.#recent(k, now).length >= this.#maxFailures);
  }

  fail(keys: readonly string[], now: number): void {
    for (const k of keys) {
      const times = this.#recent(k, now);
      times.push(now);
      this.#failures.delete(k);
      this.#failures.set(k, times);
    }
    while (this.#failures.size > this.#maxKeys) this.#failures.delete(this.#failures.keys().next().value!);
  }

  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key);
    if (!times) return [];
    while (times.length && times[0]! <= now - this.#windowMs) times.shift();
    if (!times.length) this.#failures.delete(key);
    return times;
  }
}
