// R6–R11: replay and counters. The window against a reference model over 10^6 counters (R6), the
// known-answer table of wireguard-go's replay_test.go (R7), end-to-end replay through WgDevice (R8:
// 10^4 packets re-injected 3 times in random order, 0 delivered twice), forged counters with bad tags
// (R9: 10^5, window untouched, legit stream loses nothing), counters at the reject limit (R10), and
// in-window reordering of depth ≤ 1000 (R11: 0 false replay drops).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wg } from '../../src/base/constants.js';
import { ReplayFilter, replayWindow } from '../../src/noise/replay.js';
import { transportLayout } from '../../src/wire/wireguard.js';
import { Rng } from '../fuzz/engine.js';
import { ReplayModel } from '../helpers/replay-compliance.js';
import { ipv4Packet, makePair, ofType, sends, Wire, type Side } from '../helpers/wg-pair.js';

test('R6: ReplayFilter == Set model over 100 seeds × 10^4 counters (in-window reorder, duplicates, jumps, limit edge)', () => {
  let divergences = 0;
  let counters = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const rng = new Rng(seed);
    const f = new ReplayFilter();
    const m = new ReplayModel();
    // Start near the reject limit for a quarter of the seeds (wraparound edge).
    const limit = seed % 4 === 0 ? 50_000 + rng.below(10_000) : Number.MAX_SAFE_INTEGER;
    let base = seed % 4 === 0 ? limit - 5_000 : rng.below(1000);
    for (let i = 0; i < 10_000; i++) {
      let c: number;
      switch (rng.below(6)) {
        case 0:
          c = base + 1; // in order
          break;
        case 1:
          c = base - rng.below(replayWindow + 200); // late, around the window edge
          break;
        case 2:
          c = base - rng.below(64); // duplicate-ish
          break;
        case 3:
          c = base + 1 + rng.below(20_000); // jump (sometimes more than a window)
          break;
        case 4:
          c = base - replayWindow + rng.below(3) - 1; // exactly at the edge
          break;
        default:
          c = base + rng.below(64);
      }
      c = Math.max(0, c);
      const want = m.validate(c, limit);
      if (f.validate(c, limit) !== want) divergences++;
      if (want && c > base) base = c;
      counters++;
    }
  }
  assert.equal(counters, 1_000_000);
  assert.equal(divergences, 0);
});

test('R7: the known-answer table of wireguard-go replay/replay_test.go', () => {
  // Our counters are JS numbers; the reject limit plays the role of RejectAfterMessages (2^64 − 2^13 − 1)
  // at the top of the safe-integer range, which keeps the edge cases the same.
  const RAM = Number.MAX_SAFE_INTEGER - 2 ** 13 - 1;
  const TLIM = replayWindow + 1;
  let f = new ReplayFilter();
  let n = 0;
  const T = (c: number, expected: boolean) => {
    n++;
    assert.equal(f.validate(c, RAM), expected, `case ${n}: counter ${c}`);
  };
  T(0, true);
  T(1, true);
  T(1, false);
  T(9, true);
  T(8, true);
  T(7, true);
  T(7, false);
  T(TLIM, true);
  T(TLIM - 1, true);
  T(TLIM - 1, false);
  T(TLIM - 2, true);
  T(2, true);
  T(2, false);
  T(TLIM + 16, true);
  T(3, false);
  T(TLIM + 16, false);
  T(TLIM * 4, true);
  T(TLIM * 4 - (TLIM - 1), true);
  T(10, false);
  T(TLIM * 4 - TLIM, false);
  T(TLIM * 4 - (TLIM + 1), false);
  T(TLIM * 4 - (TLIM - 2), true);
  T(TLIM * 4 + 1 - TLIM, false);
  T(0, false);
  T(RAM, false);
  T(RAM - 1, true);
  T(RAM, false);
  T(RAM - 1, false);
  T(RAM - 2, true);
  T(RAM + 1, false);
  T(RAM + 2, false);
  T(RAM - 2, false);
  T(RAM - 3, true);
  T(0, false);
  assert.equal(n, 34);

  // Bulk tests 1–6.
  f = new ReplayFilter();
  for (let i = 1; i <= replayWindow; i++) T(i, true);
  T(0, true);
  T(0, false);
  f = new ReplayFilter();
  for (let i = 2; i <= replayWindow + 1; i++) T(i, true);
  T(1, true);
  T(0, false);
  f = new ReplayFilter();
  for (let i = replayWindow + 1; i > 0; i--) T(i, true);
  f = new ReplayFilter();
  for (let i = replayWindow + 2; i > 1; i--) T(i, true);
  T(0, false);
  f = new ReplayFilter();
  for (let i = replayWindow; i > 0; i--) T(i, true);
  T(replayWindow + 1, true);
  T(0, false);
  f = new ReplayFilter();
  for (let i = replayWindow; i > 0; i--) T(i, true);
  T(0, true);
  T(replayWindow + 1, true);
});

const u32le = (b: Uint8Array, at: number) =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const counterOf = (d: Uint8Array) =>
  u32le(d, transportLayout.counter) + u32le(d, transportLayout.counter + 4) * 2 ** 32;

/** A pair with an established session; returns it plus a function sealing packet i (id in the payload). */
function established() {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, ipv4Packet('198.19.0.1', '198.19.0.2'));
  w.take(a);
  w.take(b);
  const seal = (i: number): Uint8Array => {
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setUint32(0, i);
    const out = sends(a.dev.send(b.key, ipv4Packet('198.19.0.1', '198.19.0.2', payload), clock.now));
    assert.equal(out.length, 1);
    return out[0]!.data;
  };
  const idOf = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset + 20, 8).getUint32(0);
  return { a, b, clock, seal, idOf };
}

