// Control API client: keep-alive HTTPS agent, per-request deadline, signed requests and verified
// responses. Used by the HTTPS membership transport (from = node id) and by the CLI (from = "cli").
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { auth } from '../base/constants.js';
import { TunmeshError, type ErrorCode } from '../base/errors.js';
import { silentLogger, type Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import { joinReplySchema, type GossipRequest, type JoinReply, type Reply, parseReply } from '../membership/messages.js';
import { nodeRecordSchema, type NodeRecord } from '../membership/record.js';
import { authHeaderName, deriveAuthKey, signRequest, verifyResponse, type AuthKey } from './auth.js';
import { operatorHeaderName, operatorProof } from './operator-auth.js';
import { clientTlsOptions, loadPem, type PemInput } from './tls.js';

export interface ControlClientOptions {
  /** Our id as signer: the node id, or "cli". */
  readonly nodeId: string;
  readonly secret: Secret<Uint8Array | string>;
  /** Trust anchor: the CA, or else the cluster's shared certificate. */
  readonly trust: PemInput;
  /** Verify the server's hostname/IP against its certificate (default off: auth is by the secret). */
  readonly checkHostname?: boolean;
  /** Default deadline of one request, connection included. */
  readonly timeoutMs: number;
  readonly maxResponseBytes?: number;
  readonly maxSocketsPerHost?: number;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly wallNow?: () => number;
}

export interface ControlRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Recipient id, or '*' when unknown (join only). Omit for unauthenticated routes. */
  readonly to?: string;
  readonly body?: unknown;
  readonly timeoutMs?: number;
  /** Operator routes: the operator token, sent only as a proof bound to this request (operator-auth.ts). */
  readonly operatorToken?: Secret<string>;
}

export interface ControlResponse {
  readonly status: number;
  /** Parsed JSON, or text for non-JSON content. */
  readonly body: unknown;
  /** The verified responder id (authenticated requests). */
  readonly from: string | undefined;
}

const errorForStatus = (status: number): ErrorCode =>
  status === 401 || status === 403 || status === 429
    ? 'AUTH_FAILED'
    : status === 404
      ? 'NOT_FOUND'
      : status === 400
        ? 'API_BAD_REQUEST'
        : 'PEER_UNREACHABLE';

export class ControlClient {
  readonly #o: ControlClientOptions;
  readonly #key: AuthKey;
  readonly #agent: Agent;
  readonly #log: Logger;

