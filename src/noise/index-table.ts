// Receiver indices: random 32-bit numbers that name a pending handshake or a keypair on the wire.
export interface IndexEntry<P, K> {
  readonly peer: P;
  /** Set once the handshake behind this index produced a keypair. */
  keypair: K | undefined;
}

export class IndexTable<P, K> {
  readonly #entries = new Map<number, IndexEntry<P, K>>();
  readonly #random: (n: number) => Uint8Array;

  constructor(random: (n: number) => Uint8Array) {
    this.#random = random;
  }

  /** A fresh index for a handshake of `peer`. */
  newIndex(peer: P): number {
    // A collision is a 2^-32 event per entry; 64 in a row means the random source is broken.
    for (let attempt = 0; attempt < 64; attempt++) {
      const b = this.#random(4);
      const index = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (!this.#entries.has(index)) {
        this.#entries.set(index, { peer, keypair: undefined });
        return index;
      }
    }
    throw new Error('index table: random source returned 64 colliding indices');
  }

  lookup(index: number): IndexEntry<P, K> | undefined {
    return this.#entries.get(index);
  }

  /** Binds an index to the keypair its handshake produced. */
  setKeypair(index: number, keypair: K): void {
    const e = this.#entries.get(index);
    if (e !== undefined) e.keypair = keypair;
  }

  delete(index: number): void {
    this.#entries.delete(index);
  }

  get size(): number {
    return this.#entries.size;
  }
}
