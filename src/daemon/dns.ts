// A small DNS responder in the pod's namespace, so the application containers beside the sidecar resolve
// mesh names: A/AAAA for `<node-name>.<domain>` from the member records, NXDOMAIN for other names in the
// domain, everything else forwarded to the configured upstream servers (UDP only). Bound before the
// privilege drop, since port 53 needs it.
//
// Hostile input: only sources in dns.allow (default loopback and the overlay) are served; others are
// counted and get no answer, so the responder is neither an open resolver nor an amplifier. A forwarded
// query leaves with a fresh random id on a fresh socket, and only a reply from the upstream's own address
// and port, with that id and the same question, is passed back (with the client's id restored): an
// off-path spoofer must guess 32 bits of id and port and cannot answer from another address.
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { Logger } from '../base/log.js';
import { loopbackPrefixes, parseHostPort, type Config } from '../config/index.js';
import { AllowedIps } from '../dataplane/allowed-ips.js';
import { parseAddress } from '../wire/ip.js';

const flagAuthoritative = 0x0400;
const flagRecursionDesired = 0x0100;
const flagRecursionAvailable = 0x0080;
const rcode = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;
const answerTtlSec = 10;
/** Forwarded queries in flight; beyond this a query gets SERVFAIL at once (the client retries). */
const maxInFlight = 256;

export interface DnsOptions {
  readonly listen: string;
  readonly domain: string;
  readonly upstream: readonly string[];
  readonly timeoutMs: number;
  /** CIDRs of the sources served; anything else is refused without an answer. */
  readonly allow: readonly string[];
}

/** What the responder counts (the daemon maps these to its metrics table). */
export interface DnsCounters {
  /** A query from a source outside dns.allow: not answered. */
  refused(): void;
  /** An upstream reply that was not the answer to our query (source, id or question): ignored. */
  replyIgnored(): void;
}

const noCounters: DnsCounters = { refused: () => undefined, replyIgnored: () => undefined };

/** The bytes of an IP literal; an IPv4-mapped IPv6 one (from a dual-stack socket) as its IPv4. */
function addressBytes(s: string): Uint8Array | undefined {
  return parseAddress(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s)?.[1] ?? s);
}

/**
 * dns.allow, or its default: loopback (the application containers beside the sidecar) and the mesh
 * prefixes of node.addresses (resolved).
 */
export function dnsAllowList(config: Pick<Config, 'dns' | 'node'>): string[] {
  return config.dns.allow ? [...config.dns.allow] : [...loopbackPrefixes, ...config.node.addresses];
}

/** A source filter over `cidrs`. */
export function sourceFilter(cidrs: readonly string[]): (address: string) => boolean {
  const table = new AllowedIps<true>();
  for (const c of cidrs) table.insert(c, true);
  return (address) => {
    const addr = addressBytes(address);
    return addr !== undefined && table.lookup(addr) === true;
  };
}

/** The overlay addresses (bare) of the node called `name`, or undefined when there is none. */
export type MeshLookup = (name: string) => readonly string[] | undefined;

export type Decision = { kind: 'answer'; reply: Buffer } | { kind: 'forward' } | { kind: 'drop' };

const lower = (s: string) => s.toLowerCase().replace(/\.$/, '');

/** Pure: what to do with one query packet. Never throws on input. */
export function decide(query: Buffer, domain: string, lookup: MeshLookup, canForward: boolean): Decision {
  let q: dnsPacket.Packet;
  try {
    q = dnsPacket.decode(query);
  } catch {
    return { kind: 'drop' };
  }
  if (q.type !== 'query' || q.id === undefined) return { kind: 'drop' };
  const question = q.questions?.[0];
  const reply = (code: number, answers: dnsPacket.Answer[] = []): Decision => ({
    kind: 'answer',
    reply: dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags:
        ((q.flags ?? 0) & flagRecursionDesired) |
        (canForward ? flagRecursionAvailable : 0) |
        (code === rcode.noError || code === rcode.nxDomain ? flagAuthoritative : 0) |
        code,
      questions: q.questions,
      answers,
    }),
  });
  if (!question || q.questions!.length !== 1) return reply(rcode.formErr);
  const name = lower(question.name);
  const zone = lower(domain);
  if (name !== zone && !name.endsWith(`.${zone}`)) return canForward ? { kind: 'forward' } : reply(rcode.refused);
  if (name === zone) return reply(rcode.noError);
  const label = name.slice(0, -(zone.length + 1));
  const addresses = lookup(label);
  if (!addresses) return reply(rcode.nxDomain);
  const family = question.type === 'A' ? 4 : question.type === 'AAAA' ? 6 : undefined;
  const answers: dnsPacket.Answer[] =
    family === undefined
      ? []
      : addresses
          .filter((a) => a.includes(':') === (family === 6))
          .map((a) => ({
            type: family === 4 ? ('A' as const) : ('AAAA' as const),
            name: question.name,
            ttl: answerTtlSec,
            class: 'IN' as const,
            data: a,
          }));
  return reply(rcode.noError, answers);
}

