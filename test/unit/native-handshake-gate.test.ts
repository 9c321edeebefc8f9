// The native rx thread's handshake gate (native/src/fastpath_handshake.h) against the TypeScript side of
// the protocol: its mac1 check agrees with CookieGenerator's macs, its load rule is load-meter.ts's, and
// the cookie replies it makes open with the initiator's CookieGenerator, whose next mac2 it then admits —
// from the same source only, and only while its cookie secret lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { CookieGenerator, cookieKey, mac1Key } from '../../src/noise/cookie.js';
import { HandshakeLoadMeter } from '../../src/noise/load-meter.js';
import { decodeCookieReply } from '../../src/wire/wireguard.js';
import { loadFastPath, type GateResult } from '../../src/dataplane/native-addon.js';

const Gate = loadFastPath()?.HandshakeGate;
const skip = Gate === undefined && 'native addon not built (run npm install)';
const refreshMs = 120_000;
const pub = publicKeyOf(generatePrivateKey());

function newGate() {
  const g = new Gate!(mac1Key(pub), cookieKey(pub), refreshMs);
  return (data: Uint8Array, atMs: number, host = '198.18.0.5', port = 4000): GateResult => {
    const r = g.admit(data, host, port, atMs);
    assert.ok(r !== null, 'the gate took its input');
    return r;
  };
}

/** A handshake message (random body) with macs from `gen`, as a peer knowing our public key sends it. */
function message(gen: CookieGenerator, now: number, type: 1 | 2 = 1): Uint8Array {
  const m = randomBytes(type === 1 ? 148 : 92);
  m[0] = type;
  m[1] = m[2] = m[3] = 0;
  m.fill(0, m.length - 32);
  gen.addMacs(m, now);
  return m;
}

/** Drives the gate under load: 17 initiations from other sources within one 125 ms slot. */
function engageLoad(admit: ReturnType<typeof newGate>, atMs: number): void {
  const other = new CookieGenerator(pub, refreshMs);
  for (let i = 0; i < 17; i++) admit(message(other, 0), atMs, '198.18.0.9', 5000 + i);
}

test('gate: mac1 is checked; below load valid ones are admitted and the rest left to TypeScript', { skip }, () => {
  const admit = newGate();
  const gen = new CookieGenerator(pub, refreshMs);
  const good = message(gen, 0);
  const bad = Uint8Array.from(good);
  bad[120] = bad[120]! ^ 1;
  const reserved = Uint8Array.from(good);
  reserved[2] = 1;
  const verdicts = [good, bad, message(gen, 0, 2), good.subarray(0, 147), reserved, randomBytes(64)].map(
    (m, i) => admit(m, i).verdict,
  );
  assert.deepEqual(verdicts, ['admit_mac1', 'pass', 'admit_mac1', 'pass', 'pass', 'pass']);
});

test(
  'gate: the load rule is load-meter.ts (more than 16 in 125 ms, sticky 1 s); under load a bad mac1 is dropped',
  { skip },
  () => {
    const admit = newGate();
    const gen = new CookieGenerator(pub, refreshMs);
    const meter = new HandshakeLoadMeter();
    let t = 0;
    let loaded = 0;
    let n = 0;
    for (const [count, gapMs, afterMs] of [
      [10, 3, 200],
      [17, 7, 600],
      [30, 3, 1100],
      [5, 7, 999],
      [16, 3, 1300],
      [40, 7, 50],
    ] as const) {
      for (let i = 0; i < count; i++, n++) {
        const at = t + i * gapMs;
        const good = i % 5 !== 4;
        const m = message(gen, 0);
        if (!good) m[130] = m[130]! ^ 0xff;
        meter.note(at);
        const under = meter.underLoad();
        const expected = good ? (under ? 'cookie' : 'admit_mac1') : under ? 'drop_bad_mac1' : 'pass';
        assert.equal(admit(m, at).verdict, expected, `message ${n} at ${at} ms`);
        if (under) loaded++;
      }
      t += afterMs + count * gapMs;
    }
    assert.ok(loaded > 20 && loaded < n - 20, `both states reached (${loaded} of ${n} loaded)`);
  },
);

test(
  'gate: its cookie reply opens with the initiator CookieGenerator; the mac2 is admitted from that source only, until the secret expires',
  { skip },
  () => {
    const admit = newGate();
    const gen = new CookieGenerator(pub, refreshMs);
    engageLoad(admit, 0);
    const first = message(gen, 10);
    const r = admit(first, 10);
    assert.equal(r.verdict, 'cookie');
    assert.equal(r.reply!.length, 64);
    assert.equal(r.reply![0], 3);
    assert.deepEqual(r.reply!.subarray(4, 8), Buffer.from(first.subarray(4, 8)), 'receiver = our sender index');
    const dec = decodeCookieReply(r.reply!);
    assert.ok(dec.ok);
    assert.ok(gen.consumeReply(dec.msg, 11), 'the reply opens with our mac1 as associated data');

    const retry = message(gen, 20);
    assert.equal(admit(retry, 20).verdict, 'admit_mac2');
    assert.equal(admit(retry, 21, '198.18.0.6').verdict, 'cookie', 'another address');
    assert.equal(admit(retry, 22, '198.18.0.5', 4001).verdict, 'cookie', 'another port');
    const forged = Uint8Array.from(retry);
    forged[140] = forged[140]! ^ 1;
    assert.equal(admit(forged, 23).verdict, 'cookie', 'a wrong mac2');
    // Still under load 900 ms later (the flood keeps it so), the secret still lives: admitted.
    engageLoad(admit, 900);
    assert.equal(admit(message(gen, 900), 900).verdict, 'admit_mac2');
    // Past the secret's lifetime the old cookie no longer verifies: a new reply, with a new secret.
    engageLoad(admit, refreshMs + 50);
    const late = message(gen, 950);
    const r2 = admit(late, refreshMs + 50);
    assert.equal(r2.verdict, 'cookie');
    const dec2 = decodeCookieReply(r2.reply!);
    assert.ok(dec2.ok && gen.consumeReply(dec2.msg, refreshMs + 51));
    assert.equal(admit(message(gen, refreshMs + 60), refreshMs + 60).verdict, 'admit_mac2');
    // Load gone (1 s after the last excess): mac1 alone admits again.
    assert.equal(admit(message(gen, refreshMs + 2000), refreshMs + 2000).verdict, 'admit_mac1');
  },
);

test('gate: IPv6 sources get valid replies, each with its own nonce', { skip }, () => {
  const admit = newGate();
  engageLoad(admit, 0);
  const nonces = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const gen = new CookieGenerator(pub, refreshMs);
    const r = admit(message(gen, 0, (i % 2) + 1 === 1 ? 1 : 2), 1, `2001:db8::${i + 1}`, 6000 + i);
    assert.equal(r.verdict, 'cookie');
    const d = decodeCookieReply(r.reply!);
    assert.ok(d.ok && gen.consumeReply(d.msg, 1), `reply ${i} opens`);
    nonces.add(r.reply!.subarray(8, 32).toString('hex'));
    assert.equal(admit(message(gen, 2, 1), 2, `2001:db8::${i + 1}`, 6000 + i).verdict, 'admit_mac2');
  }
  assert.equal(nonces.size, 50);
});
