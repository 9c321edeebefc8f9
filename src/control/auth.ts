// Shared-secret authentication of control requests and responses; the secret itself never crosses the
// wire, and no session state is needed.
//
//   key   = HKDF-SHA256(ikm = cluster secret, salt = "", info = "tunmesh-control-v1", 32 bytes)
//   header  x-tunmesh-auth: v1 from=<id> to=<id|*> ts=<unix ms> nonce=<16 bytes b64url> sig=<b64url>
//   request  sig = HMAC-SHA256(key, "tunmesh-req-v1" \n METHOD \n path?query \n from \n to \n ts \n nonce \n
//                              hex(sha256(body)))
//   response header  x-tunmesh-auth: v1 from=<responder id> ts=<ms> nonce=<fresh> sig=<b64url>
//   response sig = HMAC-SHA256(key, "tunmesh-res-v1" \n status \n request nonce \n from \n to(requester) \n ts \n
//                              nonce \n hex(sha256(body)))
//
// The receiver accepts a request when ts is within ±auth.clockSkewMs of its clock, `to` is its own id
// (`*` only where the route allows it: join, before the caller knows who is behind a URL), the MAC
// verifies (constant-time), and the (from, nonce) pair was not seen before. Nonces are remembered until
// their timestamp leaves the window; the cache is bounded, and when it must evict a nonce still inside
// the window it raises a floor below which requests are refused, so eviction never re-opens a replay.
// A response is bound to its request by the request's nonce and to the direction by both ids, so a
// captured response cannot answer another request. Ids are restricted to [A-Za-z0-9._-], so the
// newline-joined MAC input is unambiguous. Distinct prefixes keep request and response MACs apart.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { auth } from '../base/constants.js';
import { Secret } from '../base/secret.js';
import { nodeIdPattern } from '../membership/record.js';

export const authHeaderName = 'x-tunmesh-auth';
const info = 'tunmesh-control-v1';

export type AuthKey = Secret<Uint8Array>;

/** The MAC key, derived once from the cluster secret (bytes or text). */
export function deriveAuthKey(secret: Secret<Uint8Array | string>): AuthKey {
  const raw = secret.expose();
  const ikm = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  return new Secret(new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), info, 32)));
}

export type AuthFailure =
  'missing' | 'malformed' | 'expired' | 'future' | 'wrong_recipient' | 'bad_signature' | 'replayed';

export interface RequestAuth {
  readonly from: string;
  readonly to: string;
  readonly ts: number;
  readonly nonce: string;
  readonly sig: string;
}

export type ResponseAuth = Omit<RequestAuth, 'to'>;

const b64url = /^[A-Za-z0-9_-]+$/;
const nonceLength = Math.ceil((auth.nonceBytes * 4) / 3);
const sigLength = 43; // 32 bytes, base64url unpadded

function parseFields(value: string | string[] | undefined, names: readonly string[]): Map<string, string> | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const parts = value.split(' ');
  if (parts[0] !== 'v1' || parts.length !== names.length + 1) return undefined;
  const out = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    const k = p.slice(0, eq);
    if (eq <= 0 || !names.includes(k) || out.has(k)) return undefined;
    out.set(k, p.slice(eq + 1));
  }
  return out;
}

function validCommon(f: Map<string, string>): boolean {
  return (
    nodeIdPattern.test(f.get('from') ?? '') &&
    /^\d{1,16}$/.test(f.get('ts') ?? '') &&
    (f.get('nonce') ?? '').length === nonceLength &&
    b64url.test(f.get('nonce')!) &&
    (f.get('sig') ?? '').length === sigLength &&
    b64url.test(f.get('sig')!)
  );
}

/** Parses a request auth header; undefined when absent or malformed in any way. */
export function parseRequestAuth(value: string | string[] | undefined): RequestAuth | undefined {
  const f = parseFields(value, ['from', 'to', 'ts', 'nonce', 'sig']);
  if (!f || !validCommon(f)) return undefined;
  const to = f.get('to')!;
  if (to !== '*' && !nodeIdPattern.test(to)) return undefined;
  return { from: f.get('from')!, to, ts: Number(f.get('ts')), nonce: f.get('nonce')!, sig: f.get('sig')! };
}

export function parseResponseAuth(value: string | string[] | undefined): ResponseAuth | undefined {
  const f = parseFields(value, ['from', 'ts', 'nonce', 'sig']);
  if (!f || !validCommon(f)) return undefined;
  return { from: f.get('from')!, ts: Number(f.get('ts')), nonce: f.get('nonce')!, sig: f.get('sig')! };
}

