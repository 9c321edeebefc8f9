// Broadcast across the mesh (routing.broadcast): a datagram A sends to the overlay prefix's broadcast
// address reaches B and C exactly once each; with broadcast off (after a restart) it reaches nobody.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;
let broadcast = true;
const nodes = ['n1', 'n2', 'n3'];

// Counts datagrams on port 9100 for argv[1] ms, prints the count.
const receiver = `
const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });
let n = 0; s.on('message', () => n++);
s.bind(9100, '0.0.0.0', () => console.log('ready'));
setTimeout(() => { console.error(n); process.exit(0); }, Number(process.argv[1]));
`;
const sender = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, () => { s.setBroadcast(true); s.send('hello', 9100, process.argv[1], () => s.close()); });
`;

async function startMesh(): Promise<void> {
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (_node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      c.routing = { broadcast };
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
}

before(async () => {
  lab = await Lab.create('t5b-', { nodes: 3 });
  await startMesh();
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

async function sendAndCount(): Promise<Record<string, number>> {
  const dst = `198.19.${lab.subnetIndex}.255`;
  const rx = ['n2', 'n3'].map((n) =>
    lab.exec(lab.node(n).ns, process.execPath, ['-e', receiver, '3000']).then((r) => [n, Number(r.stderr.trim())]),
  );
  await new Promise((r) => setTimeout(r, 800));
  await lab.exec(lab.node('n1').ns, process.execPath, ['-e', sender, dst]);
  return Object.fromEntries(await Promise.all(rx)) as Record<string, number>;
}

test('a broadcast from A reaches B and C exactly once each', async () => {
  assert.deepEqual(await sendAndCount(), { n2: 1, n3: 1 });
  assert.match(await mesh.metricsText('n1'), /^tunmesh_fanout_packets_total\{kind="broadcast"\} 2$/m);
});

test('with broadcast off it reaches nobody', async () => {
  await mesh.cleanup();
  broadcast = false;
  await startMesh();
  assert.deepEqual(await sendAndCount(), { n2: 0, n3: 0 });
  assert.match(await mesh.metricsText('n1'), /^tunmesh_packets_dropped_total\{reason="broadcast_disabled"\} 1$/m);
});
