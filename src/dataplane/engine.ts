// The contract between the daemon and a data-plane engine. The daemon decides who the peers are; an
// engine moves packets between the TUN and the underlay for them.
import type { Secret } from '../base/secret.js';
import type { Endpoint } from '../platform/ports.js';

export interface PeerSpec {
  /** Base64 WireGuard public key: the peer's identity on the data plane. */
  readonly publicKey: string;
  /** Display name (node name, or the static peer's name). */
  readonly name: string;
  /** Overlay CIDRs this peer may send from and that are routed to it. */
  readonly allowedIps: readonly string[];
  readonly endpoint?: Endpoint | undefined;
  readonly presharedKey?: Secret<Uint8Array> | undefined;
  readonly persistentKeepaliveSec?: number | undefined;
}

export interface PeerCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly lastHandshakeWallMs: number | undefined;
  readonly endpoint: Endpoint | undefined;
}

export type EngineEvent =
  | { readonly type: 'handshake'; readonly peer: string; readonly role: 'initiator' | 'responder' }
  | { readonly type: 'endpoint'; readonly peer: string; readonly endpoint: Endpoint };

export interface DataPlaneEngine {
  readonly kind: 'js' | 'native';
  start(): void;
  /** Adds or replaces a peer; replacing keeps its sessions when the public key is unchanged. */
  upsertPeer(spec: PeerSpec): void;
  removePeer(publicKey: string): void;
  counters(publicKey: string): PeerCounters | undefined;
  /**
   * Sends the peer a keepalive now; without a session that starts a handshake (wireguard-go's
   * SendKeepalive). For a peer that just (re)started: it need not wait for its own 5 s retry.
   */
  greet(publicKey: string): void;
  /** Swaps this node's static key live: every session ends, every peer stays installed (handshakes anew). */
  replaceIdentity?(privateKey: Secret<Uint8Array>): void;
  onEvent(handler: (e: EngineEvent) => void): void;
  /** Bounds padding by the smallest route MTU into the TUN (R28; 0: the tunnel MTU alone). */
  setPaddingMtu?(mtu: number): void;
  stop(): Promise<void>;
}
