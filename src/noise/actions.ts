// What a WgDevice asks its caller to do. The device itself never touches sockets or clocks.
import type { Secret } from '../base/secret.js';

/** Monotonic milliseconds. */
export type Now = number;

/** A UDP endpoint; the same shape as platform's Endpoint (noise may not import platform). */
export interface WgEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Every reason a WgDevice drops something; each is a key of metrics' dropReasons (a test checks it). */
export const wgDropReasons = [
  'short_packet',
  'bad_length',
  'unknown_type',
  'bad_mac1',
  'bad_mac2',
  'rate_limited',
  'handshake_failed',
  'replayed_handshake',
  'stale_handshake',
  'handshake_crossed',
  'unknown_receiver',
  'decrypt_failed',
  'replayed',
  'expired_keypair',
  'bad_inner_packet',
  'no_route',
  'no_session_queue_full',
  'no_session_timeout',
] as const;
export type WgDropReason = (typeof wgDropReasons)[number];

/** Drop reasons about inner packets (from the TUN or decrypted); the rest are about underlay datagrams. */
const innerDropReasons: readonly WgDropReason[] = [
  'bad_inner_packet',
  'no_route',
  'no_session_queue_full',
  'no_session_timeout',
];

/** The reasons a datagram from the underlay can be dropped for. */
export const outsideDropReasons: readonly WgDropReason[] = wgDropReasons.filter((r) => !innerDropReasons.includes(r));

export type WgMessageKind = 'initiation' | 'response' | 'cookie_reply' | 'transport';

export interface WgKeypairInfo {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly sendKey: Secret<Uint8Array>;
  readonly receiveKey: Secret<Uint8Array>;
  readonly isInitiator: boolean;
  /** Monotonic ms the keypair was derived at; it must not be used past rejectAfterTime. */
  readonly createdAt: Now;
}

export type WgAction =
  /** A datagram to put on the wire. `peer` is absent only for cookie replies. */
  | { type: 'send'; to: WgEndpoint; data: Uint8Array; message: WgMessageKind; peer?: string }
  /** A decrypted inner packet, trimmed to its IP length; the caller checks its source against allowed IPs. */
  | { type: 'deliver'; peer: string; packet: Uint8Array }
  | { type: 'drop'; reason: WgDropReason; peer?: string }
  /** A session is established (initiator: response received; responder: first data on the new keys). */
  | { type: 'handshake'; peer: string; role: 'initiator' | 'responder' }
  /** An authenticated message of `peer` arrived (only when receive() was asked to report it). */
  | { type: 'received'; peer: string }
  /** The peer's endpoint changed, learned from an authenticated packet. */
  | { type: 'endpoint'; peer: string; endpoint: WgEndpoint }
  /** New session keys. An initiator's send at once; a responder's only after keypair_current. */
  | { type: 'keypair'; peer: string; keypair: WgKeypairInfo }
  /** The responder's keypair was confirmed and is now the peer's current sending keypair. */
  | { type: 'keypair_current'; peer: string; localIndex: number }
  /** A keypair was retired (rotated out, expired or zeroed): forget its index and keys. */
  | { type: 'keypair_removed'; peer: string; localIndex: number };
