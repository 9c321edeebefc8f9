// When is the handshake path "under load" (then initiations need a cookie, mac2, and per-source rate
// limits apply)? wireguard-go: when its handshake queue is ≥ 1/8 full (128 of 1024), sticky for 1 s.
// Our engines hand handshake datagrams to WgDevice one at a time, with no queue to measure, so we
// measure the arrival rate instead: more than `perSlot` handshake messages within one `slotMs` slot
// (16 per 125 ms = 128/s by default) engages the state, which sticks for `stickyMs` after the last
// excess (base/constants.ts handshakeLoad). Legitimate peers rekey every 2 minutes, so even a thousand of
// them stay far below it.
import { handshakeLoad } from '../base/constants.js';

export interface LoadMeterOptions {
  readonly perSlot?: number;
  readonly slotMs?: number;
  readonly stickyMs?: number;
}

export class HandshakeLoadMeter {
  readonly #perSlot: number;
  readonly #slotMs: number;
  readonly #stickyMs: number;
  #slotStart = -Infinity;
  #count = 0;
  #until = -Infinity;
  #now = -Infinity;

  constructor(o: LoadMeterOptions = {}) {
    this.#perSlot = o.perSlot ?? handshakeLoad.perSlot;
    this.#slotMs = o.slotMs ?? handshakeLoad.slotMs;
    this.#stickyMs = o.stickyMs ?? handshakeLoad.stickyMs;
  }

  /** Records one handshake message (initiation or response) arriving at monotonic time `now`. */
  note(now: number): void {
    this.#now = now;
    if (now - this.#slotStart >= this.#slotMs) {
      this.#slotStart = now;
      this.#count = 0;
    }
    if (++this.#count > this.#perSlot) this.#until = now + this.#stickyMs;
  }

  /** Whether the last noted arrival fell within the sticky period of an excess. */
  underLoad(): boolean {
    return this.#now < this.#until;
  }
}
