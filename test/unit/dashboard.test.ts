// The dashboard behind operator-token auth: 401 without the token (page and data API), Bearer and the
// session cookie (login form, ?token= exchange) let in, 404 + hint when no token is configured, the
// vendored libraries are served from node_modules, and the session cookie is HttpOnly/Secure/Strict.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { Secret } from '../../src/base/secret.js';
import { ControlServer } from '../../src/control/server.js';
import { OperatorAuth, parseCookies, sessionCookieName } from '../../src/control/operator-auth.js';
import { DashboardHandler } from '../../src/control/routes/dashboard.js';
import { selfSignedCert } from '../helpers/tls.js';

const token = 'operator-token-0123456789-abcdefghijklmnop';
let server: ControlServer;
let base = '';
let auth: OperatorAuth | undefined = new OperatorAuth({ token: new Secret(token) });
let enabled = true;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(path: string, headers: Record<string, string> = {}, method = 'GET', body = ''): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  const cert = await selfSignedCert();
  const dashboard = new DashboardHandler({
    auth: () => auth,
    enabled: () => enabled,
    overview: async () => ({ node: { name: 'n1' }, topology: { nodes: [], links: [] } }),
    history: () => ({ n2: [{ t: 1, rxBps: 1, txBps: 2, rttMs: 0.5 }] }),
    events: (after) => [{ seq: after + 1, type: 'join', peer: 'n2' }],
  });
  server = new ControlServer({
    nodeId: 'n1',
    secret: new Secret('cluster-secret-cluster-secret-cluster-secret'),
    tls: { cert: cert.cert, key: new Secret(cert.key) },
    host: '127.0.0.1',
    port: 0,
    dashboard,
    providers: {
      health: () => ({ ok: true }),
      metricsText: () => '',
      status: () => ({}),
      membership: {
        self: () => {
          throw new Error('unused');
        },
        handleJoin: () => Promise.reject(new Error('unused')),
        handleGossip: () => Promise.reject(new Error('unused')),
      },
    },
  });
  const a = await server.start();
  base = `https://127.0.0.1:${a.port}`;
});

after(() => server.stop());

test('without the token the page and the data API answer 401', async () => {
  const page = await get('/ui/');
  assert.equal(page.status, 401);
  assert.match(page.body, /<form method="post" action="\/ui\/login">/);
  for (const p of [
    '/ui/api/overview',
    '/ui/api/history',
    '/ui/api/events',
    '/ui/app.js',
    '/ui/vendor/cytoscape.min.js',
  ]) {
    const r = await get(p);
    assert.equal(r.status, 401, p);
    assert.doesNotMatch(r.body, /n2|cytoscape/);
  }
  const wrong = await get('/ui/api/overview', { authorization: `Bearer ${token}x` });
  assert.equal(wrong.status, 401);
  const cluster = await get('/ui/api/overview', {
    authorization: 'Bearer cluster-secret-cluster-secret-cluster-secret',
  });
  assert.equal(cluster.status, 401);
  const forged = await get('/ui/api/overview', { cookie: `${sessionCookieName}=99999999999999.AAAA` });
  assert.equal(forged.status, 401);
});

test('Bearer token opens the data API and the page; security headers are set', async () => {
  const r = await get('/ui/api/overview', { authorization: `Bearer ${token}` });
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { node: { name: string } }).node.name, 'n1');
  const ev = await get('/ui/api/events?after=7', { authorization: `Bearer ${token}` });
  assert.deepEqual(JSON.parse(ev.body), [{ seq: 8, type: 'join', peer: 'n2' }]);
  const page = await get('/ui/', { authorization: `Bearer ${token}` });
  assert.equal(page.status, 200);
  assert.match(page.body, /vendor\/cytoscape\.min\.js/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
});

test('vendored libraries are served from their npm packages', async () => {
  const h = { authorization: `Bearer ${token}` };
  const cy = await get('/ui/vendor/cytoscape.min.js', h);
  assert.equal(cy.status, 200);
  assert.match(cy.body, /cytoscape/);
  const up = await get('/ui/vendor/uPlot.iife.min.js', h);
  assert.equal(up.status, 200);
  assert.match(up.body, /uPlot/);
  assert.equal((await get('/ui/vendor/../../package.json', h)).status, 404);
  assert.equal((await get('/ui/nothing.js', h)).status, 404);
});

