// The scale scenario behind `npm run sim` and test/sim/scale.test.ts: n nodes on the in-memory network with
// the simulated clock, all randomness from one seed, in four phases measured in simulated time:
//  1. join storm: 3 bootstrap nodes, then every other node starts within stormMs, each given the 3
//     bootstrap URLs; measured until every node knows every other node;
//  2. steady state: control messages and JSON bytes per node per second over a quiet window;
//  3. failure: 10 % of the nodes die silently; per survivor, time until it has dropped all of them;
//  4. partition: the survivors split 50/50 until each half has declared the other dead, then the network
//     heals; measured until every survivor knows every survivor again.
// Membership state per node is measured from the heap (callers that can force a GC pass `gc`).
import { seededRng, shuffle } from './rng.js';
import { SimCluster, type SimNode } from './sim-cluster.js';
import type { MembershipOptions } from './membership.js';

export interface ScaleOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Window in which the non-bootstrap nodes start (simulated ms). */
  readonly stormMs?: number;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  /** Give up on a phase after this much simulated time. */
  readonly phaseLimitMs?: number;
  /** Quiet window over which steady-state traffic is averaged. */
  readonly steadyMs?: number;
  readonly killFraction?: number;
  /** Run phase 4 (default true); the big runs may skip it for time. */
  readonly partition?: boolean;
  readonly options?: Partial<MembershipOptions>;
  /** Serialise and schema-validate every message (slow; default off above 200 nodes). */
  readonly validate?: boolean;
  readonly gc?: () => void;
  readonly progress?: (line: string) => void;
  readonly debug?: boolean;
}

export interface ScaleFigures {
  readonly nodes: number;
  readonly seed: number;
  /** From the last node's start until every node knows every node; undefined = not within the limit. */
  readonly convergeMs: number | undefined;
  /** Messages (requests and replies) sent per node per second at steady state. */
  readonly steadyMsgsPerNodeSec: number;
  /** JSON bytes sent per node per second at steady state. */
  readonly steadyBytesPerNodeSec: number;
  readonly killed: number;
  /** Per survivor, time from the kill until it has dropped every killed node: p50 / p99 / max. */
  readonly failureP50Ms: number | undefined;
  readonly failureP99Ms: number | undefined;
  readonly failureMaxMs: number | undefined;
  /** Per killed node, time until every survivor has dropped it (the failure propagated): p50 / p99. */
  readonly victimP50Ms: number | undefined;
  readonly victimP99Ms: number | undefined;
  /** Survivors that had not dropped every killed node within the phase limit. */
  readonly failureMissing: number;
  /** From the heal until every survivor knows every survivor again. */
  readonly healMs: number | undefined;
  /** Heap bytes per node after the join storm (membership state + simulator bookkeeping). */
  readonly heapBytesPerNode: number | undefined;
  /** Record signature checks a node asked for (join storm to the end), mean over the nodes. */
  readonly signatureChecksPerNode: number;
  /** Ed25519 verifications the process really made (one shared cache above 200 nodes). */
  readonly signaturesVerified: number | undefined;
  /** Real (wall) milliseconds the whole run took. */
  readonly realMs: number;
}

const name = (i: number): string => `n${String(i).padStart(5, '0')}`;

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Every given node has exactly `expected - 1` live members (cheap: no per-pair lookups). */
function allKnow(nodes: readonly SimNode[], expected: number): boolean {
  for (const n of nodes) if (n.membership.health().members !== expected - 1) return false;
  return true;
}

