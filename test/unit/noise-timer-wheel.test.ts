// The timer wheel behind WgDevice.tick: a tick visits only peers with a deadline falling due (not every
// configured peer), never before the deadline's slot, and an earlier deadline overrides a later one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { resolveLimits } from '../../src/noise/limits.js';
import type { Peer } from '../../src/noise/peer.js';
import { TimerWheel } from '../../src/noise/timer-wheel.js';

const limits = resolveLimits();
const sk = generatePrivateKey();
const identity = { privateKey: sk, publicKey: publicKeyOf(sk) };

function peers(wheel: TimerWheel, n: number): Peer[] {
  return Array.from({ length: n }, (_, i) => wheel.createPeer(`p${i}`, identity, identity.publicKey, limits));
}

/** Advances and returns the visited peers' keys; a visit fires (clears) every deadline that is due. */
function tick(wheel: TimerWheel, now: number): string[] {
  const seen: string[] = [];
  wheel.advance(now, (p) => {
    seen.push(p.key);
    for (const k of [
      'retransmitHandshake',
      'sendKeepalive',
      'newHandshake',
      'zeroKeyMaterial',
      'persistentKeepalive',
    ] as const) {
      const at = p.timers[k];
      if (at !== undefined && at <= now) p.timers[k] = undefined;
    }
  });
  return seen;
}

test('timer wheel: idle peers cost nothing per tick; a deadline is visited in its slot, not before', () => {
  const wheel = new TimerWheel(10);
  const ps = peers(wheel, 3000);
  assert.deepEqual(tick(wheel, 1000), []);
  ps[5]!.timers.sendKeepalive = 1300;
  ps[7]!.timers.zeroKeyMaterial = 9000;
  assert.equal(wheel.scheduled, 2);
  for (let t = 1100; t < 1300; t += 100) assert.deepEqual(tick(wheel, t), [], `at ${t}`);
  assert.deepEqual(tick(wheel, 1300), ['p5']);
  assert.deepEqual(tick(wheel, 1400), []);
  assert.equal(wheel.scheduled, 1);
  assert.deepEqual(tick(wheel, 9000), ['p7']);
  assert.equal(wheel.scheduled, 0);
});

test('timer wheel: an earlier deadline wins, a later one waits for its slot, a forgotten peer is skipped', () => {
  const wheel = new TimerWheel(10);
  const [a, b, c] = peers(wheel, 3);
  a!.timers.zeroKeyMaterial = 50_000;
  a!.timers.sendKeepalive = 2_000;
  assert.deepEqual(tick(wheel, 2_000), ['p0'], 'the earlier deadline');
  assert.equal(wheel.scheduled, 1, 'filed again for the later one');
  b!.timers.newHandshake = 3_000;
  b!.timers.persistentKeepalive = 60_000;
  c!.timers.newHandshake = 3_000;
  wheel.forget(c!);
  assert.deepEqual(tick(wheel, 3_000), ['p1']);
  // A long pause: everything overdue is visited once, in deadline order.
  assert.deepEqual(tick(wheel, 100_000), ['p0', 'p1']);
  assert.equal(wheel.scheduled, 0);
});

test('timer wheel: staged packets with no handshake in flight are retried on every tick', () => {
  const wheel = new TimerWheel(10);
  const [a] = peers(wheel, 1);
  a!.staged.push(new Uint8Array(1));
  wheel.touch(a!);
  assert.deepEqual(tick(wheel, 100), ['p0']);
  assert.deepEqual(tick(wheel, 200), ['p0']);
  a!.staged = [];
  assert.deepEqual(tick(wheel, 300), ['p0']);
  assert.deepEqual(tick(wheel, 400), []);
});
