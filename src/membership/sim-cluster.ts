// A harness for in-memory multi-node simulations: N Membership instances on a MemoryNetwork with a
// SimClock, all randomness from one seed. Used by the sim tests (convergence, failure detection,
// restarts, conflicts, scale).
import type { Logger } from '../base/log.js';
import { silentLogger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import { MemoryNetwork } from './memory-transport.js';
import { Membership, type MembershipOptions } from './membership.js';
import { clamp, encodeKey, publicKeyOf } from '../crypto/keys.js';
import type { NodeRecord } from './record.js';
import { recordAuth, VerifyCache, type RecordAuth } from './record-auth.js';
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
  /** Signs this node's records and verifies others'; a real Ed25519 key derived from `privateKey`. */
  auth: RecordAuth;
  readonly privateKey: Uint8Array;
  /** Signature checks this node asked for (cache hits included). */
  checks: number;
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
  /**
   * `per-node` (default): every node verifies every signature itself, as daemons do. `shared`: one cache of
   * verified records for the whole process, so a record is verified once however many simulated nodes
   * learn it (the figures in simulated time are the same; the real CPU of a 3000-node run is not N² Ed25519
   * verifications). Each node still counts the checks it asked for (SimNode.checks).
   */
  readonly verifyCache?: 'per-node' | 'shared';
}

export class SimCluster {
  readonly clock = new SimClock();
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly #rng: Rng;
  readonly #opts: SimClusterOptions;
  readonly options: MembershipOptions;
  readonly #sharedCache: VerifyCache | undefined;

  constructor(opts: SimClusterOptions) {
    this.#opts = opts;
    this.#rng = seededRng(opts.seed);
    this.options = { ...defaultSimOptions, ...opts.options };
    this.#sharedCache = opts.verifyCache === 'shared' ? new VerifyCache(1 << 20) : undefined;
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

  /** Signatures actually verified by the shared cache (undefined with per-node caches). */
  get sharedVerified(): number | undefined {
    return this.#sharedCache?.verified;
  }

  /** A random-looking but seed-determined WireGuard-sized public key. */
  randomKey(): string {
    return encodeKey(publicKeyOf(this.randomPrivateKey()));
  }

  /** A seed-determined X25519 private key (clamped as WireGuard keeps them). */
  randomPrivateKey(): Uint8Array {
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = Math.floor(this.#rng() * 256);
    return clamp(b);
  }

  /** A record authority for `privateKey` that counts the checks `node` asks for. */
  #authFor(privateKey: Uint8Array, node: { checks: number }): RecordAuth {
    const inner = recordAuth(privateKey, this.#sharedCache ?? new VerifyCache());
    return {
      get sigKey() {
        return inner.sigKey;
      },
      sign: (r) => inner.sign(r),
      vouch: (id, next, epoch) => inner.vouch(id, next, epoch),
      verify: (r) => {
        node.checks++;
        return inner.verify(r);
      },
      continues: (r, held) => inner.continues(r, held),
    };
  }

  /** Starts a node; `index` picks its URL and default overlay address 198.19.x.y. */
  add(
    name: string,
    index: number,
    opts: {
      bootstrap?: string[];
      addresses?: string[];
      publicKey?: string;
      /** The node's X25519 private key (its signing key derives from it); default: from the seed. */
      privateKey?: Uint8Array;
      epoch?: number;
      /** Behind a NAT: its record says so and the network refuses inbound requests to it. */
      outboundOnly?: boolean;
    } = {},
  ): SimNode {
    const url = SimCluster.urlOf(index);
    const privateKey = opts.privateKey ?? this.randomPrivateKey();
    const record: NodeRecord = {
      id: name,
      epoch: opts.epoch ?? this.clock.wallNow(),
      version: 0,
      publicKey: opts.publicKey ?? encodeKey(publicKeyOf(privateKey)),
      addresses: opts.addresses ?? [`198.19.${(index >> 8) & 255}.${index & 255}/16`],
      endpoints: [`198.18.${(index >> 8) & 255}.${index & 255}:51820`],
      apiUrl: url,
      methods: ['wireguard'],
      routes: [],
      ...(opts.outboundOnly && { reach: 'outbound' as const }),
    };
    const events: SimNode['events'] = [];
    const node: SimNode = {
      name,
      url,
      membership: undefined as unknown as Membership,
      record,
      auth: undefined as unknown as RecordAuth,
      privateKey,
      checks: 0,
      alive: true,
      events,
    };
    node.auth = this.#authFor(privateKey, node);
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
      auth: node.auth,
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
