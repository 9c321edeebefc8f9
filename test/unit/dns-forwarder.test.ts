// The DNS forwarder against hostile networks (security review 2, finding 7): replies count only from the
// upstream's address and port with our id and question; each forwarded query carries a fresh random id;
// sources outside dns.allow get nothing. All sockets are on loopback (127.0.0.0/8 is all local).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { answersQuery, dnsAllowList, DnsResponder, sourceFilter, withId } from '../../src/daemon/dns.js';
import { dnsExposureWarnings } from '../../src/config/dns-exposure.js';
import { validateConfigData, type Config } from '../../src/config/index.js';

const lookup = () => undefined;
const log = pino({ level: 'silent' });

const query = (name: string, id: number, type: 'A' | 'AAAA' = 'A') =>
  dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });

const answerTo = (q: dnsPacket.Packet, data: string, name = q.questions![0]!.name) =>
  dnsPacket.encode({
    type: 'response',
    id: q.id,
    questions: [{ type: 'A', name }],
    answers: [{ type: 'A', name, data, ttl: 3600 }],
  });

const dataOf = (p: dnsPacket.Packet) => (p.answers?.[0] && 'data' in p.answers[0] ? p.answers[0].data : undefined);

async function bound(host: string, port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, host, r));
  return s;
}

/** Sends `packet` from `from` and returns the first reply, or undefined after `waitMs`. */
async function ask(dnsPort: number, packet: Buffer, from = '127.0.0.1', waitMs = 1500) {
  const s = await bound(from);
  try {
    return await new Promise<dnsPacket.Packet | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), waitMs);
      s.on('message', (m) => {
        clearTimeout(t);
        resolve(dnsPacket.decode(m));
      });
      s.send(packet, dnsPort, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

async function responder(upstreamPort: number, allow = ['127.0.0.0/8']) {
  const counts = { refused: 0, ignored: 0 };
  const dns = await DnsResponder.start(
    { listen: '127.0.0.1:0', domain: 'mesh.test', upstream: [`127.0.0.1:${upstreamPort}`], timeoutMs: 1000, allow },
    lookup,
    log,
    { refused: () => counts.refused++, replyIgnored: () => counts.ignored++ },
  );
  return { dns, counts };
}

test('answersQuery: a response with the same id and question only', () => {
  const sent = query('bank.example', 0x1234);
  const q = dnsPacket.decode(sent);
  assert.equal(answersQuery(answerTo(q, '198.18.5.5'), sent), true);
  assert.equal(answersQuery(answerTo(q, '198.18.5.5', 'BANK.example'), sent), true, '0x20 case is fine');
  assert.equal(answersQuery(answerTo(q, '198.18.5.5', 'other.example'), sent), false, 'other question');
  assert.equal(answersQuery(answerTo({ ...q, id: 0x1235 }, '198.18.5.5'), sent), false, 'other id');
  assert.equal(answersQuery(sent, sent), false, 'a query is no answer');
  assert.equal(answersQuery(Buffer.from([0x12, 0x34, 0x80]), sent), false, 'garbage');
  assert.equal(withId(sent, 7).readUInt16BE(0), 7);
  assert.equal(sent.readUInt16BE(0), 0x1234, 'withId copies');
});

test('a reply from another address (same port) is ignored; the upstream’s own answer reaches the client', async () => {
  // The real upstream on 127.0.0.1:P; the spoofer on 127.0.0.2:P, the same port on another address. The
  // stub sends the spoof first, then the real answer 150 ms later.
  const upstream = await bound('127.0.0.1');
  const port = upstream.address().port;
  const spoofer = await bound('127.0.0.2', port);
  upstream.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    spoofer.send(answerTo(q, '203.0.113.66'), r.port, r.address);
    setTimeout(() => upstream.send(answerTo(q, '198.18.5.5'), r.port, r.address), 150);
  });
  const { dns, counts } = await responder(port);
  try {
    const reply = await ask(dns.port, query('bank.example', 41));
    assert.equal(reply?.id, 41);
    assert.equal(dataOf(reply!), '198.18.5.5');
    assert.equal(counts.ignored, 1, 'the spoof was counted as ignored');
  } finally {
    dns.close();
    upstream.close();
    spoofer.close();
  }
});

test('a reply from the upstream with another question or id is ignored', async () => {
  const upstream = await bound('127.0.0.1');
  upstream.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    upstream.send(answerTo(q, '203.0.113.66', 'evil.example'), r.port, r.address);
    upstream.send(answerTo({ ...q, id: (q.id! + 1) & 0xffff }, '203.0.113.67'), r.port, r.address);
    setTimeout(() => upstream.send(answerTo(q, '198.18.5.5'), r.port, r.address), 100);
  });
  const { dns, counts } = await responder(upstream.address().port);
  try {
    const reply = await ask(dns.port, query('bank.example', 42));
    assert.equal(dataOf(reply!), '198.18.5.5');
    assert.equal(counts.ignored, 2);
  } finally {
    dns.close();
    upstream.close();
  }
});

