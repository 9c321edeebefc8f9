// Randomness for the membership core, passed in so simulations are reproducible from a seed.
import { randomInt } from 'node:crypto';

/** Uniform float in [0, 1). */
export type Rng = () => number;

/** Seeded PRNG (sfc32 seeded through splitmix32): reproducible runs in tests and simulations. */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Non-reproducible randomness for production. */
export function cryptoRng(): Rng {
  return () => randomInt(0, 2 ** 48 - 1) / 2 ** 48;
}

export function randomIndex(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomIndex(rng, i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/** Up to k distinct items chosen uniformly, skipping those `exclude` rejects. */
export function sample<T>(rng: Rng, items: readonly T[], k: number, exclude: (t: T) => boolean = () => false): T[] {
  const out: T[] = [];
  if (k <= 0 || items.length === 0) return out;
  if (k * 4 < items.length) {
    // Few out of many (the common case at scale): rejection sampling, O(k) instead of O(n).
    const seen = new Set<number>();
    for (let attempt = 0; attempt < k * 8 && out.length < k; attempt++) {
      const i = randomIndex(rng, items.length);
      if (seen.has(i)) continue;
      seen.add(i);
      if (!exclude(items[i]!)) out.push(items[i]!);
    }
    if (out.length === k) return out;
    out.length = 0;
  }
  // Partial Fisher–Yates over an index copy; bounded by items.length picks.
  const idx = Array.from({ length: items.length }, (_, i) => i);
  for (let i = 0; i < idx.length && out.length < k; i++) {
    const j = i + randomIndex(rng, idx.length - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
    const item = items[idx[i]!]!;
    if (!exclude(item)) out.push(item);
  }
  return out;
}
