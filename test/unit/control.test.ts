// The control API over real TLS on 127.0.0.1: what unauthenticated and malformed requests get, the
// open routes, and the client's verification of responses.
import { keyedAuth } from '../helpers/record-keys.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { auth } from '../../src/base/constants.js';
import { Secret } from '../../src/base/secret.js';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient } from '../../src/control/client.js';
import { OperatorAuth } from '../../src/control/operator-auth.js';
import { authHeaderName, deriveAuthKey, signRequest, signResponse } from '../../src/control/auth.js';
import type { GossipRequest, JoinReply, MembershipHandler, Reply } from '../../src/membership/messages.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { Metrics } from '../../src/metrics/registry.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';

const secretText = 'cluster-secret-for-tests-0123456789abcdef';
const secret = new Secret(secretText);
const key = deriveAuthKey(secret);
const wrongKey = deriveAuthKey(new Secret('not-the-cluster-secret-0123456789abcdef'));
const operatorToken = new Secret('operator-token-for-tests-0123456789abcdef');
const scrapeToken = new Secret('scrape-token-for-tests-0123456789abcdef');

// Signed like every record on the wire (the join and node routes' schema requires sigKey and sig).
const record = (id: string): NodeRecord =>
  keyedAuth(1).sign({
    id,
    epoch: 1,
    version: 0,
    publicKey: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=',
    addresses: ['198.19.0.1/16'],
    endpoints: ['198.18.0.1:51820'],
    apiUrl: 'https://127.0.0.1:1/',
    methods: ['wireguard'],
    routes: [],
  });

let cert: TestCert;
let server: ControlServer;
let base: string;
let healthy = true;
const operatorAuthNow = new OperatorAuth({ token: operatorToken });
const metrics = new Metrics();
const calls: string[] = [];

const membership: MembershipHandler = {
  self: () => record('srv'),
  async handleJoin(r, from): Promise<JoinReply> {
    calls.push(`join:${from}`);
    return { type: 'join-reply', self: record('srv'), members: [record('peer-1'), r] };
  },
  async handleGossip(msg: GossipRequest, from): Promise<Reply> {
    calls.push(`${msg.type}:${from}`);
    return { type: 'ack', from: 'srv', updates: [] };
  },
};

before(async () => {
  cert = await selfSignedCert();
  server = new ControlServer({
    nodeId: 'srv',
    secret,
    tls: { cert: cert.cert, key: new Secret(cert.key) },
    host: '127.0.0.1',
    port: 0,
    metrics,
    operatorAuth: () => operatorAuthNow,
    scrapeToken: () => scrapeToken,
    providers: {
      health: () => ({ ok: healthy, membership: { joined: healthy } }),
      metricsText: () => metrics.text(),
      status: () => {
        calls.push('status');
        return { node: record('srv'), peers: [] };
      },
      membership,
    },
  });
  const { port } = await server.start();
  base = `https://127.0.0.1:${port}`;
});

after(async () => {
  await server.stop();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTPS request, no agent reuse, trusting the test cert. */
function raw(
  method: string,
  path: string,
  opts: { headers?: Record<string, string | number>; body?: Buffer | string; chunks?: Buffer[] } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, ca: cert.cert, agent: false, headers: opts.headers ?? {}, checkServerIdentity: () => undefined },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

function signedHeaders(
  method: string,
  path: string,
  body: Buffer,
  over: Partial<Parameters<typeof signRequest>[1]> = {},
  k = key,
) {
  const { header } = signRequest(k, { method, path, body, from: 'peer-1', to: 'srv', now: Date.now(), ...over });
  return { [authHeaderName]: header, 'content-type': 'application/json' };
}

const gossipBody = Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-1', updates: [] }));

async function stillUp(): Promise<void> {
  const h = await raw('GET', '/health');
  assert.equal(h.status, 200);
}

test('/health says only ok / not ok without credentials; the breakdown needs the operator or scrape token', async () => {
  const ok = await raw('GET', '/health');
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { ok: true });
  const full = await raw('GET', '/health', { headers: { authorization: `Bearer ${operatorToken.expose()}` } });
  assert.deepEqual(JSON.parse(full.body), { ok: true, membership: { joined: true } });
  const scraper = await raw('GET', '/health', { headers: { authorization: `Bearer ${scrapeToken.expose()}` } });
  assert.deepEqual(JSON.parse(scraper.body), { ok: true, membership: { joined: true } });
  const wrong = await raw('GET', '/health', { headers: { authorization: `Bearer ${'w'.repeat(40)}` } });
  assert.deepEqual(JSON.parse(wrong.body), { ok: true });
  healthy = false;
  const bad = await raw('GET', '/health');
  healthy = true;
  assert.equal(bad.status, 503);
  assert.deepEqual(JSON.parse(bad.body), { ok: false });
});

test('/live answers {"ok":true} without credentials, whatever the health', async () => {
  healthy = false;
  const live = await raw('GET', '/live');
  healthy = true;
  assert.equal(live.status, 200);
  assert.deepEqual(JSON.parse(live.body), { ok: true });
});

test('/metrics needs a bearer token (scrape or operator); without one 401 with a hint and no metric', async () => {
  for (const t of [scrapeToken, operatorToken]) {
    const m = await raw('GET', '/metrics', { headers: { authorization: `Bearer ${t.expose()}` } });
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /^text\/plain/);
    assert.match(m.body, /# TYPE tunmesh_control_requests_total counter/);
  }
  const none = await raw('GET', '/metrics');
  assert.equal(none.status, 401);
  assert.match(JSON.parse(none.body).hint, /control\.metricsTokenFile/);
  assert.ok(!none.body.includes('tunmesh_'));
});

test('a correctly signed gossip request is served and its response is signed', async () => {
  const r = await raw('POST', '/v1/gossip', {
    headers: signedHeaders('POST', '/v1/gossip', gossipBody),
    body: gossipBody,
  });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { type: 'ack', from: 'srv', updates: [] });
  assert.match(String(r.headers[authHeaderName]), /^v1 from=srv ts=\d+ nonce=\S+ sig=\S+$/);
});

