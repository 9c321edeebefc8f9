// Curve25519 static keys in WireGuard's encoding: 32 raw bytes, shown as standard base64.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const keyLength = 32;

function privateKeyObject(raw: Uint8Array): KeyObject {
  const pub = publicFromRawPrivate(raw);
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'X25519',
      d: Buffer.from(raw).toString('base64url'),
      x: Buffer.from(pub).toString('base64url'),
    },
    format: 'jwk',
  });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

function publicFromRawPrivate(raw: Uint8Array): Uint8Array {
  // PKCS#8 DER for X25519 is a fixed 16-byte prefix followed by the raw key.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.from(raw)]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

/** A new clamped X25519 private key (32 bytes). */
export function generatePrivateKey(): Uint8Array {
  const { privateKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d as string;
  return clamp(Buffer.from(d, 'base64url'));
}

/** WireGuard stores private keys clamped; wg(8) does the same when it generates one. */
export function clamp(raw: Uint8Array): Uint8Array {
  const k = Uint8Array.from(raw);
  k[0]! &= 248;
  k[31]! = (k[31]! & 127) | 64;
  return k;
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return publicFromRawPrivate(privateKey);
}

/** X25519(private, public); throws on an all-zero result (a low-order public key). */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) });
}

export function encodeKey(k: Uint8Array): string {
  return Buffer.from(k).toString('base64');
}

/** Decodes a base64 key; undefined unless it is exactly 32 bytes in canonical base64. */
export function decodeKey(s: string): Uint8Array | undefined {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(t)) return undefined;
  return Uint8Array.from(Buffer.from(t, 'base64'));
}

/** An X25519 private key parsed once for repeated DH: a device's static key, or an ephemeral used twice. */
export interface PreparedPrivateKey {
  readonly publicKey: Uint8Array;
  /** X25519 with `peerPublic`; throws on a low-order (all-zero) result, like dh(). */
  dh(peerPublic: Uint8Array): Uint8Array;
}

const pkcs8X25519Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');
const spkiX25519Prefix = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * Prepares `raw` for DH. Building an OpenSSL key object dominates the cost of one X25519 operation, so a
 * handshake that reuses the object for its public key and both DHs is several times cheaper than dh().
 */
export function preparePrivateKey(raw: Uint8Array): PreparedPrivateKey {
  const privateKey = createPrivateKey({
    key: Buffer.concat([pkcs8X25519Prefix, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: Uint8Array.from(spki.subarray(spkiX25519Prefix.length)),
    dh(peerPublic: Uint8Array): Uint8Array {
      const publicKey = createPublicKey({
        key: Buffer.concat([spkiX25519Prefix, peerPublic]),
        format: 'der',
        type: 'spki',
      });
      return diffieHellman({ privateKey, publicKey });
    },
  };
}
