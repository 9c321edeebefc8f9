import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import pino from 'pino';
import { decide, DnsResponder } from '../../src/daemon/dns.js';

const lookup = (name: string) =>
  ({ b: ['198.19.0.2', 'fd00:19::2'], a: ['198.19.0.1'] })[name] as readonly string[] | undefined;

const query = (name: string, type: 'A' | 'AAAA' | 'TXT', id = 7) =>
  dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });

/** The rcode dns-packet decodes (its types leave it out). */
const rcodeOf = (p: dnsPacket.Packet): string | undefined => (p as { rcode?: string }).rcode;

function answer(d: ReturnType<typeof decide>) {
  assert.equal(d.kind, 'answer');
  return dnsPacket.decode(d.kind === 'answer' ? d.reply : Buffer.alloc(0));
}

test('A and AAAA for <node>.<domain> come from the member records, case-insensitively', () => {
  const aaaa = answer(decide(query('B.Mesh.Test', 'AAAA'), 'mesh.test', lookup, false));
  assert.equal(aaaa.id, 7);
  assert.equal(rcodeOf(aaaa), 'NOERROR');
  assert.equal(aaaa.flag_aa, true);
  assert.deepEqual(
    aaaa.answers?.map((a) => [a.type, 'data' in a ? a.data : undefined]),
    [['AAAA', 'fd00:19::2']],
  );
  const a = answer(decide(query('b.mesh.test', 'A'), 'mesh.test', lookup, false));
  assert.deepEqual(
    a.answers?.map((x) => ('data' in x ? x.data : undefined)),
    ['198.19.0.2'],
  );
  // A node without IPv6: NOERROR and no answer (NODATA), not NXDOMAIN.
  const none = answer(decide(query('a.mesh.test', 'AAAA'), 'mesh.test', lookup, false));
  assert.equal(rcodeOf(none), 'NOERROR');
  assert.equal(none.answers?.length, 0);
});

test('unknown names in the domain get NXDOMAIN; others are forwarded or refused', () => {
  assert.equal(rcodeOf(answer(decide(query('zz.mesh.test', 'A'), 'mesh.test', lookup, true))), 'NXDOMAIN');
  assert.equal(rcodeOf(answer(decide(query('x.b.mesh.test', 'A'), 'mesh.test', lookup, true))), 'NXDOMAIN');
  assert.deepEqual(decide(query('example.org', 'A'), 'mesh.test', lookup, true), { kind: 'forward' });
  assert.equal(rcodeOf(answer(decide(query('example.org', 'A'), 'mesh.test', lookup, false))), 'REFUSED');
  // notmesh.test is not inside mesh.test
  assert.deepEqual(decide(query('notmesh.test', 'A'), 'mesh.test', lookup, true), { kind: 'forward' });
});

test('garbage and responses are dropped, never thrown on', () => {
  for (const bad of [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(64, 0xff)])
    assert.notEqual(decide(bad, 'mesh.test', lookup, true).kind, 'forward');
  const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'b.mesh.test' }] });
  assert.deepEqual(decide(resp, 'mesh.test', lookup, true), { kind: 'drop' });
});

async function ask(port: number, packet: Buffer): Promise<dnsPacket.Packet> {
  const s = createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply')), 3000);
      s.on('message', (m) => {
        clearTimeout(t);
        resolve(dnsPacket.decode(m));
      });
      s.send(packet, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

test('the responder answers on UDP and forwards other names to the upstream stub (then SERVFAIL)', async () => {
  // A stub upstream on loopback that answers every A query with 198.18.5.5.
  const stub = createSocket('udp4');
  stub.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    stub.send(
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        questions: q.questions,
        answers: [{ type: 'A', name: q.questions![0]!.name, data: '198.18.5.5', ttl: 1 }],
      }),
      r.port,
      r.address,
    );
  });
  await new Promise<void>((r) => stub.bind(0, '127.0.0.1', r));
  const log = pino({ level: 'silent' });
  const up = `127.0.0.1:${stub.address().port}`;
  const dns = await DnsResponder.start(
    { listen: '127.0.0.1:0', domain: 'mesh.test', upstream: [up], timeoutMs: 300, allow: ['127.0.0.0/8'] },
    lookup,
    log,
  );
  try {
    const b = await ask(dns.port, query('b.mesh.test', 'AAAA', 11));
    assert.equal(b.id, 11);
    assert.equal(b.answers?.[0] && 'data' in b.answers[0] ? b.answers[0].data : '', 'fd00:19::2');
    const fwd = await ask(dns.port, query('other.example', 'A', 12));
    assert.equal(fwd.id, 12);
    assert.equal(fwd.answers?.[0] && 'data' in fwd.answers[0] ? fwd.answers[0].data : '', '198.18.5.5');
    stub.close();
    const fail = await ask(dns.port, query('other.example', 'A', 13));
    assert.equal(rcodeOf(fail), 'SERVFAIL');
  } finally {
    dns.close();
    try {
      stub.close();
    } catch {
      /* closed above */
    }
  }
});
