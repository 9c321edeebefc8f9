// A small DNS responder in the pod's namespace, so the application containers beside the sidecar resolve
// mesh names: A/AAAA for `<node-name>.<domain>` from the member records, NXDOMAIN for other names in the
// domain, everything else forwarded to the configured upstream servers (UDP only). Bound before the
// privilege drop, since port 53 needs it.
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { Logger } from '../base/log.js';
import { parseHostPort } from '../config/index.js';

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

export class DnsResponder {
  readonly #socket: Socket;
  readonly #o: DnsOptions;
  readonly #lookup: MeshLookup;
  readonly #log: Logger;
  #inFlight = 0;
  #closed = false;

  private constructor(socket: Socket, o: DnsOptions, lookup: MeshLookup, log: Logger) {
    this.#socket = socket;
    this.#o = o;
    this.#lookup = lookup;
    this.#log = log;
  }

  static async start(o: DnsOptions, lookup: MeshLookup, log: Logger): Promise<DnsResponder> {
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
    const r = new DnsResponder(socket, o, lookup, log);
    socket.on('message', (msg, rinfo) => r.#onQuery(msg, rinfo.address, rinfo.port));
    socket.on('error', (e) => log.warn({ err: e.message }, 'dns socket error'));
    log.info({ listen: o.listen, domain: o.domain, upstream: o.upstream }, 'dns responder listening');
    return r;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  #onQuery(msg: Buffer, address: string, port: number): void {
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
      for (const up of this.#o.upstream) {
        const reply = await this.#ask(up, msg);
        if (reply && !this.#closed) {
          this.#socket.send(reply, port, address);
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
  #ask(upstream: string, msg: Buffer): Promise<Buffer | undefined> {
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
      // Only a reply with the query's id from the upstream's address counts.
      s.on('message', (reply, rinfo) => {
        if (rinfo.port === hp.port && reply.length >= 2 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(reply);
      });
      s.send(msg, hp.port, hp.host);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