/** A random permutation; with maxDepth, each element moves at most maxDepth places (sort by i + jitter). */
function shuffle<T>(xs: T[], rng: Rng, maxDepth?: number): T[] {
  if (maxDepth !== undefined) {
    return xs
      .map((x, i) => ({ x, k: i + rng.below(maxDepth + 1) }))
      .sort((p, q) => p.k - q.k)
      .map((e) => e.x);
  }
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function receiveAll(dst: Side, from: Side, now: number, datagrams: Uint8Array[], idOf: (p: Uint8Array) => number) {
  const delivered: number[] = [];
  const drops: Record<string, number> = {};
  for (const d of datagrams) {
    for (const x of dst.dev.receive(d, from.endpoint, now)) {
      if (x.type === 'deliver') delivered.push(idOf(x.packet));
      else if (x.type === 'drop') drops[x.reason] = (drops[x.reason] ?? 0) + 1;
    }
  }
  return { delivered, drops };
}

test('R8 + R11: 10^4 packets reordered (depth ≤ 1000) all delivered once; 3×10^4 random re-injections: 0 delivered', () => {
  const { a, b, clock, seal, idOf } = established();
  const rng = new Rng(8);
  const n = 10_000;
  const recorded = Array.from({ length: n }, (_, i) => seal(i));
  // R11: in-window reordering of depth ≤ 1000 (< 8128) causes no false replay drop.
  const first = receiveAll(b, a, clock.now, shuffle(recorded, rng, 1000), idOf);
  assert.deepEqual(first.drops, {}, 'no false replay drops');
  assert.equal(first.delivered.length, n);
  assert.equal(new Set(first.delivered).size, n, 'each packet delivered exactly once');
  // R8: re-inject everything three times, in random order.
  let replays = 0;
  const again = new Map<number, number>();
  for (let round = 0; round < 3; round++) {
    const r = receiveAll(b, a, clock.now, shuffle(recorded, rng), idOf);
    replays += n;
    for (const id of r.delivered) again.set(id, (again.get(id) ?? 0) + 1);
    assert.deepEqual(r.drops, { replayed: n }, `round ${round}: every re-injection is a 'replayed' drop`);
  }
  assert.equal(replays, 30_000);
  assert.equal(again.size, 0, '0 packets delivered twice');
  assert.equal(b.dev.peerStatus(a.key)!.rxPackets, n + 1);
});

test('R9: 10^5 forged packets (valid index, bad tag, counter = last + 10^6) leave the window untouched; 0 legit loss', () => {
  const { a, b, clock, seal, idOf } = established();
  const legit = Array.from({ length: 100 }, (_, i) => seal(i));
  assert.equal(receiveAll(b, a, clock.now, legit.slice(0, 50), idOf).delivered.length, 50);
  const before = b.dev.snapshot(a.key);
  const template = legit[50]!;
  const last = counterOf(legit[49]!);
  const forged = Uint8Array.from(template);
  let decryptFailed = 0;
  const forgedCount = 100_000;
  for (let i = 0; i < forgedCount; i++) {
    const c = last + 1_000_000 + i;
    const v = new DataView(forged.buffer);
    v.setUint32(transportLayout.counter, c >>> 0, true);
    v.setUint32(transportLayout.counter + 4, Math.floor(c / 2 ** 32), true);
    forged[transportLayout.content + (i % 16)]! ^= 0x5a; // garbles ciphertext/tag
    const out = b.dev.receive(forged, a.endpoint, clock.now);
    if (out.length === 1 && out[0]!.type === 'drop' && out[0]!.reason === 'decrypt_failed') decryptFailed++;
  }
  assert.equal(decryptFailed, forgedCount, 'each forged packet is one decrypt_failed drop');
  assert.deepEqual(b.dev.snapshot(a.key), before, 'window (and all other state) unchanged');
  const rest = receiveAll(b, a, clock.now, legit.slice(50), idOf);
  assert.deepEqual(rest.drops, {}, 'legit stream loses 0 packets afterwards');
  assert.deepEqual(
    rest.delivered,
    Array.from({ length: 50 }, (_, i) => 50 + i),
  );
});

test('R10: counters at the reject limit: the sender stops before it, rekeys, and nothing throws', () => {
  const limit = 64;
  const { a, b, clock } = makePair({
    limits: { rejectAfterMessages: BigInt(limit), rekeyAfterMessages: BigInt(limit - 3) },
  });
  const w = new Wire(a, b, clock);
  const p = ipv4Packet('198.19.0.1', '198.19.0.2');
  w.send(a, p);
  clock.advance(wg.rekeyTimeoutMs); // one initiation per rekeyTimeout: let the rekey happen at once
  const counters: number[] = [];
  w.filter = (d) => {
    if (d.dst === b && d.data[0] === 4) counters.push(counterOf(d.data));
    return false;
  };
  for (let i = 0; i < limit + 5; i++) {
    clock.advance(10);
    assert.doesNotThrow(() => w.send(a, p));
  }
  assert.ok(
    counters.every((c) => c < limit),
    'no counter at or past the limit goes out',
  );
  assert.ok(ofType(w.log.get(a)!, 'handshake').length >= 2, 'a new session was made (rekey)');
  // The receiver refuses counters at and past the limit even with valid framing.
  const f = new ReplayFilter();
  assert.equal(f.validate(limit - 1, limit), true);
  for (let c = limit; c < limit + 5; c++) assert.equal(f.validate(c, limit), false);
  assert.equal(ofType(w.log.get(b)!, 'deliver').length, limit + 6, 'every packet still arrived');
});
