// R41: partition a 4-node mesh into halves {n1,n2} | {n3,n4} with nft (every underlay packet between the
// halves dropped, both families) until each half has declared the other dead, then heal. After the heal:
// full reachability (every ordered pair pings over the tunnel) ≤ 20 s, and the membership views converge
// again (every node lists the same three others alive — no split-brain peer set).
// npm test holds the partition 12 s (> the 5 s failure timeout used here); TUNMESH_R41_PARTITION_S=60
// gives the matrix's 60 s.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

const nodes = ['n1', 'n2', 'n3', 'n4'];
const halves = [
  ['n1', 'n2'],
  ['n3', 'n4'],
] as const;
const partitionS = Number(process.env.TUNMESH_R41_PARTITION_S ?? 12);
const healWindowMs = 20_000;
let lab: Lab;
let mesh: Mesh;

before(async () => {
  lab = await Lab.create('hd41-', { nodes: nodes.length });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'], n4: ['n1'] },
    patch: (_n, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 5000 };
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 40_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

const otherHalf = (n: string) => (halves[0].includes(n as 'n1') ? halves[1] : halves[0]);

async function partition(on: boolean): Promise<void> {
  for (const n of nodes) {
    const ns = lab.node(n).ns;
    if (!on) {
      await lab.exec(ns, 'nft', ['delete', 'table', 'inet', 'hd41']);
      continue;
    }
    const v4 = otherHalf(n)
      .map((o) => lab.node(o).ipv4)
      .join(', ');
    const v6 = otherHalf(n)
      .map((o) => lab.node(o).ipv6)
      .join(', ');
    await lab.exec(ns, 'nft', ['-f', '-'], {
      input: `table inet hd41 {
  chain in { type filter hook input priority -10; policy accept; ip saddr { ${v4} } drop; ip6 saddr { ${v6} } drop; }
  chain out { type filter hook output priority -10; policy accept; ip daddr { ${v4} } drop; ip6 daddr { ${v6} } drop; }
}\n`,
    });
  }
}

async function allPairsReach(): Promise<boolean> {
  const results = await Promise.all(
    nodes.flatMap((a) =>
      nodes
        .filter((b) => b !== a)
        .map((b) => ping(lab, lab.node(a).ns, mesh.overlay4(b), { count: 1, timeoutS: 1 }).then((r) => r.received)),
    ),
  );
  return results.every((r) => r === 1);
}

async function viewsConverged(): Promise<boolean> {
  for (const n of nodes) {
    const alive = (await mesh.alivePeers(n)).sort();
    if (alive.join() !== nodes.filter((m) => m !== n).join()) return false;
  }
  return true;
}

test(`R41: partition into halves for ${partitionS} s, heal: all pairs reach ≤ 20 s, membership converges`, async () => {
  assert.ok(await allPairsReach(), 'all pairs reach before the partition');
  const cutAt = Date.now();
  await partition(true);
  // Each half declares the other dead (that is what makes the heal a real merge, not a hiccup).
  await waitFor(
    async () => {
      for (const n of nodes) {
        const alive = await mesh.alivePeers(n);
        if (otherHalf(n).some((o) => alive.includes(o))) return false;
      }
      return true;
    },
    { what: 'each half to declare the other dead', timeoutMs: 30_000, intervalMs: 500 },
  );
  const inside = await ping(lab, lab.node('n1').ns, mesh.overlay4('n2'), { count: 1, timeoutS: 2 });
  assert.equal(inside.received, 1, 'each half still works inside');
  const rest = partitionS * 1000 - (Date.now() - cutAt);
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));

  await partition(false);
  const healedAt = Date.now();
  await waitFor(allPairsReach, {
    what: 'all 12 ordered pairs to ping',
    timeoutMs: healWindowMs + 10_000,
    intervalMs: 200,
  });
  const reachMs = Date.now() - healedAt;
  await waitFor(viewsConverged, {
    what: 'membership views to converge',
    timeoutMs: healWindowMs + 10_000,
    intervalMs: 250,
  });
  const convergeMs = Date.now() - healedAt;
  console.log(
    `# R41: partition ${partitionS} s; after heal all pairs reach in ${(reachMs / 1000).toFixed(1)} s, views converge in ${(convergeMs / 1000).toFixed(1)} s`,
  );
  assert.ok(reachMs <= healWindowMs, `reachability after ${reachMs} ms`);
  assert.ok(convergeMs <= healWindowMs, `membership converged after ${convergeMs} ms`);
  for (const n of nodes) assert.ok(mesh.proc(n).running, `${n} alive`);
});
