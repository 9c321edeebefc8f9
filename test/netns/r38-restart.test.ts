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

// After SIGTERM the peers have removed n2 (it left); whether one re-adds it before n2's first initiation
// arrives is a race (lost in about 1 run of 4 before the fix: 5.1 s). The daemon now handshakes at once
// with a member that just (re)started (daemon.ts #memberUp, net.greetFreshMemberMs), which closes it; the
// deterministic reproduction is further down. After kill -9 the peers still hold n2 (same key), so its
// first initiation is always answered.

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  const title = `R38 (${signal}): the restarted node talks first: it reaches both peers ≤ 2 s after it is up`;
  test(title, async () => {
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

// ---------------------------------------------------------------------------------------------------
// The order in which the restarted node and a peer install each other decides the figure. The two tests
// below hold n3's control traffic (membership runs over the HTTPS API, tcp 4567) for a moment around the
// restart, which makes the unlucky order certain:
//  - after SIGTERM, n3 re-adds n2 only after n2's first initiation was dropped (n3 had no such peer), and
//    before the fix nothing made either side handshake before n2's retry one rekeyTimeout (5 s) later;
//    now n3 handshakes when it re-adds n2;
//  - after kill -9, n3 answers n2's initiation on the old peer, then takes n2's new epoch and reinstalls
//    the peer, dropping that fresh session; traffic stops until someone handshakes again.

/** Drops n3's control-API traffic (membership) both ways until the returned function is called. */
async function holdControl(node: string): Promise<() => Promise<void>> {
  const ns = lab.node(node).ns;
  const rules = `tcp dport ${mesh.apiPort} drop\n    tcp sport ${mesh.apiPort} drop`;
  await lab.exec(ns, 'nft', ['-f', '-'], {
    input: `table inet r38hold {
  chain in {
    type filter hook input priority 0; policy accept;
    ${rules}
  }
  chain out {
    type filter hook output priority 0; policy accept;
    ${rules}
  }
}
`,
  });
  return async () => {
    await lab.exec(ns, 'nft', ['delete', 'table', 'inet', 'r38hold'], { allowFailure: true });
  };
}

/** Reply times (wall ms) of a ping stream every `intervalS` for `seconds`. */
async function replyTimes(from: string, to: string, seconds: number, intervalS = 0.1): Promise<number[]> {
  const r = await lab.exec(
    lab.node(from).ns,
    'ping',
    ['-D', '-n', '-i', String(intervalS), '-W', '1', '-w', String(seconds), mesh.overlay4(to)],
    { allowFailure: true, timeoutMs: (seconds + 5) * 1000 },
  );
  return [...r.stdout.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Math.round(Number(m[1]) * 1000));
}

/** Wall time of n3's `peer up` line for n2 at or after `since`. */
function n3TookN2(since: number): number | undefined {
  for (const line of mesh.proc('n3').lines()) {
    if (!line.includes('"msg":"peer up"') || !line.includes('"peer":"n2"')) continue;
    const at = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '');
    if (at >= since) return at;
  }
  return undefined;
}

test("R38 repro (SIGTERM): the restarted node's first initiation reaches a peer that has not re-added it yet", async () => {
  await assertPings(lab, mesh, allPairs(nodes), { count: 1 });
  const old = mesh.proc('n2');
  const stoppedAt = Date.now();
  old.kill('SIGTERM');
  await old.waitExit(10_000);
  // n3 forgets n2 (it left); then n3 hears nothing of n2's new record for 1.5 s after n2 is up.
  await waitFor(
    () =>
      mesh
        .proc('n3')
        .lines()
        .some(
          (l) =>
            l.includes('"peer removed"') &&
            l.includes('"peer":"n2"') &&
            Date.parse(/"time":"([^"]+)"/.exec(l)?.[1] ?? '') >= stoppedAt,
        ),
    { what: 'n3 to remove n2', timeoutMs: 10_000 },
  );
  const release = await holdControl('n3');
  let up: number;
  try {
    const since = Date.now();
    mesh.start('n2');
    up = await waitFor(() => startedAt('n2', since), { what: 'n2 up', timeoutMs: 20_000, intervalMs: 20 });
    const stream = replyTimes('n2', 'n3', 12);
    await new Promise((r) => setTimeout(r, Math.max(0, up + 1500 - Date.now())));
    await release();
    const replies = await stream;
    const tookAt = n3TookN2(up);
    const first = replies[0] === undefined ? undefined : replies[0] - up;
    console.log(
      `# R38 repro SIGTERM: n3 re-added n2 ${tookAt === undefined ? 'never' : `${tookAt - up} ms`} after n2 was up; ` +
        `n2→n3 first reply ${first} ms after up (bound: 1000 ms after the re-add, before n2's 5 s retry)`,
    );
    // n3 could not know n2 before it re-added it (its control traffic was held); from then on the pair
    // must meet at once — not at n2's retry one rekeyTimeout (5 s) after its lost first initiation.
    assert.ok(tookAt !== undefined, 'n3 re-added n2');
    assert.ok(first !== undefined && first - (tookAt - up) <= 1000, `n2→n3 first reply after ${first} ms`);
    assert.ok(first < 5000, 'before the initiator would have retried');
  } finally {
    await release();
    await mesh.waitConverged(nodes, 30_000);
  }
});

