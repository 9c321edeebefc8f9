// Bucketed set hash of the live records (id, epoch, version) for cheap anti-entropy: two nodes compare 64
// bucket hashes and exchange digests only for buckets that differ, so a converged mesh syncs with one
// small message. XOR of per-entry hashes makes add/remove O(1). Not cryptographic: every sender is an
// authenticated cluster member.
import { limits } from './messages.js';

const BUCKETS = limits.syncBuckets;

/** cyrb53-style string hash giving two 32-bit halves. */
function hash2(s: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

// Bucket of an id, memoised (anti-entropy asks for every entry's bucket on every exchange); bounded.
const bucketCache = new Map<string, number>();
const bucketCacheMax = 100_000;

export function bucketOf(id: string): number {
  let b = bucketCache.get(id);
  if (b === undefined) {
    if (bucketCache.size >= bucketCacheMax) bucketCache.clear();
    bucketCache.set(id, (b = hash2(id)[0] % BUCKETS));
  }
  return b;
}

export class BucketDigest {
  readonly #hi = new Uint32Array(BUCKETS);
  readonly #lo = new Uint32Array(BUCKETS);

  /** Adds or removes (XOR is its own inverse) one entry. */
  toggle(id: string, epoch: number, version: number): void {
    const b = bucketOf(id);
    const [h1, h2] = hash2(`${id}\u0000${epoch}\u0000${version}`);
    this.#hi[b] = (this.#hi[b]! ^ h1) >>> 0;
    this.#lo[b] = (this.#lo[b]! ^ h2) >>> 0;
  }

  buckets(): string[] {
    const out: string[] = [];
    for (let b = 0; b < BUCKETS; b++)
      out.push(this.#hi[b]!.toString(16).padStart(8, '0') + this.#lo[b]!.toString(16).padStart(8, '0'));
    return out;
  }

  /** Indices of buckets whose hash differs from `other`'s. */
  differing(other: readonly string[]): Set<number> {
    const mine = this.buckets();
    const out = new Set<number>();
    for (let b = 0; b < BUCKETS; b++) if (mine[b] !== other[b]) out.add(b);
    return out;
  }
}
