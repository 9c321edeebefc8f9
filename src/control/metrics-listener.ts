// /metrics on its own plain-HTTP address (control.metricsListen), so Prometheus can scrape it from a
// network the control API need not be open to, and the API port does not serve it at all. Only
// `GET /metrics` is answered; with a scrape token (control.metricsTokenFile) it needs
// `Authorization: Bearer <token>`, without one it is meant for loopback or a network only the scraper
// reaches. Small and bounded like the API: few connections, short header and request timeouts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Secret } from '../base/secret.js';
import { closeServer } from './close-server.js';
import { FailureLimiter } from './failure-limit.js';
import { bearerOf, sameSecret } from './operator-auth.js';

export interface MetricsListenerOptions {
  readonly host: string;
  readonly port: number;
  metricsText(): string | Promise<string>;
  /** The bearer token; undefined = none needed. */
  readonly token?: Secret<string>;
  readonly maxConnections?: number;
}

export class MetricsListener {
  readonly #o: MetricsListenerOptions;
  readonly #failures = new FailureLimiter();
  #server: Server | undefined;

  constructor(o: MetricsListenerOptions) {
    this.#o = o;
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = createServer(
      { headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 30_000, connectionsCheckingInterval: 1_000 },
      (req, res) => void this.#handle(req, res),
    );
    server.maxConnections = this.#o.maxConnections ?? 64;
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    await closeServer(s);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || req.method !== 'GET') return send(404, '{"error":"NOT_FOUND"}');
    const token = this.#o.token;
    if (token) {
      const key = [req.socket.remoteAddress ?? ''];
      const now = Date.now();
      if (this.#failures.blocked(key, now)) return send(429, '{"error":"RATE_LIMITED"}');
      const given = bearerOf(req);
      if (given === undefined || !sameSecret(given, token.expose())) {
        this.#failures.fail(key, now);
        return send(401, '{"error":"AUTH_FAILED"}');
      }
    }
    try {
      send(200, await this.#o.metricsText(), 'text/plain; version=0.0.4; charset=utf-8');
    } catch {
      send(500, '{"error":"INTERNAL"}');
    }
  }
}
