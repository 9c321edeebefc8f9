// TAI64N timestamps as WireGuard sends them in handshake initiations: 8 bytes big-endian seconds
// (2^62 + 10 + Unix seconds) and 4 bytes big-endian nanoseconds. Like wireguard-go, the nanoseconds
// are rounded down to a multiple of 2^24 (≈16.8 ms) so the timestamp does not leak a fine clock.
export const tai64nLength = 12;

const base = 0x400000000000000an;
const whitenerMask = 0x1000000 - 1;

export function tai64n(wallMs: number): Uint8Array {
  const out = new Uint8Array(tai64nLength);
  const view = new DataView(out.buffer);
  const secs = Math.floor(wallMs / 1000);
  const nanos = Math.floor((wallMs - secs * 1000) * 1_000_000);
  view.setBigUint64(0, base + BigInt(secs));
  view.setUint32(8, (nanos & ~whitenerMask) >>> 0);
  return out;
}

/** Byte-wise comparison, which is chronological order for TAI64N: <0, 0 or >0. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