export function bodyHash(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function mac(key: AuthKey, lines: readonly (string | number)[]): string {
  return createHmac('sha256', key.expose()).update(lines.join('\n')).digest('base64url');
}

function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function newNonce(): string {
  return randomBytes(auth.nonceBytes).toString('base64url');
}

interface RequestParts {
  readonly method: string;
  readonly path: string;
  readonly body: Uint8Array;
}

function requestMac(key: AuthKey, r: RequestParts, a: Omit<RequestAuth, 'sig'>): string {
  return mac(key, ['tunmesh-req-v1', r.method.toUpperCase(), r.path, a.from, a.to, a.ts, a.nonce, bodyHash(r.body)]);
}

function responseMac(
  key: AuthKey,
  r: { status: number; requestNonce: string; to: string; body: Uint8Array },
  a: Omit<ResponseAuth, 'sig'>,
): string {
  return mac(key, ['tunmesh-res-v1', r.status, r.requestNonce, a.from, r.to, a.ts, a.nonce, bodyHash(r.body)]);
}

/** Signs a request; returns the header value and the nonce the response must be bound to. */
export function signRequest(
  key: AuthKey,
  r: RequestParts & { from: string; to: string; now: number; nonce?: string },
): { header: string; nonce: string; sig: string } {
  const a = { from: r.from, to: r.to, ts: Math.floor(r.now), nonce: r.nonce ?? newNonce() };
  const sig = requestMac(key, r, a);
  return { header: `v1 from=${a.from} to=${a.to} ts=${a.ts} nonce=${a.nonce} sig=${sig}`, nonce: a.nonce, sig };
}

export type Verified<T> =
  { readonly ok: true; readonly auth: T } | { readonly ok: false; readonly reason: AuthFailure };

function checkTime(ts: number, now: number): AuthFailure | undefined {
  if (ts < now - auth.clockSkewMs) return 'expired';
  if (ts > now + auth.clockSkewMs) return 'future';
  return undefined;
}

/**
 * What can be checked of a request before its body arrives: the header's format, its time window and
 * that it is addressed to us. The server runs this first and buffers no body for a request that fails it.
 */
export function precheckRequest(
  header: string | string[] | undefined,
  r: { now: number; ownId: string; allowAnyRecipient: boolean },
): Verified<RequestAuth> {
  if (header === undefined) return { ok: false, reason: 'missing' };
  const a = parseRequestAuth(header);
  if (!a) return { ok: false, reason: 'malformed' };
  const late = checkTime(a.ts, r.now);
  if (late) return { ok: false, reason: late };
  if (a.to !== r.ownId && !(a.to === '*' && r.allowAnyRecipient)) return { ok: false, reason: 'wrong_recipient' };
  return { ok: true, auth: a };
}

/**
 * The signature over the whole request, for a header that passed `precheckRequest`. The nonce is recorded
 * only after the MAC verifies, so unauthenticated traffic cannot fill the replay cache.
 */
export function verifyPrechecked(
  key: AuthKey,
  a: RequestAuth,
  r: RequestParts & { now: number },
  nonces: NonceCache,
): Verified<RequestAuth> {
  if (!macEquals(a.sig, requestMac(key, r, a))) return { ok: false, reason: 'bad_signature' };
  if (!nonces.admit(a.from, a.nonce, a.ts, r.now)) return { ok: false, reason: 'replayed' };
  return { ok: true, auth: a };
}

/** Verifies a request header and its signature (precheck, then MAC and replay cache). */
export function verifyRequest(
  key: AuthKey,
  header: string | string[] | undefined,
  r: RequestParts & { now: number; ownId: string; allowAnyRecipient: boolean },
  nonces: NonceCache,
): Verified<RequestAuth> {
  const pre = precheckRequest(header, r);
  return pre.ok ? verifyPrechecked(key, pre.auth, r, nonces) : pre;
}

/**
 * The reason as callers without the secret may see it (metrics, answers): a request for another node id
 * and a bad signature look the same, so failures do not tell which node ids exist.
 */
export function visibleReason(reason: AuthFailure): AuthFailure {
  return reason === 'wrong_recipient' ? 'bad_signature' : reason;
}

export function signResponse(
  key: AuthKey,
  r: { status: number; requestNonce: string; from: string; to: string; body: Uint8Array; now: number },
): string {
  const a = { from: r.from, ts: Math.floor(r.now), nonce: newNonce() };
  const sig = responseMac(key, r, a);
  return `v1 from=${a.from} ts=${a.ts} nonce=${a.nonce} sig=${sig}`;
}

/** Verifies a response to our request; `expectedFrom` undefined accepts any responder id (join by URL). */
export function verifyResponse(
  key: AuthKey,
  header: string | string[] | undefined,
  r: { status: number; requestNonce: string; to: string; body: Uint8Array; now: number; expectedFrom?: string },
): Verified<ResponseAuth> {
  if (header === undefined) return { ok: false, reason: 'missing' };
  const a = parseResponseAuth(header);
  if (!a) return { ok: false, reason: 'malformed' };
  const late = checkTime(a.ts, r.now);
  if (late) return { ok: false, reason: late };
  if (r.expectedFrom !== undefined && a.from !== r.expectedFrom) return { ok: false, reason: 'wrong_recipient' };
  if (!macEquals(a.sig, responseMac(key, r, a))) return { ok: false, reason: 'bad_signature' };
  return { ok: true, auth: a };
}

/**
 * Seen (from, nonce) pairs, bounded. An entry can be dropped once its timestamp is outside the validity
 * window (a replay would be refused as expired). When full, the oldest entry is evicted and, if it was
 * still inside the window, its timestamp becomes a floor: requests not newer than the floor are refused.
 */
export class NonceCache {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  #floor = -Infinity;

  constructor(max: number = auth.nonceCacheMax) {
    this.#max = max;
  }

  get size(): number {
    return this.#seen.size;
  }

  admit(from: string, nonce: string, ts: number, now: number): boolean {
    if (ts <= this.#floor) return false;
    const k = `${from} ${nonce}`;
    if (this.#seen.has(k)) return false;
    // Drop leading entries that can no longer be replayed (insertion order is roughly time order).
    for (const [old, oldTs] of this.#seen) {
      if (oldTs >= now - auth.clockSkewMs) break;
      this.#seen.delete(old);
    }
    while (this.#seen.size >= this.#max) {
      const [old, oldTs] = this.#seen.entries().next().value!;
      this.#seen.delete(old);
      if (oldTs >= now - auth.clockSkewMs) this.#floor = Math.max(this.#floor, oldTs);
    }
    this.#seen.set(k, ts);
    return true;
  }
}
