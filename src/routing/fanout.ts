// Broadcast and multicast over the mesh: which peers get a copy of a packet the unicast routes do not
// cover. The engines ask only on a route miss, so the unicast fast path never pays for it.
//
// Broadcast (opt-in): 255.255.255.255 and the broadcast address of each local IPv4 overlay prefix go to
// every mesh peer once. Received copies are only written to the TUN, never sent on, so there are no loops.
// Multicast: groups beyond link-local scope go only to peers whose record lists the group; the mesh counts
// as one routed hop, so the TTL / hop limit must be above 1 and is decremented. Link-local groups
// (224.0.0.0/24, ff02::/16, e.g. mDNS) are opt-in and then cross the mesh as one link, TTL unchanged.
import { formatAddress, parseCidr } from '../wire/ip.js';
import { parseMembershipReport } from './membership-reports.js';

export interface FanoutOptions {
  readonly broadcast: boolean;
  readonly multicast: boolean;
  readonly multicastLinkLocal: boolean;
  /** This node's overlay CIDRs: their IPv4 prefixes give the directed broadcast addresses. */
  readonly addresses: readonly string[];
}

export type FanoutDrop = 'broadcast_disabled' | 'multicast_disabled' | 'multicast_scope' | 'multicast_ttl';

export type Outbound =
  | { readonly kind: 'broadcast' | 'multicast'; readonly peers: readonly string[]; readonly packet: Uint8Array }
  | { readonly kind: 'report' }
  | { readonly kind: 'drop'; readonly reason: FanoutDrop }
  | undefined;

const v4Key = (a: Uint8Array, o = 0) => `${a[o]}.${a[o + 1]}.${a[o + 2]}.${a[o + 3]}`;
const v4Int = (a: Uint8Array, o: number) => ((a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!) >>> 0;
const v6Key = (p: Uint8Array, o: number) => formatAddress(p.subarray(o, o + 16))!;

/** True for groups that stay on one link: 224.0.0.0/24, and IPv6 scopes interface-/link-local (ff01, ff02). */
export function isLinkLocalGroup(group: string): boolean {
  if (group.includes(':')) {
    const scope = parseInt(group.slice(3, 4), 16);
    return !Number.isNaN(scope) && scope <= 2;
  }
  return group.startsWith('224.0.0.');
}

export class Fanout {
  readonly #o: FanoutOptions;
  /** Broadcast destinations as 32-bit numbers: a lookup cheap enough for every received packet. */
  readonly #broadcast = new Set<number>([0xffffffff]);
  /** Peer public key -> the groups its record lists. */
  readonly #peerGroups = new Map<string, ReadonlySet<string>>();
  readonly #local = new Set<string>();
  readonly #listeners: ((groups: readonly string[]) => void)[] = [];

  constructor(o: FanoutOptions) {
    this.#o = o;
    for (const a of o.addresses) {
      const c = parseCidr(a);
      if (!c || c.addr.length !== 4 || c.prefixLength > 30) continue;
      const b = Uint8Array.from(c.addr);
      for (let bit = c.prefixLength; bit < 32; bit++) b[bit >> 3]! |= 0x80 >> (bit & 7);
      this.#broadcast.add(v4Int(b, 0));
    }
  }

  /** Called with this node's groups whenever local applications join or leave one. */
  onLocalGroups(f: (groups: readonly string[]) => void): void {
    this.#listeners.push(f);
  }

  localGroups(): string[] {
    return [...this.#local].sort();
  }

  setPeer(peer: string, groups: readonly string[]): void {
    this.#peerGroups.set(peer, new Set(groups));
  }

  removePeer(peer: string): void {
    this.#peerGroups.delete(peer);
  }

  /** Members of `group` among the peers. */
  membersOf(group: string): string[] {
    const out: string[] = [];
    for (const [peer, groups] of this.#peerGroups) if (groups.has(group)) out.push(peer);
    return out;
  }

  /** What to do with a packet from the TUN that no unicast route matched. */
  outbound(p: Uint8Array): Outbound {
    const version = p.length > 0 ? p[0]! >> 4 : 0;
    if (version === 4 && p.length >= 20) {
      if (this.#broadcast.has(v4Int(p, 16))) {
        if (!this.#o.broadcast) return { kind: 'drop', reason: 'broadcast_disabled' };
        return { kind: 'broadcast', peers: [...this.#peerGroups.keys()], packet: p };
      }
      if ((p[16]! & 0xf0) === 0xe0) return this.#multicast(p, v4Key(p, 16), 8);
      return undefined;
    }
    if (version === 6 && p.length >= 40 && p[24] === 0xff) return this.#multicast(p, v6Key(p, 24), 7);
    return undefined;
  }

  /** Whether a multicast/broadcast packet received from a peer may be written to the TUN. */
  inboundAllowed(p: Uint8Array): FanoutDrop | undefined {
    const version = p.length > 0 ? p[0]! >> 4 : 0;
    if (version === 4 && p.length >= 20) {
      if (this.#broadcast.has(v4Int(p, 16))) return this.#o.broadcast ? undefined : 'broadcast_disabled';
      if ((p[16]! & 0xf0) !== 0xe0) return undefined;
      return this.#groupAllowed(v4Key(p, 16));
    }
    if (version === 6 && p.length >= 40 && p[24] === 0xff) return this.#groupAllowed(v6Key(p, 24));
    return undefined;
  }

  #groupAllowed(group: string): FanoutDrop | undefined {
    if (!this.#o.multicast) return 'multicast_disabled';
    if (isLinkLocalGroup(group) && !this.#o.multicastLinkLocal) return 'multicast_scope';
    return undefined;
  }

  #multicast(p: Uint8Array, group: string, ttlAt: number): Outbound {
    const change = parseMembershipReport(p);
    if (change) {
      this.#learn(change.joins, change.leaves);
      return { kind: 'report' };
    }
    const refused = this.#groupAllowed(group);
    if (refused) return { kind: 'drop', reason: refused };
    const peers = this.membersOf(group);
    if (isLinkLocalGroup(group)) return { kind: 'multicast', peers, packet: p };
    if (p[ttlAt]! <= 1) return { kind: 'drop', reason: 'multicast_ttl' };
    // One routed hop: a copy with the TTL / hop limit decremented (IPv4: checksum updated, RFC 1624).
    const out = Uint8Array.from(p);
    out[ttlAt]! -= 1;
    if (ttlAt === 8) {
      let sum = ((out[10]! << 8) | out[11]!) + 0x0100;
      sum = (sum & 0xffff) + (sum >> 16);
      out[10] = (sum >> 8) & 0xff;
      out[11] = sum & 0xff;
    }
    return { kind: 'multicast', peers, packet: out };
  }

  #learn(joins: readonly string[], leaves: readonly string[]): void {
    let changed = false;
    for (const g of joins) {
      // Solicited-node and all-nodes groups are the kernel's own, never an application's.
      if (g.startsWith('ff02::1:ff') || g === 'ff02::1' || g === '224.0.0.1') continue;
      if (isLinkLocalGroup(g) && !this.#o.multicastLinkLocal) continue;
      if (!this.#local.has(g)) {
        this.#local.add(g);
        changed = true;
      }
    }
    for (const g of leaves) changed = this.#local.delete(g) || changed;
    if (changed) for (const f of this.#listeners) f(this.localGroups());
  }
}
