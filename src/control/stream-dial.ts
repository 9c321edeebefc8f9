// Opens the `tls` transport stream to a peer: a signed `GET /v1/stream` Upgrade on the peer's control
// API; the 101 must be signed by the node we asked for. Resolves with the raw TLS socket.
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { TunmeshError } from '../base/errors.js';
import type { Secret } from '../base/secret.js';
import { authHeaderName, deriveAuthKey, signRequest, verifyResponse, type AuthKey } from './auth.js';
import { streamPath, streamProtocol } from './routes/stream.js';
import { clientTlsOptions, loadPem, type PemInput } from './tls.js';

export interface StreamDialerOptions {
  readonly nodeId: string;
  readonly secret: Secret<Uint8Array | string>;
  readonly trust: PemInput;
  readonly checkHostname?: boolean;
  readonly timeoutMs?: number;
}

export class StreamDialer {
  readonly #o: StreamDialerOptions;
  readonly #key: AuthKey;
  readonly #ca: Buffer;

  private constructor(o: StreamDialerOptions, ca: Buffer) {
    this.#o = o;
    this.#key = deriveAuthKey(o.secret);
    this.#ca = ca;
  }

  static async create(o: StreamDialerOptions): Promise<StreamDialer> {
    return new StreamDialer(o, await loadPem(o.trust, 'TLS trust anchor'));
  }

  /** The stream to node `to` at `apiUrl`; rejects on any failure (refused, unauthenticated, timeout). */
  dial(apiUrl: string, to: string): Promise<Duplex> {
    const url = new URL(streamPath, apiUrl);
    const s = signRequest(this.#key, {
      method: 'GET',
      path: streamPath,
      body: new Uint8Array(0),
      from: this.#o.nodeId,
      to,
      now: Date.now(),
    });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, {
        method: 'GET',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: streamProtocol, [authHeaderName]: s.header },
        ...clientTlsOptions(this.#ca, this.#o.checkHostname ?? false),
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new TunmeshError('PEER_UNREACHABLE', `stream to ${to}: timeout`));
      }, this.#o.timeoutMs ?? 5_000);
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(timer);
        const v = verifyResponse(this.#key, res.headers[authHeaderName], {
          status: 101,
          requestNonce: s.nonce,
          to: this.#o.nodeId,
          body: new Uint8Array(0),
          now: Date.now(),
          expectedFrom: to,
        });
        if (!v.ok) {
          socket.destroy();
          return reject(new TunmeshError('PEER_UNREACHABLE', `stream to ${to}: unauthenticated 101 (${v.reason})`));
        }
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        res.resume();
        reject(new TunmeshError('PEER_UNREACHABLE', `stream to ${to}: refused with ${res.statusCode}`));
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(new TunmeshError('PEER_UNREACHABLE', `stream to ${to}: ${err.message}`));
      });
      req.end();
    });
  }
}
