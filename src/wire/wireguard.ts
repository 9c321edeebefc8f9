// The four WireGuard messages (whitepaper §5.4). Decoders never throw: they return the message as
// views into the input buffer, or the drop reason. The first four bytes are one little-endian u32
// (type, then three reserved zero bytes), as wireguard-go reads them, so non-zero reserved bytes make an
// unknown type.
import { wgMessage } from '../base/constants.js';

/** The drop reasons a decoder can return (a subset of metrics' dropReasons). */
export type WireDropReason = 'short_packet' | 'bad_length' | 'unknown_type';
export type WireResult<T> = { ok: true; msg: T } | { ok: false; reason: WireDropReason };

export const keyLength = 32;
export const macLength = 16;
export const staticSealedLength = 48;
export const timestampSealedLength = 28;
export const emptySealedLength = 16;
export const cookieNonceLength = 24;
export const cookieSealedLength = 32;

/** Offsets of the fields, shared by encoders, decoders and the mac computation. */
export const initiationLayout = { sender: 4, ephemeral: 8, static: 40, timestamp: 88, mac1: 116, mac2: 132 } as const;
export const responseLayout = { sender: 4, receiver: 8, ephemeral: 12, empty: 44, mac1: 60, mac2: 76 } as const;
export const cookieReplyLayout = { receiver: 4, nonce: 8, cookie: 32 } as const;
export const transportLayout = { receiver: 4, counter: 8, content: 16 } as const;

