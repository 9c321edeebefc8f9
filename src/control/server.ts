// The HTTPS control API server. It must survive hostile clients (docs/SECURITY.md P12), so the order of
// checks for every request is: connection admitted (per-source cap, a reserve for sources that
// authenticated before: control/admission.ts) → known route (else 404) → for /v1/* the auth header's
// format, time window and recipient BEFORE any body byte is buffered (a request without a valid header is
// answered 401 and its connection closed; one for another node id has its body discarded, so both look
// the same to the caller) → declared size against the route's limit (413) → room in the global body
// budget (503) → body read → signature (401, no detail) → operator token for operator routes (403; failed
// checks rate limited: 429) → JSON + schema (400) → handler → signed response.
// Only /live, /health and /metrics answer without a signature: /live and /health say only {"ok"} (/health
// gives its breakdown when the operator or scrape token comes as a bearer), and /metrics needs a scrape
// token (or lives on its own listener, control.metricsListen). Slow clients are bounded by TLS handshake, header and request timeouts; every
// failure is counted in metrics and logged at debug (plus a rate-limited warn).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { auth } from '../base/constants.js';
import { TunmeshError } from '../base/errors.js';
import { silentLogger, type Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import { BodyBudget, ConnectionAdmission } from './admission.js';
import {
  NonceCache,
  authHeaderName,
  deriveAuthKey,
  precheckRequest,
  signResponse,
  verifyPrechecked,
  visibleReason,
  type AuthFailure,
  type AuthKey,
  type RequestAuth,
} from './auth.js';
import { closeServer } from './close-server.js';
import { FailureLimiter } from './failure-limit.js';
import { bearerOf, operatorHeaderName, sameSecret, type OperatorAuth } from './operator-auth.js';
import { addressesRoute } from './routes/addresses.js';
import { liveRoute } from './routes/live.js';
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
  /** Connections one source IP may hold (default 64). */
  readonly maxConnectionsPerSource?: number;
  /** Slots of maxConnections kept for sources that authenticated before and this host (default 512). */
  readonly reservedConnections?: number;
  /** Request-body bytes buffered across all connections; beyond it 503 (default 16 MiB). */
  readonly maxBodyBytesInFlight?: number;
  /** The operator token in force (undefined: none, and operator routes answer 403 naming the key). */
  readonly operatorAuth?: () => OperatorAuth | undefined;
  /** The bearer token /metrics takes besides the operator token (control.metricsTokenFile). */
  readonly scrapeToken?: () => Secret<string> | undefined;
  /** False when /metrics has its own listener (control.metricsListen): the API port then answers 404. */
  readonly metricsOnApi?: boolean;
  /** The dashboard under /ui/ (operator-token auth, its own handler). */
  readonly dashboard?: DashboardHandler;
  /** Takes authenticated `tls` transport streams (routes/stream.ts); without it the Upgrade is refused. */
  readonly streams?: StreamAcceptor;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly hint?: string,
  ) {
    super(code);
  }
}

const authWarnIntervalMs = 60_000;
/** Statuses after which the connection is closed: the client is refused, its leftover body unread. */
const closing = new Set([401, 413, 429, 503]);
const noOperatorTokenHint =
  'this node has no control.operatorTokenFile: operator routes need it. Create one (`tunmesh secret generate --out FILE`), ' +
  'name it in control.operatorTokenFile of the node and of the CLI config, then restart the node or send it SIGHUP';
const scrapeHint =
  'send `Authorization: Bearer <token>` with the token of control.metricsTokenFile (or the operator token), ' +
  'or serve /metrics on its own address with control.metricsListen';

