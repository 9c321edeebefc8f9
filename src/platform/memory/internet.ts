// An in-memory UDP internet for tests and simulations of many nodes: hosts by IP, latency, jitter,
// loss, duplication, reordering, partitions, hosts going offline, and NAT boxes (nat.ts). Time comes
// from the Clock it is given (a FakeClock makes runs deterministic together with the seed).
//
// Cost per datagram: one copy, one routing walk, one timer. Conditions apply once per end-to-end delivery.
import { isIPv4, isIPv6 } from 'node:net';
import { TunmeshError } from '../../base/errors.js';
import { unmapIPv4 } from '../ip.js';
import type { Clock, Datagram, DatagramSocket, DatagramSocketFactory, Endpoint } from '../ports.js';
import { NatTable, type NatOptions } from './nat.js';
import { SeededRandom } from './random.js';

export interface LinkConditions {
  /** One-way delay of every datagram. */
  latencyMs: number;
  /** Extra uniform delay in [0, jitterMs): datagrams closer together than this can arrive out of order. */
  jitterMs: number;
  /** Probability a datagram is lost. */
  loss: number;
  /** Probability a datagram arrives twice. */
  duplicate: number;
  /** Probability a datagram is held back by reorderDelayMs, so later ones overtake it. */
  reorder: number;
  reorderDelayMs: number;
}

export const perfectLink: LinkConditions = {
  latencyMs: 0,
  jitterMs: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 0,
};

export type DropCause = 'loss' | 'partition' | 'offline' | 'noRoute' | 'noListener' | 'natFiltered' | 'family';

export interface InternetStats {
  sent: number;
  delivered: number;
  duplicated: number;
  dropped: Record<DropCause, number>;
}

/** An address space: the public internet, or the inside of one NAT. */
export class Realm {
  readonly hosts = new Map<string, MemoryHost>();
  /** NATs whose outside address is in this realm, by that address. */
  readonly nats = new Map<string, MemoryNat>();
  constructor(readonly outerNat: MemoryNat | undefined) {}
}

type HostRef = MemoryHost | string;

export class MemoryInternet {
  readonly clock: Clock;
  private readonly rng: SeededRandom;
  private conditions: LinkConditions;
  private readonly root = new Realm(undefined);
  private readonly groupOf = new Map<MemoryHost, number>();
  private readonly blocked = new Set<string>();
  private nextHostId = 1;
  readonly stats: InternetStats = {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: { loss: 0, partition: 0, offline: 0, noRoute: 0, noListener: 0, natFiltered: 0, family: 0 },
  };

  constructor(opts: { clock: Clock; seed?: number; conditions?: Partial<LinkConditions> }) {
    this.clock = opts.clock;
    this.rng = new SeededRandom(opts.seed ?? 1);
    this.conditions = { ...perfectLink, ...opts.conditions };
  }

  /** A host on the public internet with these addresses (IPv4 and/or IPv6). */
  addHost(ips: string | readonly string[]): MemoryHost {
    return this.addHostIn(this.root, ips);
  }

  /** A NAT box whose outside address is on the public internet; add hosts behind it with nat.addHost. */
  addNat(opts: NatOptions): MemoryNat {
    return this.addNatIn(this.root, opts);
  }

  setConditions(c: Partial<LinkConditions>): void {
    this.conditions = { ...this.conditions, ...c };
  }

  getConditions(): LinkConditions {
    return { ...this.conditions };
  }

  /**
   * Splits hosts into groups that cannot reach each other. Hosts in no group still reach everyone.
   * A new call replaces the previous partition.
   */
  partition(groups: readonly (readonly HostRef[])[]): void {
    this.groupOf.clear();
    groups.forEach((g, i) => g.forEach((h) => this.groupOf.set(this.resolve(h), i + 1)));
  }

  /** Blocks traffic between two hosts in both directions. */
  block(a: HostRef, b: HostRef): void {
    this.blocked.add(pairKey(this.resolve(a), this.resolve(b)));
  }

  unblock(a: HostRef, b: HostRef): void {
    this.blocked.delete(pairKey(this.resolve(a), this.resolve(b)));
  }

  /** Removes every partition and block. */
  heal(): void {
    this.groupOf.clear();
    this.blocked.clear();
  }