export interface InitiationMessage {
  readonly type: 1;
  readonly sender: number;
  readonly ephemeral: Uint8Array;
  readonly static: Uint8Array;
  readonly timestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export interface ResponseMessage {
  readonly type: 2;
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  readonly empty: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export interface CookieReplyMessage {
  readonly type: 3;
  readonly receiver: number;
  readonly nonce: Uint8Array;
  readonly cookie: Uint8Array;
}

export interface TransportMessage {
  readonly type: 4;
  readonly receiver: number;
  /** The full 64-bit counter. */
  readonly counter: bigint;
  /** Ciphertext followed by the 16-byte tag. */
  readonly content: Uint8Array;
}

export type WireGuardMessage = InitiationMessage | ResponseMessage | CookieReplyMessage | TransportMessage;

const zero16 = new Uint8Array(macLength);

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The message type (1–4) when the 4-byte header is well formed, else 0. Never throws. */
export function messageType(b: Uint8Array): number {
  if (b.length < 4 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return 0;
  const t = b[0]!;
  return t >= 1 && t <= 4 ? t : 0;
}

function field(b: Uint8Array, at: number, n: number): Uint8Array {
  return b.subarray(at, at + n);
}

function put(out: Uint8Array, at: number, bytes: Uint8Array, n: number): void {
  if (bytes.length !== n) throw new RangeError(`field at ${at} must be ${n} bytes, got ${bytes.length}`);
  out.set(bytes, at);
}

function header(b: Uint8Array, type: number): WireDropReason | undefined {
  if (b.length < 4) return 'short_packet';
  if (messageType(b) !== type) return 'unknown_type';
  return undefined;
}

export function decodeInitiation(b: Uint8Array): WireResult<InitiationMessage> {
  const bad = header(b, wgMessage.initiation);
  if (bad) return { ok: false, reason: bad };
  if (b.length !== wgMessage.initiationSize) return { ok: false, reason: 'bad_length' };
  const L = initiationLayout;
  return {
    ok: true,
    msg: {
      type: 1,
      sender: view(b).getUint32(L.sender, true),
      ephemeral: field(b, L.ephemeral, keyLength),
      static: field(b, L.static, staticSealedLength),
      timestamp: field(b, L.timestamp, timestampSealedLength),
      mac1: field(b, L.mac1, macLength),
      mac2: field(b, L.mac2, macLength),
    },
  };
}

export function decodeResponse(b: Uint8Array): WireResult<ResponseMessage> {
  const bad = header(b, wgMessage.response);
  if (bad) return { ok: false, reason: bad };
  if (b.length !== wgMessage.responseSize) return { ok: false, reason: 'bad_length' };
  const L = responseLayout;
  const v = view(b);
  return {
    ok: true,
    msg: {
      type: 2,
      sender: v.getUint32(L.sender, true),
      receiver: v.getUint32(L.receiver, true),
      ephemeral: field(b, L.ephemeral, keyLength),
      empty: field(b, L.empty, emptySealedLength),
      mac1: field(b, L.mac1, macLength),
      mac2: field(b, L.mac2, macLength),
    },
  };
}

export function decodeCookieReply(b: Uint8Array): WireResult<CookieReplyMessage> {
  const bad = header(b, wgMessage.cookieReply);
  if (bad) return { ok: false, reason: bad };
  if (b.length !== wgMessage.cookieReplySize) return { ok: false, reason: 'bad_length' };
  const L = cookieReplyLayout;
  return {
    ok: true,
    msg: {
      type: 3,
      receiver: view(b).getUint32(L.receiver, true),
      nonce: field(b, L.nonce, cookieNonceLength),
      cookie: field(b, L.cookie, cookieSealedLength),
    },
  };
}

export function decodeTransport(b: Uint8Array): WireResult<TransportMessage> {
  const bad = header(b, wgMessage.transport);
  if (bad) return { ok: false, reason: bad };
  if (b.length < wgMessage.transportMinSize) return { ok: false, reason: 'short_packet' };
  const v = view(b);
  return {
    ok: true,
    msg: {
      type: 4,
      receiver: v.getUint32(transportLayout.receiver, true),
      counter: v.getBigUint64(transportLayout.counter, true),
      content: b.subarray(transportLayout.content),
    },
  };
}

/** Decodes any of the four messages. */
export function decodeMessage(b: Uint8Array): WireResult<WireGuardMessage> {
  if (b.length < 4) return { ok: false, reason: 'short_packet' };
  switch (messageType(b)) {
    case wgMessage.initiation:
      return decodeInitiation(b);
    case wgMessage.response:
      return decodeResponse(b);
    case wgMessage.cookieReply:
      return decodeCookieReply(b);
    case wgMessage.transport:
      return decodeTransport(b);
    default:
      return { ok: false, reason: 'unknown_type' };
  }
}

// Encoders take well-formed records from our own code; a wrong field length is a programming error
// and throws.

export function encodeInitiation(m: Omit<InitiationMessage, 'type' | 'mac1' | 'mac2'> & Partial<InitiationMessage>) {
  const L = initiationLayout;
  const out = new Uint8Array(wgMessage.initiationSize);
  const v = view(out);
  out[0] = wgMessage.initiation;
  v.setUint32(L.sender, m.sender, true);
  put(out, L.ephemeral, m.ephemeral, keyLength);
  put(out, L.static, m.static, staticSealedLength);
  put(out, L.timestamp, m.timestamp, timestampSealedLength);
  put(out, L.mac1, m.mac1 ?? zero16, macLength);
  put(out, L.mac2, m.mac2 ?? zero16, macLength);
  return out;
}

export function encodeResponse(m: Omit<ResponseMessage, 'type' | 'mac1' | 'mac2'> & Partial<ResponseMessage>) {
  const L = responseLayout;
  const out = new Uint8Array(wgMessage.responseSize);
  const v = view(out);
  out[0] = wgMessage.response;
  v.setUint32(L.sender, m.sender, true);
  v.setUint32(L.receiver, m.receiver, true);
  put(out, L.ephemeral, m.ephemeral, keyLength);
  put(out, L.empty, m.empty, emptySealedLength);
  put(out, L.mac1, m.mac1 ?? zero16, macLength);
  put(out, L.mac2, m.mac2 ?? zero16, macLength);
  return out;
}

export function encodeCookieReply(m: Omit<CookieReplyMessage, 'type'>): Uint8Array {
  const L = cookieReplyLayout;
  const out = new Uint8Array(wgMessage.cookieReplySize);
  out[0] = wgMessage.cookieReply;
  view(out).setUint32(L.receiver, m.receiver, true);
  put(out, L.nonce, m.nonce, cookieNonceLength);
  put(out, L.cookie, m.cookie, cookieSealedLength);
  return out;
}

export function encodeTransport(m: Omit<TransportMessage, 'type'>): Uint8Array {
  if (m.content.length < wgMessage.aeadTagSize) throw new RangeError('transport content shorter than its tag');
  const out = new Uint8Array(transportLayout.content + m.content.length);
  writeTransportHeader(out, m.receiver, m.counter);
  out.set(m.content, transportLayout.content);
  return out;
}

/** Writes the 16-byte transport header into `out` (the hot path builds the message in place). */
export function writeTransportHeader(out: Uint8Array, receiver: number, counter: bigint | number): void {
  let lo: number;
  let hi: number;
  if (typeof counter === 'bigint') {
    lo = Number(counter & 0xffffffffn);
    hi = Number((counter >> 32n) & 0xffffffffn);
  } else {
    lo = counter >>> 0;
    hi = Math.floor(counter / 0x1_0000_0000) >>> 0;
  }
  out[0] = wgMessage.transport;
  out[1] = out[2] = out[3] = 0;
  putU32(out, transportLayout.receiver, receiver);
  putU32(out, transportLayout.counter, lo);
  putU32(out, transportLayout.counter + 4, hi);
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}