export async function runScale(o: ScaleOptions): Promise<ScaleFigures> {
  const started = Date.now();
  const log = o.progress ?? (() => {});
  const n = Math.max(4, o.nodes);
  const limit = o.phaseLimitMs ?? 60_000;
  o.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const c = new SimCluster({
    seed: o.seed,
    latencyMs: o.latencyMs ?? 2,
    jitterMs: o.jitterMs ?? 3,
    loss: o.loss ?? 0,
    validate: o.validate ?? n <= 200,
    recordEvents: false,
    verifyCache: n <= 200 ? 'per-node' : 'shared',
    ...(o.options && { options: o.options }),
  });
  const rng = seededRng(o.seed ^ 0x5ca1e);
  const clock = c.clock;

  // 1. Join storm.
  const boots = [0, 1, 2].map((i) => SimCluster.urlOf(i + 1));
  c.add(name(1), 1);
  c.add(name(2), 2, { bootstrap: [boots[0]!] });
  c.add(name(3), 3, { bootstrap: [boots[0]!] });
  await clock.advance(1_000);
  const stormMs = o.stormMs ?? 1_000;
  const starts: number[] = [];
  for (let i = 4; i <= n; i++) starts.push(Math.floor(rng() * stormMs));
  starts.sort((a, b) => a - b);
  const stormStart = clock.now();
  for (let i = 4; i <= n; i++) {
    const due = stormStart + starts[i - 4]!;
    if (due > clock.now()) await clock.advance(due - clock.now());
    c.add(name(i), i, { bootstrap: boots });
  }
  log(`storm: ${n} nodes started in ${clock.now() - stormStart} ms (real ${Date.now() - started} ms)`);
  const all = c.running();
  let lastReport = 0;
  const convergeMs = await clock.runUntil(
    () => {
      if (o.debug && clock.now() - lastReport >= 500) {
        lastReport = clock.now();
        const counts = all.map((x) => x.membership.health().members);
        const behind = counts.filter((k) => k !== n - 1).length;
        log(`t+${clock.now() - stormStart - stormMs}: ${behind} nodes behind, fewest known ${Math.min(...counts)}`);
      }
      return allKnow(all, n);
    },
    limit,
    100,
  );
  log(`converged: ${convergeMs} ms simulated (real ${Date.now() - started} ms)`);
  o.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  // 2. Steady state: let the storm's gossip die down, then measure a quiet window.
  await clock.advance(20_000);
  const steadyMs = o.steadyMs ?? 20_000;
  const sum = (): { msgs: number; bytes: number } => {
    let msgs = 0;
    let bytes = 0;
    for (const s of c.net.stats.values()) {
      msgs += s.messagesOut;
      bytes += s.bytesOut;
    }
    return { msgs, bytes };
  };
  const before = sum();
  await clock.advance(steadyMs);
  const after = sum();
  const perNodeSec = (x: number): number => x / n / (steadyMs / 1000);
  log(
    `steady: ${perNodeSec(after.msgs - before.msgs).toFixed(2)} msgs, ` +
      `${perNodeSec(after.bytes - before.bytes).toFixed(0)} B per node per s; heap ${heapAfter - heapBefore} B ` +
      `(real ${Date.now() - started} ms)`,
  );

  // 3. Kill 10 % (never a bootstrap node, so the mesh stays joinable).
  const killCount = Math.max(1, Math.round(n * (o.killFraction ?? 0.1)));
  const victims = shuffle(rng, all.slice(3)).slice(0, killCount);
  const victimIds = new Set(victims.map((v) => v.name));
  const survivors = all.filter((x) => !victimIds.has(x.name));
  const dropped = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const droppedBy = new Map<string, number>();
  const victimDoneAt: number[] = [];
  const killAt = clock.now();
  for (const s of survivors)
    s.membership.on('down', (id) => {
      if (!victimIds.has(id)) return;
      const by = (droppedBy.get(id) ?? 0) + 1;
      droppedBy.set(id, by);
      if (by === survivors.length) victimDoneAt.push(clock.now() - killAt);
      const k = (dropped.get(s.name) ?? 0) + 1;
      dropped.set(s.name, k);
      if (k === victimIds.size) doneAt.set(s.name, clock.now() - killAt);
    });
  for (const v of victims) await c.kill(v.name);
  await clock.runUntil(() => doneAt.size === survivors.length, limit, 100);
  const failure = [...doneAt.values()].sort((a, b) => a - b);
  log(
    `failure: p50 ${percentile(failure, 50)} p99 ${percentile(failure, 99)} ms, ` +
      `${survivors.length - failure.length} missing (real ${Date.now() - started} ms)`,
  );

  // 4. Partition the survivors 50/50 until each half holds the other dead, then heal.
  if (o.partition === false) {
    await c.stopAll();
    return figures(undefined);
  }
  const mixed = shuffle(rng, [...survivors]);
  const half = Math.floor(mixed.length / 2);
  const left = mixed.slice(0, half);
  const right = mixed.slice(half);
  c.net.partition(
    left.map((x) => x.url),
    right.map((x) => x.url),
  );
  const split = await clock.runUntil(
    () => allKnow(left, left.length) && allKnow(right, right.length),
    limit + 30_000,
    500,
  );
  c.net.heal();
  const healMs =
    split === undefined ? undefined : await clock.runUntil(() => allKnow(survivors, survivors.length), limit, 100);
  log(`heal: real ${Date.now() - started} ms`);
  await c.stopAll();
  return figures(healMs);

  function figures(healMs: number | undefined): ScaleFigures {
    return {
      nodes: n,
      seed: o.seed,
      convergeMs,
      steadyMsgsPerNodeSec: perNodeSec(after.msgs - before.msgs),
      steadyBytesPerNodeSec: perNodeSec(after.bytes - before.bytes),
      killed: killCount,
      failureP50Ms: percentile(failure, 50),
      failureP99Ms: percentile(failure, 99),
      failureMaxMs: failure.at(-1),
      victimP50Ms: percentile(
        victimDoneAt.sort((a, b) => a - b),
        50,
      ),
      victimP99Ms: percentile(victimDoneAt, 99),
      failureMissing: survivors.length - failure.length,
      healMs,
      heapBytesPerNode: o.gc ? Math.max(0, Math.round((heapAfter - heapBefore) / n)) : undefined,
      signatureChecksPerNode: Math.round(all.reduce((s, x) => s + x.checks, 0) / all.length),
      signaturesVerified: c.sharedVerified,
      realMs: Date.now() - started,
    };
  }
}
