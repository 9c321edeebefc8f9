// GET /v1/stream with `Upgrade: tunmesh-stream`: one persistent TLS connection per peer that carries
// WireGuard messages when UDP does not get through (the `tls` transport method, transport/). The request
// is signed like any node request (the peer is who the verified header says it is) and the 101 response
// is signed back, so both ends know whom they talk to. After the 101 the connection belongs to the data
// plane; the control server never reads it again.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuthFailure, AuthKey, NonceCache } from '../auth.js';
import { authHeaderName, signResponse, verifyRequest } from '../auth.js';

export const streamPath = '/v1/stream';
export const streamProtocol = 'tunmesh-stream';

/** Takes an authenticated stream from node `from`; false refuses it (unknown peer, one already open). */
export type StreamAcceptor = (from: string, socket: Duplex) => boolean;

export interface StreamUpgradeContext {
  readonly key: AuthKey;
  readonly nonces: NonceCache;
  readonly nodeId: string;
  readonly now: number;
  readonly accept: StreamAcceptor | undefined;
  readonly authFailed: (reason: AuthFailure) => void;
  /** The signature verified: the source may use the reserved connection slots (control/admission.ts). */
  readonly authenticated?: () => void;
  readonly counted: (status: number) => void;
}

/** Time a refused upgrade's answer gets to leave before its socket is destroyed anyway. */
const refuseLingerMs = 1000;

/**
 * Answers and destroys the socket. After an upgrade the HTTP server's timeouts no longer apply, so a
 * socket that was only end()ed stayed half-open for as long as the client kept it (security review 2,
 * finding 5: 4021 refused upgrades held 4052 fds).
 */
function refuse(socket: Duplex, status: number, text: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  setTimeout(() => socket.destroy(), refuseLingerMs).unref();
}

export function handleStreamUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, c: StreamUpgradeContext): void {
  socket.on('error', () => socket.destroy());
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (req.url !== streamPath || req.method !== 'GET' || upgrade !== streamProtocol || !c.accept) {
    c.counted(404);
    return refuse(socket, 404, 'Not Found');
  }
  const v = verifyRequest(
    c.key,
    req.headers[authHeaderName],
    { method: 'GET', path: streamPath, body: new Uint8Array(0), now: c.now, ownId: c.nodeId, allowAnyRecipient: false },
    c.nonces,
  );
  if (!v.ok) {
    c.authFailed(v.reason);
    c.counted(401);
    return refuse(socket, 401, 'Unauthorized');
  }
  c.authenticated?.();
  const from = v.auth.from;
  if (from === c.nodeId || !c.accept(from, socket)) {
    c.counted(409);
    return refuse(socket, 409, 'Conflict');
  }
  const sig = signResponse(c.key, {
    status: 101,
    requestNonce: v.auth.nonce,
    from: c.nodeId,
    to: from,
    body: new Uint8Array(0),
    now: c.now,
  });
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${streamProtocol}\r\nConnection: Upgrade\r\n${authHeaderName}: ${sig}\r\n\r\n`,
  );
  if (head.length) socket.unshift(head);
  c.counted(101);
}
