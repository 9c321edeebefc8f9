// Runs inside a namespace (ip netns exec … node --import tsx test/helpers/hostile-probe.ts MODE …) and
// throws hostile input at a tunmesh node, printing one JSON line of what came back.
//
//   udp HOST PORT COUNT SEED   random datagrams + truncated/garbled handshake messages; counts replies
//   api URL SECRETFILE NODEID   unauthenticated, expired, future, replayed, wrongly signed, tampered requests
//   member-ops URL SECRETFILE NODEID [TOKENFILE]
//                               every operator route signed as member n2 (with the operator token when given)
//   metrics URL TOKENFILE       the node's packets_dropped_total by reason (TOKENFILE: bearer for /metrics)
//   metric URL NAME TOKENFILE   every series of metric NAME: {labels text: value}
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Secret } from '../../src/base/secret.js';
import { authHeaderName, deriveAuthKey, signRequest } from '../../src/control/auth.js';
import { operatorHeaderName, operatorProof } from '../../src/control/operator-auth.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** A datagram that looks like WireGuard at a glance but is wrong: every kind a parser must survive. */
function hostileDatagram(i: number, r: () => number): Buffer {
  const sizes = [148, 92, 64, 32];
  const kind = i % 6;
  const len =
    kind === 0
      ? Math.floor(r() * 1500)
      : kind === 5
        ? sizes[Math.floor(r() * 4)]! + (r() < 0.5 ? -1 : 1) * (1 + Math.floor(r() * 8))
        : sizes[kind - 1]! + (kind === 4 ? Math.floor(r() * 1400) : 0);
  const b = Buffer.alloc(Math.max(0, len));
  for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
  if (b.length >= 4) {
    b[0] = kind === 0 ? b[0]! : kind === 5 ? 1 + (i % 4) : kind;
    if (kind !== 0) b[1] = b[2] = b[3] = 0;
  }
  return b;
}

async function udpMode(host: string, port: number, count: number, seed: number): Promise<void> {
  const r = rng(seed);
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let replies = 0;
  // Datagrams whose 4-byte header is no WireGuard type (type 1–4 followed by three zero bytes), by the
  // protocol's definition, counted here independently of the node's parser: each must be an unknown_type drop.
  let unknownType = 0;
  sock.on('message', () => replies++);
  sock.on('error', () => undefined);
  await new Promise<void>((res) => sock.bind(0, res));
  for (let i = 0; i < count; i++) {
    const d = hostileDatagram(i, r);
    if (d.length >= 4 && !(d[0]! >= 1 && d[0]! <= 4 && d[1] === 0 && d[2] === 0 && d[3] === 0)) unknownType++;
    sock.send(d, port, host);
    // Paced so the receiver's socket buffer never overflows: every datagram must be seen and counted.
    if (i % 200 === 199) await new Promise((res) => setTimeout(res, 20));
  }
  await new Promise((res) => setTimeout(res, 1500));
  sock.close();
  console.log(JSON.stringify({ sent: count, replies, unknownType }));
}