/** SERVFAIL for a query we could not forward (same id and question). */
function servFail(query: Buffer): Buffer | undefined {
  try {
    const q = dnsPacket.decode(query);
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: ((q.flags ?? 0) & flagRecursionDesired) | flagRecursionAvailable | rcode.servFail,
      questions: q.questions,
    });
  } catch {
    return undefined;
  }
}

/** The query with its id replaced (a copy). */
export function withId(packet: Buffer, id: number): Buffer {
  const out = Buffer.from(packet);
  out.writeUInt16BE(id, 0);
  return out;
}

/**
 * Pure: whether `reply` answers `sent` (the query as forwarded): a response with the same id and the same
 * question section (names compared case-insensitively, as resolvers may echo 0x20-mixed case).
 */
export function answersQuery(reply: Buffer, sent: Buffer): boolean {
  let r: dnsPacket.Packet;
  let q: dnsPacket.Packet;
  try {
    r = dnsPacket.decode(reply);
    q = dnsPacket.decode(sent);
  } catch {
    return false;
  }
  if (r.type !== 'response' || r.id !== q.id) return false;
  const rq = r.questions ?? [];
  const qq = q.questions ?? [];
  return (
    rq.length === qq.length &&
    rq.every((x, i) => {
      const y = qq[i]!;
      return lower(x.name) === lower(y.name) && x.type === y.type && (x.class ?? 'IN') === (y.class ?? 'IN');
    })
  );
}

/** Same IP address, whatever the spelling. */
function sameHost(a: string, b: string): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  return x !== undefined && y !== undefined && Buffer.from(x).equals(Buffer.from(y));
}

export class DnsResponder {
  readonly #socket: Socket;
  readonly #o: DnsOptions;
  readonly #lookup: MeshLookup;
  readonly #log: Logger;
  readonly #allowed: (address: string) => boolean;
  readonly #count: DnsCounters;
  #inFlight = 0;
  #closed = false;

  private constructor(socket: Socket, o: DnsOptions, lookup: MeshLookup, log: Logger, count: DnsCounters) {
    this.#socket = socket;
    this.#o = o;
    this.#lookup = lookup;
    this.#log = log;
    this.#allowed = sourceFilter(o.allow);
    this.#count = count;
  }

  static async start(
    o: DnsOptions,
    lookup: MeshLookup,
    log: Logger,
    count: DnsCounters = noCounters,
  ): Promise<DnsResponder> {
    const hp = parseHostPort(o.listen, { allowPortZero: true });
    if (!hp) throw new Error(`dns.listen ${o.listen} is not ip:port`);
    const socket = createSocket({ type: hp.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(hp.port, hp.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const r = new DnsResponder(socket, o, lookup, log, count);
    socket.on('message', (msg, rinfo) => r.#onQuery(msg, rinfo.address, rinfo.port));
    socket.on('error', (e) => log.warn({ err: e.message }, 'dns socket error'));
    log.info({ listen: o.listen, domain: o.domain, upstream: o.upstream, allow: o.allow }, 'dns responder listening');
    return r;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  #onQuery(msg: Buffer, address: string, port: number): void {
    if (!this.#allowed(address)) {
      this.#count.refused();
      return;
    }
    const d = decide(msg, this.#o.domain, this.#lookup, this.#o.upstream.length > 0);
    if (d.kind === 'answer') this.#socket.send(d.reply, port, address);
    else if (d.kind === 'forward') void this.#forward(msg, address, port);
  }

  async #forward(msg: Buffer, address: string, port: number): Promise<void> {
    if (this.#inFlight >= maxInFlight) {
      const f = servFail(msg);
      if (f) this.#socket.send(f, port, address);
      return;
    }
    this.#inFlight++;
    try {
      const clientId = msg.readUInt16BE(0);
      for (const up of this.#o.upstream) {
        const reply = await this.#ask(up, withId(msg, randomInt(0, 0x10000)));
        if (reply && !this.#closed) {
          this.#socket.send(withId(reply, clientId), port, address);
          return;
        }
      }
      const f = servFail(msg);
      if (f && !this.#closed) this.#socket.send(f, port, address);
    } finally {
      this.#inFlight--;
    }
  }

  /** One upstream exchange on a fresh socket (a random source port per query); undefined on timeout. */
  #ask(upstream: string, sent: Buffer): Promise<Buffer | undefined> {
    const hp = parseHostPort(upstream);
    if (!hp) return Promise.resolve(undefined);
    const s = createSocket(hp.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise<Buffer | undefined>((resolve) => {
      const done = (b: Buffer | undefined) => {
        clearTimeout(timer);
        s.close();
        resolve(b);
      };
      const timer = setTimeout(() => {
        this.#log.debug({ upstream }, 'dns upstream timed out');
        done(undefined);
      }, this.#o.timeoutMs);
      s.on('error', () => done(undefined));
      // Only the upstream's own address and port, our id and our question count; anything else is ignored
      // and the wait goes on (a spoofed reply must not end it early either).
      s.on('message', (reply, rinfo) => {
        if (rinfo.port === hp.port && sameHost(rinfo.address, hp.host) && answersQuery(reply, sent)) done(reply);
        else this.#count.replyIgnored();
      });
      s.send(sent, hp.port, hp.host);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
