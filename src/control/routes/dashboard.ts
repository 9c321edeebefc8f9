// The dashboard under /ui/: static files from web/, the chart and graph libraries straight from their
// npm packages (no bundler), and a JSON data API under /ui/api/. Everything answers 401 without the
// operator token (control/operator-auth.ts), and 404 with a hint when no token is configured or the
// dashboard is switched off. Wrong tokens are rate limited per source address (429). Read-only: nothing
// here changes the node.
//
//   GET  /ui/                 the page (401 = login form)
//   POST /ui/login            form field `token` → session cookie, 303 to /ui/
//   GET  /ui/?token=…         one-time exchange → session cookie, 303 to /ui/ (the token leaves the URL)
//   POST /ui/logout           ends the session on the node and clears the cookie
//   GET  /ui/api/overview     node, health, topology, peers
//   GET  /ui/api/history      per-peer rate/RTT series
//   GET  /ui/api/events?after=SEQ
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../base/log.js';
import { FailureLimiter } from '../failure-limit.js';
import { bearerOf, clearSessionCookie, type OperatorAuth } from '../operator-auth.js';

export interface DashboardProviders {
  /** The operator auth in force; undefined when no token is configured. */
  auth(): OperatorAuth | undefined;
  enabled(): boolean;
  overview(): Promise<unknown>;
  history(): unknown;
  events(after: number): unknown;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');
const require = createRequire(import.meta.url);

/** URL → [file, content type]; nothing outside this list is served. */
function assetFiles(): Record<string, [string, string]> {
  const cytoscape = dirname(require.resolve('cytoscape'));
  const uplot = dirname(require.resolve('uplot'));
  return {
    '/ui/': [join(webDir, 'index.html'), 'text/html; charset=utf-8'],
    '/ui/app.js': [join(webDir, 'app.js'), 'text/javascript; charset=utf-8'],
    '/ui/style.css': [join(webDir, 'style.css'), 'text/css; charset=utf-8'],
    '/ui/vendor/cytoscape.min.js': [join(cytoscape, 'cytoscape.min.js'), 'text/javascript; charset=utf-8'],
    '/ui/vendor/uPlot.iife.min.js': [join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    '/ui/vendor/uPlot.min.css': [join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8'],
  };
}

const securityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tunmesh — sign in</title>
<link rel="stylesheet" href="/ui/login.css"></head><body class="login">
<form method="post" action="/ui/login"><h1>tunmesh dashboard</h1><p>${escapeHtml(message)}</p>
<label>Operator token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Sign in</button>
<p class="hint">The token is in the file that <code>control.operatorTokenFile</code> names (not the cluster secret).</p>
</form></body></html>`;
}

const loginCss = `body.login{font:15px system-ui,sans-serif;background:#101418;color:#e8e8e8;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1b2128;padding:2em;border-radius:8px;min-width:22em}input{display:block;width:100%;margin:.5em 0 1em;padding:.5em}
button{padding:.5em 1.5em}.hint{color:#9aa;font-size:12px}`;

const disabledHint =
  'the dashboard is off: set control.operatorTokenFile to a file with a token of at least 32 characters ' +
  '(`tunmesh secret generate --out FILE`) and control.dashboard: true, then `tunmesh reload`';

export class DashboardHandler {
  readonly #p: DashboardProviders;
  readonly #log: Logger | undefined;
  readonly #failures = new FailureLimiter();
  #assets: Map<string, Asset> | undefined;

  constructor(p: DashboardProviders, log?: Logger) {
    this.#p = p;
    this.#log = log;
  }

  static handles(pathname: string): boolean {
    return pathname === '/ui' || pathname.startsWith('/ui/');
  }

  /** Reads the static files once (before a privilege drop can make them unreadable). */
  preload(): void {
    if (this.#assets) return;
    const assets = new Map<string, Asset>();
    for (const [url, [file, type]] of Object.entries(assetFiles())) {
      try {
        assets.set(url, { type, body: readFileSync(file) });
      } catch (e) {
        this.#log?.warn({ file, err: (e as Error).message }, 'dashboard file missing');
      }
    }
    this.#assets = assets;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname;
    const auth = this.#p.auth();
    if (!auth || !this.#p.enabled())
      return this.#send(res, 404, 'application/json', { error: 'NOT_FOUND', hint: disabledHint });
    if (path === '/ui') return this.#redirect(res, '/ui/');
    if (path === '/ui/login.css' && req.method === 'GET')
      return this.#send(res, 200, 'text/css; charset=utf-8', loginCss);
    const source = [req.socket.remoteAddress ?? ''];
    const limited = () => this.#failures.blocked(source, Date.now());
    const wrong = (page: boolean) => {
      this.#failures.fail(source, Date.now());
      return page
        ? this.#send(res, 401, 'text/html; charset=utf-8', loginPage('Wrong token.'))
        : this.#send(res, 401, 'application/json', { error: 'AUTH_FAILED' });
    };
    const tokenGiven =
      (path === '/ui/login' && req.method === 'POST') || url.searchParams.has('token') || bearerOf(req) !== undefined;
    if (tokenGiven && limited())
      return this.#send(res, 429, 'application/json', {
        error: 'RATE_LIMITED',
        hint: 'too many wrong tokens: wait a minute',
      });
    if (path === '/ui/login' && req.method === 'POST') {
      const body = await readSmallBody(req, 4096);
      const token = body === undefined ? '' : (new URLSearchParams(body).get('token') ?? '');
      if (!auth.tokenMatches(token)) return wrong(true);
      return this.#redirect(res, '/ui/', auth.sessionCookie());
    }
    if (path === '/ui/logout' && req.method === 'POST') {
      auth.endSession(req);
      return this.#redirect(res, '/ui/', clearSessionCookie);
    }
    if (path === '/ui/' && req.method === 'GET' && url.searchParams.has('token')) {
      if (!auth.tokenMatches(url.searchParams.get('token') ?? '')) return wrong(true);
      return this.#redirect(res, '/ui/', auth.sessionCookie());
    }
    if (req.method !== 'GET') return this.#send(res, 405, 'application/json', { error: 'METHOD_NOT_ALLOWED' });
    if (bearerOf(req) !== undefined && !auth.check(req).ok) return wrong(!path.startsWith('/ui/api/'));
    if (!auth.check(req).ok) {
      if (path.startsWith('/ui/api/')) return this.#send(res, 401, 'application/json', { error: 'AUTH_FAILED' });
      return this.#send(res, 401, 'text/html; charset=utf-8', loginPage('Sign in with the operator token.'));
    }
    if (path === '/ui/api/overview') return this.#send(res, 200, 'application/json', await this.#p.overview());
    if (path === '/ui/api/history') return this.#send(res, 200, 'application/json', this.#p.history());
    if (path === '/ui/api/events') {
      const after = Number(url.searchParams.get('after') ?? 0);
      return this.#send(res, 200, 'application/json', this.#p.events(Number.isSafeInteger(after) ? after : 0));
    }
    this.preload();
    const asset = this.#assets!.get(path);
    if (!asset) return this.#send(res, 404, 'application/json', { error: 'NOT_FOUND' });
    return this.#send(res, 200, asset.type, asset.body);
  }

  #redirect(res: ServerResponse, location: string, cookie?: string): void {
    if (cookie) res.setHeader('set-cookie', cookie);
    res.setHeader('location', location);
    this.#send(res, 303, 'text/plain; charset=utf-8', '');
  }

  #send(res: ServerResponse, status: number, type: string, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const buf = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
    for (const [k, v] of Object.entries(securityHeaders)) res.setHeader(k, v);
    res.statusCode = status;
    res.setHeader('content-type', type);
    res.setHeader('content-length', buf.length);
    res.end(buf);
  }
}

/** The request body as text, or undefined when larger than `max`. */
function readSmallBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => resolve(size > max ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}
