// Ed25519 record signing keys, derived from a node's X25519 (WireGuard) static private key. One secret to
// keep per node: whoever holds the WireGuard key can sign the node's record, and a restart with the same
// key signs with the same identity. The seed is HKDF-SHA256(ikm = the X25519 private key, info = a domain
// label), so the Ed25519 key reveals nothing about the X25519 one and is never used for anything else.
import { createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';

export const signingKeyLength = 32;
export const signatureLength = 64;

const seedLabel = 'tunmesh record signing v1';
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const spkiEd25519Prefix = Buffer.from('302a300506032b6570032100', 'hex');

/** A node's record signing key: the public half (raw 32 bytes) and a signer. The seed never leaves. */
export interface SigningKey {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** The signing key of the node whose X25519 static private key is `x25519Private` (deterministic). */
export function deriveSigningKey(x25519Private: Uint8Array): SigningKey {
  const seed = Buffer.from(hkdfSync('sha256', x25519Private, new Uint8Array(0), seedLabel, signingKeyLength));
  const key = createPrivateKey({ key: Buffer.concat([pkcs8Ed25519Prefix, seed]), format: 'der', type: 'pkcs8' });
  seed.fill(0);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return {
    publicKey: Uint8Array.from(spki.subarray(spkiEd25519Prefix.length)),
    sign: (message) => Uint8Array.from(sign(null, message, key)),
  };
}

/**
 * Encodings of small-order points (and their non-canonical twins) that libsodium refuses as public keys:
 * under such a key one signature verifies for many messages, so whoever chose it could be impersonated.
 */
const weakKeys = new Set(
  [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'd9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  ].map((h) => h),
);

/** An Ed25519 public key object for repeated verification; undefined for a wrong length or weak key. */
export function verifyingKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== signingKeyLength) return undefined;
  const hex = Buffer.from(raw).toString('hex');
  // The sign bit does not change the point's order: compare with it cleared too.
  const cleared = hex.slice(0, 62) + (raw[31]! & 0x7f).toString(16).padStart(2, '0');
  if (weakKeys.has(hex) || weakKeys.has(cleared)) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([spkiEd25519Prefix, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** Ed25519 verification; false (never a throw) for a malformed signature. */
export function verifySignature(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== signatureLength) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
