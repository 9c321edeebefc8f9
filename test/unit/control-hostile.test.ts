// The control port against hostile clients (docs/SECURITY.md P12, P13), over real TLS on loopback:
// nothing buffered before the auth header checks out, a global body budget (503), a per-source connection
// cap with slots kept for sources that authenticated, refused upgrades destroyed, a request for another
// node id indistinguishable from a bad signature, and the operator routes closed to members.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Secret } from '../../src/base/secret.js';
import { authHeaderName, deriveAuthKey, signRequest } from '../../src/control/auth.js';
import { ConnectionAdmission } from '../../src/control/admission.js';
import { FailureLimiter } from '../../src/control/failure-limit.js';
import { OperatorAuth, operatorHeaderName, operatorProof } from '../../src/control/operator-auth.js';
import type { ControlProviders } from '../../src/control/routes/route.js';
import { ControlServer, type ControlServerOptions } from '../../src/control/server.js';
import { Metrics } from '../../src/metrics/registry.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';

const secret = new Secret('cluster-secret-for-hostile-tests-0123456789');
const key = deriveAuthKey(secret);
const token = new Secret('operator-token-for-hostile-tests-0123456789');
const certP = selfSignedCert();
const servers: ControlServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

const opsCalls: string[] = [];
const providers: ControlProviders = {
  health: () => ({ ok: true, members: 3 }),
  metricsText: () => '',
  status: () => {
    opsCalls.push('status');
    return { node: { name: 'srv', addresses: ['198.19.0.1/16'] }, peers: [] };
  },
  membership: {
    self: () => ({}) as never,
    handleJoin: () => Promise.reject(new Error('unused')),
    handleGossip: async () => ({ type: 'ack', from: 'srv', updates: [] }) as never,
  },
  ops: {
    peers: () => (opsCalls.push('peers'), []),
    ping: async () => (opsCalls.push('ping'), {}),
    reload: async () => (opsCalls.push('reload'), { ok: true }),
    events: () => (opsCalls.push('events'), []),
    rotateKey: async () => (opsCalls.push('rotate'), { ok: true, check: true }),
  },
};

async function serve(
  o: Partial<ControlServerOptions> = {},
): Promise<{ s: ControlServer; port: number; cert: TestCert }> {
  const cert = await certP;
  const s = new ControlServer({
    nodeId: 'srv',
    secret,
    tls: { cert: cert.cert, key: new Secret(cert.key) },
    host: '127.0.0.1',
    port: 0,
    providers,
    ...o,
  });
  servers.push(s);
  const { port } = await s.start();
  return { s, port, cert };
}

/** A TLS connection from `from` (a loopback address), open and handshaken, or the error that closed it. */
function tlsOpen(port: number, from = '127.0.0.2', allowHalfOpen = false): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen reaches the underlying socket, though ConnectionOptions does not declare it.
    const opts: ConnectionOptions = { host: '127.0.0.1', port, rejectUnauthorized: false };
    const sock = connect(Object.assign(opts, { localAddress: from, allowHalfOpen }));
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
    sock.once('close', () => reject(new Error('closed before the handshake')));
  });
}

/** What the server sends on `sock` within `ms` (until it closes), or 'silent'. */
function answer(sock: TLSSocket, ms: number): Promise<{ text: string; closed: boolean } | 'silent'> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text ? { text, closed: false } : 'silent'), ms);
    sock.on('data', (d: Buffer) => (text += d.toString()));
    sock.on('error', () => undefined);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

const signed = (method: string, path: string, body: Buffer, over: { from?: string; to?: string } = {}) =>
  signRequest(key, { method, path, body, from: over.from ?? 'peer-1', to: over.to ?? 'srv', now: Date.now() });

function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

const until = async (f: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return f();
};

test('no auth header: 401 and the connection closed at once, before any body byte is read', async () => {
  const { s, port } = await serve();
  const sock = await tlsOpen(port);
  sock.write(head('POST', '/v1/gossip', { 'content-length': 1_048_576, 'content-type': 'application/json' }));
  sock.write(Buffer.alloc(1000, 0x20)); // a little of the promised megabyte, then nothing
  const r = await answer(sock, 2000);
  assert.ok(r !== 'silent' && r.text.startsWith('HTTP/1.1 401'), JSON.stringify(r));
  assert.ok(r.closed, 'connection closed');
  assert.equal(s.load.bodyBytes, 0, 'nothing reserved for the body');
  sock.destroy();
});

