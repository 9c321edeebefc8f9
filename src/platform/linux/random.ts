// Cryptographically strong randomness from the OS.
import { randomBytes } from 'node:crypto';
import type { Random } from '../ports.js';

export class CryptoRandom implements Random {
  bytes(n: number): Uint8Array {
    return randomBytes(n);
  }
}
