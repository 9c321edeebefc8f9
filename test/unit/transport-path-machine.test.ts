import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathMachine, type PathTiming } from '../../src/transport/path-machine.js';

const t: PathTiming = { silenceMs: 3000, probeEveryMs: 500, probeTimeoutMs: 2500, recoverEveryMs: 10000 };
const sending = { received: false, sending: true };
const quiet = { received: false, sending: false };
const both = { received: true, sending: true };

/** Ticks every 100 ms from `from` to `to`; returns the probes asked and the first switch. */
function run(m: PathMachine, from: number, to: number, o: { received: boolean; sending: boolean }) {
  let probes = 0;
  let switched: { at: number; to: string } | undefined;
  for (let now = from; now <= to; now += 100) {
    const s = m.tick(now, o);
    if (s.probe) probes++;
    if (s.switched && !switched) switched = { at: now, to: s.switched };
  }
  return { probes, switched };
}

test('traffic both ways keeps UDP and never probes', () => {
  const m = new PathMachine(t, 0);
  assert.deepEqual(run(m, 0, 60_000, both), { probes: 0, switched: undefined });
});

test('an idle peer is never probed', () => {
  const m = new PathMachine(t, 0);
  assert.deepEqual(run(m, 0, 60_000, quiet), { probes: 0, switched: undefined });
});

test('silence while sending: a probe burst, then tls when no pong', () => {
  const m = new PathMachine(t, 0);
  const r = run(m, 0, 10_000, sending);
  assert.deepEqual(r.switched, { at: 5500, to: 'tls' });
  assert.equal(r.probes, 5);
  assert.equal(m.path, 'tls');
});

test('a pong during the burst keeps UDP', () => {
  const m = new PathMachine(t, 0);
  run(m, 0, 3500, sending);
  assert.equal(m.probing, true);
  assert.deepEqual(m.pong(3600), { probe: false });
  assert.equal(m.probing, false);
  const r = run(m, 3700, 6000, sending);
  assert.equal(r.switched, undefined);
  assert.equal(m.path, 'udp');
});

test('on tls: bursts every recoverEveryMs; a pong moves back to udp', () => {
  const m = new PathMachine(t, 0, 'tls');
  const r = run(m, 0, 9900, both);
  assert.equal(r.probes, 0);
  const r2 = run(m, 10_000, 12_600, both);
  assert.equal(r2.probes, 5);
  assert.equal(m.path, 'tls');
  assert.equal(run(m, 12_700, 22_500, both).probes, 1);
  assert.deepEqual(m.pong(22_600), { probe: false, switched: 'udp' });
  assert.equal(m.path, 'udp');
});

test("on tls the peer's ping brings the next burst forward", () => {
  const m = new PathMachine(t, 0, 'tls');
  m.pingReceived(1000);
  assert.equal(m.tick(1100, quiet).probe, true);
});

test('a pong on udp without a burst changes nothing', () => {
  const m = new PathMachine(t, 0);
  assert.deepEqual(m.pong(100), { probe: false });
  assert.equal(m.path, 'udp');
});