test('a valid header is checked before the body: the body is then read under the budget', async () => {
  const { s, port } = await serve();
  const body = Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-1', updates: [] }));
  const a = signed('POST', '/v1/gossip', body);
  const sock = await tlsOpen(port);
  sock.write(head('POST', '/v1/gossip', { [authHeaderName]: a.header, 'content-length': body.length }));
  assert.equal(await answer(sock, 300), 'silent', 'waits for the body');
  assert.equal(s.load.bodyBytes, body.length, 'the declared length is reserved');
  const r = answer(sock, 2000);
  sock.write(body);
  const got = await r;
  assert.ok(got !== 'silent' && got.text.startsWith('HTTP/1.1 200'), JSON.stringify(got));
  assert.equal(s.load.bodyBytes, 0, 'released');
  sock.destroy();
});

test('a request for another node id looks exactly like a bad signature (answer, timing, counter)', async () => {
  const metrics = new Metrics();
  const { port } = await serve({ metrics });
  const body = Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-1', updates: [] }));
  const wrongTo = signed('POST', '/v1/gossip', body, { to: 'not-srv' }).header;
  const badSig = signRequest(deriveAuthKey(new Secret('x'.repeat(40))), {
    method: 'POST',
    path: '/v1/gossip',
    body,
    from: 'peer-1',
    to: 'srv',
    now: Date.now(),
  }).header;
  const outcomes: string[] = [];
  for (const h of [wrongTo, badSig]) {
    // Body withheld: neither is answered before the body (no "wrong id" shortcut to time).
    const sock = await tlsOpen(port);
    sock.write(head('POST', '/v1/gossip', { [authHeaderName]: h, 'content-length': body.length }));
    assert.equal(await answer(sock, 300), 'silent');
    const r = answer(sock, 2000);
    sock.write(body);
    const got = await r;
    assert.ok(got !== 'silent');
    outcomes.push(got.text.replace(/^date: .*$/im, '').replace(/\r\n\r\n[\s\S]*$/, (m) => m));
    sock.destroy();
  }
  assert.equal(outcomes[0], outcomes[1], 'same answer');
  assert.match(outcomes[0]!, /^HTTP\/1.1 401/);
  assert.equal(await metrics.value('control_auth_failures_total', { reason: 'bad_signature' }), 2);
  assert.equal(await metrics.value('control_auth_failures_total', { reason: 'wrong_recipient' }), 0);
});

test('body bytes in flight are capped across connections: beyond the budget 503, and it is released', async () => {
  const { s, port } = await serve({ maxBodyBytesInFlight: 250_000 });
  const body = Buffer.alloc(100_000, 0x20);
  const held: TLSSocket[] = [];
  const statuses: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = signed('POST', '/v1/gossip', body);
    const sock = await tlsOpen(port);
    held.push(sock);
    sock.write(head('POST', '/v1/gossip', { [authHeaderName]: a.header, 'content-length': body.length }));
    sock.write(body.subarray(0, 1000));
    const r = await answer(sock, 300);
    statuses.push(r === 'silent' ? 'waiting' : r.text.slice(9, 12));
  }
  assert.deepEqual(statuses, ['waiting', 'waiting', '503']);
  assert.equal(s.load.bodyBytes, 200_000);
  for (const h of held) h.destroy();
  assert.ok(await until(() => s.load.bodyBytes === 0), 'reservations end with their connections');
});

