// The in-memory twin of the HTTPS transport: a simulated network of nodes addressed by API URL, with
// one-way latency and jitter, random loss, partitions, and hosts that are down (requests time out) or
// refuse connections. Messages cross as JSON and are validated as the control server would, so the
// simulation exercises the same decoding. Counts messages and bytes per node for traffic measurements.
import { TunmeshError } from '../base/errors.js';
import {
  joinReplySchema,
  parseGossipRequest,
  parseReply,
  type MembershipHandler,
  type MembershipTransport,
  type Peer,
  type Reply,
  type Request,
} from './messages.js';
import { nodeRecordSchema } from './record.js';
import type { Rng } from './rng.js';

export interface MemoryNetworkOptions {
  readonly clock: { after(ms: number, fn: () => void): { cancel(): void } };
  readonly rng: Rng;
  /** One-way base latency. */
  readonly latencyMs?: number;
  /** Extra one-way latency, uniform in [0, jitterMs). */
  readonly jitterMs?: number;
  /** Probability that a message (request or reply) is lost. */
  readonly loss?: number;
}

export interface TrafficStats {
  messagesOut: number;
  bytesOut: number;
  messagesIn: number;
  bytesIn: number;
}

type HostState = { handler: MembershipHandler } | { down: 'timeout' | 'refused' };

export class MemoryNetwork {
  readonly #opts: MemoryNetworkOptions;
  readonly #hosts = new Map<string, HostState>();
  readonly #groups = new Map<string, number>();
  readonly stats = new Map<string, TrafficStats>();
  loss: number;

  constructor(opts: MemoryNetworkOptions) {
    this.#opts = opts;
    this.loss = opts.loss ?? 0;
  }

  /** Puts a node on the network at `url`; returns the transport it sends through. */
  attach(url: string, handler: MembershipHandler): MembershipTransport {
    this.#hosts.set(url, { handler });
    return { send: (to, msg, timeoutMs) => this.#send(url, handler, to, msg, timeoutMs) };
  }

  /** The host at `url` is gone: requests to it time out (`timeout`) or fail at once (`refused`). */
  down(url: string, mode: 'timeout' | 'refused' = 'timeout'): void {
    this.#hosts.set(url, { down: mode });
  }

  /** Splits the network: hosts in different groups cannot reach each other; unlisted hosts are in group 0. */
  partition(...groups: readonly (readonly string[])[]): void {
    this.#groups.clear();
    groups.forEach((g, i) => g.forEach((url) => this.#groups.set(url, i + 1)));
  }

  heal(): void {
    this.#groups.clear();
  }

  statsOf(url: string): TrafficStats {
    let s = this.stats.get(url);
    if (!s) this.stats.set(url, (s = { messagesOut: 0, bytesOut: 0, messagesIn: 0, bytesIn: 0 }));
    return s;
  }

  #delay(): number {
    const { latencyMs = 5, jitterMs = 0 } = this.#opts;
    return latencyMs + this.#opts.rng() * jitterMs;
  }

  #lost(fromUrl: string, toUrl: string): boolean {
    if ((this.#groups.get(fromUrl) ?? 0) !== (this.#groups.get(toUrl) ?? 0)) return true;
    return this.loss > 0 && this.#opts.rng() < this.loss;
  }

  #send(fromUrl: string, self: MembershipHandler, to: Peer, msg: Request, timeoutMs: number): Promise<Reply> {
    const toUrl = typeof to === 'string' ? to : to.apiUrl;
    const fromId = self.self().id;
    const wire = JSON.stringify(msg.type === 'join' ? msg.record : msg);
    const out = this.statsOf(fromUrl);
    out.messagesOut++;
    out.bytesOut += wire.length;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        f();
      };
      const timer = this.#opts.clock.after(timeoutMs, () =>
        finish(() => reject(new TunmeshError('PEER_UNREACHABLE', `timeout after ${timeoutMs} ms`))),
      );
      const host = this.#hosts.get(toUrl);
      if (!host || 'down' in host) {
        if (host && host.down === 'refused')
          this.#opts.clock.after(this.#delay(), () =>
            finish(() => reject(new TunmeshError('PEER_UNREACHABLE', 'connection refused'))),
          );
        return;
      }
      if (this.#lost(fromUrl, toUrl)) return;
      this.#opts.clock.after(this.#delay(), () => {
        const now = this.#hosts.get(toUrl);
        if (!now || 'down' in now || settled) return;
        const inbound = this.statsOf(toUrl);
        inbound.messagesIn++;
        inbound.bytesIn += wire.length;
        void this.#deliver(now.handler, msg.type, wire, fromId).then(
          (replyWire) => {
            const back = this.statsOf(toUrl);
            back.messagesOut++;
            back.bytesOut += replyWire.length;
            if (this.#lost(toUrl, fromUrl)) return;
            this.#opts.clock.after(this.#delay(), () => {
              const r = parseReply(JSON.parse(replyWire));
              const mine = this.statsOf(fromUrl);
              mine.messagesIn++;
              mine.bytesIn += replyWire.length;
              finish(() => (r ? resolve(r) : reject(new TunmeshError('PEER_UNREACHABLE', 'bad reply'))));
            });
          },
          (err: unknown) =>
            this.#opts.clock.after(this.#delay(), () =>
              finish(() => reject(new TunmeshError('PEER_UNREACHABLE', `rejected: ${(err as Error).message}`))),
            ),
        );
      });
    });
  }

  async #deliver(handler: MembershipHandler, type: Request['type'], wire: string, fromId: string): Promise<string> {
    const body: unknown = JSON.parse(wire);
    if (type === 'join') {
      const record = nodeRecordSchema.safeParse(body);
      if (!record.success) throw new Error('bad join body');
      const reply = await handler.handleJoin(record.data, fromId);
      return JSON.stringify(joinReplySchema.parse(reply));
    }
    const msg = parseGossipRequest(body);
    if (!msg) throw new Error('bad gossip body');
    return JSON.stringify(await handler.handleGossip(msg, fromId));
  }
}
