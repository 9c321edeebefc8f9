// Self-signed node records. Each node signs its own record with an Ed25519 key derived from its WireGuard
// private key (crypto/sign.ts); every node verifies a record before it accepts or relays it, so gossip can
// carry a record but never change it. The signature covers a canonical encoding of every field but `sig`
// (sorted keys, no whitespace, behind a domain label), so a field added later is covered without a new
// rule. A live key rotation carries statements by the previous keys (`prev`), which is how a member that
// holds the old key learns to trust the new one (core.ts: key continuity).
import { records } from '../base/constants.js';
import { decodeKey, encodeKey } from '../crypto/keys.js';
import { deriveSigningKey, signatureLength, verifyingKey, verifySignature } from '../crypto/sign.js';
import type { KeyObject } from 'node:crypto';
import type { NodeRecord, RotationLink } from './record.js';

const recordDomain = 'tunmesh record v1\n';
const rotationDomain = 'tunmesh key change v1\n';

/** JSON with object keys sorted at every level and no whitespace: one byte string per value. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** What a record's `sig` signs: the domain label and every other field. */
export function signedPayload(r: NodeRecord): string {
  const { sig: _sig, ...rest } = r;
  return recordDomain + canonicalJson(rest);
}

/** What a rotation link signs: the old key says that `next` is the key of `id` in `epoch`. */
export function rotationPayload(id: string, next: string, epoch: number): string {
  return rotationDomain + canonicalJson({ epoch, id, next });
}

/** Why a record was refused; the label of `tunmesh_membership_records_refused_total`. */
export type RefusalReason = 'malformed' | 'bad_signature' | 'key_change' | 'future_epoch' | 'implausible_version';

export type Verdict = 'ok' | 'malformed' | 'bad_signature';

/** Signs this node's record and verifies others'; injected into the sans-I/O core (core.ts). */
export interface RecordAuth {
  /** This node's signing key, base64. */
  readonly sigKey: string;
  /** `r` with this node's `sigKey` and a fresh `sig`. */
  sign(r: NodeRecord): NodeRecord;
  /** A rotation link by this key vouching for `next` (the key this node rotates to). */
  vouch(id: string, next: string, epoch: number): RotationLink;
  /** Checks a record's own signature (cached). */
  verify(r: NodeRecord): Verdict;
  /** Whether `r`'s rotation links lead from `heldSigKey` to `r.sigKey` (every link verified). */
  continues(r: NodeRecord, heldSigKey: string): boolean;
}

const sigPattern = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

function decodeSig(s: string): Uint8Array | undefined {
  if (!sigPattern.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.length === signatureLength ? b : undefined;
}

/** A bounded map, oldest entries evicted first. */
class Lru<V> {
  readonly #m = new Map<string, V>();
  constructor(readonly max: number) {}
  get(k: string): V | undefined {
    return this.#m.get(k);
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.max) this.#m.delete(this.#m.keys().next().value!);
  }
  get size(): number {
    return this.#m.size;
  }
}

/**
 * Results of signature checks. The key is the signed bytes and the signature themselves, not (id, epoch,
 * version, sig): a record whose fields were changed under a copied signature must miss the cache.
 * Shareable: the simulation gives all nodes of one process one cache (scale-scenario.ts), a daemon has one.
 */
export class VerifyCache {
  readonly #results: Lru<Verdict>;
  readonly #keys: Lru<KeyObject | null>;
  verified = 0;
  hits = 0;
  constructor(max: number = records.verifyCacheEntries) {
    this.#results = new Lru(max);
    this.#keys = new Lru(Math.max(64, max >> 1));
  }

  check(sigKey: string | undefined, payload: string, sig: string | undefined): Verdict {
    if (sigKey === undefined || sig === undefined) return 'malformed';
    const cacheKey = `${sig}\n${sigKey}\n${payload}`;
    const hit = this.#results.get(cacheKey);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    const v = this.#verify(sigKey, payload, sig);
    this.verified++;
    this.#results.set(cacheKey, v);
    return v;
  }

  #verify(sigKey: string, payload: string, sig: string): Verdict {
    const raw = decodeSig(sig);
    let key = this.#keys.get(sigKey);
    if (key === undefined) {
      const k = decodeKey(sigKey);
      key = (k && verifyingKey(k)) ?? null;
      this.#keys.set(sigKey, key);
    }
    if (!raw || !key) return 'malformed';
    return verifySignature(key, Buffer.from(payload), raw) ? 'ok' : 'bad_signature';
  }
}

/** The record authority of the node whose WireGuard private key is `x25519Private`. */
export function recordAuth(x25519Private: Uint8Array, cache: VerifyCache = new VerifyCache()): RecordAuth {
  const key = deriveSigningKey(x25519Private);
  const sigKey = encodeKey(key.publicKey);
  const signText = (text: string): string => Buffer.from(key.sign(Buffer.from(text))).toString('base64');
  return {
    sigKey,
    sign(r) {
      const unsigned: NodeRecord = { ...r, sigKey };
      delete (unsigned as { sig?: string }).sig;
      return { ...unsigned, sig: signText(signedPayload(unsigned)) };
    },
    vouch: (id, next, epoch) => ({ sigKey, sig: signText(rotationPayload(id, next, epoch)) }),
    verify: (r) => cache.check(r.sigKey, signedPayload(r), r.sig),
    continues(r, held) {
      let next = r.sigKey;
      for (const link of r.prev ?? []) {
        if (next === undefined || cache.check(link.sigKey, rotationPayload(r.id, next, r.epoch), link.sig) !== 'ok')
          return false;
        if (link.sigKey === held) return true;
        next = link.sigKey;
      }
      return false;
    },
  };
}