test('per-source connection cap, and the reserve only sources that authenticated may use', async () => {
  const { s, port } = await serve({ maxConnections: 12, maxConnectionsPerSource: 5, reservedConnections: 4 });
  const held: TLSSocket[] = [];
  const open = async (from: string) => {
    try {
      const sock = await tlsOpen(port, from);
      held.push(sock);
      // Admission is decided at accept; a refused socket is closed right after the handshake attempt.
      return (await answer(sock, 150)) === 'silent' ? 'open' : 'closed';
    } catch {
      return 'closed';
    }
  };
  // One source: 5 connections, the 6th refused.
  const one: string[] = [];
  for (let i = 0; i < 6; i++) one.push(await open('127.0.0.2'));
  assert.deepEqual(one, ['open', 'open', 'open', 'open', 'open', 'closed']);
  // Unknown sources fill what is left outside the reserve (12 - 4 = 8): 3 more, then refused.
  const more = [await open('127.0.0.3'), await open('127.0.0.3'), await open('127.0.0.3'), await open('127.0.0.4')];
  assert.deepEqual(more, ['open', 'open', 'open', 'closed']);
  assert.equal(s.load.connections, 8);
  // A source that authenticated before gets a reserved slot.
  const member = await tlsOpen(port, '127.0.0.5').catch(() => undefined);
  assert.equal(member, undefined, 'not yet known: refused like any stranger');
  await new Promise((r) => setTimeout(r, 50));
  // Mark 127.0.0.5 as known through a signed request made while a slot was free.
  held.pop()?.destroy();
  held.pop()?.destroy();
  assert.ok(await until(() => s.load.connections === 6));
  const body = Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-1', updates: [] }));
  const sock = await tlsOpen(port, '127.0.0.5');
  const a = signed('POST', '/v1/gossip', body);
  sock.write(head('POST', '/v1/gossip', { [authHeaderName]: a.header, 'content-length': body.length }));
  sock.write(body);
  const r = await answer(sock, 2000);
  assert.ok(r !== 'silent' && r.text.startsWith('HTTP/1.1 200'));
  held.push(sock);
  // Strangers take the free slots again; the member still gets in from the reserve.
  assert.deepEqual(
    [await open('127.0.0.6'), await open('127.0.0.6'), await open('127.0.0.6')],
    ['open', 'closed', 'closed'],
  );
  assert.equal(await open('127.0.0.5'), 'open', 'known source uses the reserve');
  for (const h of held) h.destroy();
  assert.ok(await until(() => s.load.connections === 0), 'every slot released on close');
});

test('ConnectionAdmission: per-source cap, reserve for known and local sources, forgetting known ones', () => {
  const a = new ConnectionAdmission({ max: 6, perSource: 3, reserve: 2, knownTtlMs: 1000, knownMax: 2 });
  assert.deepEqual(
    [1, 2, 3, 4].map(() => a.admit('x', 0)),
    ['ok', 'ok', 'ok', 'per_source'],
  );
  assert.deepEqual([a.admit('y', 0), a.admit('y', 0)], ['ok', 'full']);
  assert.equal(a.admit('z', 0, true), 'ok', 'this host itself may use the reserve');
  a.markKnown('k', 0);
  assert.equal(a.admit('k', 10), 'ok');
  assert.equal(a.admit('k', 10), 'full', 'max reached');
  a.release('x');
  assert.equal(a.admit('k', 2000), 'full', 'known status expired: no reserve');
  a.markKnown('k1', 0);
  a.markKnown('k2', 0);
  a.markKnown('k3', 0);
  assert.equal(a.isKnown('k1', 1), false, 'oldest known forgotten beyond knownMax');
});

test('a refused /v1/stream upgrade is destroyed even when the client never closes', async () => {
  const { s, port } = await serve({ streams: () => false });
  // Half-open allowed: this client never answers the server's FIN with its own.
  const sock = await tlsOpen(port, '127.0.0.2', true);
  sock.write(head('GET', '/v1/stream', { upgrade: 'tunmesh-stream', connection: 'Upgrade' }));
  // The client never sends its FIN: the server must close the socket itself (its slot is then free).
  const r = await answer(sock, 1500);
  assert.ok(r !== 'silent' && r.text.startsWith('HTTP/1.1 401'), JSON.stringify(r));
  assert.ok(await until(() => s.load.connections === 0), 'the server closed the socket and released its slot');
  sock.destroy();
});

const operatorRoutes: [string, string, string | undefined][] = [
  ['status', '/v1/status', undefined],
  ['peers', '/v1/peers', undefined],
  ['events', '/v1/events', undefined],
  ['ping', '/v1/ping', JSON.stringify({ node: 'n2', count: 1 })],
  ['reload', '/v1/reload', '{}'],
  ['rotate', '/v1/key/rotate', JSON.stringify({ check: true, operatorToken: token.expose() })],
];

