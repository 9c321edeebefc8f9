// Tunmesh's own datagram types on the WireGuard port, outside WireGuard's 1–4 (byte 0; bytes 1–3 zero
// like WireGuard's reserved bytes): null-method packets and UDP path probes. Decoders never throw.
//
//   null  (0x10): type(1) 0(3) sender public key(32) inner IP packet
//   probe (0x11): type(1) flag(1: 0 ping, 1 pong) 0(2) sender public key(32) wall ms(8, BE) nonce(8) mac(16)
//                 mac = HMAC-BLAKE2s(probe key, bytes 0..51 || receiver public key)[0..16]
import { equalBytes, hmac } from '../crypto/hash.js';

export const nullType = 0x10;
export const probeType = 0x11;
const keyLen = 32;
export const nullHeaderLen = 4 + keyLen;
export const probeLen = 4 + keyLen + 8 + 8 + 16;
const macAt = probeLen - 16;

export function encodeNull(sender: Uint8Array, packet: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(nullHeaderLen + packet.length);
  b.writeUInt32LE(nullType, 0);
  b.set(sender, 4);
  b.set(packet, nullHeaderLen);
  return b;
}

export type NullDecoded = { ok: true; sender: string; packet: Uint8Array } | { ok: false };

export function decodeNull(d: Uint8Array): NullDecoded {
  if (d.length <= nullHeaderLen || d[0] !== nullType || d[1] || d[2] || d[3]) return { ok: false };
  return {
    ok: true,
    sender: Buffer.from(d.subarray(4, nullHeaderLen)).toString('base64'),
    packet: d.subarray(nullHeaderLen),
  };
}

/** The probe MAC key: derived from the cluster secret, never the secret itself. */
export function probeKey(clusterSecret: Uint8Array | string): Uint8Array {
  return hmac(Buffer.from(clusterSecret), Buffer.from('tunmesh udp probe v1'));
}

function mac(key: Uint8Array, head: Uint8Array, receiver: Uint8Array): Uint8Array {
  return hmac(key, head, receiver).subarray(0, 16);
}

export interface Probe {
  readonly pong: boolean;
  readonly sender: string;
  readonly wallMs: number;
  readonly nonce: string;
}

export function encodeProbe(
  key: Uint8Array,
  p: { pong: boolean; sender: Uint8Array; receiver: Uint8Array; wallMs: number; nonce: Uint8Array },
): Buffer {
  const b = Buffer.alloc(probeLen);
  b[0] = probeType;
  b[1] = p.pong ? 1 : 0;
  b.set(p.sender, 4);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(p.wallMs))), 4 + keyLen);
  b.set(p.nonce.subarray(0, 8), 4 + keyLen + 8);
  b.set(mac(key, b.subarray(0, macAt), p.receiver), macAt);
  return b;
}

/** A probe addressed to `receiver`, or undefined (malformed, wrong MAC, or older/newer than maxSkewMs). */
export function decodeProbe(
  key: Uint8Array,
  d: Uint8Array,
  receiver: Uint8Array,
  nowWallMs: number,
  maxSkewMs: number,
): Probe | undefined {
  if (d.length !== probeLen || d[0] !== probeType || d[1]! > 1 || d[2] || d[3]) return undefined;
  const want = mac(key, d.subarray(0, macAt), receiver);
  if (!equalBytes(want, d.subarray(macAt))) return undefined;
  const wallMs = Number(Buffer.from(d.buffer, d.byteOffset, d.length).readBigUInt64BE(4 + keyLen));
  if (Math.abs(wallMs - nowWallMs) > maxSkewMs) return undefined;
  return {
    pong: d[1] === 1,
    sender: Buffer.from(d.subarray(4, 4 + keyLen)).toString('base64'),
    wallMs,
    nonce: Buffer.from(d.subarray(4 + keyLen + 8, macAt)).toString('hex'),
  };
}

/** Length-prefixed framing of WireGuard messages on a stream: u16 big-endian length, then the message. */
export const maxFrameLen = 65535;

export function encodeFrame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(2 + msg.length);
  b.writeUInt16BE(msg.length, 0);
  b.set(msg, 2);
  return b;
}

/** Reassembles frames from stream chunks; a zero-length frame is a protocol error (returns false). */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  /** Calls `onFrame` for each complete frame; false when the stream is malformed and must be closed. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): boolean {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let at = 0;
    while (this.#buf.length - at >= 2) {
      const len = this.#buf.readUInt16BE(at);
      if (len === 0) return false;
      if (this.#buf.length - at - 2 < len) break;
      onFrame(this.#buf.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    this.#buf = at === 0 ? this.#buf : Buffer.from(this.#buf.subarray(at));
    return true;
  }
}