test('every kind of bad authentication gets 401 with no detail, is counted, and never reaches a handler', async () => {
  const path = '/v1/gossip';
  const body = gossipBody;
  const valid = signedHeaders('POST', path, body);
  const cases: [string, Record<string, string | number>, Buffer][] = [
    ['missing', { 'content-type': 'application/json' }, body],
    ['malformed', { [authHeaderName]: 'v1 from=peer-1 garbage', 'content-type': 'application/json' }, body],
    ['expired', signedHeaders('POST', path, body, { now: Date.now() - auth.clockSkewMs - 5_000 }), body],
    ['future', signedHeaders('POST', path, body, { now: Date.now() + auth.clockSkewMs + 5_000 }), body],
    ['bad_signature', signedHeaders('POST', path, body, {}, wrongKey), body],
    ['bad_signature', valid, Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-1', updates: [], x: 1 }))],
    ['bad_signature', signedHeaders('POST', '/v1/join', body), body],
    // A request for another node id counts (and answers) as a bad signature: no oracle for node ids.
    ['bad_signature', signedHeaders('POST', path, body, { to: 'someone-else' }), body],
    ['bad_signature', signedHeaders('POST', path, body, { to: '*' }), body],
  ];
  const before = calls.length;
  for (const [reason, headers, b] of cases) {
    const failuresBefore = await metrics.value('control_auth_failures_total', { reason });
    const r = await raw('POST', path, { headers, body: b });
    assert.equal(r.status, 401, reason);
    assert.deepEqual(JSON.parse(r.body), { error: 'AUTH_FAILED' }, reason);
    assert.equal(r.headers[authHeaderName], undefined);
    assert.equal(await metrics.value('control_auth_failures_total', { reason }), failuresBefore + 1, reason);
  }
  // Replay: the first use is served, the second refused.
  const once = signedHeaders('POST', path, body);
  assert.equal((await raw('POST', path, { headers: once, body })).status, 200);
  const replay = await raw('POST', path, { headers: once, body });
  assert.equal(replay.status, 401);
  assert.equal(await metrics.value('control_auth_failures_total', { reason: 'replayed' }), 1);
  // Read routes too: no topology without the secret.
  for (const p of ['/v1/status', '/v1/node']) {
    const r = await raw('GET', p);
    assert.equal(r.status, 401, p);
    assert.ok(!r.body.includes('peer'), p);
  }
  assert.deepEqual(calls.slice(before), ['ping:peer-1']);
  await stillUp();
});

test('unknown paths and methods get 404 without detail, with or without auth', async () => {
  for (const [m, p] of [
    ['GET', '/'],
    ['GET', '/v1/registrations'],
    ['GET', '/tunmesh/control/v0/registrations'],
    ['POST', '/health'],
    ['GET', '/v1/gossip'],
    ['DELETE', '/v1/node'],
    ['GET', '/%2e%2e/etc/passwd'],
    ['GET', `/${'x'.repeat(2000)}`],
  ] as const) {
    const r = await raw(m, p, { headers: signedHeaders(m, p, Buffer.alloc(0)) });
    assert.equal(r.status, 404, `${m} ${p}`);
    assert.deepEqual(JSON.parse(r.body), { error: 'NOT_FOUND' });
  }
  await stillUp();
});

test('oversized bodies get 413, declared or streamed, and the server stays up', async () => {
  const big = Buffer.alloc(auth.maxBodyBytes + 1, 0x20);
  const declared = await raw('POST', '/v1/gossip', {
    headers: { ...signedHeaders('POST', '/v1/gossip', big), 'content-length': auth.maxBodyBytes + 1 },
    body: Buffer.alloc(auth.maxBodyBytes + 1, 0x20),
  }).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
  assert.equal(declared.status, 413);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const streamed = await raw('POST', '/v1/join', {
    headers: { ...signedHeaders('POST', '/v1/join', Buffer.alloc(0), { to: '*' }), 'transfer-encoding': 'chunked' },
    chunks: Array.from({ length: Math.ceil(auth.maxBodyBytes / chunk.length) + 2 }, () => chunk),
  }).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
  assert.equal(streamed.status, 413);
  await stillUp();
});

test('authenticated but non-JSON or schema-invalid bodies get 400', async () => {
  const bodies = [
    'not json',
    '{"type":"ping"}',
    '{"type":"ping","from":"peer-1","updates":[],"extra":1}',
    '[]',
    'null',
  ];
  for (const b of bodies) {
    const buf = Buffer.from(b);
    const r = await raw('POST', '/v1/gossip', { headers: signedHeaders('POST', '/v1/gossip', buf), body: buf });
    assert.equal(r.status, 400, b);
    assert.deepEqual(JSON.parse(r.body), { error: 'API_BAD_REQUEST' });
  }
  // A message whose sender differs from the signer.
  const spoof = Buffer.from(JSON.stringify({ type: 'ping', from: 'peer-2', updates: [] }));
  assert.equal(
    (await raw('POST', '/v1/gossip', { headers: signedHeaders('POST', '/v1/gossip', spoof), body: spoof })).status,
    400,
  );
  // A join whose record is someone else's.
  const join = Buffer.from(JSON.stringify(record('peer-2')));
  assert.equal(
    (await raw('POST', '/v1/join', { headers: signedHeaders('POST', '/v1/join', join, { to: '*' }), body: join }))
      .status,
    400,
  );
  await stillUp();
});

test('a request from this node itself gets 421', async () => {
  const b = Buffer.from(JSON.stringify(record('srv')));
  const r = await raw('POST', '/v1/join', {
    headers: signedHeaders('POST', '/v1/join', b, { from: 'srv', to: '*' }),
    body: b,
  });
  assert.equal(r.status, 421);
});

test('the client: join by URL, node, status and gossip, signed and verified; the CLI signs as "cli"', async () => {
  const client = await ControlClient.create({ nodeId: 'peer-1', secret, trust: cert.cert, timeoutMs: 5000 });
  try {
    const j = await client.join(base, record('peer-1'));
    assert.equal(j.self.id, 'srv');
    assert.deepEqual(
      j.members.map((m) => m.id),
      ['peer-1', 'peer-1'],
    );
    assert.equal((await client.node(base, 'srv')).id, 'srv');
    assert.deepEqual(
      await client.gossip({ ...record('srv'), apiUrl: base }, { type: 'ping', from: 'peer-1', updates: [] }),
      {
        type: 'ack',
        from: 'srv',
        updates: [],
      },
    );
    const cli = await ControlClient.create({
      nodeId: 'cli',
      secret: new Secret(Buffer.from(secretText)),
      trust: cert.cert,
      timeoutMs: 5000,
    });
    const status = await cli.request(base, { method: 'GET', path: '/v1/status', to: 'srv', operatorToken });
    assert.deepEqual(status.body, { node: record('srv'), peers: [] });
    cli.close();
    // Asking for the wrong node id fails (401 from the server); a member without the token gets 403.
    await assert.rejects(client.node(base, 'not-srv'), { code: 'AUTH_FAILED' });
    await assert.rejects(client.status(base, 'srv'), { code: 'AUTH_FAILED', message: /403 OPERATOR_AUTH_FAILED/ });
    const wrong = await ControlClient.create({
      nodeId: 'peer-1',
      secret: new Secret('wrong-secret-wrong-secret-wrong-secret'),
      trust: cert.cert,
      timeoutMs: 5000,
    });
    await assert.rejects(wrong.node(base, 'srv'), { code: 'AUTH_FAILED' });
    wrong.close();
  } finally {
    client.close();
  }
});

test('the client refuses a server it does not trust, and checks hostnames only when asked', async () => {
  const other = await selfSignedCert();
  const untrusting = await ControlClient.create({ nodeId: 'peer-1', secret, trust: other.cert, timeoutMs: 5000 });
  await assert.rejects(untrusting.node(base, 'srv'), { code: 'PEER_UNREACHABLE' });
  untrusting.close();
  const strict = await ControlClient.create({
    nodeId: 'peer-1',
    secret,
    trust: cert.cert,
    timeoutMs: 5000,
    checkHostname: true,
  });
  assert.equal((await strict.node(base, 'srv')).id, 'srv'); // the cert names 127.0.0.1
  strict.close();
});

/** A fake node that answers every request with a response it signs as `sign` says. */
async function fakeServer(sign: (nonce: string, body: Buffer) => { header?: string; body: Buffer }) {
  const srv = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const h = String(req.headers[authHeaderName] ?? '');
    const nonce = /nonce=(\S+)/.exec(h)?.[1] ?? '';
    req.resume();
    req.on('end', () => {
      const out = sign(nonce, Buffer.from(JSON.stringify(record('srv'))));
      res.setHeader('content-type', 'application/json');
      if (out.header) res.setHeader(authHeaderName, out.header);
      res.end(out.body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => srv.close() };
}

test('the client rejects responses that are unsigned, tampered, signed for another request, or by another key', async () => {
  const clientMetrics = new Metrics();
  const client = await ControlClient.create({
    nodeId: 'peer-1',
    secret,
    trust: cert.cert,
    timeoutMs: 5000,
    metrics: clientMetrics,
  });
  const sig = (k: typeof key, nonce: string, body: Buffer, from = 'srv') =>
    signResponse(k, { status: 200, requestNonce: nonce, from, to: 'peer-1', body, now: Date.now() });
  const variants: [string, (n: string, b: Buffer) => { header?: string; body: Buffer }][] = [
    ['unsigned', (_n, b) => ({ body: b })],
    [
      'tampered',
      (n, b) => ({ header: sig(key, n, b), body: Buffer.from(b.toString().replace('198.19.0.1', '198.19.6.6')) }),
    ],
    ['other request', (_n, b) => ({ header: sig(key, 'A'.repeat(22), b), body: b })],
    ['other key', (n, b) => ({ header: sig(wrongKey, n, b), body: b })],
    ['other responder', (n, b) => ({ header: sig(key, n, b, 'mallory'), body: b })],
  ];
  try {
    const good = await fakeServer((n, b) => ({ header: sig(key, n, b), body: b }));
    assert.equal((await client.node(good.url, 'srv')).id, 'srv', 'the fake server itself is fine when it signs');
    good.close();
    for (const [name, f] of variants) {
      const fake = await fakeServer(f);
      await assert.rejects(client.node(fake.url, 'srv'), { code: 'AUTH_FAILED' }, name);
      fake.close();
    }
    assert.equal(await clientMetrics.value('control_auth_failures_total', { reason: 'response_bad_signature' }), 3);
    assert.equal(await clientMetrics.value('control_auth_failures_total', { reason: 'response_missing' }), 1);
    assert.equal(await clientMetrics.value('control_auth_failures_total', { reason: 'response_wrong_recipient' }), 1);
  } finally {
    client.close();
  }
});

test('a slow client that never finishes its headers is cut off, and the server stays up', async () => {
  const tls = await import('node:tls');
  const slow = new ControlServer({
    nodeId: 'srv',
    secret,
    tls: { cert: cert.cert, key: cert.key },
    host: '127.0.0.1',
    port: 0,
    headersTimeoutMs: 200,
    requestTimeoutMs: 400,
    providers: { health: () => ({ ok: true }), metricsText: () => '', status: () => ({}), membership },
  });
  const { port } = await slow.start();
  try {
    const sock = tls.connect({ host: '127.0.0.1', port, ca: cert.cert, checkServerIdentity: () => undefined });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    const closed = new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.on('close', () => resolve(got));
    });
    sock.write('GET /health HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    const trickle = setInterval(() => sock.writable && sock.write('X-Slow: 1\r\n'), 50);
    const cap = new Promise<string>((r) => setTimeout(() => r('still open after 10 s'), 10_000));
    const got = await Promise.race([closed, cap]);
    clearInterval(trickle);
    sock.destroy();
    assert.notEqual(got, 'still open after 10 s');
    assert.ok(!got.includes('200 OK'));
    await stillUp();
  } finally {
    await slow.stop();
  }
});
