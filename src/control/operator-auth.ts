// Operator authentication for the dashboard and its data API. The operator token is a separate secret
// from the cluster secret (which never leaves a node): a person can be given the dashboard without being
// able to join or impersonate nodes. Accepted as `Authorization: Bearer <token>` (scripts, curl) or as
// an HttpOnly session cookie obtained once through the login form or a one-time `?token=` exchange, so
// the token does not stay in URLs, history or Referer headers after login.
//
// The session cookie is stateless: `<expiry ms>.<HMAC(key, expiry)>` with a key derived from the token,
// so changing the token (and reloading) ends every session. Every comparison runs in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Secret } from '../base/secret.js';

export const sessionCookieName = 'tunmesh_session';
export const minOperatorTokenLength = 32;
const defaultSessionMs = 12 * 3600_000;

export interface OperatorAuthOptions {
  readonly token: Secret<string>;
  readonly sessionMs?: number;
  readonly wallNow?: () => number;
}

export type OperatorCheck = { readonly ok: true; readonly via: 'bearer' | 'cookie' } | { readonly ok: false };

/** Equal-length digests, so neither length nor content leaks through timing. */
function sameSecret(a: string, b: string): boolean {
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

export class OperatorAuth {
  readonly #token: Secret<string>;
  readonly #sessionKey: Buffer;
  readonly #sessionMs: number;
  readonly #now: () => number;

  constructor(o: OperatorAuthOptions) {
    this.#token = o.token;
    this.#sessionKey = createHmac('sha256', 'tunmesh-operator-session').update(o.token.expose(), 'utf8').digest();
    this.#sessionMs = o.sessionMs ?? defaultSessionMs;
    this.#now = o.wallNow ?? Date.now;
  }

  /** True when `candidate` is the operator token. */
  tokenMatches(candidate: string): boolean {
    return candidate.length > 0 && sameSecret(candidate.trim(), this.#token.expose());
  }

  /** A fresh session cookie value (expiry.mac). */
  newSession(): string {
    const expiry = String(this.#now() + this.#sessionMs);
    return `${expiry}.${this.#mac(expiry)}`;
  }

  sessionValid(value: string): boolean {
    const dot = value.indexOf('.');
    if (dot <= 0) return false;
    const expiry = value.slice(0, dot);
    if (!/^\d{1,16}$/.test(expiry) || Number(expiry) <= this.#now()) return false;
    return sameSecret(value.slice(dot + 1), this.#mac(expiry));
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

  #mac(expiry: string): string {
    return createHmac('sha256', this.#sessionKey).update(expiry, 'utf8').digest('base64url');
  }
}

/** Cookie that ends the session in the browser. */
export const clearSessionCookie = `${sessionCookieName}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;
