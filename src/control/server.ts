// The HTTPS control API server. Order of checks for every request: known route (else 404) → declared
// size (else 413) → body read under the size limit (413) → authentication for /v1/* (401, no detail) →
// JSON + schema (400) → handler → signed response. Only /health and /metrics are unauthenticated, and
// they say nothing about other nodes. Slow clients are bounded by TLS handshake, header and request
// timeouts; every failure is counted in metrics and logged at debug (plus a rate-limited warn).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { auth } from '../base/constants.js';
import { TunmeshError } from '../base/errors.js';
import { silentLogger, type Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import {
  NonceCache,
  authHeaderName,
  deriveAuthKey,
  signResponse,
  verifyRequest,
  type AuthFailure,
  type AuthKey,
} from './auth.js';
import { gossipRoute } from './routes/gossip.js';
import { healthRoute } from './routes/health.js';
import { joinRoute } from './routes/join.js';
import { metricsRoute } from './routes/metrics.js';
import { nodeRoute } from './routes/node.js';
import type { ControlProviders, Route, RouteResult } from './routes/route.js';
import { statusRoute } from './routes/status.js';
import { DashboardHandler } from './routes/dashboard.js';
import { eventsRoute } from './routes/events.js';
import { peersRoute } from './routes/peers.js';
import { pingRoute } from './routes/ping.js';
import { reloadRoute } from './routes/reload.js';
import { keyRotateRoute } from './routes/key-rotate.js';
import { loadTls, type TlsInput } from './tls.js';
import { handleStreamUpgrade, type StreamAcceptor } from './routes/stream.js';

export interface ControlServerOptions {
  /** This node's id: requests must be addressed to it. */
  readonly nodeId: string;
  /** The cluster shared secret. */
  readonly secret: Secret<Uint8Array | string>;
  readonly tls: TlsInput;
  /** Where to listen; port 0 picks a free port. */
  readonly host: string;
  readonly port: number;
  readonly providers: ControlProviders;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** Wall clock for signature validity (tests move it). */
  readonly wallNow?: () => number;
  readonly maxBodyBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly maxConnections?: number;
  /** The dashboard under /ui/ (operator-token auth, its own handler). */
  readonly dashboard?: DashboardHandler;
  /** Takes authenticated `tls` transport streams (routes/stream.ts); without it the Upgrade is refused. */
  readonly streams?: StreamAcceptor;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

const authWarnIntervalMs = 60_000;

export class ControlServer {
  readonly #o: ControlServerOptions;
  readonly #routes: Route[];
  readonly #key: AuthKey;
  readonly #nonces = new NonceCache();
  readonly #log: Logger;
  readonly #wallNow: () => number;
  #server: Server | undefined;
  #authFailuresSinceWarn = 0;
  #lastAuthWarn = -Infinity;

  constructor(o: ControlServerOptions) {
    this.#o = o;
    this.#key = deriveAuthKey(o.secret);
    this.#log = o.logger ?? silentLogger();
    this.#wallNow = o.wallNow ?? Date.now;
    const p = o.providers;
    this.#routes = [healthRoute(p), metricsRoute(p), joinRoute(p), gossipRoute(p), nodeRoute(p), statusRoute(p)];
    // Operator routes (signed like status, from=cli) exist when the daemon provides them.
    if (p.ops) this.#routes.push(peersRoute(p.ops), pingRoute(p.ops), reloadRoute(p.ops), eventsRoute(p.ops));
    const rotateKey = p.ops?.rotateKey?.bind(p.ops);
    if (rotateKey) this.#routes.push(keyRotateRoute({ rotateKey }));
  }

  /** Loads the TLS material, listens, and resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    const tls = await loadTls(this.#o.tls);
    const server = createServer(
      {
        cert: tls.cert,
        key: tls.key.expose(),
        minVersion: 'TLSv1.2',
        handshakeTimeout: this.#o.handshakeTimeoutMs ?? 10_000,
        headersTimeout: this.#o.headersTimeoutMs ?? 10_000,
        requestTimeout: this.#o.requestTimeoutMs ?? 30_000,
        keepAliveTimeout: this.#o.keepAliveTimeoutMs ?? 60_000,
        // How often header/request timeouts are enforced (Node's default is 30 s).
        connectionsCheckingInterval: Math.min(1_000, Math.max(50, (this.#o.headersTimeoutMs ?? 10_000) / 4)),
      },
      (req, res) => void this.#handle(req, res),
    );
    server.maxConnections = this.#o.maxConnections ?? 4096;
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) =>
      handleStreamUpgrade(req, socket, head, {
        key: this.#key,
        nonces: this.#nonces,
        nodeId: this.#o.nodeId,
        now: this.#wallNow(),
        accept: this.#o.streams,
        authFailed: (reason) => this.#authFailed(reason, req, 'stream'),
        counted: (status) =>
          this.#o.metrics?.inc('control_requests_total', { route: 'stream', status: String(status) }),
      }),
    );
    // A TLS or parse error on one connection must never reach the process; it is the client's problem.
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'control TLS handshake failed'));
    server.on('clientError', (err, socket: Socket) => {
      this.#log.debug({ err: err.message }, 'control client error');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#log.error({ err: err.message }, 'control server error'));
    this.#server = server;
    return this.address();
  }

  address(): { host: string; port: number } {
    const a = this.#server?.address() as AddressInfo | null | undefined;
    if (!a) throw new TunmeshError('INTERNAL', 'control server is not listening');
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    if (this.#o.dashboard && DashboardHandler.handles(pathname)) {
      await this.#o.dashboard.handle(req, res).catch((err: unknown) => {
        this.#log.warn({ err: (err as Error).message }, 'dashboard request failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
      this.#o.metrics?.inc('control_requests_total', { route: 'ui', status: String(res.statusCode) });
      return;
    }
    const route = this.#routes.find((r) => r.path === pathname && r.method === req.method);
    const name = route?.name ?? 'unknown';
    try {
      if (!route) throw new HttpError(404, 'NOT_FOUND');
      const body = await this.#readBody(req, res);
      let from = '';
      let requestNonce = '';
      if (route.auth) {
        const v = verifyRequest(
          this.#key,
          req.headers[authHeaderName],
          {
            method: req.method ?? '',
            path: url,
            body,
            now: this.#wallNow(),
            ownId: this.#o.nodeId,
            allowAnyRecipient: route.anyRecipient === true,
          },
          this.#nonces,
        );
        if (!v.ok) {
          this.#authFailed(v.reason, req, name);
          throw new HttpError(401, 'AUTH_FAILED');
        }
        from = v.auth.from;
        requestNonce = v.auth.nonce;
        // A node talking to itself (a bootstrap URL or load balancer that leads back here).
        if (from === this.#o.nodeId) throw new HttpError(421, 'MISDIRECTED');
      }
      let parsed: unknown = undefined;
      if (route.body) {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.from(body).toString('utf8'));
        } catch {
          throw new HttpError(400, 'API_BAD_REQUEST');
        }
        const r = route.body.safeParse(json);
        if (!r.success) throw new HttpError(400, 'API_BAD_REQUEST');
        parsed = r.data;
      }
      const result = await route.handle({ from, body: parsed });
      this.#respond(res, name, result, route.auth ? { requestNonce, to: from } : undefined);
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : err instanceof TunmeshError && err.code === 'API_BAD_REQUEST'
            ? new HttpError(400, 'API_BAD_REQUEST')
            : undefined;
      if (!e) this.#log.warn({ route: name, err: (err as Error).message }, 'control request failed');
      const status = e?.status ?? 500;
      const close = status === 413;
      this.#respond(res, name, { status, body: { error: e?.code ?? 'INTERNAL' } }, undefined, close);
    }
  }

  #readBody(req: IncomingMessage, res: ServerResponse): Promise<Uint8Array> {
    const max = this.#o.maxBodyBytes ?? auth.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared <= max)) return Promise.reject(new HttpError(413, 'TOO_LARGE'));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > max) {
          failed = true;
          chunks.length = 0;
          reject(new HttpError(413, 'TOO_LARGE'));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => failed || resolve(Buffer.concat(chunks)));
      req.on('error', (err) => {
        if (!failed) reject(err);
        failed = true;
        res.destroy();
      });
    });
  }

  #respond(
    res: ServerResponse,
    route: string,
    result: RouteResult,
    sign: { requestNonce: string; to: string } | undefined,
    close = false,
  ): void {
    if (res.headersSent || res.destroyed) return;
    const text = typeof result.body === 'string' && result.contentType ? result.body : JSON.stringify(result.body);
    const body = Buffer.from(text, 'utf8');
    res.statusCode = result.status;
    res.setHeader('content-type', result.contentType ?? 'application/json');
    res.setHeader('content-length', body.length);
    res.setHeader('cache-control', 'no-store');
    if (close) res.setHeader('connection', 'close');
    if (sign && result.status < 300)
      res.setHeader(
        authHeaderName,
        signResponse(this.#key, {
          status: result.status,
          requestNonce: sign.requestNonce,
          from: this.#o.nodeId,
          to: sign.to,
          body,
          now: this.#wallNow(),
        }),
      );
    res.end(body);
    this.#o.metrics?.inc('control_requests_total', { route, status: String(result.status) });
  }

  #authFailed(reason: AuthFailure, req: IncomingMessage, route: string): void {
    this.#o.metrics?.inc('control_auth_failures_total', { reason });
    const remote = req.socket.remoteAddress;
    this.#log.debug({ reason, route, remote }, 'control request failed authentication');
    this.#authFailuresSinceWarn++;
    const now = Date.now();
    if (now - this.#lastAuthWarn >= authWarnIntervalMs) {
      this.#log.warn(
        { failures: this.#authFailuresSinceWarn, lastReason: reason, remote },
        'control requests are failing authentication: check that every node has the same cluster secret and a synchronised clock',
      );
      this.#lastAuthWarn = now;
      this.#authFailuresSinceWarn = 0;
    }
  }
}
