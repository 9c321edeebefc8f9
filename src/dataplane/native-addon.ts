// Typed face of the addon's fast path (native/src/fastpath*.cc). Loaded through the platform's loader;
// undefined when the addon is missing. The addon is built from this workspace, so everything below is
// always there once it loads.
import type { DropReason } from '../metrics/table.js';
import { loadNative } from '../platform/linux/native.js';

/**
 * The reasons the native threads count drops for, in the order of the C++ enum generated from this list
 * (native/src/generated/protocol.h, `npm run docs`): FastPath.stats().drops has exactly these keys.
 */
export const nativeDropReasons = [
  'short_packet',
  'decrypt_failed',
  'replayed',
  'expired_keypair',
  'source_not_allowed',
  'bad_inner_packet',
  'tun_write_failed',
  'udp_send_failed',
  'queue_full',
  'bad_mac1',
  'bad_mac2',
] as const satisfies readonly DropReason[];
export type NativeDropReason = (typeof nativeDropReasons)[number];

/**
 * Something the native threads hand to TypeScript: a TUN packet (kind 0), a datagram (kind 1, with `host`
 * and `port`), or an authenticated, decrypted inner packet of native peer `peer` (kind 2) whose source the
 * native table does not route to that peer or whose destination is broadcast/multicast: routing policy
 * decides (source check with exits, multicast membership) and writes it to the TUN. A kind-2 packet was
 * counted in the peer's last-data time but not in its rx packets/bytes. Kinds 3 and 4 are handshake
 * messages (with `host` and `port`) the rx thread's gate admitted: 3 = mac1 verified, not under load;
 * 4 = under load, mac1 and mac2 verified (native/src/fastpath_handshake.h).
 */
export interface SlowItem {
  readonly kind: 0 | 1 | 2 | 3 | 4;
  readonly data: Buffer;
  readonly host?: string;
  readonly port?: number;
  readonly peer?: number;
}

export interface FastPathStats {
  readonly tunReads: number;
  readonly tunSuperPackets: number;
  readonly txPackets: number;
  readonly sendCalls: number;
  readonly gsoSends: number;
  readonly rxDatagrams: number;
  readonly recvCalls: number;
  readonly groDatagrams: number;
  readonly rxPackets: number;
  readonly tunWrites: number;
  readonly coalesced: number;
  /** TUN writes that were UDP GSO super-packets (coalesced counts their datagrams too). */
  readonly usoWrites: number;
  readonly puntedTun: number;
  readonly puntedUdp: number;
  /** Decrypted inner packets handed up (SlowItem kind 2). */
  readonly puntedInner: number;
  /**
   * Datagrams handed up because their keypair was not confirmed yet (included in puntedUdp): the rx thread
   * confirms a responder's keypair on its first authenticated packet, so one per such keypair.
   */
  readonly puntedUnconfirmed: number;
  readonly resealed: number;
  /** Cookie replies the rx thread sent (handshakes without a valid mac2 under load). */
  readonly cookieReplies: number;
  /** Items waiting in the bounded queue to TypeScript now, and the most that ever waited (capacity 1024). */
  readonly slowQueued: number;
  readonly slowPeak: number;
  /** Totals by drop reason. */
  readonly drops: Readonly<Record<NativeDropReason, number>>;
  readonly running: boolean;
}

