// Operator authentication for the dashboard and its data API. The operator token is a separate secret
// from the cluster secret (which never leaves a node): a person can be given the dashboard without being
// able to join or impersonate nodes. Accepted as `Authorization: Bearer <token>` (scripts, curl) or as
// an HttpOnly session cookie obtained once through the login form or a one-time `?token=` exchange, so
// the token does not stay in URLs, history or Referer headers after login.
//
// Sessions are kept server-side: the cookie is a random id this object remembers until it expires, the
// operator logs out, or the object is replaced (a token change, or a restart), so every session can be
// ended (security review 2, finding 12). Every comparison runs in constant time.
//
// The operator routes of the API (/v1/status, peers, ping, events, reload, key/rotate) need the token in
// addition to the cluster-secret signature. The token itself never crosses the wire there: the CLI sends
// `x-tunmesh-operator: v1 <HMAC(HKDF(token), request signature)>`, a proof bound to that one signed (and
// replay-proof) request, so a node the CLI reaches by mistake learns nothing it could reuse.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Secret } from '../base/secret.js';

export const sessionCookieName = 'tunmesh_session';
export const operatorHeaderName = 'x-tunmesh-operator';
export const minOperatorTokenLength = 32;
const defaultSessionMs = 12 * 3600_000;
/** Sessions remembered at once; the oldest ends first beyond this. */
const maxSessions = 256;

function proofKey(token: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(token.trim(), 'utf8'), new Uint8Array(0), 'tunmesh-operator-v1', 32),
  );
}

/** The operator header value for one signed request (`sig` = the request signature of its auth header). */
export function operatorProof(token: Secret<string>, requestSig: string): string {
  return `v1 ${createHmac('sha256', proofKey(token.expose())).update(`tunmesh-operator-v1\n${requestSig}`).digest('base64url')}`;
}

export interface OperatorAuthOptions {
  readonly token: Secret<string>;
  readonly sessionMs?: number;
  readonly wallNow?: () => number;
}

export type OperatorCheck = { readonly ok: true; readonly via: 'bearer' | 'cookie' } | { readonly ok: false };

/** Equal-length digests, so neither length nor content leaks through timing. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHmac('sha256', 'tunmesh-operator-compare').update(a, 'utf8').digest();
  const db = createHmac('sha256', 'tunmesh-operator-compare').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Parses a Cookie header into name -> value (first one wins); never throws. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** The token of an `Authorization: Bearer <token>` header; undefined without one. */
export function bearerOf(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const authz = req.headers.authorization;
  return typeof authz === 'string' && /^bearer /i.test(authz) ? authz.slice(7).trim() : undefined;
}

export class OperatorAuth {
  readonly #token: Secret<string>;
  readonly #proofKey: Buffer;
  readonly #sessionMs: number;
  readonly #now: () => number;
  /** Session id -> expiry (ms); insertion order is issue order. */
  readonly #sessions = new Map<string, number>();

  constructor(o: OperatorAuthOptions) {
    this.#token = o.token;
    this.#proofKey = proofKey(o.token.expose());
    this.#sessionMs = o.sessionMs ?? defaultSessionMs;
    this.#now = o.wallNow ?? Date.now;
  }

  /** True when `proof` (the operator header) was made with this token for the request signature `sig`. */
  proofMatches(requestSig: string, proof: string | string[] | undefined): boolean {
    if (typeof proof !== 'string' || proof.length > 128) return false;
    const mac = createHmac('sha256', this.#proofKey).update(`tunmesh-operator-v1\n${requestSig}`).digest('base64url');
    return sameSecret(proof, `v1 ${mac}`);
  }

  /** Sessions currently valid (for tests and status). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** True when `candidate` is the operator token. */
  tokenMatches(candidate: string): boolean {
    return candidate.length > 0 && sameSecret(candidate.trim(), this.#token.expose());
  }

  /** A fresh session id, remembered until it expires or is ended. */
  newSession(): string {
    const now = this.#now();
    for (const [id, expiry] of this.#sessions) if (expiry <= now) this.#sessions.delete(id);
    while (this.#sessions.size >= maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, now + this.#sessionMs);
    return id;
  }

  sessionValid(value: string): boolean {
    if (!/^[A-Za-z0-9_-]{43}$/.test(value)) return false;
    const expiry = this.#sessions.get(value);
    if (expiry === undefined) return false;
    if (expiry > this.#now()) return true;
    this.#sessions.delete(value);
    return false;
  }

  /** Logout: the session of this request's cookie ends here, not only in the browser. */
  endSession(req: Pick<IncomingMessage, 'headers'>): void {
    const cookie = parseCookies(req.headers.cookie).get(sessionCookieName);
    if (cookie !== undefined) this.#sessions.delete(cookie);
  }

  /** Ends every session (the token changed). */
  endAllSessions(): void {
    this.#sessions.clear();
  }

  /** Set-Cookie header value for a new session; Secure because the API is HTTPS only. */
  sessionCookie(): string {
    const maxAge = Math.floor(this.#sessionMs / 1000);
    return `${sessionCookieName}=${this.newSession()}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAge}`;
  }

  /** Bearer header or session cookie. */
  check(req: Pick<IncomingMessage, 'headers'>): OperatorCheck {
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && /^bearer /i.test(authz))
      return this.tokenMatches(authz.slice(7)) ? { ok: true, via: 'bearer' } : { ok: false };
    const cookie = parseCookies(req.headers.cookie).get(sessionCookieName);
    if (cookie !== undefined && this.sessionValid(cookie)) return { ok: true, via: 'cookie' };
    return { ok: false };
  }
}

/** Cookie that ends the session in the browser. */
export const clearSessionCookie = `${sessionCookieName}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;
