// BLAKE2s and the Noise key derivation built on it, exactly as WireGuard uses them (whitepaper §5.4):
// HASH = BLAKE2s-256, HMAC = RFC 2104 HMAC over BLAKE2s-256, MAC = keyed BLAKE2s-128, KDFn = HKDF with
// HMAC-BLAKE2s. node:crypto provides BLAKE2s-256 and HMAC over it; keyed BLAKE2s is not exposed there.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';

export const hashLength = 32;
export const macLength = 16;

const one = Uint8Array.of(1);
const two = Uint8Array.of(2);
const three = Uint8Array.of(3);

/** BLAKE2s-256 over the concatenation of the parts. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-BLAKE2s-256 over the concatenation of the parts. */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Keyed BLAKE2s with a 16-byte output: mac1, mac2 and cookies. */
export function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(data, { key, dkLen: macLength });
}

export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return hmac(hmac(key, input), one);
}

export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const prk = hmac(key, input);
  const t0 = hmac(prk, one);
  const t1 = hmac(prk, t0, two);
  prk.fill(0);
  return [t0, t1];
}

export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const prk = hmac(key, input);
  const t0 = hmac(prk, one);
  const t1 = hmac(prk, t0, two);
  const t2 = hmac(prk, t1, three);
  prk.fill(0);
  return [t0, t1, t2];
}

/** Constant-time equality; false (not a throw) on different lengths. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]!;
  return acc === 0;
}
