// Control-plane authentication: request and response MACs, validity window, replay cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auth } from '../../src/base/constants.js';
import { Secret } from '../../src/base/secret.js';
import {
  NonceCache,
  deriveAuthKey,
  parseRequestAuth,
  signRequest,
  signResponse,
  verifyRequest,
  verifyResponse,
} from '../../src/control/auth.js';

const key = deriveAuthKey(new Secret('correct horse battery staple, 32+ chars long'));
const otherKey = deriveAuthKey(new Secret('another cluster secret that is also long enough'));
const now = 1_700_000_000_000;
const body = Buffer.from('{"type":"ping"}');

function signed(over: Partial<Parameters<typeof signRequest>[1]> = {}, k = key) {
  return signRequest(k, { method: 'POST', path: '/v1/gossip', body, from: 'a', to: 'b', now, ...over });
}

function verify(
  header: string | undefined,
  over: Partial<Parameters<typeof verifyRequest>[2]> = {},
  cache = new NonceCache(),
) {
  return verifyRequest(
    key,
    header,
    { method: 'POST', path: '/v1/gossip', body, now, ownId: 'b', allowAnyRecipient: false, ...over },
    cache,
  );
}

test('key derivation: same secret same key, text and bytes agree, different secret differs', () => {
  const a = deriveAuthKey(new Secret('s3cret-s3cret-s3cret-s3cret-s3cret'));
  const b = deriveAuthKey(new Secret(Buffer.from('s3cret-s3cret-s3cret-s3cret-s3cret')));
  assert.deepEqual(a.expose(), b.expose());
  assert.notDeepEqual(a.expose(), key.expose());
  assert.equal(String(a), '<redacted>');
});

test('a valid request verifies and yields the sender', () => {
  const { header, nonce } = signed();
  const v = verify(header);
  assert.ok(v.ok);
  assert.equal(v.auth.from, 'a');
  assert.equal(v.auth.nonce, nonce);
  assert.ok(!header.includes('horse'));
});

test('expired and future-dated requests are refused; the edges of the window are accepted', () => {
  const old = signed({ now: now - auth.clockSkewMs - 1 }).header;
  assert.deepEqual(verify(old), { ok: false, reason: 'expired' });
  const future = signed({ now: now + auth.clockSkewMs + 1 }).header;
  assert.deepEqual(verify(future), { ok: false, reason: 'future' });
  assert.ok(verify(signed({ now: now - auth.clockSkewMs }).header).ok);
  assert.ok(verify(signed({ now: now + auth.clockSkewMs }).header).ok);
});

test('a replayed nonce is refused, also from a different sender only when the pair repeats', () => {
  const cache = new NonceCache();
  const { header } = signed();
  assert.ok(verify(header, {}, cache).ok);
  assert.deepEqual(verify(header, {}, cache), { ok: false, reason: 'replayed' });
  const sameNonceOtherSender = signed({ from: 'c', nonce: parseRequestAuth(header)!.nonce }).header;
  assert.ok(verify(sameNonceOtherSender, {}, cache).ok);
});

test('a request signed with another secret is refused and does not enter the replay cache', () => {
  const cache = new NonceCache();
  const { header } = signed({}, otherKey);
  assert.deepEqual(verify(header, {}, cache), { ok: false, reason: 'bad_signature' });
  assert.equal(cache.size, 0);
});

