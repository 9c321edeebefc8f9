// P11 (claims), the route hijack of security review 2 (finding 3) against real daemons. n1 = a, n2 = c (the
// victim), n3 = x: an honest-looking member whose record advertises c's overlay /32, the mesh's /24 (a
// covering prefix) and one harmless route (fd00:fe::/64), and which holds c's address on its own TUN so it
// can send as c. Before P11, a installed x's routes as they came: a's flows to c were split between c and x
// by the redundant-exit hash, and x's packets from c's address passed a's source check.
//  1. x joins before c: its /32 for c is accepted (nobody holds that address) and its /24 is refused (it
//     covers a); c joins: a withdraws the /32, status and metrics say why.
//  2. 64 UDP flows a -> c are all answered by c, and pings too.
//  3. 20 datagrams x sends from c's address through its tunnel to a are dropped by a's source check.
//  4. A route policy, reloaded live on a, refuses x's harmless route as not granted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';
import { Mesh, cliPath } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;
const servers: LabProcess[] = [];
const harmless = 'fd00:fe::/64';

// Echo server: answers every datagram with its own name (n2 = c, and x, which took c's flows before P11).
const echo = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(process.argv[1], r.port, r.address));
s.bind(9000, '0.0.0.0');
setTimeout(() => process.exit(0), 300000);
`;

// 64 flows (one socket each) to host:9000, 3 rounds; prints {responder: flows} of the flows that answered.
const flows = `
const dgram = require('node:dgram');
const host = process.argv[1];
const socks = Array.from({ length: 64 }, () => dgram.createSocket('udp4'));
const by = new Array(64).fill('none');
socks.forEach((s, i) => s.on('message', (m) => (by[i] = m.toString())));
Promise.all(socks.map((s) => new Promise((r) => s.bind(0, r)))).then(async () => {
  for (let round = 0; round < 3; round++) {
    socks.forEach((s) => s.send('x', 9000, host));
    await new Promise((r) => setTimeout(r, 700));
  }
  const c = {}; for (const e of by) c[e] = (c[e] || 0) + 1;
  console.log(JSON.stringify(c)); process.exit(0);
});
`;

// Counts datagrams to port 9100 for argv[1] ms, by source address.
const counter = `
const s = require('node:dgram').createSocket('udp4');
const by = {};
s.on('message', (m, r) => (by[r.address] = (by[r.address] || 0) + 1));
s.bind(9100, '0.0.0.0', () => setTimeout(() => { console.log(JSON.stringify(by)); process.exit(0); }, Number(process.argv[1])));
`;

// Sends argv[3] datagrams from address argv[1] to argv[2]:9100, 50 ms apart.
const spoof = `
const s = require('node:dgram').createSocket('udp4');
const [from, to, n] = [process.argv[1], process.argv[2], Number(process.argv[3])];
s.bind(0, from, async () => {
  for (let i = 0; i < n; i++) { s.send('as-c', 9100, to); await new Promise((r) => setTimeout(r, 50)); }
  setTimeout(() => process.exit(0), 200);
});
`;

interface Refused {
  route: string;
  reason: string;
  member?: string;
}
interface ClaimsStatus {
  node: { routePolicyGrants?: number | null };
  peers: { name: string; refusedRoutes?: Refused[] }[];
}

const statusOf = async (node: string) => (await mesh.status(node)) as unknown as ClaimsStatus;
const refusedAt = async (node: string, peer: string) =>
  (await statusOf(node)).peers.find((p) => p.name === peer)?.refusedRoutes ?? [];
const metric = async (node: string, reason: string) => {
  const m = new RegExp(`^tunmesh_routes_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(
    await mesh.metricsText(node),
  );
  return m ? Number(m[1]) : 0;
};
const sourceDrops = async (node: string) => {
  const m = /^tunmesh_packets_dropped_total\{reason="source_not_allowed"\} (\d+)/m.exec(await mesh.metricsText(node));
  return m ? Number(m[1]) : 0;
};

let c4: string;
let mesh24: string;

before(async () => {
  lab = await Lab.create('p11c-', { nodes: 3 });
  c4 = `198.19.${lab.subnetIndex}.${lab.node('n2').index}`;
  mesh24 = `198.19.${lab.subnetIndex}.0/24`;
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      if (node === 'n3') {
        c.node!.routes = [`${c4}/32`, mesh24, harmless];
        c.tun = { ...(c.tun ?? {}), addresses: [`${c4}/32`] };
      }
    },
  });
  for (const [node, name] of [
    ['n2', 'c'],
    ['n3', 'x'],
  ] as const)
    servers.push(lab.spawn(lab.node(node).ns, process.execPath, ['-e', echo, name], { logFile: `echo-${name}.log` }));
});