  /** @internal */ addHostIn(realm: Realm, ips: string | readonly string[]): MemoryHost {
    const list = typeof ips === 'string' ? [ips] : [...ips];
    if (list.length === 0) throw new Error('a host needs at least one address');
    for (const ip of list) {
      if (!isIPv4(ip) && !isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
      if (realm.hosts.has(ip) || realm.nats.has(ip)) throw new Error(`address ${ip} already in use`);
    }
    const host = new MemoryHost(this, realm, list, this.nextHostId++);
    for (const ip of list) realm.hosts.set(ip, host);
    return host;
  }

  /** @internal */ addNatIn(realm: Realm, opts: NatOptions): MemoryNat {
    if (realm.hosts.has(opts.outsideIp) || realm.nats.has(opts.outsideIp)) {
      throw new Error(`address ${opts.outsideIp} already in use`);
    }
    const nat = new MemoryNat(this, new NatTable(opts), realm);
    realm.nats.set(opts.outsideIp, nat);
    return nat;
  }

  /** @internal Routes one datagram from a socket and schedules its delivery. */
  transmit(from: MemorySocket, srcEp: Endpoint, data: Uint8Array, to: Endpoint): void {
    this.stats.sent++;
    const sender = from.host;
    let realm = sender.realm;
    let src = srcEp;
    let dst = to;
    // Walk realms: out through NATs, in through NATs, until a host owns the destination address.
    for (let hops = 0; hops < 16; hops++) {
      const host = realm.hosts.get(dst.host);
      if (host) return this.schedule(sender, host, src, dst, data);
      const nat = realm.nats.get(dst.host);
      if (nat) {
        const inside = nat.table.inbound(dst.port, src, this.clock.now());
        if (!inside) return this.drop('natFiltered');
        realm = nat.inside;
        dst = inside;
        continue;
      }
      const outer = realm.outerNat;
      if (!outer) return this.drop('noRoute');
      const mapped = outer.table.outbound(src, dst, this.clock.now());
      if (!mapped) return this.drop('natFiltered');
      src = mapped;
      realm = outer.outside;
    }
    this.drop('noRoute');
  }

  private schedule(sender: MemoryHost, receiver: MemoryHost, src: Endpoint, dst: Endpoint, data: Uint8Array): void {
    if (!sender.online || !receiver.online) return this.drop('offline');
    if (!this.reachable(sender, receiver)) return this.drop('partition');
    const c = this.conditions;
    if (c.loss > 0 && this.rng.float() < c.loss) return this.drop('loss');
    const copies = c.duplicate > 0 && this.rng.float() < c.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = c.latencyMs;
      if (c.jitterMs > 0) delay += this.rng.float() * c.jitterMs;
      if (c.reorder > 0 && this.rng.float() < c.reorder) delay += c.reorderDelayMs;
      const payload = Buffer.from(data);
      this.clock.after(delay, () => {
        if (!receiver.online) return this.drop('offline');
        const socket = receiver.socketFor(dst);
        if (!socket) return this.drop('noListener');
        this.stats.delivered++;
        socket.deliver({ data: payload, from: src });
      });
    }
  }

  private reachable(a: MemoryHost, b: MemoryHost): boolean {
    if (a === b) return true;
    const ga = this.groupOf.get(a) ?? 0;
    const gb = this.groupOf.get(b) ?? 0;
    if (ga !== 0 && gb !== 0 && ga !== gb) return false;
    return this.blocked.size === 0 || !this.blocked.has(pairKey(a, b));
  }

  /** @internal */ drop(cause: DropCause): void {
    this.stats.dropped[cause]++;
  }

  private resolve(h: HostRef): MemoryHost {
    if (typeof h !== 'string') return h;
    const host = this.root.hosts.get(h);
    if (!host) throw new Error(`no public host with address ${h}`);
    return host;
  }
}

function pairKey(a: MemoryHost, b: MemoryHost): string {
  return a.id < b.id ? `${a.id}-${b.id}` : `${b.id}-${a.id}`;
}

export class MemoryNat {
  /** @internal */ readonly inside: Realm;
  constructor(
    private readonly internet: MemoryInternet,
    /** @internal */ readonly table: NatTable,
    /** @internal */ readonly outside: Realm,
  ) {
    this.inside = new Realm(this);
  }

  get outsideIp(): string {
    return this.table.outsideIp;
  }

  /** A host behind this NAT; its addresses are private to the NAT's inside. */
  addHost(ips: string | readonly string[]): MemoryHost {
    return this.internet.addHostIn(this.inside, ips);
  }

  /** A NAT behind this NAT (carrier-grade NAT in front of a home router). */
  addNat(opts: NatOptions): MemoryNat {
    return this.internet.addNatIn(this.inside, opts);
  }

  activeMappings(): number {
    return this.table.activeMappings(this.internet.clock.now());
  }