/** The source address a connection is counted under (IPv4-mapped IPv6 as plain IPv4). */
export function sourceOf(socket: Pick<Socket, 'remoteAddress'>): string | undefined {
  const a = socket.remoteAddress;
  return a?.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export class ControlServer {
  readonly #o: ControlServerOptions;
  readonly #routes: Route[];
  readonly #key: AuthKey;
  readonly #nonces = new NonceCache();
  readonly #log: Logger;
  readonly #wallNow: () => number;
  readonly #admission: ConnectionAdmission;
  readonly #budget: BodyBudget;
  readonly #operatorFailures = new FailureLimiter();
  #server: Server | undefined;
  #authFailuresSinceWarn = 0;
  #lastAuthWarn = -Infinity;

  constructor(o: ControlServerOptions) {
    this.#o = o;
    this.#key = deriveAuthKey(o.secret);
    this.#log = o.logger ?? silentLogger();
    this.#wallNow = o.wallNow ?? Date.now;
    const max = o.maxConnections ?? 4096;
    this.#admission = new ConnectionAdmission({
      max,
      perSource: o.maxConnectionsPerSource ?? 64,
      reserve: Math.min(o.reservedConnections ?? 512, Math.floor(max / 2)),
    });
    this.#budget = new BodyBudget(o.maxBodyBytesInFlight ?? 16 * 1024 * 1024);
    const p = o.providers;
    this.#routes = [
      healthRoute(p),
      liveRoute(),
      metricsRoute(p),
      joinRoute(p),
      gossipRoute(p),
      nodeRoute(p),
      statusRoute(p),
      addressesRoute(p),
    ];
    // Operator routes (signature + operator token) exist when the daemon provides them.
    if (p.ops) this.#routes.push(peersRoute(p.ops), pingRoute(p.ops), reloadRoute(p.ops), eventsRoute(p.ops));
    const rotateKey = p.ops?.rotateKey?.bind(p.ops);
    if (rotateKey) this.#routes.push(keyRotateRoute({ rotateKey }));
  }

  /** Connections held now and body bytes reserved (tests, metrics). */
  get load(): { connections: number; bodyBytes: number } {
    return { connections: this.#admission.total, bodyBytes: this.#budget.used };
  }

  /** Loads the TLS material, listens, and resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    const tls = await loadTls(this.#o.tls);
    const headersTimeoutMs = this.#o.headersTimeoutMs ?? 5_000;
    const server = createServer(
      {
        cert: tls.cert,
        key: tls.key.expose(),
        minVersion: 'TLSv1.2',
        handshakeTimeout: this.#o.handshakeTimeoutMs ?? 5_000,
        headersTimeout: headersTimeoutMs,
        requestTimeout: this.#o.requestTimeoutMs ?? 15_000,
        keepAliveTimeout: this.#o.keepAliveTimeoutMs ?? 60_000,
        // How often header/request timeouts are enforced (Node's default is 30 s).
        connectionsCheckingInterval: Math.min(1_000, Math.max(50, headersTimeoutMs / 4)),
      },
      (req, res) => void this.#handle(req, res),
    );
    server.maxConnections = this.#o.maxConnections ?? 4096;
    // Every TCP connection, before its TLS handshake: counted per source until it closes (an upgraded
    // stream included), refused at once when its source holds its share or only the reserve is left.
    server.on('connection', (socket: Socket) => this.#admit(socket));
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) =>
      handleStreamUpgrade(req, socket, head, {
        key: this.#key,
        nonces: this.#nonces,
        nodeId: this.#o.nodeId,
        now: this.#wallNow(),
        accept: this.#o.streams,
        authFailed: (reason) => this.#authFailed(reason, req, 'stream'),
        authenticated: () => this.#known(req),
        counted: (status) =>
          this.#o.metrics?.inc('control_requests_total', { route: 'stream', status: String(status) }),
      }),
    );
    // A TLS or parse error on one connection must never reach the process; it is the client's problem.
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'control TLS handshake failed'));
    server.on('clientError', (err, socket: Socket) => {
      this.#log.debug({ err: err.message }, 'control client error');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
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
    await closeServer(s);
  }

  #admit(socket: Socket): void {
    const source = sourceOf(socket);
    if (!source) {
      socket.destroy();
      return;
    }
    const local = socket.localAddress !== undefined && sourceOf({ remoteAddress: socket.localAddress }) === source;
    const verdict = this.#admission.admit(source, Date.now(), local);
    if (verdict !== 'ok') {
      this.#o.metrics?.inc('control_connections_refused_total', { reason: verdict });
      this.#log.debug({ remote: source, reason: verdict }, 'control connection refused');
      socket.destroy();
      return;
    }
    this.#o.metrics?.set('control_connections', {}, this.#admission.total);
    socket.once('close', () => {
      this.#admission.release(source);
      this.#o.metrics?.set('control_connections', {}, this.#admission.total);
    });
  }

  /** The request's source verified a signature: it may use the reserved slots from now on. */
  #known(req: IncomingMessage): void {
    const source = sourceOf(req.socket);
    if (source) this.#admission.markKnown(source, Date.now());
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
      if (!route || (route.scrape && this.#o.metricsOnApi === false)) throw new HttpError(404, 'NOT_FOUND');
      let from = '';
      let requestNonce = '';
      let operator = false;
      let parsed: unknown = undefined;
      if (!route.auth) {
        if (hasBody(req)) throw new HttpError(413, 'TOO_LARGE');
        operator = this.#bearer(req, route.scrape === true);
      } else {
        const pre = precheckRequest(req.headers[authHeaderName], {
          now: this.#wallNow(),
          ownId: this.#o.nodeId,
          allowAnyRecipient: route.anyRecipient === true,
        });
        // Nothing is buffered for a request without a valid header. One addressed to another node id has
        // its body read and thrown away, so it cannot be told from a bad signature (which node ids exist).
        if (!pre.ok && pre.reason !== 'wrong_recipient') this.#refuse(pre.reason, req, name);
        const max = route.method === 'GET' ? 0 : (route.maxBodyBytes ?? this.#o.maxBodyBytes ?? auth.maxBodyBytes);
        const body = await this.#readBody(req, max, pre.ok);
        if (!pre.ok) this.#refuse(pre.reason, req, name);
        const v = verifyPrechecked(
          this.#key,
          pre.auth,
          { method: req.method ?? '', path: url, body, now: this.#wallNow() },
          this.#nonces,
        );
        if (!v.ok) this.#refuse(v.reason, req, name);
        this.#known(req);
        from = v.auth.from;
        requestNonce = v.auth.nonce;
        // A node talking to itself (a bootstrap URL or load balancer that leads back here).
        if (from === this.#o.nodeId) throw new HttpError(421, 'MISDIRECTED');
        if (route.operator) {
          this.#operator(req, v.auth, name);
          operator = true;
        }
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
      }
      const result = await route.handle({ from, body: parsed, operator });
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
      const body = { error: e?.code ?? 'INTERNAL', ...(e?.hint && { hint: e.hint }) };
      this.#respond(res, name, { status, body }, undefined, closing.has(status));
    }
  }

  /** Counts an authentication failure and refuses the request (401, connection closed). */
  #refuse(reason: AuthFailure, req: IncomingMessage, route: string): never {
    this.#authFailed(reason, req, route);
    throw new HttpError(401, 'AUTH_FAILED');
  }

  /**
   * The operator token's proof for a signed request (operator routes). Every member signs with the
   * cluster secret; only the operator holds the token. Failures are rate limited per source and signer,
   * so the check is no oracle for the token.
   */
  #operator(req: IncomingMessage, a: RequestAuth, route: string): void {
    const oa = this.#o.operatorAuth?.();
    if (!oa) {
      this.#o.metrics?.inc('control_operator_failures_total', { outcome: 'no_token' });
      throw new HttpError(403, 'OPERATOR_TOKEN_REQUIRED', noOperatorTokenHint);
    }
    const keys = [`ip ${sourceOf(req.socket) ?? ''}`, `from ${a.from}`];
    const now = Date.now();
    if (this.#operatorFailures.blocked(keys, now)) {
      this.#o.metrics?.inc('control_operator_failures_total', { outcome: 'rate_limited' });
      throw new HttpError(429, 'RATE_LIMITED');
    }
    if (!oa.proofMatches(a.sig, req.headers[operatorHeaderName])) {
      this.#operatorFailures.fail(keys, now);
      this.#o.metrics?.inc('control_operator_failures_total', { outcome: 'wrong' });
      this.#log.warn(
        { route, from: a.from, remote: sourceOf(req.socket) },
        'operator request without the operator token refused',
      );
      throw new HttpError(
        403,
        'OPERATOR_AUTH_FAILED',
        'operator routes need the operator token of this node (control.operatorTokenFile)',
      );
    }
  }

  /**
   * A bearer token on an unsigned route: the operator token (or, for /metrics, the scrape token). For
   * /metrics a missing or wrong token is refused; /health then just says less.
   */
  #bearer(req: IncomingMessage, required: boolean): boolean {
    const token = bearerOf(req);
    const oa = this.#o.operatorAuth?.();
    const scrape = this.#o.scrapeToken?.();
    if (token === undefined) {
      if (required) throw new HttpError(401, 'AUTH_FAILED', scrapeHint);
      return false;
    }
    const keys = [`ip ${sourceOf(req.socket) ?? ''}`];
    const now = Date.now();
    if (this.#operatorFailures.blocked(keys, now)) {
      this.#o.metrics?.inc('control_operator_failures_total', { outcome: 'rate_limited' });
      throw new HttpError(429, 'RATE_LIMITED');
    }
    const ok =
      token.length > 0 &&
      ((oa !== undefined && oa.tokenMatches(token)) || (scrape !== undefined && sameSecret(token, scrape.expose())));
    if (ok) return true;
    this.#operatorFailures.fail(keys, now);
    this.#o.metrics?.inc('control_operator_failures_total', { outcome: 'wrong' });
    if (required) throw new HttpError(401, 'AUTH_FAILED', scrapeHint);
    return false;
  }

  /**
   * The body, at most `max` bytes, read under the global budget (503 when it is spent). `keep` false
   * reads and discards (a request that will be refused): it costs the same budget, so it looks the same.
   */
  #readBody(req: IncomingMessage, max: number, keep: boolean): Promise<Uint8Array> {
    const length = req.headers['content-length'];
    const declared = length === undefined ? undefined : Number(length);
    if (declared !== undefined && !(declared <= max)) return Promise.reject(new HttpError(413, 'TOO_LARGE'));
    if (declared === 0 || (declared === undefined && !hasBody(req))) return Promise.resolve(new Uint8Array(0));
    const reserved = declared ?? max;
    if (!this.#budget.take(reserved)) return Promise.reject(new HttpError(503, 'BUSY'));
    this.#o.metrics?.set('control_body_bytes_in_flight', {}, this.#budget.used);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#budget.give(reserved);
      this.#o.metrics?.set('control_body_bytes_in_flight', {}, this.#budget.used);
    };
    return new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > max) {
          failed = true;
          chunks.length = 0;
          release();
          reject(new HttpError(413, 'TOO_LARGE'));
          return;
        }
        if (keep) chunks.push(chunk);
      });
      req.on('end', () => {
        release();
        if (!failed) resolve(Buffer.concat(chunks));
      });
      req.on('error', () => {
        release();
        if (!failed) reject(new HttpError(400, 'API_BAD_REQUEST'));
        failed = true;
        req.socket.destroy();
      });
      // A client that stalls is cut by the request timeout: its reservation ends with the connection.
      req.on('close', () => {
        release();
        if (!failed && !req.complete) {
          failed = true;
          reject(new HttpError(400, 'API_BAD_REQUEST'));
        }
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
    // The log (for the operator) keeps the real reason; the counter shows what a caller may know.
    this.#o.metrics?.inc('control_auth_failures_total', { reason: visibleReason(reason) });
    const remote = req.socket.remoteAddress;
    this.#log.debug({ reason, route, remote }, 'control request failed authentication');
    this.#authFailuresSinceWarn++;
    const now = Date.now();
    if (now - this.#lastAuthWarn >= authWarnIntervalMs) {
      this.#log.warn(
        { failures: this.#authFailuresSinceWarn, lastReason: visibleReason(reason), remote },
        'control requests are failing authentication: check that every node has the same cluster secret and a synchronised clock',
      );
      this.#lastAuthWarn = now;
      this.#authFailuresSinceWarn = 0;
    }
  }
}

/** Whether a request carries a body (declared length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