test('each forwarded query gets a fresh random id; the client gets its own id back', async () => {
  const seen: number[] = [];
  const upstream = await bound('127.0.0.1');
  upstream.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    seen.push(q.id!);
    upstream.send(answerTo(q, '198.18.5.5'), r.port, r.address);
  });
  const { dns } = await responder(upstream.address().port);
  try {
    for (let i = 0; i < 8; i++) assert.equal((await ask(dns.port, query('app.example', 7)))?.id, 7);
    assert.equal(seen.length, 8);
    // 8 draws of 16 bits: all equal to the client's 7, or to each other, has odds of 2^-112.
    assert.ok(seen.some((id) => id !== 7));
    assert.ok(new Set(seen).size > 1, `ids ${seen.join(',')}`);
  } finally {
    dns.close();
    upstream.close();
  }
});

test('a source outside dns.allow gets no answer and is counted; an allowed one is served', async () => {
  const upstream = await bound('127.0.0.1');
  upstream.on('message', (m, r) => upstream.send(answerTo(dnsPacket.decode(m), '198.18.5.5'), r.port, r.address));
  const { dns, counts } = await responder(upstream.address().port, ['127.0.0.2/32']);
  try {
    assert.equal(await ask(dns.port, query('app.example', 9), '127.0.0.1', 400), undefined);
    assert.equal(await ask(dns.port, query('n1.mesh.test', 10), '127.0.0.1', 400), undefined, 'mesh names too');
    assert.equal(counts.refused, 2);
    assert.equal(dataOf((await ask(dns.port, query('app.example', 11), '127.0.0.2'))!), '198.18.5.5');
  } finally {
    dns.close();
    upstream.close();
  }
});

test('sourceFilter: CIDRs of both families; IPv4-mapped sources count as IPv4', () => {
  const ok = sourceFilter(['127.0.0.0/8', '::1/128', '198.19.0.0/16', 'fd00:19::/64']);
  for (const a of ['127.0.0.1', '::1', '198.19.3.4', '::ffff:198.19.3.4', 'fd00:19::9']) assert.ok(ok(a), a);
  for (const a of ['198.18.0.1', '::ffff:198.18.0.1', 'fd00:18::1', 'not-an-ip', '']) assert.ok(!ok(a), a);
});

function config(dns: Record<string, unknown>, addresses = ['198.19.0.1/16', 'fd00:19::1/64']): Config {
  const r = validateConfigData(
    {
      node: { name: 'a', addresses, privateKeyFile: '/k' },
      control: { tls: { certFile: '/c', keyFile: '/k2' } },
      cluster: { secretFile: '/s' },
      dns,
    },
    { baseDir: '/', checkFiles: false },
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  return r.config;
}

test('dns.allow defaults to loopback and the mesh prefixes; a list replaces the default', () => {
  assert.deepEqual(dnsAllowList(config({})), ['127.0.0.0/8', '::1/128', '198.19.0.1/16', 'fd00:19::1/64']);
  assert.deepEqual(dnsAllowList(config({ allow: ['10.1.0.0/16'] })), ['10.1.0.0/16']);
  const bad = validateConfigData(
    {
      node: { name: 'a', addresses: ['198.19.0.1/16'], privateKeyFile: '/k' },
      control: { tls: { certFile: '/c', keyFile: '/k2' } },
      cluster: { secretFile: '/s' },
      dns: { allow: ['10.1.0.0/99'] },
    },
    { baseDir: '/', checkFiles: false },
  );
  assert.ok(!bad.ok);
  assert.match(JSON.stringify(bad.issues), /dns\.allow\[0\]/);
});

test('config check warns when a forwarding dns.listen is beyond loopback and the overlay', () => {
  const up = { enabled: true, upstream: ['198.18.0.53:53'] };
  for (const listen of ['0.0.0.0:53', '198.18.0.1:53', '[::]:53']) {
    const w = dnsExposureWarnings(config({ ...up, listen }));
    assert.equal(w.length, 1, listen);
    assert.equal(w[0]!.path, 'dns.listen');
    assert.match(w[0]!.rule, /dns\.allow/);
  }
  for (const listen of ['127.0.0.53:53', '[::1]:53', '198.19.0.1:53', '[fd00:19::1]:53'])
    assert.deepEqual(dnsExposureWarnings(config({ ...up, listen })), [], listen);
  // Nothing forwarded (no upstream) or nothing listening: nothing to warn about.
  assert.deepEqual(dnsExposureWarnings(config({ enabled: true, listen: '0.0.0.0:53' })), []);
  assert.deepEqual(dnsExposureWarnings(config({ upstream: ['198.18.0.53:53'], listen: '0.0.0.0:53' })), []);
});
