// R15: time-based rekey under load. Two devices stream to each other without pause (one packet every
// 20 ms each way, 20 ms RTT) for 10 simulated minutes on the fake clock. Pass figure: key rotation every
// 120 s ± 5 s, 0 packets sent with a key older than 180 s, 0 loss attributable to rollover (every packet
// sent is delivered exactly once, no drop of any kind).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/base/manual-clock.js';
import { wg } from '../../src/base/constants.js';
import {
  accounting,
  connect,
  makeTimedSide,
  receiverIndex,
  seqOf,
  seqPacket,
  TimedWire,
  type TimedSide,
} from '../helpers/timed-wire.js';

const runMs = 10 * 60_000;
const everyMs = 20;
const oneWayMs = 10;

const modes = {
  'both ways': ['a', 'b'],
  'initiator only': ['a'],
  'responder only': ['b'],
} as const;

for (const [mode, streamers] of Object.entries(modes)) {
  test(`R15 (${mode}): 10 simulated minutes: rotation every 120 s ± 5 s, no key older than 180 s, 0 loss`, () => {
    const clock = new ManualClock({ startMs: 1_000_000 });
    const a = makeTimedSide('a', 1, clock);
    const b = makeTimedSide('b', 2, clock);
    connect(a, b);
    const w = new TimedWire(a, b, clock, oneWayMs);
    const t0 = clock.now();
    const sent = new Map<TimedSide, number[]>([
      [a, []],
      [b, []],
    ]);
    const streams = (s: TimedSide): boolean => (streamers as readonly string[]).includes(s.name);
    // A makes the first session in every mode (one packet if it does not stream).
    if (!streams(a)) {
      sent.get(a)!.push(0);
      w.send(a, seqPacket(1, 2, 0));
    }
    for (const [s, offset] of [
      [a, 0],
      // B starts once the first session is up, so the first handshake is not a simultaneous initiation
      // (that race is R19) and any drop below is the rollover's.
      [b, 2 * oneWayMs + everyMs / 2],
    ] as const) {
      if (!streams(s)) continue;
      let seq = 0;
      const pump = (): void => {
        if (clock.now() - t0 >= runMs) return;
        const n = seq++;
        sent.get(s)!.push(n);
        w.send(s, s === a ? seqPacket(1, 2, n) : seqPacket(2, 1, n));
        clock.after(everyMs, pump);
      };
      clock.after(offset, pump);
    }
    clock.advance(runMs);
    w.stopTicking();
    clock.advance(1000); // the last packets in flight arrive

    for (const s of [a, b]) {
      const name = `${mode}, ${s.name}`;
      // Rotations: when a new keypair starts carrying this side's data (initiator: at derivation;
      // responder: when the initiator's first data confirms it).
      const rotations = w.log
        .filter(
          (x) =>
            x.side === s &&
            ((x.action.type === 'keypair' && x.action.keypair.isInitiator) || x.action.type === 'keypair_current'),
        )
        .map((x) => x.t - t0);
      const intervals = rotations.slice(1).map((t, i) => t - rotations[i]!);
      // Ages of the keys every transport message (data and keepalive) was sealed with.
      const createdByRemoteIndex = new Map(
        w.of(s, 'keypair').map((k) => [k.action.keypair.remoteIndex, k.action.keypair.createdAt]),
      );
      let maxAge = 0;
      let older = 0;
      let transports = 0;
      for (const { t, action } of w.of(s, 'send')) {
        if (action.message !== 'transport') continue;
        transports++;
        const created = createdByRemoteIndex.get(receiverIndex(action.data));
        assert.ok(created !== undefined, `${name}: transport sealed with a keypair it derived`);
        maxAge = Math.max(maxAge, t - created);
        if (t - created > wg.rejectAfterTimeMs) older++;
      }
      const delivered = w.of(w.other(s), 'deliver').map((d) => seqOf(d.action.packet));
      const { lost, dup } = accounting(sent.get(s)!, delivered);
      const drops = w.of(s, 'drop').map((d) => d.action.reason);
      console.log(
        `# R15 ${name}: rotations at [${rotations.map((t) => (t / 1000).toFixed(2)).join(', ')}] s, ` +
          `intervals min ${Math.min(...intervals) / 1000} s max ${Math.max(...intervals) / 1000} s; ` +
          `${transports} transport messages, max key age at send ${(maxAge / 1000).toFixed(2)} s, older than 180 s: ${older}; ` +
          `sent ${sent.get(s)!.length} delivered ${delivered.length} lost ${lost} duplicated ${dup}; drops ${drops.length}`,
      );
      // 600 s of streaming: the first session plus one rekey per 120 s (the last may fall just past the end).
      assert.ok(intervals.length >= 4, `${name}: ${intervals.length} rotations after the first`);
      for (const iv of intervals) assert.ok(Math.abs(iv - 120_000) <= 5_000, `${name}: rotation interval ${iv} ms`);
      assert.equal(older, 0, `${name}: packets sent with a key older than 180 s`);
      assert.equal(lost, 0, `${name}: packets lost`);
      assert.equal(dup, 0, `${name}: packets delivered twice`);
      assert.deepEqual(drops, [], `${name}: no drop of any kind`);
      assert.equal(delivered.length, sent.get(s)!.length);
    }
  });
}
