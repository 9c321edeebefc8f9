// The in-memory twin of the HTTPS transport: a simulated network of nodes addressed by API URL, with
// one-way latency and jitter, random loss, partitions, and hosts that are down (requests time out) or
// refuse connections. By default messages cross as JSON and are validated with the same schemas as the
// control server uses; large simulations can pass objects instead (`validate: false`; senders never
// mutate messages). Counts messages and JSON bytes per node for traffic measurements.
import { TunmeshError } from '../base/errors.js';
import {
  joinReplySchema,
  parseGossipRequest,
  parseReply,
  type GossipRequest,
  type MembershipHandler,
  type MembershipTransport,
  type Peer,
  type Reply,
  type Request,
} from './messages.js';
import { nodeRecordSchema, type NodeRecord } from './record.js';
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
  /** Serialise and schema-validate every message as the control server does (default true). */
  readonly validate?: boolean;
}

export interface TrafficStats {
  messagesOut: number;
  bytesOut: number;
  messagesIn: number;
  bytesIn: number;
}

type HostState = { handler: MembershipHandler } | { down: 'timeout' | 'refused' };
type Body = NodeRecord | GossipRequest;
/** A message in flight: JSON text, or the object itself when not validating. */
type Payload<T> = { readonly json: string; readonly obj?: undefined } | { readonly json?: undefined; readonly obj: T };

// Exact JSON sizes computed structurally: updates and records are shared objects, so their sizes are cached,
// and a large simulation does not serialise every message just to count its bytes.
const cachedBytes = new WeakMap<object, number>();
function sizeOfCached(x: object): number {
  let n = cachedBytes.get(x);
  if (n === undefined) cachedBytes.set(x, (n = JSON.stringify(x).length));
  return n;
}
const digits = (n: number): number => String(n).length;
/** JSON length of an array of items with the given sizes: brackets and commas. */
const arrayBytes = (sizes: number, count: number): number => 2 + sizes + Math.max(0, count - 1);
function sizeOf(x: Body | Reply): number {
  if (!('type' in x)) return sizeOfCached(x);
  let shell: Record<string, unknown> = x;
  let extra = 0;
  if ('updates' in x) {
    shell = { ...shell, updates: [] };
    extra +=
      arrayBytes(
        x.updates.reduce((a, u) => a + sizeOfCached(u), 0),
        x.updates.length,
      ) - 2;
  }
  if ('members' in x) {
    shell = { ...shell, members: [], self: {} };
    extra +=
      arrayBytes(
        x.members.reduce((a, r) => a + sizeOfCached(r), 0),
        x.members.length,
      ) - 2;
    extra += sizeOfCached(x.self) - 2;
  }
  if ('digest' in x) {
    shell = { ...shell, digest: [] };
    // ["id",epoch,version,dead]
    extra +=
      arrayBytes(
        x.digest.reduce((a, [id, e, v]) => a + id.length + 2 + digits(e) + digits(v) + 1 + 5, 0),
        x.digest.length,
      ) - 2;
  }
  return JSON.stringify(shell).length + extra;
}

export class MemoryNetwork {
  readonly #opts: MemoryNetworkOptions;
  readonly #hosts = new Map<string, HostState>();
  readonly #groups = new Map<string, number>();
  /** Hosts behind a NAT: they send and get replies, but requests to them time out. */
  readonly #noInbound = new Set<string>();
  /** Requests that hit a host behind a NAT (and so timed out), per host URL. */
  readonly natBlocked = new Map<string, number>();
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

  /** The host at `url` is behind a NAT (or leaves that state): it can send, nobody can reach it. */
  behindNat(url: string, on = true): void {
    if (on) this.#noInbound.add(url);
    else this.#noInbound.delete(url);
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

  #encode<T extends Body | Reply>(x: T): { payload: Payload<T>; bytes: number } {
    if (this.#opts.validate === false) return { payload: { obj: x }, bytes: sizeOf(x) };
    const json = JSON.stringify(x);
    return { payload: { json }, bytes: json.length };
  }

  #count(url: string, dir: 'in' | 'out', bytes: number): void {
    const s = this.statsOf(url);
    if (dir === 'out') {
      s.messagesOut++;
      s.bytesOut += bytes;
    } else {
      s.messagesIn++;
      s.bytesIn += bytes;
    }
  }

  #send(fromUrl: string, self: MembershipHandler, to: Peer, msg: Request, timeoutMs: number): Promise<Reply> {
    const toUrl = typeof to === 'string' ? to : to.apiUrl;
    const fromId = self.self().id;
    const { payload, bytes } = this.#encode<Body>(msg.type === 'join' ? msg.record : msg);
    this.#count(fromUrl, 'out', bytes);
    const clock = this.#opts.clock;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        f();
      };
      const fail = (why: string) => () => finish(() => reject(new TunmeshError('PEER_UNREACHABLE', why)));
      const timer = clock.after(timeoutMs, fail(`timeout after ${timeoutMs} ms`));
      const host = this.#hosts.get(toUrl);
      if (this.#noInbound.has(toUrl)) this.natBlocked.set(toUrl, (this.natBlocked.get(toUrl) ?? 0) + 1);
      if (!host || 'down' in host || this.#noInbound.has(toUrl)) {
        if (host && 'down' in host && host.down === 'refused') clock.after(this.#delay(), fail('connection refused'));
        return;
      }
      if (this.#lost(fromUrl, toUrl)) return;
      clock.after(this.#delay(), () => {
        const there = this.#hosts.get(toUrl);
        if (!there || 'down' in there || settled) return;
        this.#count(toUrl, 'in', bytes);
        this.#deliver(there.handler, msg.type === 'join', payload, fromId).then(
          (reply) => {
            const back = this.#encode<Reply>(reply);
            this.#count(toUrl, 'out', back.bytes);
            if (this.#lost(toUrl, fromUrl)) return;
            clock.after(this.#delay(), () => {
              const r = back.payload.obj ?? parseReply(JSON.parse(back.payload.json!));
              this.#count(fromUrl, 'in', back.bytes);
              if (r) finish(() => resolve(r));
              else fail('bad reply')();
            });
          },
          (err: unknown) => clock.after(this.#delay(), fail(`rejected: ${(err as Error).message}`)),
        );
      });
    });
  }

  async #deliver(handler: MembershipHandler, join: boolean, payload: Payload<Body>, fromId: string): Promise<Reply> {
    if (payload.obj) {
      return join
        ? handler.handleJoin(payload.obj as NodeRecord, fromId)
        : handler.handleGossip(payload.obj as GossipRequest, fromId);
    }
    const body: unknown = JSON.parse(payload.json!);
    if (join) {
      const record = nodeRecordSchema.safeParse(body);
      if (!record.success) throw new Error('bad join body');
      return joinReplySchema.parse(await handler.handleJoin(record.data, fromId));
    }
    const msg = parseGossipRequest(body);
    if (!msg) throw new Error('bad gossip body');
    return handler.handleGossip(msg, fromId);
  }
}