test('R38 (kill -9, the peer takes the new epoch late): first reply ≤ 2 s; the session it then drops comes back ≤ 20 s', async () => {
  await assertPings(lab, mesh, allPairs(nodes), { count: 1 });
  // n3 keeps n2's old record (and peer) while n2 restarts and handshakes with it.
  const release = await holdControl('n3');
  let up: number;
  try {
    const old = mesh.proc('n2');
    old.kill('SIGKILL');
    await old.waitExit(10_000);
    const since = Date.now();
    mesh.start('n2');
    up = await waitFor(() => startedAt('n2', since), { what: 'n2 up', timeoutMs: 20_000, intervalMs: 20 });
    const stream = replyTimes('n2', 'n3', 25, 0.5);
    await new Promise((r) => setTimeout(r, Math.max(0, up + 2000 - Date.now())));
    const releasedAt = Date.now();
    await release();
    const replies = await stream;
    const streamEnd = Date.now();
    const tookAt = n3TookN2(up);
    const first = replies[0] === undefined ? undefined : replies[0] - up;
    const hs = (await mesh.metricsText('n3'))
      .split('\n')
      .filter((l) => l.startsWith('tunmesh_handshakes_total{peer="n2"'));
    console.log(`# R38 late epoch, kill -9: n3 ${hs.join('; ')}`);
    // The longest stretch without a reply once there was one, the end of the stream included.
    let gap = replies.length > 0 ? streamEnd - replies.at(-1)! : 0;
    let gapAt = replies.length > 0 ? replies.at(-1)! - up : 0;
    for (let i = 1; i < replies.length; i++) {
      if (replies[i]! - replies[i - 1]! > gap) {
        gap = replies[i]! - replies[i - 1]!;
        gapAt = replies[i - 1]! - up;
      }
    }
    console.log(
      `# R38 late epoch, kill -9: n2→n3 first reply ${first} ms after up; n3's control released ${releasedAt - up} ms ` +
        `and n3 took n2's new record ${tookAt === undefined ? 'never' : `${tookAt - up} ms`} after up; longest ` +
        `n2→n3 outage afterwards ${gap} ms (from ${gapAt} ms after up), ${replies.length} replies in 25 s`,
    );
    assert.ok(
      tookAt !== undefined && first !== undefined && tookAt - up > first,
      'n3 took the new record after n2 reached it (the order held)',
    );
    assert.ok(first !== undefined && first <= talksFirstBoundMs, `first reply after ${first} ms`);
    assert.ok(gap <= worstCaseBoundMs, `reachability lost again for ${gap} ms once n3 took the new record`);
  } finally {
    await release();
    await mesh.waitConverged(nodes, 30_000);
  }
});
