// Record authorities for tests. `trustingAuth` signs nothing and accepts every record: for unit tests of
// membership logic that is not about signatures (their hand-made records are unsigned). Tests about
// signatures use real keys (`keyedAuth`), as the daemon and the simulation do.
import { clamp } from '../../src/crypto/keys.js';
import { recordAuth, VerifyCache, type RecordAuth } from '../../src/membership/record-auth.js';

export const trustingAuth: RecordAuth = {
  sigKey: '',
  sign: (r) => r,
  vouch: () => ({ sigKey: '', sig: '' }),
  verify: () => 'ok',
  continues: () => true,
};

/** A deterministic X25519 private key from one byte. */
export function testPrivateKey(seed: number): Uint8Array {
  return clamp(new Uint8Array(32).fill(seed));
}

/** The real record authority of the node with testPrivateKey(seed), with its own cache. */
export function keyedAuth(seed: number): RecordAuth {
  return recordAuth(testPrivateKey(seed), new VerifyCache());
}
