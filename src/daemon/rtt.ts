// Round-trip time through the mesh. Every node answers small UDP echo probes on its own overlay address
// (port net.rttEchoPort); a node measures RTT to a peer by sending probes to the peer's overlay address,
// so each probe crosses the real data path both ways: TUN → WireGuard encryption → underlay → the
// peer's WireGuard → its TUN → this responder, and back. That is the RTT an application in the mesh
// sees (encryption and the TUN included), not the underlay's or the control plane's.
//
// Probe and reply are the same 16 bytes (no amplification): "TMRQ"/"TMRP", a 4-byte id, 8 random bytes.
// Replies that match no outstanding probe are ignored; nothing else is answered.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { net as netConst } from '../base/constants.js';
import type { Logger } from '../base/log.js';

const probeSize = 16;
const magicRequest = Buffer.from('TMRQ');
const magicReply = Buffer.from('TMRP');
/** Samples kept per peer for the average. */
const windowSize = 10;

export interface RttStats {
  /** Last successful round trip, ms. */
  readonly lastMs: number | null;
  /** Mean of the successful probes among the last few, ms. */
  readonly avgMs: number | null;
  /** Probes sent and lost among the last few. */
  readonly sent: number;
  readonly lost: number;
  /** Wall-clock ms of the last answered probe. */
  readonly lastReplyAt: number | null;
}

export interface RttMonitorOptions {
  /** This node's overlay addresses (with or without /prefix). */
  readonly addresses: readonly string[];
  readonly port?: number;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly log: Logger;
}

interface Pending {
  readonly nonce: Buffer;
  readonly sentAt: number;
  readonly resolve: (ms: number | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

const bareAddress = (cidr: string): string => cidr.split('/')[0]!;
const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

export class RttMonitor {
  readonly #o: RttMonitorOptions;
  readonly #sockets = new Map<4 | 6, Socket>();
  readonly #pending = new Map<number, Pending>();
  readonly #samples = new Map<string, (number | undefined)[]>();
  readonly #lastReply = new Map<string, { ms: number; at: number }>();
  /** Peer name -> overlay addresses to probe. */
  #targets = new Map<string, readonly string[]>();
  #nextId = 1;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: RttMonitorOptions) {
    this.#o = o;
  }

  get port(): number {
    return this.#o.port ?? netConst.rttEchoPort;
  }

  /** Binds a responder on each overlay address; a failure only disables RTT for that family. */
  async start(): Promise<void> {
    for (const a of this.#o.addresses.map(bareAddress)) {
      const family = familyOf(a);
      if (this.#sockets.has(family)) continue;
      const s = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(this.port, a, () => {
            s.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        s.close();
        this.#o.log.warn({ address: a, port: this.port, err: (e as Error).message }, 'RTT echo responder not bound');
        continue;
      }
      s.on('error', (e) => this.#o.log.debug({ err: e.message }, 'RTT socket error'));
      s.on('message', (msg, rinfo) => this.#onMessage(s, msg, rinfo.address, rinfo.port));
      this.#sockets.set(family, s);
    }
    const every = this.#o.intervalMs ?? 1000;
    this.#timer = setInterval(() => this.#probeAll(), every);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.#pending.clear();
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }

  /** Peers probed in the background (name -> overlay addresses). */
  setTargets(targets: ReadonlyMap<string, readonly string[]>): void {
    this.#targets = new Map(targets);
    for (const name of [...this.#samples.keys()]) if (!targets.has(name)) this.#samples.delete(name);
    for (const name of [...this.#lastReply.keys()]) if (!targets.has(name)) this.#lastReply.delete(name);
  }

  stats(name: string): RttStats | undefined {
    const s = this.#samples.get(name);
    if (!s) return undefined;
    const ok = s.filter((x): x is number => x !== undefined);
    const last = this.#lastReply.get(name);
    return {
      lastMs: last ? round(last.ms) : null,
      avgMs: ok.length ? round(ok.reduce((a, b) => a + b, 0) / ok.length) : null,
      sent: s.length,
      lost: s.length - ok.length,
      lastReplyAt: last?.at ?? null,
    };
  }

  /** One probe to an overlay address; resolves with the RTT in ms, or undefined on timeout/no route. */
  probe(address: string, timeoutMs = this.#o.timeoutMs ?? 1000): Promise<number | undefined> {
    const ip = bareAddress(address);
    const s = this.#sockets.get(familyOf(ip));
    if (!s || this.#stopped) return Promise.resolve(undefined);
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 0xffff_ffff) + 1;
    const nonce = randomBytes(8);
    const pkt = Buffer.concat([magicRequest, Buffer.alloc(4), nonce]);
    pkt.writeUInt32BE(id, 4);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { nonce, sentAt: performance.now(), resolve, timer });
      s.send(pkt, this.port, ip, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(undefined);
      });
    });
  }

  /** Probes the first address of a peer that a bound family can reach. */
  probePeer(addresses: readonly string[], timeoutMs?: number): Promise<number | undefined> {
    const target = addresses.map(bareAddress).find((a) => this.#sockets.has(familyOf(a)));
    return target === undefined ? Promise.resolve(undefined) : this.probe(target, timeoutMs);
  }

  #probeAll(): void {
    for (const [name, addresses] of this.#targets)
      void this.probePeer(addresses).then((ms) => {
        if (!this.#targets.has(name)) return;
        const s = this.#samples.get(name) ?? [];
        s.push(ms);
        if (s.length > windowSize) s.shift();
        this.#samples.set(name, s);
        if (ms !== undefined) this.#lastReply.set(name, { ms, at: Date.now() });
      });
  }

  #onMessage(s: Socket, msg: Buffer, address: string, port: number): void {
    if (msg.length !== probeSize) return;
    const magic = msg.subarray(0, 4);
    if (magic.equals(magicRequest)) {
      const reply = Buffer.from(msg);
      magicReply.copy(reply, 0);
      s.send(reply, port, address);
      return;
    }
    if (!magic.equals(magicReply)) return;
    const id = msg.readUInt32BE(4);
    const p = this.#pending.get(id);
    if (!p || !p.nonce.equals(msg.subarray(8))) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(performance.now() - p.sentAt);
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
