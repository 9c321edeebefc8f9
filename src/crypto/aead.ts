// ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce — 4 zero bytes then the 64-bit little-endian
// counter — through node:crypto, and XChaCha20-Poly1305 for cookie replies through @noble/ciphers
// (node:crypto has no XChaCha).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const aeadKeyLength = 32;
export const aeadTagLength = 16;
export const xNonceLength = 24;

const algorithm = 'chacha20-poly1305';
const tagOptions = { authTagLength: aeadTagLength } as const;
// createCipheriv copies the nonce, so one scratch buffer serves every call.
const nonceScratch = Buffer.alloc(12);

function nonceFor(counter: number): Buffer {
  nonceScratch.writeUInt32LE(counter >>> 0, 4);
  nonceScratch.writeUInt32LE(Math.floor(counter / 0x1_0000_0000) >>> 0, 8);
  return nonceScratch;
}

/**
 * Encrypts `plaintext` followed by `padding` zero bytes and writes ciphertext then tag into `out` at
 * `offset`; out must have room for plaintext + padding + 16 bytes. Returns the bytes written. The
 * plaintext is first copied into place so one cipher update covers it and its padding (fewer calls
 * into OpenSSL is what makes this path faster).
 */
export function sealInto(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  padding: number,
  aad: Uint8Array | undefined,
  out: Uint8Array,
  offset: number,
): number {
  const n = plaintext.length + padding;
  const c = createCipheriv(algorithm, key, nonceFor(counter), tagOptions);
  if (aad !== undefined) c.setAAD(aad, { plaintextLength: n });
  if (n > 0) {
    out.set(plaintext, offset);
    out.fill(0, offset + plaintext.length, offset + n);
    out.set(c.update(out.subarray(offset, offset + n)), offset);
  }
  c.final();
  out.set(c.getAuthTag(), offset + n);
  return n + aeadTagLength;
}

/** Encrypts into a new buffer (ciphertext || tag). */
export function seal(key: Uint8Array, counter: number, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(plaintext.length + aeadTagLength);
  sealInto(key, counter, plaintext, 0, aad, out, 0);
  return out;
}

/** Decrypts ciphertext || tag; undefined when the tag does not verify (never throws on input). */
export function open(key: Uint8Array, counter: number, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | undefined {
  if (sealed.length < aeadTagLength) return undefined;
  const ctLength = sealed.length - aeadTagLength;
  const d = createDecipheriv(algorithm, key, nonceFor(counter), tagOptions);
  d.setAuthTag(sealed.subarray(ctLength));
  if (aad !== undefined) d.setAAD(aad, { plaintextLength: ctLength });
  try {
    const body = ctLength > 0 ? d.update(sealed.subarray(0, ctLength)) : Buffer.alloc(0);
    d.final();
    return body;
  } catch {
    return undefined;
  }
}

export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

export function xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < aeadTagLength || nonce.length !== xNonceLength) return undefined;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}