export interface FastPathHandle {
  openTun(name: string): { fd: number; name: string; vnetHdr: boolean; tso: boolean; uso: boolean };
  bind(host: string, port: number): { port: number; gso: boolean; gro: boolean };
  start(onSlow: (items: SlowItem[]) => void, limits: { rejectAfterTimeMs: number; rejectAfterMessages: number }): void;
  stop(): void;
  /** Closes the TUN fd, the UDP socket, or both (after stop()). */
  close(which?: 'tun' | 'udp'): void;
  setPeer(id: number, host?: string, port?: number): boolean;
  removePeer(id: number): void;
  /** Packed records: family (4|6), prefix length, address bytes. Replaces the peer's routes. */
  setRoutes(id: number, packed: Uint8Array): boolean;
  addKeypair(
    peerId: number,
    localIndex: number,
    remoteIndex: number,
    sendKey: Uint8Array,
    receiveKey: Uint8Array,
    ageMs: number,
    confirmed: boolean,
  ): boolean;
  confirmKeypair(localIndex: number): boolean;
  removeKeypair(localIndex: number): void;
  sendTo(data: Uint8Array, host: string, port: number): boolean;
  sendTransport(peerId: number, data: Uint8Array, host: string, port: number): boolean;
  writeTun(packet: Uint8Array): boolean;
  /** Rows of activityColumns numbers, one per peer whose counters moved since the last call. */
  activity(): Float64Array;
  stats(): FastPathStats;
  /** Padding stops at this many bytes when below the MTU (0: the MTU bounds it); R28. */
  setPaddingMtu(mtu: number): void;
  /**
   * Keys of the rx thread's handshake gate, derived from our static public key (mac1Key, cookieKey), and
   * the cookie secret's lifetime; nulls turn the gate off (every handshake then comes up unchecked).
   */
  setHandshakeKeys(mac1Key: Uint8Array | null, cookieKey: Uint8Array | null, cookieRefreshMs: number): boolean;
}

/** What the rx thread's handshake gate decided for one datagram (HandshakeGate, tests). */
export interface GateResult {
  readonly verdict: 'pass' | 'admit_mac1' | 'admit_mac2' | 'drop_bad_mac1' | 'cookie';
  /** With 'cookie': the 64-byte cookie reply the rx thread sends back. */
  readonly reply?: Buffer;
}

export const activityColumns = 10;

export interface FastPathAddon {
  FastPath: new (opts: {
    mtu: number;
    offload?: boolean;
    /** With offload: ask the TUN for UDP GSO (default true; false for measurements). */
    uso?: boolean;
    puntIcmp?: boolean;
    threads?: 1 | 2;
  }) => FastPathHandle;
  /** The transport message the tx thread would send for `packet` (test vectors). */
  fastPathSeal(
    key: Uint8Array,
    remoteIndex: number,
    counter: number,
    packet: Uint8Array,
    mtu: number,
    paddingMtu?: number,
  ): Buffer;
  /** The packets the tx thread would seal for one vnet-header TUN read (null: dropped). */
  fastPathSplit(vnetHeaderAndPacket: Uint8Array, mtu: number): Buffer[] | null;
  /** The width of activity() rows as the addon writes them (generated/protocol.h kActivityColumns). */
  readonly fastPathActivityColumns: number;
  /**
   * What the rx thread writes to a vnet-header TUN for these packets (virtio header + packet each);
   * `uso`: as for a TUN that accepts UDP GSO (UDP trains coalesce too).
   */
  fastPathCoalesce(packets: Uint8Array[], opts?: { uso?: boolean }): Buffer[] | null;
  /** The rx thread's handshake gate on its own, fed one datagram at a time (tests). */
  HandshakeGate: new (
    mac1Key: Uint8Array,
    cookieKey: Uint8Array,
    cookieRefreshMs: number,
  ) => { admit(data: Uint8Array, host: string, port: number, atMs: number): GateResult | null };
  /**
   * The rx thread's replay window on its own (tests): check() before opening, mark() after the tag
   * verified, as the rx thread calls them. Counters are safe integers; anything else throws.
   */
  ReplayWindow: new () => { check(counter: number, limit: number): boolean; mark(counter: number): void };
  /**
   * The fast path's prefix table (crypto-key routing) on its own (tests): insert() replaces an equal
   * prefix's peer, lookup() is the longest prefix's peer or undefined. Addresses are 4 or 16 bytes.
   */
  PrefixTable: new () => {
    insert(addr: Uint8Array, prefixLength: number, peer: number): void;
    removePeer(peer: number): void;
    lookup(addr: Uint8Array): number | undefined;
    size(): number;
  };
}

/** The fast path of the addon, or undefined when the addon is not built. Never throws. */
export function loadFastPath(): FastPathAddon | undefined {
  try {
    return loadNative() as unknown as FastPathAddon;
  } catch {
    return undefined;
  }
}
