// R38: restart a node with the SAME identity (same name, same WireGuard key) in a 3-node mesh. Its peers
// still hold sessions whose keys the restarted process no longer has. Pass figure: all-pairs reachability
// restored ≤ 2 s after the node is up if it talks first, ≤ 20 s worst case (it stays silent and a peer
// talks to it). Both stop styles: SIGTERM (the node leaves the mesh) and kill -9 (it does not).
//
// "Up" is the restarted daemon's own `tunmesh node started` log line: written after its TUN device exists,
// its API listens and membership has started; its timestamp is the daemon's wall clock, the clock ping -D
// and the test use too. The time to "reach" is the first echo reply of a ping that sends every 50 ms from
// the moment the test sees the node up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { allPairs, assertPings } from '../helpers/mesh-traffic.js';
import { Mesh } from '../helpers/mesh.js';

const nodes = ['n1', 'n2', 'n3'];
const talksFirstBoundMs = 2000;
const worstCaseBoundMs = 20_000;
let lab: Lab;
let mesh: Mesh;

before(async () => {
  lab = await Lab.create('r38-', { nodes: 3 });
  mesh = await Mesh.create(lab, { bootstrap: { n2: ['n1'], n3: ['n1'] } });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

/** Wall time of the node's `tunmesh node started` line written at or after `since`. */
function startedAt(node: string, since: number): number | undefined {
  for (const line of mesh.proc(node).lines()) {
    if (!line.includes('"msg":"tunmesh node started"')) continue;
    const at = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '');
    if (at >= since - 1000) return at;
  }
  return undefined;
}

/**
 * Pings `to` from `from` every 50 ms until the first reply or `deadlineS`; the reply's wall time (ping -D)
 * or undefined.
 */
async function firstReply(from: string, to: string, deadlineS: number): Promise<number | undefined> {
  const r = await lab.exec(
    lab.node(from).ns,
    'ping',
    ['-D', '-n', '-i', '0.05', '-c', '1', '-W', '1', '-w', String(deadlineS), mesh.overlay4(to)],
    { allowFailure: true, timeoutMs: (deadlineS + 5) * 1000 },
  );
  const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(r.stdout);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** Stops n2 (SIGTERM or kill -9), starts it with the same config and key, and returns when it is up. */
async function restartN2(signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
  // Sessions to n2 exist on both peers before the restart (what makes a same-key restart hard).
  await assertPings(lab, mesh, allPairs(nodes), { count: 1 });
  const old = mesh.proc('n2');
  old.kill(signal);
  await old.waitExit(10_000);
  const since = Date.now();
  mesh.start('n2');
  return waitFor(() => startedAt('n2', since), {
    what: 'the restarted n2 to be up',
    timeoutMs: 20_000,
    intervalMs: 20,
  });
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`R38 (${signal}): the restarted node talks first: it reaches both peers ≤ 2 s after it is up`, async () => {
    const up = await restartN2(signal);
    const seen = Date.now();
    const [t1, t3] = await Promise.all([firstReply('n2', 'n1', 25), firstReply('n2', 'n3', 25)]);
    const after1 = t1 === undefined ? undefined : t1 - up;
    const after3 = t3 === undefined ? undefined : t3 - up;
    console.log(
      `# R38 ${signal}, n2 talks first: first reply n2→n1 ${after1} ms, n2→n3 ${after3} ms after up ` +
        `(pings started ${seen - up} ms after up; bound ${talksFirstBoundMs} ms)`,
    );
    // Every pair, both directions, right after.
    await assertPings(lab, mesh, allPairs(nodes), { count: 1 });
    assert.ok(after1 !== undefined && after1 <= talksFirstBoundMs, `n2→n1 after ${after1} ms\n${mesh.logs()}`);
    assert.ok(after3 !== undefined && after3 <= talksFirstBoundMs, `n2→n3 after ${after3} ms\n${mesh.logs()}`);
  });

  test(`R38 (${signal}): the restarted node stays silent, its peers talk: all pairs reach ≤ 20 s`, async () => {
    const up = await restartN2(signal);
    const seen = Date.now();
    const [t1, t3] = await Promise.all([firstReply('n1', 'n2', 25), firstReply('n3', 'n2', 25)]);
    const after1 = t1 === undefined ? undefined : t1 - up;
    const after3 = t3 === undefined ? undefined : t3 - up;
    console.log(
      `# R38 ${signal}, n2 silent: first reply n1→n2 ${after1} ms, n3→n2 ${after3} ms after up ` +
        `(pings started ${seen - up} ms after up; bound ${worstCaseBoundMs} ms)`,
    );
    await assertPings(lab, mesh, allPairs(nodes), { count: 1 });
    assert.ok(after1 !== undefined && after1 <= worstCaseBoundMs, `n1→n2 after ${after1} ms\n${mesh.logs()}`);
    assert.ok(after3 !== undefined && after3 <= worstCaseBoundMs, `n3→n2 after ${after3} ms\n${mesh.logs()}`);
  });
}
