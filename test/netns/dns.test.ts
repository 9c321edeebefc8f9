// The DNS responder in a node's namespace: dig @127.0.0.53 answers mesh names from the member records,
// NXDOMAIN for unknown names in the mesh domain, and other names through the upstream (a stub inside the
// namespace, never a real resolver). The daemon drops privileges after binding port 53.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;
let stub: LabProcess;
const nodes = ['n1', 'n2', 'n3'];

// Answers every query with one A record 198.18.5.5 (raw bytes: header copied, QR set, one answer pointing
// at the question name).
const stubScript = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (q, r) => {
  const h = Buffer.from(q.subarray(0, 12)); h[2] |= 0x80; h.writeUInt16BE(1, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
  let i = 12; while (i < q.length && q[i] !== 0) i += q[i] + 1; const question = q.subarray(12, i + 5);
  const ans = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 198, 18, 5, 5]);
  s.send(Buffer.concat([h, question, ans]), r.port, r.address);
});
s.bind(5300, '127.0.0.1', () => console.log('stub ready'));
setTimeout(() => process.exit(0), 300000);
`;

before(async () => {
  lab = await Lab.create('t5d-', { nodes: 3 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      if (node === 'n1')
        c.dns = { enabled: true, listen: '127.0.0.53:53', domain: 'mesh.test', upstream: ['127.0.0.1:5300'] };
    },
  });
  stub = lab.spawn(lab.node('n1').ns, process.execPath, ['-e', stubScript], { logFile: 'dns-stub.log' });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  stub?.kill('SIGTERM');
  await mesh?.cleanup();
  await lab?.destroy();
});

const dig = async (...args: string[]) =>
  (await lab.exec(lab.node('n1').ns, 'dig', ['@127.0.0.53', '+time=2', '+tries=1', ...args])).stdout;

test('dig @127.0.0.53 n2.mesh.test AAAA returns n2’s address; A works too', async () => {
  assert.equal((await dig('n2.mesh.test', 'AAAA', '+short')).trim(), mesh.overlay6('n2'));
  assert.equal((await dig('n3.mesh.test', 'A', '+short')).trim(), mesh.overlay4('n3'));
  assert.equal((await dig('N1.MESH.TEST', 'A', '+short')).trim(), mesh.overlay4('n1'));
});

test('an unknown mesh name is NXDOMAIN; other names go to the upstream', async () => {
  assert.match(await dig('n9.mesh.test', 'A'), /status: NXDOMAIN/);
  assert.equal((await dig('app.example', 'A', '+short')).trim(), '198.18.5.5');
});

test('the daemon bound port 53 and still dropped its privileges', async () => {
  const { readFileSync } = await import('node:fs');
  const status = readFileSync(`/proc/${mesh.proc('n1').pid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65534\s/m);
});