  private constructor(o: ControlClientOptions, trust: Buffer) {
    this.#o = o;
    this.#key = deriveAuthKey(o.secret);
    this.#log = o.logger ?? silentLogger();
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: o.maxSocketsPerHost ?? 4,
      maxFreeSockets: 2,
      // Idle sockets close well before the server's keep-alive timeout, so a reused socket is rarely stale.
      timeout: 15_000,
      ...clientTlsOptions(trust, o.checkHostname ?? false),
    });
  }

  static async create(o: ControlClientOptions): Promise<ControlClient> {
    return new ControlClient(o, await loadPem(o.trust, 'TLS trust anchor'));
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** One request; authenticated (signed, response verified) when `to` is given. Rejects on non-2xx. */
  async request(baseUrl: string, r: ControlRequest): Promise<ControlResponse> {
    try {
      return await this.#attempt(baseUrl, r);
    } catch (err) {
      // A kept-alive socket the server closed in the meantime: one retry on a fresh connection.
      if ((err as { reusedSocket?: boolean }).reusedSocket) return this.#attempt(baseUrl, r);
      throw err;
    }
  }

  async join(url: string, record: NodeRecord, timeoutMs?: number): Promise<JoinReply> {
    const res = await this.request(url, { method: 'POST', path: '/v1/join', to: '*', body: record, timeoutMs });
    const reply = joinReplySchema.safeParse(res.body);
    if (!reply.success || reply.data.self.id !== res.from)
      throw new TunmeshError('PEER_UNREACHABLE', `invalid join reply from ${url}`);
    return reply.data;
  }

  async gossip(to: NodeRecord, msg: GossipRequest, timeoutMs?: number): Promise<Reply> {
    const res = await this.request(to.apiUrl, { method: 'POST', path: '/v1/gossip', to: to.id, body: msg, timeoutMs });
    const reply = parseReply(res.body);
    if (!reply || reply.type === 'join-reply')
      throw new TunmeshError('PEER_UNREACHABLE', `invalid reply from ${to.id}`);
    return reply;
  }

  async node(url: string, to: string): Promise<NodeRecord> {
    const res = await this.request(url, { method: 'GET', path: '/v1/node', to });
    const r = nodeRecordSchema.safeParse(res.body);
    if (!r.success) throw new TunmeshError('PEER_UNREACHABLE', `invalid node record from ${url}`);
    return r.data;
  }

  /** A node's status: an operator route, so it needs the operator token. */
  async status(url: string, to: string, operatorToken?: Secret<string>): Promise<unknown> {
    return (await this.request(url, { method: 'GET', path: '/v1/status', to, operatorToken })).body;
  }

  #attempt(baseUrl: string, r: ControlRequest): Promise<ControlResponse> {
    const url = new URL(r.path, baseUrl);
    const path = url.pathname + url.search;
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(r.body), 'utf8');
    const headers: Record<string, string | number> = { 'content-length': body.length };
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    let nonce = '';
    if (r.to !== undefined) {
      const s = signRequest(this.#key, {
        method: r.method,
        path,
        body,
        from: this.#o.nodeId,
        to: r.to,
        now: this.#now(),
      });
      headers[authHeaderName] = s.header;
      if (r.operatorToken) headers[operatorHeaderName] = operatorProof(r.operatorToken, s.sig);
      nonce = s.nonce;
    }
    const timeoutMs = r.timeoutMs ?? this.#o.timeoutMs;
    const max = this.#o.maxResponseBytes ?? 32 * auth.maxBodyBytes;
    return new Promise<ControlResponse>((resolve, reject) => {
      const req = httpsRequest(url, { method: r.method, agent: this.#agent, headers }, (res) => {
        this.#readResponse(res, max).then((raw) => {
          clearTimeout(timer);
          try {
            resolve(this.#finish(url, r, res, raw, nonce));
          } catch (err) {
            reject(err);
          }
        }, fail);
      });
      const timer = setTimeout(() => {
        req.destroy(new TunmeshError('PEER_UNREACHABLE', `${url.origin} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      function fail(err: unknown): void {
        clearTimeout(timer);
        const e =
          err instanceof TunmeshError
            ? err
            : new TunmeshError('PEER_UNREACHABLE', `${url.origin}: ${(err as Error).message}`, { cause: err });
        Object.assign(e, { reusedSocket: req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' });
        reject(e);
      }
      req.on('error', fail);
      req.end(body);
    });
  }

  #finish(url: URL, r: ControlRequest, res: IncomingMessage, raw: Buffer, nonce: string): ControlResponse {
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      // The error code of a refusal (unsigned: it only names what to check, it is never acted on).
      const code = /"error":"([A-Z_]{1,40})"/.exec(raw.subarray(0, 2048).toString('utf8'))?.[1];
      throw new TunmeshError(
        errorForStatus(status),
        `${url.origin}${url.pathname} answered ${status}${code ? ` ${code}` : ''}`,
      );
    }
    let from: string | undefined;
    if (r.to !== undefined) {
      const v = verifyResponse(this.#key, res.headers[authHeaderName], {
        status,
        requestNonce: nonce,
        to: this.#o.nodeId,
        body: raw,
        now: this.#now(),
        ...(r.to !== '*' && { expectedFrom: r.to }),
      });
      if (!v.ok) {
        this.#o.metrics?.inc('control_auth_failures_total', { reason: `response_${v.reason}` });
        this.#log.debug({ url: url.origin, reason: v.reason }, 'control response failed authentication');
        throw new TunmeshError('AUTH_FAILED', `the response from ${url.origin} failed authentication`);
      }
      from = v.auth.from;
    }
    const text = raw.toString('utf8');
    let body: unknown = text;
    if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new TunmeshError('PEER_UNREACHABLE', `${url.origin} sent invalid JSON`);
      }
    }
    return { status, body, from };
  }

  #readResponse(res: IncomingMessage, max: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          res.destroy(new TunmeshError('PEER_UNREACHABLE', `response larger than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
      res.on('aborted', () => reject(new TunmeshError('PEER_UNREACHABLE', 'response aborted')));
    });
  }

  #now(): number {
    return (this.#o.wallNow ?? Date.now)();
  }
}
