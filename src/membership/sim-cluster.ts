// A harness for in-memory multi-node simulations: N Membership instances on a MemoryNetwork with a
// SimClock, all randomness from one seed. Used by the sim tests (convergence, failure detection,
// restarts, conflicts, scale).
import type { Logger } from '../base/log.js';
import { silentLogger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import { MemoryNetwork } from './memory-transport.js';
import { Membership, type MembershipOptions } from './membership.js';
import type { NodeRecord } from './record.js';
import { seededRng, type Rng } from './rng.js';
import { SimClock } from './sim-clock.js';
import type { DownReason } from './table.js';

export const defaultSimOptions: MembershipOptions = {
  probeIntervalMs: 1000,
  failureTimeoutMs: 10_000,
  gossipFanout: 3,
  requestTimeoutMs: 2000,
  bootstrapRetryMinMs: 500,
  bootstrapRetryMaxMs: 30_000,
};

export interface SimNode {
  readonly name: string;
  readonly url: string;
  membership: Membership;
  record: NodeRecord;
  alive: boolean;
  readonly events: {
    at: number;
    type: 'up' | 'update' | 'down';
    id: string;
    reason?: DownReason;
    record?: NodeRecord;
  }[];
}

export interface SimClusterOptions {
  readonly seed: number;
  readonly options?: Partial<MembershipOptions>;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  /** Schema-validate every simulated message (default true; off for large runs). */
  readonly validate?: boolean;
  /** Keep every membership event in SimNode.events (default true; off for large runs: n² events). */
  readonly recordEvents?: boolean;
  readonly logger?: (name: string) => Logger;
  readonly metrics?: (name: string) => Metrics;
}

export class SimCluster {
  readonly clock = new SimClock();
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly #rng: Rng;
  readonly #opts: SimClusterOptions;
  readonly options: MembershipOptions;

  constructor(opts: SimClusterOptions) {
    this.#opts = opts;
    this.#rng = seededRng(opts.seed);
    this.options = { ...defaultSimOptions, ...opts.options };
    this.net = new MemoryNetwork({
      clock: this.clock,
      rng: seededRng(opts.seed ^ 0x5eed),
      latencyMs: opts.latencyMs ?? 2,
      jitterMs: opts.jitterMs ?? 3,
      loss: opts.loss ?? 0,
      validate: opts.validate ?? true,
    });
  }

  static urlOf(index: number): string {
    return `https://198.18.${(index >> 8) & 255}.${index & 255}:4567/`;
  }

  /** A random-looking but seed-determined WireGuard-sized public key. */
  randomKey(): string {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) b[i] = Math.floor(this.#rng() * 256);
    return b.toString('base64');
  }

  /** Starts a node; `index` picks its URL and default overlay address 198.19.x.y. */
  add(
    name: string,
    index: number,
    opts: {
      bootstrap?: string[];
      addresses?: string[];
      publicKey?: string;
      epoch?: number;
      /** Behind a NAT: its record says so and the network refuses inbound requests to it. */
      outboundOnly?: boolean;
    } = {},
  ): SimNode {
    const url = SimCluster.urlOf(index);
    const record: NodeRecord = {
      id: name,
      epoch: opts.epoch ?? this.clock.wallNow(),
      version: 0,
      publicKey: opts.publicKey ?? this.randomKey(),
      addresses: opts.addresses ?? [`198.19.${(index >> 8) & 255}.${index & 255}/16`],
      endpoints: [`198.18.${(index >> 8) & 255}.${index & 255}:51820`],
      apiUrl: url,
      methods: ['wireguard'],
      routes: [],
      ...(opts.outboundOnly && { reach: 'outbound' as const }),
    };
    const events: SimNode['events'] = [];
    const node: SimNode = { name, url, membership: undefined as unknown as Membership, record, alive: true, events };
    const handler = {
      self: () => node.membership.self(),
      handleJoin: (r: NodeRecord, from: string) => node.membership.handleJoin(r, from),
      handleGossip: (m: Parameters<Membership['handleGossip']>[0], from: string) =>
        node.membership.handleGossip(m, from),
    };
    const transport = this.net.attach(url, handler);
    if (opts.outboundOnly) this.net.behindNat(url);
    node.membership = new Membership({
      self: record,
      options: this.options,
      transport,
      clock: this.clock,
      bootstrap: opts.bootstrap ?? [],
      rng: seededRng(Math.floor(this.#rng() * 2 ** 32)),
      resolve: async (h) => [h],
      logger: this.#opts.logger?.(name) ?? silentLogger(),
      ...(this.#opts.metrics && { metrics: this.#opts.metrics(name) }),
    });
    const at = (): number => this.clock.now();
    if (this.#opts.recordEvents !== false) this.#record(node, at);
    this.nodes.set(name, node);
    node.membership.start();
    return node;
  }

  #record(node: SimNode, at: () => number): void {
    const events = node.events;
    node.membership.on('up', (r) => events.push({ at: at(), type: 'up', id: r.id, record: r }));
    node.membership.on('update', (r) => events.push({ at: at(), type: 'update', id: r.id, record: r }));
    node.membership.on('down', (id, reason) => events.push({ at: at(), type: 'down', id, reason }));
  }

  /** The node dies without a word: its host stops answering (or refuses connections). */
  async kill(name: string, mode: 'timeout' | 'refused' = 'timeout'): Promise<void> {
    const n = this.nodes.get(name)!;
    n.alive = false;
    this.net.down(n.url, mode);
    await n.membership.stop();
  }

  /** Ids each running node currently has as admitted peers. */
  view(name: string): Set<string> {
    return new Set(
      this.nodes
        .get(name)!
        .membership.peers()
        .map((r) => r.id),
    );
  }

  running(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  /** Every running node sees exactly the other running nodes (by name; records checked by the caller). */
  converged(expected: ReadonlySet<string> = new Set(this.running().map((n) => n.name))): boolean {
    for (const n of this.running()) {
      const v = this.view(n.name);
      if (v.size !== expected.size - (expected.has(n.name) ? 1 : 0)) return false;
      for (const id of expected) if (id !== n.name && !v.has(id)) return false;
    }
    return true;
  }

  async stopAll(): Promise<void> {
    for (const n of this.running()) await n.membership.stop();
  }
}