test('login form sets an HttpOnly, Secure, SameSite=Strict session cookie that opens the API', async () => {
  const bad = await get('/ui/login', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'token=nope');
  assert.equal(bad.status, 401);
  assert.equal(bad.headers['set-cookie'], undefined);
  const ok = await get(
    '/ui/login',
    { 'content-type': 'application/x-www-form-urlencoded' },
    'POST',
    `token=${encodeURIComponent(token)}`,
  );
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/ui/');
  const setCookie = String(ok.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /Secure/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.ok(!setCookie.includes(token), 'the cookie is not the token');
  const value = parseCookies(setCookie.split(';')[0]).get(sessionCookieName)!;
  const r = await get('/ui/api/overview', { cookie: `${sessionCookieName}=${value}` });
  assert.equal(r.status, 200);
  // A tampered cookie is refused.
  const tampered = await get('/ui/api/overview', { cookie: `${sessionCookieName}=${value.slice(0, -2)}xx` });
  assert.equal(tampered.status, 401);
});

test('?token= is exchanged for a cookie and removed from the URL', async () => {
  const r = await get(`/ui/?token=${encodeURIComponent(token)}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/ui/');
  assert.match(String(r.headers['set-cookie']), new RegExp(`^${sessionCookieName}=`));
  assert.equal((await get('/ui/?token=wrong')).status, 401);
});

test('a new token ends old sessions; no token or dashboard off = 404 with a hint', async () => {
  const cookie = `${sessionCookieName}=${auth!.newSession()}`;
  assert.equal((await get('/ui/api/overview', { cookie })).status, 200);
  auth = new OperatorAuth({ token: new Secret(`${token}-rotated`) });
  assert.equal((await get('/ui/api/overview', { cookie })).status, 401);
  auth = undefined;
  const off = await get('/ui/');
  assert.equal(off.status, 404);
  assert.match(off.body, /control\.operatorTokenFile/);
  auth = new OperatorAuth({ token: new Secret(token) });
  enabled = false;
  assert.equal((await get('/ui/api/overview', { authorization: `Bearer ${token}` })).status, 404);
  enabled = true;
});

test('sessions expire', () => {
  let now = 1_000_000;
  const a = new OperatorAuth({ token: new Secret(token), sessionMs: 1000, wallNow: () => now });
  const s = a.newSession();
  assert.ok(a.sessionValid(s));
  now += 1001;
  assert.ok(!a.sessionValid(s));
  assert.ok(!a.sessionValid('garbage'));
  assert.ok(!a.sessionValid('.'));
});

test('logout ends the session on the node: the same cookie no longer opens anything', async () => {
  const cookie = `${sessionCookieName}=${auth!.newSession()}`;
  assert.equal((await get('/ui/api/overview', { cookie })).status, 200);
  const out = await get('/ui/logout', { cookie }, 'POST');
  assert.equal(out.status, 303);
  assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
  assert.equal((await get('/ui/api/overview', { cookie })).status, 401, 'a copied cookie is dead after logout');
});

test('a restart (a new OperatorAuth, same token) ends every session: sessions live on the node only', () => {
  const a = new OperatorAuth({ token: new Secret(token) });
  const s = a.newSession();
  assert.ok(a.sessionValid(s));
  assert.ok(!new OperatorAuth({ token: new Secret(token) }).sessionValid(s));
  a.endAllSessions();
  assert.ok(!a.sessionValid(s));
});

// Last in this file: it spends the failure budget of 127.0.0.1.
test('wrong tokens are rate limited per source: then even the right token gets 429 for a while', async () => {
  let status = 0;
  let wrong = 0;
  for (; wrong < 10; wrong++) {
    status = (await get('/ui/api/overview', { authorization: `Bearer wrong-${wrong}-${'x'.repeat(32)}` })).status;
    if (status === 429) break;
  }
  assert.equal(status, 429, 'blocked within 10 wrong tokens');
  assert.ok(wrong <= 5, `blocked after ${wrong} failures`);
  assert.equal((await get('/ui/api/overview', { authorization: `Bearer ${token}` })).status, 429);
  const login = await get(
    '/ui/login',
    { 'content-type': 'application/x-www-form-urlencoded' },
    'POST',
    `token=${token}`,
  );
  assert.equal(login.status, 429);
});
