// R37: kill -9 one node of a 10-node mesh. Every other node marks it down within the liveness window
// (≤ 15 s; default membership timings: 1 s probes, 10 s failure timeout), and traffic between other pairs
// is not touched: a 20/s ping stream between n2 and n3 loses 0 of 300 and a TCP transfer between n4 and n5
// arrives intact, both running across the kill.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const nodes = Array.from({ length: 10 }, (_, i) => `n${i + 1}`);
const victim = 'n10';
const livenessWindowMs = 15_000;
let lab: Lab;
let mesh: Mesh;

before(async () => {
  lab = await Lab.create('hd37-', { nodes: nodes.length });
  mesh = await Mesh.create(lab, {
    bootstrap: Object.fromEntries(nodes.slice(1).map((n) => [n, ['n1']])),
  });
  for (const n of nodes) mesh.start(n);
  // Converged: each node lists the nine others alive (one status per node per round: 2 cores).
  const pending = new Set(nodes);
  await waitFor(
    async () => {
      for (const n of [...pending]) if ((await mesh.alivePeers(n)).length === nodes.length - 1) pending.delete(n);
      return pending.size === 0;
    },
    { what: `10-node mesh to converge (pending ${[...pending].join(',')})`, timeoutMs: 45_000, intervalMs: 500 },
  );
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

/** Wall time at which `node` logged removing `peer` ('peer removed'), if it has. */
function removedAt(node: string, peer: string): number | undefined {
  for (const line of mesh.proc(node).lines()) {
    if (!line.includes('"peer removed"') || !line.includes(`"peer":"${peer}"`)) continue;
    const t = /"time":"([^"]+)"/.exec(line)?.[1];
    if (t) return Date.parse(t);
  }
  return undefined;
}

test('R37: kill -9 of one node in 10: all 9 others mark it down ≤ 15 s; other pairs lose 0 packets', async () => {
  const [n2, n4, n5] = ['n2', 'n4', 'n5'].map((n) => lab.node(n).ns) as [string, string, string];
  // Sessions exist before the clock starts, so the stream measures the kill, not a first handshake.
  assert.equal((await ping(lab, n2, mesh.overlay4('n3'), { count: 2, timeoutS: 5 })).received, 2);
  assert.equal((await ping(lab, n4, mesh.overlay4('n5'), { count: 2, timeoutS: 5 })).received, 2);

  const stream = ping(lab, n2, mesh.overlay4('n3'), { count: 300, intervalS: 0.05, timeoutS: 2 });
  const transfer = tcpTransfer(lab, n4, n5, mesh.overlay4('n5'), 32 * 1024 * 1024, {
    timeoutMs: 60_000,
    minSeconds: 4,
  });
  await new Promise((r) => setTimeout(r, 1000));
  const killedAt = Date.now();
  mesh.proc(victim).kill('SIGKILL');
  await mesh.proc(victim).waitExit(5000);

  const others = nodes.filter((n) => n !== victim);
  await waitFor(() => others.every((n) => removedAt(n, victim) !== undefined), {
    what: `every node to remove ${victim}`,
    timeoutMs: livenessWindowMs + 5000,
    intervalMs: 250,
  });
  const delays = others.map((n) => removedAt(n, victim)! - killedAt);
  const [s, t] = await Promise.all([stream, transfer]);
  console.log(
    `# R37: ${victim} marked down after ${(Math.min(...delays) / 1000).toFixed(1)}–${(Math.max(...delays) / 1000).toFixed(1)} s on all 9; ` +
      `n2→n3 ${s.received}/${s.transmitted} pings during the kill; n4→n5 32 MiB in ${t.seconds.toFixed(1)} s`,
  );
  assert.ok(Math.max(...delays) <= livenessWindowMs, `slowest node took ${Math.max(...delays)} ms`);
  assert.equal(s.transmitted, 300, `pings lost between n2 and n3 (ping kept sending): ${s.output}`);
  assert.equal(s.received, 300);
  assert.ok(t.seconds > 1, `the transfer ran across the kill (${t.seconds} s)`);
  assert.equal(t.bytesReceived, t.bytesSent);
  assert.equal(t.receivedSha256, t.sentSha256);
  const status = await mesh.status('n2');
  const row = status.peers.find((p) => p.name === victim);
  assert.ok(row === undefined || row.state === 'dead', `n2 shows ${victim} ${row?.state}`);
  for (const n of others) assert.ok(mesh.proc(n).running, `${n} alive`);
});
