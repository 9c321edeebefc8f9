// R38, simulated half: restart a node with the same identity, with only the WireGuard layer to recover
// (no control-plane "peer restarted" hint: the daemon's fast path, measured end to end in
// test/netns/r38-restart.test.ts). A still holds a session B's new process has no keys for. Both sides
// echo requests; a "ping" is one request per second. Pass figure: reachability restored ≤ 2 s if the
// restarted node talks first, ≤ 20 s worst case (it stays silent: A's packets on the dead session go
// unanswered until A re-handshakes after keepalive 10 s + rekeyTimeout 5 s, plus jitter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/base/manual-clock.js';
import { connect, makeTimedSide, seqOf, seqPacket, TimedWire, type TimedSide } from '../helpers/timed-wire.js';

const replyBit = 0x8000_0000;
const oneWayMs = 10;
const pingEveryMs = 1000;

interface Run {
  /** Time from B's restart to the first echo reply each side got after it. */
  readonly aReached: number | undefined;
  readonly bReached: number | undefined;
}

/**
 * A session exists (made by `firstInitiator`); B restarts at `restartAt` (ms after start) with the same
 * key. A pings B from the start every second; B pings A after its restart only when `bTalksFirst`.
 */
function restart(firstInitiator: 'a' | 'b', restartAt: number, bTalksFirst: boolean): Run {
  const clock = new ManualClock({ startMs: 1_000_000 });
  const a = makeTimedSide('a', 1, clock);
  const b0 = makeTimedSide('b', 2, clock);
  connect(a, b0);
  const w = new TimedWire(a, b0, clock, oneWayMs);
  const t0 = clock.now();
  const packet = (from: TimedSide, seq: number) => (from === a ? seqPacket(1, 2, seq) : seqPacket(2, 1, seq));
  const replies = new Map<string, number[]>([
    ['a', []],
    ['b', []],
  ]);
  // Both sides answer echo requests; replies are noted with their arrival time.
  w.afterBatch = (side, actions) => {
    for (const x of actions) {
      if (x.type !== 'deliver') continue;
      const seq = seqOf(x.packet);
      if (seq & replyBit) replies.get(side.name)!.push(clock.now());
      else w.send(side, packet(side, (seq | replyBit) >>> 0));
    }
  };
  if (firstInitiator === 'b') w.send(b0, packet(b0, 0));
  clock.advance(oneWayMs * 4);
  let seq = 1;
  const pingA = (): void => {
    w.send(a, packet(a, seq++));
    if (clock.now() - t0 < restartAt + 40_000) clock.after(pingEveryMs, pingA);
  };
  pingA();
  clock.advance(t0 + restartAt - clock.now());
  assert.ok(replies.get('a')!.length > 0, 'A reached B before the restart');

  const b = makeTimedSide('b', 2, clock, { seed: 'b/restarted' });
  b.dev.addPeer({ publicKey: a.dev.publicKey, endpoint: a.endpoint });
  const up = clock.now();
  w.restart(b0, b);
  if (bTalksFirst) {
    const pingB = (): void => {
      w.send(b, packet(b, seq++));
      if (clock.now() - up < 40_000) clock.after(pingEveryMs, pingB);
    };
    pingB();
  }
  clock.advance(40_000);
  const first = (name: string) => {
    const t = replies.get(name)!.find((x) => x > up);
    return t === undefined ? undefined : t - up;
  };
  return { aReached: first('a'), bReached: first('b') };
}

for (const firstInitiator of ['a', 'b'] as const) {
  test(`R38 sim (session first made by ${firstInitiator}): the restarted node talks first: both reach ≤ 2 s`, () => {
    for (const restartAt of [30_000, 30_250, 30_500, 30_999]) {
      const r = restart(firstInitiator, restartAt, true);
      console.log(
        `# R38 sim, B talks first (session by ${firstInitiator}, restart ${restartAt - 30_000} ms into A's ping period): ` +
          `B's first reply after ${r.bReached} ms, A's after ${r.aReached} ms (bound 2000 ms)`,
      );
      assert.ok(r.bReached !== undefined && r.bReached <= 2000, `B reached A after ${r.bReached} ms`);
      assert.ok(r.aReached !== undefined && r.aReached <= 2000, `A reached B after ${r.aReached} ms`);
    }
  });

  test(`R38 sim (session first made by ${firstInitiator}): the restarted node stays silent: A reaches it ≤ 20 s`, () => {
    const figures: number[] = [];
    for (const restartAt of [30_000, 30_250, 30_500, 30_999]) {
      const r = restart(firstInitiator, restartAt, false);
      console.log(
        `# R38 sim, B silent (session by ${firstInitiator}, restart ${restartAt - 30_000} ms into A's ping period): ` +
          `A's first reply after ${r.aReached} ms (bound 20000 ms)`,
      );
      assert.ok(r.aReached !== undefined && r.aReached <= 20_000, `A reached B after ${r.aReached} ms`);
      figures.push(r.aReached);
    }
    // Not faster than the protocol allows: without a hint, A learns only from its own timers.
    assert.ok(Math.min(...figures) >= 10_000, `recovery without a hint in ${Math.min(...figures)} ms`);
  });
}
