// Primitives against published answers or an independent construction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hash, hmac, kdf1, kdf2, kdf3, mac, equalBytes } from '../../src/crypto/hash.js';
import { open, seal, sealInto, xopen, xseal } from '../../src/crypto/aead.js';
import { compareTai64n, tai64n } from '../../src/crypto/tai64n.js';
import { initialChainKey, initialHash } from '../../src/noise/handshake.js';
import { blake2s } from '@noble/hashes/blake2.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** RFC 2104 HMAC written out over node's BLAKE2s-256 (block size 64), independent of hmac(). */
function referenceHmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? createHash('blake2s256').update(key).digest() : key);
  const inner = createHash('blake2s256')
    .update(k.map((x) => x ^ 0x36))
    .update(data)
    .digest();
  return createHash('blake2s256')
    .update(k.map((x) => x ^ 0x5c))
    .update(inner)
    .digest();
}

test('BLAKE2s-256 matches RFC 7693 ("abc")', () => {
  assert.equal(
    hex(hash(new TextEncoder().encode('abc'))),
    '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
  );
  assert.equal(hex(hash(Uint8Array.of(1, 2), Uint8Array.of(3))), hex(hash(Uint8Array.of(1, 2, 3))));
});

test('keyed BLAKE2s matches the BLAKE2 reference KAT (key 00..1f, empty input, 32 bytes)', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(
    hex(blake2s(new Uint8Array(0), { key })),
    '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49',
  );
  assert.equal(mac(key, new Uint8Array(0)).length, 16);
  assert.equal(hex(mac(key, Uint8Array.of(1))), hex(blake2s(Uint8Array.of(1), { key, dkLen: 16 })));
});

test('HMAC-BLAKE2s equals the RFC 2104 construction; KDFs chain as the whitepaper says', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 3);
  const data = new TextEncoder().encode('tunmesh');
  assert.equal(hex(hmac(key, data)), hex(referenceHmac(key, data)));
  const prk = referenceHmac(key, data);
  const t1 = referenceHmac(prk, Uint8Array.of(1));
  const t2 = referenceHmac(prk, Uint8Array.from([...t1, 2]));
  const t3 = referenceHmac(prk, Uint8Array.from([...t2, 3]));
  assert.equal(hex(kdf1(key, data)), hex(t1));
  assert.deepEqual(kdf2(key, data).map(hex), [t1, t2].map(hex));
  assert.deepEqual(kdf3(key, data).map(hex), [t1, t2, t3].map(hex));
});

test('Noise construction and identifier chaining values', () => {
  assert.equal(hex(initialChainKey), '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
  assert.equal(hex(initialHash), '2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
});

test('ChaCha20-Poly1305 with the WireGuard nonce equals @noble/ciphers, at several counters', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
  const pt = new TextEncoder().encode('the quick brown fox');
  const aad = Uint8Array.of(9, 8, 7);
  for (const counter of [0, 1, 0xffffffff, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
    const expected = chacha20poly1305(key, nonce, aad).encrypt(pt);
    assert.equal(hex(seal(key, counter, pt, aad)), hex(expected), `counter ${counter}`);
    assert.equal(hex(open(key, counter, expected, aad)!), hex(pt));
  }
});

test('AEAD open refuses any change and never throws', () => {
  const key = new Uint8Array(32).fill(1);
  const sealed = seal(key, 7, Uint8Array.of(1, 2, 3), Uint8Array.of(4));
  for (let i = 0; i < sealed.length; i++) {
    const bad = Uint8Array.from(sealed);
    bad[i]! ^= 0x80;
    assert.equal(open(key, 7, bad, Uint8Array.of(4)), undefined);
  }
  assert.equal(open(key, 8, sealed, Uint8Array.of(4)), undefined, 'other counter');
  assert.equal(open(key, 7, sealed, Uint8Array.of(5)), undefined, 'other aad');
  assert.equal(open(key, 7, sealed.subarray(0, 15)), undefined, 'shorter than a tag');
  assert.equal(open(key, 7, seal(key, 7, new Uint8Array(0)))!.length, 0, 'empty plaintext (keepalive)');
});

test('sealInto with padding equals sealing the zero-padded plaintext', () => {
  const key = new Uint8Array(32).fill(3);
  const pt = Uint8Array.of(1, 2, 3, 4, 5);
  const out = new Uint8Array(8 + 16 + 16);
  const n = sealInto(key, 3, pt, 11, undefined, out, 8);
  assert.equal(n, 32);
  const padded = new Uint8Array(16);
  padded.set(pt);
  assert.equal(hex(out.subarray(8)), hex(seal(key, 3, padded)));
});

test('XChaCha20-Poly1305 round-trips and refuses tampering', () => {
  const key = new Uint8Array(32).fill(5);
  const nonce = new Uint8Array(24).fill(6);
  const ad = new Uint8Array(16).fill(7);
  const sealed = xseal(key, nonce, new Uint8Array(16).fill(8), ad);
  assert.equal(sealed.length, 32);
  assert.equal(hex(xopen(key, nonce, sealed, ad)!), hex(new Uint8Array(16).fill(8)));
  const bad = Uint8Array.from(sealed);
  bad[0]! ^= 1;
  assert.equal(xopen(key, nonce, bad, ad), undefined);
  assert.equal(xopen(key, nonce.subarray(1), sealed, ad), undefined);
});

test('TAI64N: 2^62 + 10 + seconds, nanoseconds whitened to 2^24 ns, ordered bytewise', () => {
  assert.equal(hex(tai64n(0)), '400000000000000a00000000');
  assert.equal(hex(tai64n(1_700_000_000_123)), '400000006553f10a07000000');
  assert.equal(hex(tai64n(1_700_000_000_016)), '400000006553f10a00000000', '16 ms rounds down to 0');
  assert.equal(hex(tai64n(1_700_000_000_017)), '400000006553f10a01000000');
  assert.ok(compareTai64n(tai64n(2000), tai64n(1000)) > 0);
  assert.equal(compareTai64n(tai64n(1000), tai64n(1001)), 0, 'within one whitening step');
  assert.ok(equalBytes(Uint8Array.of(1), Uint8Array.of(1)) && !equalBytes(Uint8Array.of(1), Uint8Array.of(1, 2)));
});
