// A small mutation fuzzer: inputs are random bytes or mutations of a kept corpus (seeds plus every
// input that reached an outcome not seen before — outcome-guided, the cheap cousin of coverage
// guidance). Deterministic for a seed; a thrown error or a call slower than `hangMs` is a failure
// that carries the input, so it can be saved to the corpus and replayed.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzTarget } from './targets.js';

export const corpusRoot = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

export interface FuzzFailureReport {
  readonly target: string;
  readonly kind: 'throw' | 'hang';
  readonly message: string;
  readonly inputHex: string;
}

export interface FuzzStats {
  readonly target: string;
  cases: number;
  readonly outcomes: Record<string, number>;
  readonly failures: FuzzFailureReport[];
  maxCallMs: number;
  elapsedMs: number;
  /** Inputs added to the corpus in this run (new outcomes). */
  readonly discovered: Uint8Array[];
}

export interface FuzzOptions {
  readonly cases: number;
  /** Stop earlier when this much time has passed. */
  readonly timeMs: number;
  readonly seed: number;
  /** A single call slower than this is a hang (R4: 100 ms). */
  readonly hangMs?: number;
  readonly maxLength?: number;
  /** Stop at the first failure (default true). */
  readonly stopOnFailure?: boolean;
}

export function loadCorpus(target: string): Uint8Array[] {
  const dir = join(corpusRoot, target);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((n) => new Uint8Array(readFileSync(join(dir, n))));
}

/** Saves an input under corpus/<target>/<prefix><sha1>.bin; returns the path. */
export function saveInput(target: string, input: Uint8Array, prefix = ''): string {
  const dir = resolve(corpusRoot, target);
  mkdirSync(dir, { recursive: true });
  const name = `${prefix}${createHash('sha1').update(input).digest('hex').slice(0, 16)}.bin`;
  writeFileSync(join(dir, name), input);
  return join(dir, name);
}

/** xorshift128+: fast, deterministic, good enough to pick mutations. */
export class Rng {
  #a: number;
  #b: number;
  constructor(seed: number) {
    this.#a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.#b = Math.imul(seed + 1, 0x85ebca6b) >>> 0 || 2;
  }
  u32(): number {
    let s1 = this.#a;
    const s0 = this.#b;
    this.#a = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0 ^ (s0 >>> 26);
    this.#b = s1 >>> 0;
    return (this.#a + this.#b) >>> 0;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

const interestingBytes = [0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xff, 0x45, 0x60, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c];
const interestingJson = ['null', 'true', '-1', '1e309', '9007199254740993', '""', '[]', '{}', '"__proto__"', '0'];
const te = new TextEncoder();

/** One to four stacked mutations of `src`: flips, sets, truncation, extension, splices, JSON tokens. */
export function mutate(src: Uint8Array, rng: Rng, corpus: readonly Uint8Array[], maxLength: number): Uint8Array {
  let b = Uint8Array.from(src);
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const at = rng.below(b.length + 1);
    switch (rng.below(9)) {
      case 0:
        if (b.length) b[rng.below(b.length)]! ^= 1 << rng.below(8);
        break;
      case 1:
        if (b.length) b[rng.below(b.length)] = interestingBytes[rng.below(interestingBytes.length)]!;
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3: {
        const extra = rng.bytes(1 + rng.below(64));
        const c = new Uint8Array(b.length + extra.length);
        c.set(b.subarray(0, at));
        c.set(extra, at);
        c.set(b.subarray(at), at + extra.length);
        b = c;
        break;
      }
      case 4: {
        const end = Math.min(b.length, at + 1 + rng.below(32));
        const c = new Uint8Array(b.length - (end - at));
        c.set(b.subarray(0, at));
        c.set(b.subarray(end), at);
        b = c;
        break;
      }
      case 5: {
        const other = corpus[rng.below(corpus.length)];
        if (other && other.length) {
          const from = rng.below(other.length);
          const piece = other.subarray(from, from + 1 + rng.below(64));
          const c = new Uint8Array(at + piece.length + Math.max(0, b.length - at));
          c.set(b.subarray(0, at));
          c.set(piece, at);
          c.set(b.subarray(at), at + piece.length);
          b = c;
        }
        break;
      }
      case 6: {
        const tok = te.encode(interestingJson[rng.below(interestingJson.length)]!);
        const c = new Uint8Array(b.length + tok.length);
        c.set(b.subarray(0, at));
        c.set(tok, at);
        c.set(b.subarray(at), at + tok.length);
        b = c;
        break;
      }
      case 7:
        // Keep a WireGuard-looking header so type-specific paths run.
        if (b.length >= 4) {
          b[0] = 1 + rng.below(4);
          b[1] = b[2] = b[3] = 0;
        }
        break;
      default:
        if (b.length >= 4) {
          const v = rng.u32();
          const p = rng.below(b.length - 3);
          b[p] = v & 0xff;
          b[p + 1] = (v >>> 8) & 0xff;
          b[p + 2] = (v >>> 16) & 0xff;
          b[p + 3] = v >>> 24;
        }
    }
  }
  return b.length > maxLength ? b.subarray(0, maxLength) : b;
}

function fastestOfReplays(target: FuzzTarget, input: Uint8Array, n: number): number {
  let fastest = Infinity;
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    try {
      target.run(input);
    } catch {
      // a throw on replay is reported by the main loop's first run already
    }
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest;
}

export function fuzz(target: FuzzTarget, seedCorpus: readonly Uint8Array[], o: FuzzOptions): FuzzStats {
  const rng = new Rng(o.seed);
  const hangMs = o.hangMs ?? 100;
  const maxLength = o.maxLength ?? 2048;
  const stopOnFailure = o.stopOnFailure ?? true;
  const corpus = [...seedCorpus];
  const stats: FuzzStats = {
    target: target.name,
    cases: 0,
    outcomes: {},
    failures: [],
    maxCallMs: 0,
    elapsedMs: 0,
    discovered: [],
  };
  const started = performance.now();
  // Seeds first, unchanged: a kept crash input replays on every run.
  const seeds = corpus.length;
  for (let i = 0; i < o.cases; i++) {
    if ((i & 255) === 0 && performance.now() - started > o.timeMs) break;
    let input: Uint8Array;
    if (i < seeds) input = corpus[i]!;
    else if (corpus.length === 0 || rng.below(8) === 0) input = rng.bytes(rng.below(maxLength + 1));
    else input = mutate(corpus[rng.below(corpus.length)]!, rng, corpus, maxLength);
    const t0 = performance.now();
    let outcome: string;
    try {
      outcome = target.run(input);
    } catch (e) {
      stats.failures.push({
        target: target.name,
        kind: 'throw',
        message: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        inputHex: Buffer.from(input).toString('hex'),
      });
      stats.cases++;
      if (stopOnFailure) break;
      continue;
    }
    const ms = performance.now() - t0;
    // A slow call is a hang only if it stays slow on replay (GC pauses and a busy machine are not).
    if (ms > hangMs && fastestOfReplays(target, input, 3) > hangMs) {
      stats.failures.push({
        target: target.name,
        kind: 'hang',
        message: `${ms.toFixed(1)} ms`,
        inputHex: Buffer.from(input).toString('hex'),
      });
      if (stopOnFailure) break;
    }
    if (ms > stats.maxCallMs) stats.maxCallMs = ms;
    stats.cases++;
    if (stats.outcomes[outcome] === undefined) {
      stats.outcomes[outcome] = 0;
      if (i >= seeds) {
        corpus.push(input);
        stats.discovered.push(input);
      }
    }
    stats.outcomes[outcome]!++;
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}
