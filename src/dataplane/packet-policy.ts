// Routing policy shared by both engines: which peer(s) an inner packet from the TUN goes to (crypto-key
// routing with redundant exits, then broadcast / multicast fan-out on a miss), and whether a decrypted
// packet may be written to the TUN (source check against the routes, fan-out's inbound rules).
import type { Metrics } from '../metrics/registry.js';
import type { Fanout } from '../routing/fanout.js';
import { ExitSets, flowHash, isExitOf, pickExit, routeValue, type MultiExit } from '../routing/exits.js';
import { AllowedIps } from './allowed-ips.js';
import type { DropCounter } from './drop-counter.js';
import { innerDestination, innerSource } from './inner-address.js';

export class PacketPolicy {
  /** A CIDR maps to its one peer, or to a MultiExit when several peers advertise it (routing/exits.ts). */
  readonly #routes = new AllowedIps<string | MultiExit>();
  readonly #exits = new ExitSets();
  readonly #drops: DropCounter;
  readonly #metrics: Metrics;
  readonly #fanout: Fanout | undefined;

  constructor(deps: { drops: DropCounter; metrics: Metrics; fanout?: Fanout | undefined }) {
    this.#drops = deps.drops;
    this.#metrics = deps.metrics;
    this.#fanout = deps.fanout;
  }

  /** Adds `peer` as an exit of each CIDR; returns every peer whose set of sole-exit CIDRs may have changed. */
  add(peer: string, cidrs: readonly string[]): Set<string> {
    const touched = new Set<string>([peer]);
    for (const cidr of cidrs) {
      const exits = this.#exits.add(cidr, peer);
      for (const e of exits) touched.add(e);
      this.#set(cidr, exits);
    }
    return touched;
  }

  /** Removes `peer` as an exit of each CIDR; a CIDR another peer also routes stays with that one. */
  remove(peer: string, cidrs: readonly string[]): Set<string> {
    const touched = new Set<string>();
    for (const cidr of cidrs) {
      const exits = this.#exits.remove(cidr, peer);
      for (const e of exits) touched.add(e);
      this.#set(cidr, exits);
    }
    return touched;
  }

  /** The CIDRs among `cidrs` that `peer` is the only exit of (the native fast path routes only these). */
  soleExitCidrs(peer: string, cidrs: readonly string[]): string[] {
    return cidrs.filter((c) => {
      const e = this.#exits.exits(c);
      return e.length === 1 && e[0] === peer;
    });
  }

  #set(cidr: string, exits: readonly string[]): void {
    const v = routeValue(cidr, exits);
    if (v === undefined) this.#routes.remove(cidr);
    else this.#routes.insert(cidr, v);
  }

  /** Routes an inner packet from the TUN: `send` is called once per receiving peer; misses are counted. */
  insideToOutside(packet: Uint8Array, send: (peer: string, packet: Uint8Array) => void): void {
    const dst = innerDestination(packet);
    if (!dst) return this.#drops.add('bad_inner_packet');
    const route = this.#routes.lookup(dst);
    // The common case is one peer per CIDR; only a redundant-exit route hashes the flow.
    const peer = typeof route === 'string' ? route : route && pickExit(route.exits, flowHash(packet));
    if (peer !== undefined) return send(peer, packet);
    const o = this.#fanout?.outbound(packet);
    if (o === undefined) return this.#drops.add('no_route');
    if (o.kind === 'report') return;
    if (o.kind === 'drop') return this.#drops.add(o.reason);
    for (const p of o.peers) send(p, Buffer.from(o.packet));
    if (o.peers.length) this.#metrics.inc('fanout_packets_total', { kind: o.kind }, o.peers.length);
  }

  /** Checks a decrypted packet from `peer` and writes it with `write` when allowed; refusals are counted. */
  outsideToInside(peer: string, packet: Uint8Array, write: (packet: Uint8Array) => boolean): void {
    const src = innerSource(packet);
    if (!src) return this.#drops.add('bad_inner_packet');
    // Crypto-key routing: a peer may only send from addresses routed to it.
    if (!isExitOf(this.#routes.lookup(src), peer)) return this.#drops.add('source_not_allowed');
    const refused = this.#fanout?.inboundAllowed(packet);
    if (refused) return this.#drops.add(refused);
    if (!write(packet)) this.#drops.add('tun_write_failed');
  }
}
