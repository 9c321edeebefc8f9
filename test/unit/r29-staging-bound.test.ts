// R29: the staging queue is bounded. A peer has no session; 10^6 inner packets are pushed for it. Pass
// figure: queue depth ≤ 128 at all times, the oldest dropped, drop{reason} == 10^6 − 128 exactly (the
// row's "staged_overflow" is this project's `no_session_queue_full`), heap flat (±5 MiB). Two ways to
// have no session: no endpoint known yet (nothing is sent), and an endpoint that never answers (the
// handshake is retried meanwhile). The metric is counted as the engines count it (DropCounter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { wg } from '../../src/base/constants.js';
import { DropCounter } from '../../src/dataplane/drop-counter.js';
import { Metrics } from '../../src/metrics/registry.js';
import { makePair, ofType, Wire } from '../helpers/wg-pair.js';
import { seqOf, seqPacket } from '../helpers/timed-wire.js';

const total = 1_000_000;
const MiB = 1024 * 1024;

// The runner starts node without --expose-gc; this turns it on for this process, so heap figures are
// taken after a full collection rather than whenever V8 last ran one.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

for (const endpointKnown of [false, true]) {
  const label = endpointKnown ? 'endpoint known, never answers' : 'no endpoint yet';
  test(`R29 (${label}): 10^6 packets: depth ≤ 128, oldest dropped, drops == 10^6 − 128, heap ±5 MiB`, async () => {
    const { a, b, clock } = makePair({ aKnowsB: endpointKnown });
    const w = new Wire(a, b, clock);
    w.filter = () => true; // B is unreachable
    const metrics = new Metrics();
    const drops = new DropCounter(metrics);
    const max = wg.stagedPacketsMax;
    let maxDepth = 0;
    let dropActions = 0;
    let otherDrops = 0;
    let sentDatagrams = 0;
    const push = (n: number): void => {
      for (const x of a.dev.send(b.key, seqPacket(1, 2, n), clock.now)) {
        if (x.type === 'drop') {
          if (x.reason === 'no_session_queue_full') dropActions++;
          else otherDrops++;
          drops.add(x.reason);
        } else if (x.type === 'send') sentDatagrams++;
      }
      const depth = a.dev.peerStatus(b.key)!.stagedPackets;
      if (depth > maxDepth) maxDepth = depth;
    };
    // Warm up (the queue fills, code is compiled) before the baseline.
    const warm = 10_000;
    for (let n = 0; n < warm; n++) push(n);
    const base = heapAfterGc();
    const samples: number[] = [];
    const started = process.hrtime.bigint();
    for (let n = warm; n < total; n++) {
      push(n);
      if ((n + 1) % 100_000 === 0) {
        samples.push(heapAfterGc() - base);
        drops.flush();
      }
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    drops.flush();
    const metric = await metrics.value('packets_dropped_total', { reason: 'no_session_queue_full' });
    console.log(
      `# R29 ${label}: ${total} packets, max depth ${maxDepth}, drop{reason="no_session_queue_full"} ${metric} ` +
        `(expected ${total - max}), heap vs baseline per 10^5 packets [${samples.map((d) => (d / MiB).toFixed(2)).join(', ')}] MiB, ` +
        `${sentDatagrams} datagrams sent, ${(elapsedMs / 1000).toFixed(1)} s`,
    );
    assert.ok(maxDepth <= max, `depth ${maxDepth}`);
    assert.equal(maxDepth, max);
    assert.equal(dropActions, total - max);
    assert.equal(metric, total - max);
    assert.equal(otherDrops, 0);
    for (const d of samples) assert.ok(Math.abs(d) <= 5 * MiB, `heap moved ${(d / MiB).toFixed(2)} MiB`);
    // Unreachable peer: one initiation, its retransmissions are ticks' business (none here, time stood still).
    assert.equal(sentDatagrams, endpointKnown ? 1 : 0);

    // The peer becomes reachable: exactly the newest 128, in order, are delivered — the oldest were dropped.
    w.filter = undefined;
    if (!endpointKnown) a.dev.updatePeer(b.key, { endpoint: b.endpoint });
    w.run(6000, 100); // a retransmission (≤ rekeyTimeout + jitter) or the first tick's initiation
    const got = ofType(w.log.get(b)!, 'deliver').map((d) => seqOf(d.packet));
    assert.deepEqual(
      got,
      Array.from({ length: max }, (_, i) => total - max + i),
    );
    assert.equal(a.dev.peerStatus(b.key)!.stagedPackets, 0);
  });
}