function httpsCall(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<number> {
  return new Promise((res) => {
    const req = request(new URL(path, url), { method, headers, rejectUnauthorized: false, timeout: 5000 }, (resp) => {
      resp.resume();
      resp.on('end', () => res(resp.statusCode ?? 0));
    });
    req.on('error', () => res(-1));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

/**
 * Declares a body larger than the limit and sends only the headers: the server must refuse from the
 * declared length alone. (Streaming the whole body races the server closing the connection after its
 * 413, which the client may see as a reset instead of the answer.)
 */
function declaredOversize(url: string, path: string, bytes: number, auth: string): Promise<number> {
  return new Promise((res) => {
    const req = request(new URL(path, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(bytes), [authHeaderName]: auth },
      rejectUnauthorized: false,
      timeout: 5000,
    });
    req.on('response', (resp) => {
      res(resp.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', () => res(-1));
    req.on('timeout', () => req.destroy());
    req.flushHeaders();
  });
}

async function apiMode(url: string, secretFile: string, nodeId: string): Promise<void> {
  const key = deriveAuthKey(new Secret(readFileSync(secretFile, 'utf8').trim()));
  const wrongKey = deriveAuthKey(new Secret('x'.repeat(40)));
  // A member route: signed requests are served without the operator token.
  const path = '/v1/node';
  const sign = (k = key, now = Date.now(), p = path, nonce?: string) =>
    signRequest(k, {
      method: 'GET',
      path: p,
      body: new Uint8Array(0),
      from: 'probe',
      to: nodeId,
      now,
      ...(nonce && { nonce }),
    }).header;
  const results: Record<string, number> = {};
  results.valid = await httpsCall(url, 'GET', path, { [authHeaderName]: sign() });
  results.unauthenticated = await httpsCall(url, 'GET', path, {});
  results.garbled = await httpsCall(url, 'GET', path, { [authHeaderName]: 'v1 from=probe sig=nope' });
  results.wrongSecret = await httpsCall(url, 'GET', path, { [authHeaderName]: sign(wrongKey) });
  results.expired = await httpsCall(url, 'GET', path, { [authHeaderName]: sign(key, Date.now() - 120_000) });
  results.future = await httpsCall(url, 'GET', path, { [authHeaderName]: sign(key, Date.now() + 120_000) });
  results.tamperedPath = await httpsCall(url, 'GET', '/v1/addresses', { [authHeaderName]: sign() });
  const once = sign();
  results.first = await httpsCall(url, 'GET', path, { [authHeaderName]: once });
  results.replayed = await httpsCall(url, 'GET', path, { [authHeaderName]: once });
  const body = Buffer.from('{}');
  const joinSig = signRequest(key, {
    method: 'POST',
    path: '/v1/join',
    body,
    from: 'probe',
    to: nodeId,
    now: Date.now(),
  });
  results.tamperedBody = await httpsCall(
    url,
    'POST',
    '/v1/join',
    { [authHeaderName]: joinSig.header, 'content-type': 'application/json' },
    Buffer.from('{"x":1}'),
  );
  results.randomPath = await httpsCall(url, 'GET', '/registrations', {});
  const joinAuth = signRequest(key, {
    method: 'POST',
    path: '/v1/join',
    body,
    from: 'probe',
    to: '*',
    now: Date.now(),
  });
  results.oversized = await declaredOversize(url, '/v1/join', 2 * 1024 * 1024, joinAuth.header);
  results.health = await httpsCall(url, 'GET', '/health', {});
  console.log(JSON.stringify(results));
}

/** Every operator route, signed by member `n2` with the cluster secret; the operator proof only with a token. */
async function memberOpsMode(url: string, secretFile: string, nodeId: string, tokenFile?: string): Promise<void> {
  const key = deriveAuthKey(new Secret(readFileSync(secretFile, 'utf8').trim()));
  const token = tokenFile ? new Secret(readFileSync(tokenFile, 'utf8').trim()) : undefined;
  const calls: [string, string, string | undefined][] = [
    ['reload', '/v1/reload', '{}'],
    ['ping', '/v1/ping', JSON.stringify({ node: 'n2', count: 1, timeoutMs: 500 })],
    ['events', '/v1/events', undefined],
    ['peers', '/v1/peers', undefined],
    ['status', '/v1/status', undefined],
    ['keyRotate', '/v1/key/rotate', JSON.stringify({ check: true, operatorToken: 'x'.repeat(40) })],
  ];
  const results: Record<string, number> = {};
  for (const [name, path, text] of calls) {
    const method = text === undefined ? 'GET' : 'POST';
    const body = Buffer.from(text ?? '');
    const s = signRequest(key, { method, path, body, from: 'n2', to: nodeId, now: Date.now() });
    const headers: Record<string, string> = { [authHeaderName]: s.header, 'content-type': 'application/json' };
    if (token) headers[operatorHeaderName] = operatorProof(token, s.sig);
    results[name] = await httpsCall(url, method, path, headers, text === undefined ? undefined : body);
  }
  console.log(JSON.stringify(results));
}

function scrape(url: string, tokenFile: string): Promise<string> {
  const authorization = `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`;
  return new Promise<string>((res, rej) => {
    request(new URL('/metrics', url), { rejectUnauthorized: false, headers: { authorization } }, (resp) => {
      let s = '';
      resp.on('data', (d: Buffer) => (s += d.toString()));
      resp.on('end', () => res(s));
    })
      .on('error', rej)
      .end();
  });
}

async function metricMode(url: string, name: string, tokenFile: string): Promise<void> {
  const text = await scrape(url, tokenFile);
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^([a-z_0-9]+)(\{[^}]*\})? (\S+)$/gm))
    if (m[1] === name) out[m[2] ?? ''] = Number(m[3]);
  console.log(JSON.stringify(out));
}

async function metricsMode(url: string, tokenFile: string): Promise<void> {
  const text = await scrape(url, tokenFile);
  const drops: Record<string, number> = {};
  for (const m of text.matchAll(/^tunmesh_packets_dropped_total\{reason="([a-z_0-9]+)"\} (\d+(?:\.\d+)?)$/gm))
    drops[m[1]!] = Number(m[2]);
  console.log(JSON.stringify(drops));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'udp') await udpMode(args[0]!, Number(args[1]), Number(args[2]), Number(args[3] ?? 1));
else if (mode === 'api') await apiMode(args[0]!, args[1]!, args[2]!);
else if (mode === 'member-ops') await memberOpsMode(args[0]!, args[1]!, args[2]!, args[3]);
else if (mode === 'metrics') await metricsMode(args[0]!, args[1]!);
else if (mode === 'metric') await metricMode(args[0]!, args[1]!, args[2]!);
else throw new Error(`unknown mode ${mode}`);