async function call(
  port: number,
  path: string,
  text: string | undefined,
  o: { from: string; proof?: Secret<string>; source?: string },
) {
  const method = text === undefined ? 'GET' : 'POST';
  const body = Buffer.from(text ?? '');
  const a = signed(method, path, body, { from: o.from });
  const headers: Record<string, string | number> = {
    [authHeaderName]: a.header,
    'content-length': body.length,
    connection: 'close',
  };
  if (o.proof) headers[operatorHeaderName] = operatorProof(o.proof, a.sig);
  const sock = await tlsOpen(port, o.source);
  sock.write(head(method, path, headers));
  sock.write(body);
  const r = await answer(sock, 2000);
  sock.destroy();
  assert.ok(r !== 'silent');
  return { status: Number(r.text.slice(9, 12)), text: r.text };
}

test('operator routes refuse a member signature without the operator token, and serve it with the token', async () => {
  const metrics = new Metrics();
  const { port } = await serve({ operatorAuth: () => new OperatorAuth({ token }), metrics });
  opsCalls.length = 0;
  for (const [i, [name, path, text]] of operatorRoutes.entries()) {
    // Each from its own address: the failure limit per source is another test.
    const r = await call(port, path, text, { from: `member-${name}`, source: `127.0.1.${i + 1}` });
    assert.equal(r.status, 403, `${name} without the token`);
    assert.match(r.text, /OPERATOR_AUTH_FAILED/);
  }
  assert.deepEqual(opsCalls, [], 'no handler ran');
  for (const [name, path, text] of operatorRoutes) {
    const r = await call(port, path, text, { from: 'cli', proof: token });
    assert.equal(r.status, 200, `${name} with the token`);
  }
  assert.deepEqual(opsCalls, ['status', 'peers', 'events', 'ping', 'reload', 'rotate']);
  // A proof made with another token is no proof; member routes need none.
  assert.equal(
    (await call(port, '/v1/peers', undefined, { from: 'm', proof: new Secret('y'.repeat(40)) })).status,
    403,
  );
  assert.equal((await call(port, '/v1/addresses', undefined, { from: 'm' })).status, 200);
  assert.equal(await metrics.value('control_operator_failures_total', { outcome: 'wrong' }), 7);
});

test('without control.operatorTokenFile the operator routes answer 403 naming the key', async () => {
  const { port } = await serve();
  for (const [name, path, text] of operatorRoutes) {
    const r = await call(port, path, text, { from: 'cli', proof: token });
    assert.equal(r.status, 403, name);
    assert.match(r.text, /OPERATOR_TOKEN_REQUIRED.*control\.operatorTokenFile/s, name);
  }
});

test('failed operator-token checks are rate limited per signer and per source: then 429, token not compared', async () => {
  const { port } = await serve({ operatorAuth: () => new OperatorAuth({ token }) });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await call(port, '/v1/peers', undefined, { from: 'guesser' })).status);
  assert.deepEqual(statuses, [403, 403, 403, 403, 403, 429]);
  // Even the right token gets 429 now from this source, whoever signs.
  assert.equal((await call(port, '/v1/peers', undefined, { from: 'cli', proof: token })).status, 429);
});

test('FailureLimiter: a window per key, bounded table', () => {
  const f = new FailureLimiter({ maxFailures: 2, windowMs: 100, maxKeys: 2 });
  f.fail(['a'], 0);
  assert.equal(f.blocked(['a'], 1), false);
  f.fail(['a'], 1);
  assert.equal(f.blocked(['a'], 2), true);
  assert.equal(f.blocked(['b', 'a'], 2), true, 'any key blocked blocks');
  assert.equal(f.blocked(['a'], 101), false, 'the window moves on');
  f.fail(['b'], 0);
  f.fail(['c'], 0);
  f.fail(['c'], 0);
  f.fail(['d'], 0);
  assert.equal(f.blocked(['a'], 2), false, 'least recently failed key forgotten beyond maxKeys');
});

test('with control.metricsListen the API port answers 404 for /metrics, even with the operator token', async () => {
  const { port } = await serve({ metricsOnApi: false, operatorAuth: () => new OperatorAuth({ token }) });
  const sock = await tlsOpen(port, '127.0.0.9');
  sock.write(head('GET', '/metrics', { authorization: `Bearer ${token.expose()}`, connection: 'close' }));
  const r = await answer(sock, 2000);
  assert.ok(r !== 'silent' && r.text.startsWith('HTTP/1.1 404'), JSON.stringify(r));
  sock.destroy();
});
