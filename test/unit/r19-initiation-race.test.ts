// R19: simultaneous initiation race (Nebula TestStage1Race; the kernel's next/current keypair slots).
// Both sides have data for each other before any session exists and initiate at once (or the second
// one before the first's initiation reaches it). Pass figure: both converge on one current session within
// 1 RTT + 5 s (simulated), and 0 inner packets lost beyond those in flight: here the wire loses nothing,
// so every packet either side sent must arrive exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/base/manual-clock.js';
import { wg } from '../../src/base/constants.js';
import {
  accounting,
  connect,
  makeTimedSide,
  seqOf,
  seqPacket,
  TimedWire,
  type TimedSide,
} from '../helpers/timed-wire.js';

const streamMs = 30_000;
const everyMs = 20;

interface Current {
  readonly localIndex: number;
  readonly remoteIndex: number;
}

function current(s: TimedSide, peer: TimedSide): Current | undefined {
  const kp = s.dev.snapshot(peer.key)?.keypairs as { current?: Current } | undefined;
  return kp?.current;
}

/** One race: B starts `lagMs` after A (negative: A after B); one-way delay `oneWayMs`. */
function race(oneWayMs: number, lagMs: number, seed: string) {
  const clock = new ManualClock({ startMs: 1_000_000 });
  // Keys from the seed, so the side that yields (the lower key) differs between seeds.
  const a = makeTimedSide(`a${seed}`, 1, clock);
  const b = makeTimedSide(`b${seed}`, 2, clock);
  connect(a, b);
  const w = new TimedWire(a, b, clock, oneWayMs);
  const t0 = clock.now() + Math.max(0, -lagMs);
  // The time both sides last came to share one current session (undefined while they do not).
  let convergedAt: number | undefined;
  let sessionChanges = 0;
  let last = '';
  w.afterBatch = () => {
    const ca = current(a, b);
    const cb = current(b, a);
    const same =
      ca !== undefined && cb !== undefined && ca.localIndex === cb.remoteIndex && ca.remoteIndex === cb.localIndex;
    const id = same ? `${ca.localIndex}/${ca.remoteIndex}` : '';
    if (id !== last) {
      if (same) sessionChanges++;
      convergedAt = same ? clock.now() : undefined;
      last = id;
    }
  };
  const sent = new Map<TimedSide, number[]>([
    [a, []],
    [b, []],
  ]);
  for (const [s, start] of [
    [a, Math.max(0, -lagMs)],
    [b, Math.max(0, lagMs)],
  ] as const) {
    let seq = 0;
    const stop = clock.now() + start + streamMs;
    const pump = (): void => {
      if (clock.now() >= stop) return;
      const n = seq++;
      sent.get(s)!.push(n);
      w.send(s, s === a ? seqPacket(1, 2, n) : seqPacket(2, 1, n));
      clock.after(everyMs, pump);
    };
    clock.after(start, pump);
  }
  clock.advance(streamMs + Math.abs(lagMs) + 1000);
  w.stopTicking();
  clock.advance(1000);
  const crossed = w.log.filter((x) => x.action.type === 'drop' && x.action.reason === 'handshake_crossed').length;
  const initiations = w.log.filter((x) => x.action.type === 'send' && x.action.message === 'initiation').length;
  const loss = [a, b].map((s) =>
    accounting(
      sent.get(s)!,
      w.of(w.other(s), 'deliver').map((d) => seqOf(d.action.packet)),
    ),
  );
  const inner = w.log.filter((x) => x.action.type === 'drop' && x.action.reason.startsWith('no_session')).length;
  return {
    lower: Buffer.compare(a.dev.publicKey, b.dev.publicKey) < 0 ? 'a' : 'b',
    convergedAfter: convergedAt === undefined ? undefined : convergedAt - t0,
    sessionChanges,
    crossed,
    initiations,
    lost: loss[0]!.lost + loss[1]!.lost,
    dup: loss[0]!.dup + loss[1]!.dup,
    innerDrops: inner,
    sent: sent.get(a)!.length + sent.get(b)!.length,
  };
}

for (const oneWayMs of [1, 10, 50, 200]) {
  test(`R19: simultaneous initiation, one-way ${oneWayMs} ms: one current session within 1 RTT + 5 s, 0 loss`, () => {
    const rtt = 2 * oneWayMs;
    const bound = rtt + wg.rekeyTimeoutMs;
    // Both at once, and each side second by half a one-way delay (its initiation crosses the other's).
    for (const lagMs of [0, oneWayMs / 2, -oneWayMs / 2]) {
      for (const seed of ['1', '2', '3', '4']) {
        const r = race(oneWayMs, lagMs, seed);
        console.log(
          `# R19 one-way ${oneWayMs} ms, lag ${lagMs} ms, lower key ${r.lower}: one current session after ` +
            `${r.convergedAfter} ms (bound ${bound} ms), initiations ${r.initiations}, crossed ${r.crossed}, ` +
            `session changes ${r.sessionChanges}; sent ${r.sent}, lost ${r.lost}, duplicated ${r.dup}`,
        );
        assert.ok(r.convergedAfter !== undefined, 'the sides share one current session at the end');
        assert.ok(r.convergedAfter <= bound, `converged after ${r.convergedAfter} ms > ${bound} ms`);
        assert.equal(r.sessionChanges, 1, 'once converged, the session stays (no second handshake within 30 s)');
        assert.equal(r.lost, 0, 'inner packets lost');
        assert.equal(r.dup, 0, 'inner packets delivered twice');
        assert.equal(r.innerDrops, 0, 'no staged packet dropped');
      }
    }
  });
}
