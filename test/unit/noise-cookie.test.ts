// mac1/mac2 and cookie replies: under load a handshake without a valid mac2 is answered only with a
// cookie reply; the initiator stores the cookie and its next initiation carries mac2 and is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wg } from '../../src/base/constants.js';
import { CookieChecker, CookieGenerator, sourceBytes } from '../../src/noise/cookie.js';
import { HandshakeRateLimiter } from '../../src/noise/ratelimiter.js';
import { decodeCookieReply, initiationLayout } from '../../src/wire/wireguard.js';
import { ipv4Packet, makePair, ofType, seededRandom, sends } from '../helpers/wg-pair.js';

const p = ipv4Packet('198.19.0.1', '198.19.0.2');
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

test('under load: initiation without mac2 gets a cookie reply; the retry with mac2 succeeds', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutJitterMaxMs: 0 } });
  b.underLoad = true;
  const init1 = sends(a.dev.send(b.key, p, clock.now))[0]!.data;
  assert.ok(isZero(init1.subarray(initiationLayout.mac2)), 'no cookie yet: mac2 is zero');
  const out1 = b.dev.receive(init1, a.endpoint, clock.now);
  assert.deepEqual(
    out1.map((x) => (x.type === 'send' ? `send:${x.message}` : x.type === 'drop' ? `drop:${x.reason}` : x.type)),
    ['send:cookie_reply', 'drop:bad_mac2'],
  );
  const reply = sends(out1)[0]!;
  assert.deepEqual(reply.to, a.endpoint);
  assert.equal(reply.data.length, 64);
  assert.deepEqual(a.dev.receive(reply.data, b.endpoint, clock.now), [], 'cookie stored silently');
  clock.advance(wg.rekeyTimeoutMs);
  const init2 = sends(a.dev.tick(clock.now)).find((x) => x.message === 'initiation')!.data;
  assert.ok(!isZero(init2.subarray(initiationLayout.mac2)), 'retry carries mac2');
  const out2 = b.dev.receive(init2, a.endpoint, clock.now);
  assert.deepEqual(
    sends(out2).map((x) => x.message),
    ['response'],
  );
  // The response is checked by A the same way only if A is under load; it is not.
  const out3 = a.dev.receive(sends(out2)[0]!.data, b.endpoint, clock.now);
  assert.equal(ofType(out3, 'handshake').length, 1);
});

test('under load: mac2 is bound to the source address — a cookie from another address does not help', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutJitterMaxMs: 0 } });
  b.underLoad = true;
  const init1 = sends(a.dev.send(b.key, p, clock.now))[0]!.data;
  const reply = sends(b.dev.receive(init1, a.endpoint, clock.now))[0]!;
  a.dev.receive(reply.data, b.endpoint, clock.now);
  clock.advance(wg.rekeyTimeoutMs);
  const init2 = sends(a.dev.tick(clock.now)).find((x) => x.message === 'initiation')!.data;
  const elsewhere = { host: '198.18.9.9', port: a.endpoint.port };
  const out = b.dev.receive(init2, elsewhere, clock.now);
  assert.deepEqual(
    out.map((x) => x.type),
    ['send', 'drop'],
  );
});

test('under load: a bad mac1 is never answered, not even with a cookie', () => {
  const { a, b, clock } = makePair();
  b.underLoad = true;
  const init = Uint8Array.from(sends(a.dev.send(b.key, p, clock.now))[0]!.data);
  init[initiationLayout.mac1]! ^= 1;
  assert.deepEqual(b.dev.receive(init, a.endpoint, clock.now), [{ type: 'drop', reason: 'bad_mac1' }]);
});

test('not under load: mac2 is not checked (wireguard-go behaviour)', () => {
  const { a, b, clock } = makePair();
  const init = Uint8Array.from(sends(a.dev.send(b.key, p, clock.now))[0]!.data);
  init[initiationLayout.mac2]! ^= 1;
  assert.deepEqual(
    sends(b.dev.receive(init, a.endpoint, clock.now)).map((x) => x.message),
    ['response'],
  );
});

test('a tampered cookie reply is dropped and leaves no cookie behind', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutJitterMaxMs: 0 } });
  b.underLoad = true;
  const init1 = sends(a.dev.send(b.key, p, clock.now))[0]!.data;
  const reply = sends(b.dev.receive(init1, a.endpoint, clock.now))[0]!.data;
  for (let i = 0; i < reply.length; i++) {
    const bad = Uint8Array.from(reply);
    bad[i]! ^= 1;
    const out = a.dev.receive(bad, b.endpoint, clock.now);
    assert.ok(out.length === 1 && out[0]!.type === 'drop', `byte ${i}: ${JSON.stringify(out)}`);
  }
  clock.advance(wg.rekeyTimeoutMs);
  const init2 = sends(a.dev.tick(clock.now)).find((x) => x.message === 'initiation')!.data;
  assert.ok(isZero(init2.subarray(initiationLayout.mac2)));
});

test('cookie generator: the cookie is used only while fresh (cookieRefreshTime)', () => {
  const random = seededRandom('cookie');
  const responderKey = random(32);
  const checker = new CookieChecker(responderKey, wg.cookieRefreshTimeMs);
  const gen = new CookieGenerator(responderKey, wg.cookieRefreshTimeMs);
  const msg = new Uint8Array(148);
  msg[0] = 1;
  gen.addMacs(msg, 0);
  assert.ok(checker.checkMac1(msg));
  const src = sourceBytes('198.18.0.1', 51821);
  const reply = decodeCookieReply(checker.createReply(msg, 7, src, 0, random));
  assert.ok(reply.ok);
  assert.ok(gen.consumeReply(reply.msg, 1000));
  gen.addMacs(msg, 1000 + wg.cookieRefreshTimeMs);
  assert.ok(checker.checkMac2(msg, src, wg.cookieRefreshTimeMs), 'fresh cookie and fresh secret');
  assert.ok(!checker.checkMac2(msg, src, wg.cookieRefreshTimeMs + 1), 'the secret rotated');
  msg.fill(0, 132);
  gen.addMacs(msg, 1001 + wg.cookieRefreshTimeMs);
  assert.ok(isZero(msg.subarray(132)), 'stale cookie: no mac2');
  assert.deepEqual([...sourceBytes('fd00::1', 0x1234).subarray(16)], [0x34, 0x12], 'port little-endian');
});

test('rate limiter: burst of 5 per source, then 20 per second', () => {
  const r = new HandshakeRateLimiter();
  const allowed = (now: number) => r.allow('198.18.0.1', now);
  let n = 0;
  for (let i = 0; i < 10; i++) if (allowed(0)) n++;
  assert.equal(n, 5);
  assert.equal(allowed(49), false);
  assert.equal(allowed(100), true);
  assert.equal(r.allow('198.18.0.2', 100), true, 'other sources are independent');
  r.collect(2000);
  assert.equal(r.size, 0);
});
