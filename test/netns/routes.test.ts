// Subnet routes with redundant exits. n2 (B) and n4 (D) each have a LAN namespace holding 198.19.251.10
// and both advertise 198.19.251.0/24; n1 (A) and n3 (C) route it into the mesh. A has a cluster.routePolicy
// granting the LAN to B and D (P11: a granted route works end to end), C has none. First only B exits: A and
// C reach the LAN. Then D joins: 64 UDP flows from A split between B and D (neither under 16); D is killed
// and every flow answers again, through B, within 15 s.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

const lan = '198.19.251.0/24';
const lanHost = '198.19.251.10';
let lab: Lab;
let mesh: Mesh;
const servers: LabProcess[] = [];

// Echo server on the LAN host: answers every datagram with its exit's name.
const echo = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(process.argv[1], r.port, r.address));
s.bind(9000, '0.0.0.0');
setTimeout(() => process.exit(0), 300000);
`;

// 64 flows (one socket each). Mode "split": one answer per flow, as {exit: count}. Mode "failover": rounds
// every 250 ms until every flow answered in the same round, prints the ms that took (or -1 after 30 s).
const client = `
const dgram = require('node:dgram');
const [mode, host] = [process.argv[1], process.argv[2]];
const socks = Array.from({ length: 64 }, () => dgram.createSocket('udp4'));
const last = new Array(64).fill(null);
let round = 0; const answered = new Array(64).fill(-1);
socks.forEach((s, i) => s.on('message', (m) => { last[i] = m.toString(); answered[i] = round; }));
Promise.all(socks.map((s) => new Promise((r) => s.bind(0, r)))).then(async () => {
  const t0 = Date.now();
  for (; Date.now() - t0 < 30000; round++) {
    const r = round;
    socks.forEach((s) => s.send('x', 9000, host));
    await new Promise((res) => setTimeout(res, 250));
    if (answered.every((a) => a === r)) {
      if (mode === 'split') { const c = {}; for (const e of last) c[e] = (c[e] || 0) + 1; console.log(JSON.stringify(c)); }
      else console.log(JSON.stringify({ ms: Date.now() - t0, exits: [...new Set(last)] }));
      process.exit(0);
    }
  }
  console.log(JSON.stringify({ ms: -1, last })); process.exit(0);
});
`;

before(async () => {
  lab = await Lab.create('t5r-', { nodes: 4 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'], n4: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      if (node === 'n2' || node === 'n4') c.node!.routes = [lan];
      else c.tun = { ...(c.tun ?? {}), routes: [lan] };
      if (node === 'n1') c.cluster = { ...c.cluster, routePolicy: [{ prefix: lan, nodes: ['n2', 'n4'] }] };
    },
  });
  for (const [exit, name] of [
    ['n2', 'B'],
    ['n4', 'D'],
  ] as const) {
    const ns = await lab.addNamespace(`lan${name.toLowerCase()}`);
    await lab.link(exit, ns, '198.19.251.1/24', `${lanHost}/24`);
    await lab.exec(ns, 'ip', ['route', 'add', 'default', 'via', '198.19.251.1']);
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0'])
      await lab.exec(lab.node(exit).ns, 'sysctl', ['-qw', k]);
    servers.push(lab.spawn(ns, process.execPath, ['-e', echo, name], { logFile: `echo-${name}.log` }));
  }
  for (const n of ['n1', 'n2', 'n3']) mesh.start(n);
  await mesh.waitConverged(['n1', 'n2', 'n3'], 30_000);
});

after(async () => {
  for (const s of servers) s.kill('SIGTERM');
  await mesh?.cleanup();
  await lab?.destroy();
});

const flows = async (mode: 'split' | 'failover') =>
  JSON.parse(
    (await lab.exec(lab.node('n1').ns, process.execPath, ['-e', client, mode, lanHost], { timeoutMs: 40_000 })).stdout,
  ) as Record<string, number> & { ms?: number; exits?: string[] };

test('a LAN behind B is reachable from A and C', async () => {
  for (const from of ['n1', 'n3']) {
    const r = await ping(lab, lab.node(from).ns, lanHost, { count: 2 });
    assert.equal(r.received, 2, `${from} -> LAN: ${r.output}`);
  }
  assert.deepEqual(await flows('split'), { B: 64 });
});

test('with B and D both exiting, 64 flows split (≥ 16 each) and survive the loss of D within 15 s', async (t) => {
  mesh.start('n4');
  await mesh.waitConverged(['n1', 'n2', 'n3', 'n4'], 30_000);
  const split = await flows('split');
  assert.ok((split.B ?? 0) >= 16 && (split.D ?? 0) >= 16, `split ${JSON.stringify(split)}`);
  assert.equal((split.B ?? 0) + (split.D ?? 0), 64);
  mesh.proc('n4').kill('SIGKILL');
  const after = await flows('failover');
  assert.ok(after.ms !== undefined && after.ms >= 0 && after.ms <= 15_000, `failover ${JSON.stringify(after)}`);
  assert.deepEqual(after.exits, ['B']);
  t.diagnostic(`split ${JSON.stringify(split)}; all 64 flows answered again ${after.ms} ms after D was killed`);
});
