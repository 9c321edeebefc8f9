// Sliding replay window (RFC 6479 layout, as wireguard-go's replay.Filter): a ring of 64-bit blocks,
// window = (blocks − 1) × 64 = 8128 counters for 8192 bits. Blocks are kept as pairs of u32 words.
// Call check() before decrypting (cheap, changes nothing) and validate() only after the tag verified,
// so unauthenticated input never moves the window.
import { wg } from '../base/constants.js';

const blockBits = 64;
const ringBlocks = wg.replayWindowSize / blockBits;
const blockMask = ringBlocks - 1;
export const replayWindow = (ringBlocks - 1) * blockBits;

export class ReplayFilter {
  #last = 0;
  readonly #ring = new Uint32Array(ringBlocks * 2);

  /** Greatest accepted counter and the window bitmap, for state snapshots. */
  describe(): { last: number; bitmap: string } {
    return { last: this.#last, bitmap: Buffer.from(this.#ring.buffer).toString('base64') };
  }

  reset(): void {
    this.#last = 0;
    this.#ring.fill(0);
  }

  /** Whether validate() would accept `counter`, without changing anything. */
  check(counter: number, limit: number): boolean {
    if (!(counter < limit) || !Number.isSafeInteger(counter) || counter < 0) return false;
    if (counter > this.#last) return true;
    if (this.#last - counter > replayWindow) return false;
    const [word, bit] = this.#slot(counter);
    return (this.#ring[word]! & bit) === 0;
  }

  /** Accepts and records a fresh counter; false (and no change) for a replay or out-of-window counter. */
  validate(counter: number, limit: number): boolean {
    if (!this.check(counter, limit)) return false;
    if (counter > this.#last) {
      const current = Math.floor(this.#last / blockBits);
      const diff = Math.min(Math.floor(counter / blockBits) - current, ringBlocks);
      for (let i = current + 1; i <= current + diff; i++) {
        const b = (i & blockMask) * 2;
        this.#ring[b] = 0;
        this.#ring[b + 1] = 0;
      }
      this.#last = counter;
    }
    const [word, bit] = this.#slot(counter);
    this.#ring[word]! |= bit;
    return true;
  }

  #slot(counter: number): [number, number] {
    const block = Math.floor(counter / blockBits) & blockMask;
    const bitInBlock = counter % blockBits;
    return [block * 2 + (bitInBlock >>> 5), (1 << (bitInBlock & 31)) >>> 0];
  }
}