after(async () => {
  for (const s of servers) s.kill('SIGTERM');
  await mesh?.cleanup();
  await lab?.destroy();
});

test('P11: x’s covering /24 is refused at once; its /32 for c is withdrawn when c joins later', async (t) => {
  mesh.start('n1');
  mesh.start('n3');
  await mesh.waitConverged(['n1', 'n3']);
  await waitFor(async () => (await refusedAt('n1', 'n3')).length > 0, { what: 'x refused at a', timeoutMs: 10_000 });
  assert.deepEqual(
    (await refusedAt('n1', 'n3')).map((r) => [r.route, r.reason, r.member]),
    [[mesh24, 'covers_member', 'n1']],
    'the /24 covers a itself; nobody holds c’s address yet',
  );
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2', 'n3']);
  const t0 = Date.now();
  await waitFor(async () => (await refusedAt('n1', 'n3')).length === 2, {
    what: 'x’s /32 withdrawn',
    timeoutMs: 10_000,
  });
  const ms = Date.now() - t0;
  assert.deepEqual(
    (await refusedAt('n1', 'n3')).map((r) => [r.route, r.reason, r.member]),
    [
      [`${c4}/32`, 'covers_member', 'n2'],
      [mesh24, 'covers_member', 'n1'],
    ],
  );
  // c refuses the same routes: the mesh agrees.
  assert.deepEqual(
    (await refusedAt('n2', 'n3')).map((r) => r.route),
    [`${c4}/32`, mesh24],
  );
  assert.equal(await metric('n1', 'covers_member'), 2);
  t.diagnostic(`x's /32 withdrawn at a within ${ms} ms of the mesh seeing c (status polled every 250 ms)`);
});

test('P11: every a -> c flow (64 UDP flows, pings) reaches c, none reaches x', async (t) => {
  const p = await ping(lab, lab.node('n1').ns, c4, { count: 5 });
  assert.equal(p.received, 5, p.output);
  const r = await lab.exec(lab.node('n1').ns, process.execPath, ['-e', flows, c4], { timeoutMs: 20_000 });
  const by = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual(by, { c: 64 }, `responders ${r.stdout}`);
  t.diagnostic(`64 flows a -> c: ${JSON.stringify(by)}; pings 5/5`);
});

test('P11: packets x sends from c’s address are dropped by a’s source check', async (t) => {
  const a4 = `198.19.${lab.subnetIndex}.${lab.node('n1').index}`;
  const before = await sourceDrops('n1');
  const [got] = await Promise.all([
    lab.exec(lab.node('n1').ns, process.execPath, ['-e', counter, '4000'], { timeoutMs: 15_000 }),
    new Promise((r) => setTimeout(r, 500)).then(() =>
      lab.exec(lab.node('n3').ns, process.execPath, ['-e', spoof, c4, a4, '20'], { timeoutMs: 15_000 }),
    ),
  ]);
  const received = JSON.parse(got.stdout) as Record<string, number>;
  const dropped = (await sourceDrops('n1')) - before;
  assert.equal(received[c4] ?? 0, 0, `datagrams from c's address reached a: ${got.stdout}`);
  assert.ok(dropped >= 20, `source_not_allowed +${dropped}`);
  t.diagnostic(`20 sent as c by x: ${received[c4] ?? 0} delivered, source_not_allowed +${dropped}`);
});

test('P11: a route policy reloaded live on a refuses x’s ungranted route; x stays a member', async () => {
  const file = mesh.configFile('n1');
  const c = parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
  c.cluster = { ...c.cluster, routePolicy: [{ prefix: '198.19.251.0/24', nodes: ['gw-*'] }] };
  await writeFile(file, stringify(c));
  const out = await lab.exec(lab.node('n1').ns, process.execPath, [cliPath, 'reload', '--json', '-c', file]);
  assert.match(out.stdout, /cluster\.routePolicy/);
  await waitFor(async () => (await refusedAt('n1', 'n3')).some((r) => r.route === harmless), {
    what: 'policy in force',
    timeoutMs: 10_000,
  });
  const refused = await refusedAt('n1', 'n3');
  assert.deepEqual(
    refused.map((r) => [r.route, r.reason]),
    [
      [`${c4}/32`, 'not_granted'],
      [mesh24, 'not_granted'],
      [harmless, 'not_granted'],
    ],
  );
  assert.equal((await statusOf('n1')).node.routePolicyGrants, 1);
  assert.equal(await metric('n1', 'not_granted'), 3);
  const x4 = `198.19.${lab.subnetIndex}.${lab.node('n3').index}`;
  assert.equal((await ping(lab, lab.node('n1').ns, x4, { count: 2 })).received, 2, 'x keeps its peer');
});