  /** The outside endpoint an inside endpoint is currently mapped to (endpoint-independent NATs). */
  mappedEndpoint(inside: Endpoint): Endpoint | undefined {
    const port = this.table.outsidePortOf(inside, this.internet.clock.now());
    return port === undefined ? undefined : { host: this.outsideIp, port };
  }
}

/** One machine: a DatagramSocketFactory bound to its addresses. */
export class MemoryHost implements DatagramSocketFactory {
  online = true;
  private readonly sockets = new Set<MemorySocket>();
  private nextEphemeral = 32768;

  /** @internal */ constructor(
    private readonly internet: MemoryInternet,
    /** @internal */ readonly realm: Realm,
    readonly ips: readonly string[],
    /** @internal */ readonly id: number,
  ) {}

  /** Takes the host off the network (both directions) or puts it back; sockets stay open. */
  setOnline(online: boolean): void {
    this.online = online;
  }

  async bind(host: string, port: number): Promise<MemorySocket> {
    const scope = this.scopeOf(host);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TunmeshError('SOCKET_BIND_FAILED', `cannot bind UDP to ${host} port ${port}: bad port`);
    }
    const wanted = port === 0 ? this.ephemeral(scope) : port;
    if (wanted === undefined || this.conflicts(scope, wanted)) {
      throw new TunmeshError('SOCKET_BIND_FAILED', `cannot bind UDP to ${host} port ${port}: address in use`);
    }
    const socket = new MemorySocket(this.internet, this, scope, wanted);
    this.sockets.add(socket);
    return socket;
  }

  /** @internal */ release(s: MemorySocket): void {
    this.sockets.delete(s);
  }

  /** @internal The open socket that accepts datagrams for `dst` on this host. */
  socketFor(dst: Endpoint): MemorySocket | undefined {
    for (const s of this.sockets) if (s.port === dst.port && s.scope.accepts(dst.host)) return s;
    return undefined;
  }

  private scopeOf(host: string): Scope {
    if (host === '0.0.0.0') return new Scope('any4', this.ips);
    if (host === '::') return new Scope('any', this.ips);
    if (this.ips.includes(host)) return new Scope(host, this.ips);
    throw new TunmeshError('SOCKET_BIND_FAILED', `cannot bind UDP to ${host}: not an address of this host`);
  }

  private conflicts(scope: Scope, port: number): boolean {
    for (const s of this.sockets) if (s.port === port && s.scope.overlaps(scope)) return true;
    return false;
  }

  private ephemeral(scope: Scope): number | undefined {
    for (let i = 0; i < 28232; i++) {
      const p = 32768 + ((this.nextEphemeral - 32768 + i) % 28232);
      if (!this.conflicts(scope, p)) {
        this.nextEphemeral = p + 1;
        return p;
      }
    }
    return undefined;
  }
}

/** Which local addresses a socket is bound to: one, every IPv4 one, or every one (dual-stack "::"). */
export class Scope {
  constructor(
    readonly bound: string,
    private readonly hostIps: readonly string[],
  ) {}

  accepts(ip: string): boolean {
    if (this.bound === 'any') return true;
    if (this.bound === 'any4') return isIPv4(ip);
    return this.bound === ip;
  }

  overlaps(other: Scope): boolean {
    return this.hostIps.some((ip) => this.accepts(ip) && other.accepts(ip));
  }

  /** The source address for a datagram to `dst`, or undefined when this socket cannot reach its family. */
  sourceFor(dst: string): string | undefined {
    const v4 = isIPv4(dst);
    if (this.bound === 'any' || (this.bound === 'any4' && v4)) return this.hostIps.find((ip) => isIPv4(ip) === v4);
    if (this.bound === 'any4') return undefined;
    return isIPv4(this.bound) === v4 ? this.bound : undefined;
  }
}

export class MemorySocket implements DatagramSocket {
  private handler: ((d: Datagram) => void) | undefined;
  private closed = false;

  /** @internal */ constructor(
    private readonly internet: MemoryInternet,
    /** @internal */ readonly host: MemoryHost,
    /** @internal */ readonly scope: Scope,
    readonly port: number,
  ) {}

  onMessage(handler: (d: Datagram) => void): void {
    this.handler = handler;
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (this.closed) return;
    const dstHost = unmapIPv4(to.host);
    const src = this.scope.sourceFor(dstHost);
    if (src === undefined) return this.internet.drop('family');
    this.internet.transmit(this, { host: src, port: this.port }, data, { host: dstHost, port: to.port });
  }

  localPort(): number {
    return this.port;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.host.release(this);
  }

  /** @internal */ deliver(d: Datagram): void {
    this.handler?.(d);
  }
}
