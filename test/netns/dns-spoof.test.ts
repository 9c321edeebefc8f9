// The DNS forwarder on a real network (security review 2, finding 7). Node n1 runs the responder on
// 0.0.0.0:53 with its upstream in the attacker's namespace n3. The fake upstream answers every query
// twice: first with a spoofed A record from ANOTHER address of n3 (same port 53, the forwarder's id and
// question), then 200 ms later with the real answer from the upstream's own address. The client must get
// the real answer. n3 is also a client outside dns.allow (default: loopback and the overlay): it gets no
// answer at all, counted, while n2 asking over the overlay is served.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;
let upstream: LabProcess;
const nodes = ['n1', 'n2'];

// Raw DNS: header copied with QR set, the question, one A answer pointing at the question name.
const upstreamScript = (real: string, spoofFrom: string) => `
const dgram = require('node:dgram');
const real = dgram.createSocket('udp4');
const spoof = dgram.createSocket('udp4');
const answer = (q, ip) => {
  const h = Buffer.from(q.subarray(0, 12)); h[2] |= 0x80; h.writeUInt16BE(1, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
  let i = 12; while (i < q.length && q[i] !== 0) i += q[i] + 1; const question = q.subarray(12, i + 5);
  const a = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, ...ip.split('.').map(Number)]);
  return Buffer.concat([h, question, a]);
};
real.on('message', (q, r) => {
  spoof.send(answer(q, '198.19.66.66'), r.port, r.address);
  setTimeout(() => real.send(answer(q, '198.18.5.5'), r.port, r.address), 200);
});
spoof.bind(53, '${spoofFrom}', () => real.bind(53, '${real}', () => console.log('upstream ready')));
setTimeout(() => process.exit(0), 300000);
`;

let spoofAddress: string;

before(async () => {
  lab = await Lab.create('tsml-dns-', { nodes: 3 });
  const attacker = lab.node('n3');
  spoofAddress = `198.18.${lab.subnetIndex}.203`;
  await lab.exec(attacker.ns, 'ip', ['addr', 'add', `${spoofAddress}/24`, 'dev', 'eth0']);
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      if (node === 'n1')
        c.dns = { enabled: true, listen: '0.0.0.0:53', domain: 'mesh.test', upstream: [`${attacker.ipv4}:53`] };
    },
  });
  upstream = lab.spawn(attacker.ns, process.execPath, ['-e', upstreamScript(attacker.ipv4, spoofAddress)], {
    logFile: 'dns-fake-upstream.log',
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  upstream?.kill('SIGTERM');
  await mesh?.cleanup();
  await lab?.destroy();
});

// A one-shot DNS client (dig is not on every test machine): one A query, 2 s, prints the first answer's
// address, NXDOMAIN-style rcodes, or "timeout".
const clientScript = `
const packet = require('dns-packet');
const s = require('node:dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);
s.on('message', (m) => {
  const r = packet.decode(m);
  const a = (r.answers || []).find((x) => x.type === 'A');
  console.log(a ? a.data : r.rcode);
  clearTimeout(t); process.exit(0);
});
s.send(packet.encode({ type: 'query', id: 4242, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: process.argv[2] }] }), 53, process.argv[1]);
`;
const ask = async (ns: string, server: string, name: string) =>
  (await lab.exec(ns, process.execPath, ['-e', clientScript, server, name])).stdout.trim();

const metric = async (name: string) =>
  Number(new RegExp(`^tunmesh_${name} (\\d+)`, 'm').exec(await mesh.metricsText('n1'))?.[1] ?? 0);

test('a reply from another address of the upstream’s host never reaches the client; the real one does', async () => {
  const before = await metric('dns_replies_ignored_total');
  for (let i = 0; i < 3; i++) {
    assert.equal(await ask(lab.node('n1').ns, '127.0.0.1', `bank${i}.example`), '198.18.5.5', `query ${i}`);
  }
  assert.ok((await metric('dns_replies_ignored_total')) - before >= 3, 'the spoofed replies were counted');
});

test('a source outside dns.allow gets no answer (counted); a mesh member over the overlay is served', async () => {
  const before = await metric('dns_queries_refused_total');
  const n1 = lab.node('n1');
  for (const name of ['bank.example', 'n2.mesh.test']) {
    assert.equal(await ask(lab.node('n3').ns, n1.ipv4, name), 'timeout', name);
  }
  assert.equal((await metric('dns_queries_refused_total')) - before, 2);
  assert.equal(await ask(lab.node('n2').ns, mesh.overlay4('n1'), 'n2.mesh.test'), mesh.overlay4('n2'));
});
