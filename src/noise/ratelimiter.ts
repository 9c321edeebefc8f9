// Per-source-address token bucket for handshake messages under load, as wireguard-go's ratelimiter:
// 20 messages/s with a burst of 5 per IP. Time is passed in; entries idle for a second are collected.
const packetsPerSecond = 20;
const packetsBurstable = 5;
const packetCostMs = 1000 / packetsPerSecond;
const maxTokensMs = packetCostMs * packetsBurstable;
const idleMs = 1000;
/** Bound on tracked sources; when full, unknown sources are refused until collection frees room. */
export const rateLimiterMaxEntries = 65_536;

interface Bucket {
  tokensMs: number;
  lastMs: number;
}

export class HandshakeRateLimiter {
  readonly #table = new Map<string, Bucket>();

  /** Whether a handshake message from `source` (an address key, without port) may be processed now. */
  allow(source: string, now: number): boolean {
    const b = this.#table.get(source);
    if (b === undefined) {
      if (this.#table.size >= rateLimiterMaxEntries) return false;
      this.#table.set(source, { tokensMs: maxTokensMs - packetCostMs, lastMs: now });
      return true;
    }
    b.tokensMs = Math.min(maxTokensMs, b.tokensMs + Math.max(0, now - b.lastMs));
    b.lastMs = now;
    // `>=` so a fake clock sees the full burst of 5 (wireguard-go uses `>` and relies on elapsed nanoseconds).
    if (b.tokensMs >= packetCostMs) {
      b.tokensMs -= packetCostMs;
      return true;
    }
    return false;
  }

  /** Forgets sources idle for more than a second. */
  collect(now: number): void {
    for (const [k, b] of this.#table) if (now - b.lastMs > idleMs) this.#table.delete(k);
  }

  get size(): number {
    return this.#table.size;
  }
}