test('tampering with body, path, query, method or the header fields breaks the signature', () => {
  const { header } = signed();
  assert.deepEqual(verify(header, { body: Buffer.from('{"type":"pong"}') }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify(header, { path: '/v1/join' }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify(header, { path: '/v1/gossip?x=1' }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify(header, { method: 'PUT' }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify(header.replace('from=a', 'from=c')), { ok: false, reason: 'bad_signature' });
  const ts = /ts=(\d+)/.exec(header)![1]!;
  assert.deepEqual(verify(header.replace(`ts=${ts}`, `ts=${Number(ts) + 1}`)), { ok: false, reason: 'bad_signature' });
});

test('a request for another node, or to=* where not allowed, is refused', () => {
  assert.deepEqual(verify(signed({ to: 'c' }).header), { ok: false, reason: 'wrong_recipient' });
  assert.deepEqual(verify(signed({ to: '*' }).header), { ok: false, reason: 'wrong_recipient' });
  assert.ok(verify(signed({ to: '*' }).header, { allowAnyRecipient: true }).ok);
});

test('missing and garbled headers are refused without throwing', () => {
  const { header } = signed();
  assert.deepEqual(verify(undefined), { ok: false, reason: 'missing' });
  const garbled = [
    '',
    'garbage',
    header.replace('v1', 'v2'),
    header + ' extra=1',
    header.replace(' sig=', ' sig=x'),
    header.replace(/sig=\S+/, 'sig=' + 'A'.repeat(43) + '='),
    header.replace(/nonce=\S+/, 'nonce=short'),
    header.replace('from=a', 'from=a\nb'),
    header.replace('from=a', 'from=../x'),
    header.replace('to=b', 'to=b to=b'),
    header.replace(/ts=\d+/, 'ts=-5'),
    header.replace(/ts=\d+/, 'ts=1e15'),
    header.replace(/ /g, '  '),
    'v1 ' + 'x='.repeat(300),
  ];
  for (const g of garbled) assert.deepEqual(verify(g), { ok: false, reason: 'malformed' }, g);
  assert.deepEqual(
    verifyRequest(
      key,
      [header, header],
      { method: 'POST', path: '/v1/gossip', body, now, ownId: 'b', allowAnyRecipient: false },
      new NonceCache(),
    ),
    {
      ok: false,
      reason: 'malformed',
    },
  );
});

test('responses: valid verifies; tampered body/status, another request, another responder, old or wrong key are refused', () => {
  const requestNonce = signed().nonce;
  const resBody = Buffer.from('{"type":"ack"}');
  const header = signResponse(key, { status: 200, requestNonce, from: 'b', to: 'a', body: resBody, now });
  const base = { status: 200, requestNonce, to: 'a', body: resBody, now, expectedFrom: 'b' };
  const v = verifyResponse(key, header, base);
  assert.ok(v.ok);
  assert.equal(v.auth.from, 'b');
  assert.ok(verifyResponse(key, header, { ...base, expectedFrom: undefined }).ok);
  const bad = (over: Partial<typeof base>) => verifyResponse(key, header, { ...base, ...over });
  assert.deepEqual(bad({ body: Buffer.from('{"type":"nack"}') }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(bad({ status: 201 }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(bad({ requestNonce: signed().nonce }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(bad({ to: 'c' }), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(bad({ expectedFrom: 'c' }), { ok: false, reason: 'wrong_recipient' });
  assert.deepEqual(bad({ now: now + auth.clockSkewMs + 1 }), { ok: false, reason: 'expired' });
  assert.deepEqual(verifyResponse(otherKey, header, base), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verifyResponse(key, undefined, base), { ok: false, reason: 'missing' });
  assert.deepEqual(verifyResponse(key, 'v1 nope', base), { ok: false, reason: 'malformed' });
  // A request header is not a response header and vice versa.
  assert.deepEqual(verifyResponse(key, signed().header, base), { ok: false, reason: 'malformed' });
  assert.deepEqual(verify(header), { ok: false, reason: 'malformed' });
});

test('the nonce cache is bounded and eviction never re-opens a replay', () => {
  const cache = new NonceCache(3);
  for (let i = 0; i < 3; i++) assert.ok(cache.admit('a', `n${i}`, now + i, now));
  assert.ok(cache.admit('a', 'n3', now + 3, now)); // evicts n0 (still inside the window)
  assert.equal(cache.size, 3);
  assert.equal(cache.admit('a', 'n0', now, now), false, 'an evicted nonce inside the window must stay refused');
  assert.equal(cache.admit('a', 'fresh-but-old', now, now), false);
  assert.ok(cache.admit('a', 'n4', now + 4, now));
  // Entries whose time has left the window are dropped first, without raising the floor.
  const c2 = new NonceCache(2);
  assert.ok(c2.admit('a', 'x', now - auth.clockSkewMs - 10, now - 20));
  assert.ok(c2.admit('a', 'y', now, now));
  assert.ok(c2.admit('a', 'z', now, now));
  assert.ok(c2.admit('a', 'w', now - 5, now));
});
