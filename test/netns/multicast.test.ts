// Multicast across the mesh with the default config: receivers on B and C join 239.1.2.3 and ff15::1:2:3 on
// the TUN (the kernel's IGMP/MLD reports are snooped and published in their records); A sends 100 datagrams
// to each group: B and C get all 100, D (not joined) gets 0, and A sent copies only to the members. After B
// leaves, B gets none of the next 100.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;
const nodes = ['n1', 'n2', 'n3', 'n4'];
const port = 9200;

// Joins argv[2] (unless "none") on tunmesh0, counts datagrams; prints the count on SIGTERM or "count" on stdin.
const receiver = `
const dgram = require('node:dgram');
const [fam, group, iface] = [process.argv[1], process.argv[2], process.argv[3]];
const s = dgram.createSocket({ type: fam === '6' ? 'udp6' : 'udp4', reuseAddr: true });
let n = 0; s.on('message', () => n++);
s.bind(${port}, fam === '6' ? '::' : '0.0.0.0', () => {
  if (group !== 'none') s.addMembership(group, iface);
  console.log('joined');
});
process.on('SIGTERM', () => { console.log('count ' + n); process.exit(0); });
process.on('SIGUSR2', () => console.log('count ' + n));
setTimeout(() => process.exit(0), 120000);
`;
const sender = `
const dgram = require('node:dgram');
const [fam, group, iface, count] = [process.argv[1], process.argv[2], process.argv[3], Number(process.argv[4])];
const s = dgram.createSocket(fam === '6' ? 'udp6' : 'udp4');
s.bind(0, async () => {
  s.setMulticastInterface(iface); s.setMulticastTTL(8);
  for (let i = 0; i < count; i++) { s.send('m' + i, ${port}, group); await new Promise((r) => setTimeout(r, 5)); }
  setTimeout(() => s.close(), 200);
});
`;

before(async () => {
  lab = await Lab.create('t5m-', { nodes: 4 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'], n4: ['n1'] },
    patch: (_node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

const fanoutCopies = async () =>
  Number(/^tunmesh_fanout_packets_total\{kind="multicast"\} (\d+)$/m.exec(await mesh.metricsText('n1'))?.[1] ?? 0);

/** The receiver's count so far (it keeps running and stays joined). */
async function peekCount(p: LabProcess): Promise<number> {
  const before = (p.log().match(/count \d+/g) ?? []).length;
  p.kill('SIGUSR2');
  await waitFor(async () => (p.log().match(/count \d+/g) ?? []).length > before, { what: 'count', timeoutMs: 3000 });
  return Number([...p.log().matchAll(/count (\d+)/g)].at(-1)![1]);
}

async function stopCount(p: LabProcess): Promise<number> {
  p.kill('SIGTERM');
  await p.waitExit(5000);
  return Number([...p.log().matchAll(/count (\d+)/g)].at(-1)?.[1] ?? -1);
}

for (const fam of ['4', '6'] as const) {
  const group = fam === '4' ? '239.1.2.3' : 'ff15::1:2:3';
  const iface = (node: string) => (fam === '4' ? mesh.overlay4(node) : '::%tunmesh0');

  test(`IPv${fam} ${group}: members B and C get all 100, D none; after B leaves B gets none`, async (t) => {
    const rx = (n: string, g: string) =>
      lab.spawn(lab.node(n).ns, process.execPath, ['-e', receiver, fam, g, iface(n)], { logFile: `mc${fam}-${n}.log` });
    const b = rx('n2', group);
    const c = rx('n3', group);
    const d = rx('n4', 'none');
    const send = (count: number) =>
      lab.exec(lab.node('n1').ns, process.execPath, ['-e', sender, fam, group, iface('n1'), String(count)]);
    // Wait until A sends to both members (their reports reached A through the records).
    await waitFor(
      async () => {
        const before = await fanoutCopies();
        await send(1);
        return (await fanoutCopies()) - before === 2;
      },
      { what: `A to see B and C in ${group}`, timeoutMs: 20_000, intervalMs: 500 },
    );
    await stopCount(b);
    await stopCount(c);
    const b2 = rx('n2', group);
    const c2 = rx('n3', group);
    await waitFor(async () => b2.log().includes('joined') && c2.log().includes('joined'), {
      what: 'receivers to rejoin',
      timeoutMs: 5000,
    });
    const start = await fanoutCopies();
    await send(100);
    await new Promise((r) => setTimeout(r, 500));
    const copies = (await fanoutCopies()) - start;
    const got = { b: await stopCount(b2), c: await peekCount(c2), d: await stopCount(d) };
    assert.equal(got.b, 100, `B got ${got.b}`);
    assert.equal(got.c, 100, `C got ${got.c}`);
    assert.equal(got.d, 0, `D got ${got.d}`);
    assert.equal(copies, 200, 'copies went to B and C only');
    // B left (socket closed: the kernel reports the leave); wait until A sends to C alone.
    await waitFor(
      async () => {
        const before = await fanoutCopies();
        await send(1);
        return (await fanoutCopies()) - before === 1;
      },
      { what: `A to drop B from ${group}`, timeoutMs: 20_000, intervalMs: 500 },
    );
    const bAfter = rx('n2', 'none');
    const c3start = await fanoutCopies();
    const cBefore = await peekCount(c2);
    await send(100);
    await new Promise((r) => setTimeout(r, 500));
    const cCount = (await stopCount(c2)) - cBefore;
    assert.equal(await stopCount(bAfter), 0);
    assert.equal(cCount, 100, `C got ${cCount}`);
    assert.equal((await fanoutCopies()) - c3start, 100);
    t.diagnostic(`${group}: B 100, C all, D 0; after B left, copies only to C`);
  });
}
