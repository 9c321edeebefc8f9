// The transport layer between an engine and the wire, per peer: which method the pair negotiated, which
// path it takes now (UDP, the tls stream, null framing), the fallback machine with its probes, and the
// streams. Engines call it through EngineCore's SendRouter; datagrams that are not WireGuard messages
// (null frames, probes) come here first. Docs: docs/PROTOCOL.md "Transport methods".
import type { Duplex } from 'node:stream';
import type { Logger } from '../base/log.js';
import type { EngineCore, SendAction } from '../dataplane/engine-core.js';
import type { Metrics } from '../metrics/registry.js';
import type { WgEndpoint } from '../noise/actions.js';
import {
  FrameReader,
  decodeNull,
  decodeProbe,
  encodeFrame,
  encodeNull,
  encodeProbe,
  nullType,
  probeLen,
  probeType,
} from './frames.js';
import { isInitiator, type Negotiated } from './methods.js';
import { PathMachine, type PathStep, type PathTiming } from './path-machine.js';

/** What the mux needs of an engine (both engines provide it). */
export interface MuxEngine {
  readonly core: EngineCore;
  sendRaw(data: Uint8Array, to: WgEndpoint): void;
  onForeignDatagram(f: (data: Buffer, from: WgEndpoint) => boolean): void;
  /** Native engine only: whether the fast path carries the peer on UDP. */
  setNativeUdp?(peer: string, on: boolean): void;
  /** Native engine only: starts the peer's session afresh (counters and replay windows live in two places). */
  restartSession?(peer: string): void;
}

export interface TransportMuxDeps {
  readonly engine: MuxEngine;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly random: (n: number) => Uint8Array;
  /** This node's public key (raw bytes). */
  readonly selfKey: Uint8Array;
  /** Probe MAC key (frames.ts probeKey, from the cluster secret). */
  readonly probeKey: Uint8Array;
  readonly timing: PathTiming;
  /** Opens the tls stream to a peer (control/stream-dial.ts through the peer's record). */
  readonly dial: (peer: string) => Promise<Duplex>;
  readonly peerName: (peer: string) => string;
  /** A path switch, for the dashboard's event log. */
  readonly onSwitch?: (peer: string, from: string, to: string) => void;
}

/** The path a peer takes now, as status and metrics name it. */
export type PathName = 'wireguard' | 'tls' | 'null' | 'none';

export interface PeerTransportStatus {
  /** The negotiated method (or none). */
  readonly method: PathName;
  /** What the pair uses now: the method, or tls while fallen back. */
  readonly path: PathName;
  readonly fallback: boolean;
  readonly reason?: string;
}

const tickMs = 100;
const probeMaxSkewMs = 30_000;
const streamQueueBytes = 4 * 1024 * 1024;
/** Messages kept while a stream connects (a handshake and the first packets); more are dropped. */
const pendingMax = 256;
const dialBackoffMinMs = 500;
const dialBackoffMaxMs = 30_000;
const streamIdleCloseMs = 30_000;
const pongsPerSecond = 20;
/** After our own switch, stream messages the peer sent before it heard of it do not make us mirror. */
const mirrorHoldMs = 2_000;

interface Stream {
  readonly socket: Duplex;
  readonly dialed: boolean;
  lastActivity: number;
}

interface PeerState {
  readonly key: string;
  n: Negotiated;
  machine: PathMachine | undefined;
  /** The peer last spoke to us over the stream: answer there (the side that did not decide mirrors). */
  mirrorTls: boolean;
  mirrorHoldUntil: number;
  /** Our own switch is pending: when the path actually changes, start the session afresh (native). */
  restartOnChange: boolean;
  path: PathName;
  stream: Stream | undefined;
  pending: Buffer[];
  dialing: boolean;
  nextDialAt: number;
  backoffMs: number;
  lastTx: number;
  lastRx: number;
  udpRx: boolean;
  streamRx: boolean;
  pings: Map<string, number>;
  pongWindowStart: number;
  pongs: number;
}

export class TransportMux {
  readonly #d: TransportMuxDeps;
  readonly #peers = new Map<string, PeerState>();
  /** This node's public key; replaced by setSelfKey when the node's static key rotates live. */
  #selfKey: Uint8Array;
  #selfB64: string;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** How the receive in progress arrived (EngineCore reports authenticated messages per peer). */
  #via: 'udp' | 'tls' = 'udp';

  constructor(d: TransportMuxDeps) {
    this.#d = d;
    this.#selfKey = d.selfKey;
    this.#selfB64 = Buffer.from(d.selfKey).toString('base64');
    d.engine.core.setRouter({
      route: (a) => this.#route(a),
      plain: (peer, packet) => this.#plain(peer, packet),
      received: (peer) => this.#received(peer),
    });
    d.engine.onForeignDatagram((data, from) => this.#foreign(data, from));
  }

  /** This node's new public key after a live static-key rotation (null framing and probes carry it). */
  setSelfKey(publicKey: Uint8Array): void {
    this.#selfKey = Uint8Array.from(publicKey);
    this.#selfB64 = Buffer.from(publicKey).toString('base64');
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const t of this.#peers.values()) t.stream?.socket.destroy();
  }

  /** Installs or updates a peer's negotiated method (call after the engine has the peer, if any). */
  setPeer(key: string, n: Negotiated): void {
    const now = this.#d.now();
    let t = this.#peers.get(key);
    const isNew = t === undefined;
    if (!t) {
      t = {
        key,
        n,
        machine: undefined,
        mirrorTls: false,
        mirrorHoldUntil: 0,
        restartOnChange: false,
        path: 'none',
        stream: undefined,
        pending: [],
        dialing: false,
        nextDialAt: 0,
        backoffMs: dialBackoffMinMs,
        lastTx: 0,
        lastRx: 0,
        udpRx: false,
        streamRx: false,
        pings: new Map(),
        pongWindowStart: 0,
        pongs: 0,
      };
      this.#peers.set(key, t);
    }
    const changed = t.n.method !== n.method || ('fallback' in t.n && 'fallback' in n && t.n.fallback !== n.fallback);
    t.n = n;
    if (changed || (n.method === 'wireguard' && n.fallback && !t.machine)) {
      t.machine = n.method === 'wireguard' && n.fallback ? new PathMachine(this.#d.timing, now) : undefined;
      t.mirrorTls = false;
    }
    if (n.method === 'none' && (changed || isNew))
      this.#d.log.warn({ peer: this.#d.peerName(key), reason: n.reason }, 'peer not installed');
    this.#update(t);
  }

  removePeer(key: string): void {
    const t = this.#peers.get(key);
    if (!t) return;
    this.#peers.delete(key);
    t.stream?.socket.destroy();
  }

  status(key: string): PeerTransportStatus | undefined {
    const t = this.#peers.get(key);
    if (!t) return undefined;
    const n = t.n;
    return n.method === 'none'
      ? { method: 'none', path: 'none', fallback: false, reason: n.reason }
      : { method: n.method, path: t.path, fallback: n.fallback };
  }

  /** One row per peer for `tunmesh_peer_transport{peer,method}`. */
  *rows(): Generator<[{ peer: string; method: string }, number]> {
    for (const t of this.#peers.values()) yield [{ peer: this.#d.peerName(t.key), method: t.path }, 1];
  }

  /** An authenticated stream the peer opened (control/routes/stream.ts); false refuses it. */
  acceptStream(key: string, socket: Duplex): boolean {
    const t = this.#peers.get(key);
    if (!t || (t.n.method !== 'tls' && !(t.n.method === 'wireguard' && t.n.fallback))) return false;
    if (t.stream) {
      // Both sides dialed at once: the stream the initiator dialed wins on both ends.
      if (t.stream.dialed && isInitiator(this.#selfB64, key)) return false;
      t.stream.socket.destroy();
    }
    this.#attach(t, socket, false);
    this.#d.metrics.inc('transport_streams_total', { event: 'accepted' });
    return true;
  }

  /** The pair should be on the stream (negotiated tls, fallen back, or mirroring the peer). */
  #wantsTls(t: PeerState): boolean {
    return t.n.method === 'tls' || (t.n.method === 'wireguard' && (t.machine?.path === 'tls' || t.mirrorTls));
  }

  /**
   * A fallen-back pair uses the stream only once it is connected: until then (and when the stream is
   * lost, e.g. a partition that took the control plane too) it keeps trying UDP.
   */
  #pathOf(t: PeerState): PathName {
    const m = t.n.method;
    if (m !== 'wireguard') return m;
    return this.#wantsTls(t) && t.stream ? 'tls' : 'wireguard';
  }

  /** Applies the current path: the native fast path carries only peers on UDP. */
  #update(t: PeerState): void {
    if (this.#wantsTls(t)) this.#ensureStream(t);
    const path = this.#pathOf(t);
    if (path === t.path) return;
    const was = t.path;
    t.path = path;
    this.#d.engine.setNativeUdp?.(t.key, path === 'wireguard');
    if (was !== 'none' && path !== 'none')
      this.#d.log.info({ peer: this.#d.peerName(t.key), from: was, to: path }, 'peer transport path changed');
    if (t.restartOnChange && (was === 'wireguard' || was === 'tls')) {
      t.restartOnChange = false;
      // Keys and counters the fast path used on one path must not meet the other path's (native only).
      this.#d.engine.restartSession?.(t.key);
    }
  }

  #route(a: SendAction): boolean {
    const t = a.peer === undefined ? undefined : this.#peers.get(a.peer);
    if (!t) return false;
    if (t.path === 'tls') {
      this.#streamSend(t, a.data);
      return true;
    }
    // Null and none peers have no WireGuard traffic on the wire.
    if (t.path === 'none') this.#d.engine.core.drops.add('no_common_method');
    return t.path === 'null' || t.path === 'none';
  }

  #plain(peer: string, packet: Uint8Array): boolean {
    const t = this.#peers.get(peer);
    if (!t || t.path !== 'null') return false;
    const ep = this.#d.engine.core.device.peerStatus(peer)?.endpoint;
    if (!ep) {
      this.#d.engine.core.drops.add('no_route');
      return true;
    }
    this.#d.engine.sendRaw(encodeNull(this.#selfKey, packet), ep);
    this.#d.engine.core.countPlain(peer, 'tx', packet.length);
    return true;
  }

  #received(peer: string): void {
    const t = this.#peers.get(peer);
    if (!t) return;
    if (this.#via === 'tls') {
      t.streamRx = true;
      const held = this.#d.now() < t.mirrorHoldUntil;
      if (!t.mirrorTls && !held && t.machine?.path !== 'tls' && t.n.method === 'wireguard') {
        t.mirrorTls = true;
        this.#update(t);
      }
    } else {
      t.udpRx = true;
      if (t.mirrorTls) {
        t.mirrorTls = false;
        this.#update(t);
      }
    }
  }

  #foreign(data: Buffer, from: WgEndpoint): boolean {
    const core = this.#d.engine.core;
    // Datagrams that are not even shaped like our frames go on to the device (counted as WireGuard's
    // unknown_type / short_packet), so garbage is counted under the same reasons whatever its first byte.
    if (data[0] === nullType) {
      const d = decodeNull(data);
      if (!d.ok) return false;
      const t = this.#peers.get(d.sender);
      if (!t || t.path !== 'null') {
        core.drops.add('null_unknown_sender');
        return true;
      }
      core.countPlain(d.sender, 'rx', d.packet.length);
      core.outsideToInside(d.sender, d.packet);
      return true;
    }
    if (data[0] !== probeType || data.length !== probeLen || data[1]! > 1 || data[2] || data[3]) return false;
    const now = this.#d.now();
    const p = decodeProbe(this.#d.probeKey, data, this.#selfKey, this.#d.wallNow(), probeMaxSkewMs);
    const t = p ? this.#peers.get(p.sender) : undefined;
    if (!p || !t || t.n.method !== 'wireguard') {
      core.drops.add('probe_invalid');
      return true;
    }
    if (!p.pong) {
      if (now - t.pongWindowStart >= 1000) {
        t.pongWindowStart = now;
        t.pongs = 0;
      }
      if (++t.pongs > pongsPerSecond) {
        core.drops.add('probe_invalid');
        return true;
      }
      const pong = encodeProbe(this.#d.probeKey, {
        pong: true,
        sender: this.#selfKey,
        receiver: Buffer.from(p.sender, 'base64'),
        wallMs: this.#d.wallNow(),
        nonce: Buffer.from(p.nonce, 'hex'),
      });
      this.#d.engine.sendRaw(pong, from);
      this.#d.metrics.inc('transport_probes_total', { kind: 'ping_answered' });
      t.machine?.pingReceived(now);
      return true;
    }
    if (!t.pings.delete(p.nonce) || !t.machine) {
      core.drops.add('probe_invalid');
      return true;
    }
    this.#d.metrics.inc('transport_probes_total', { kind: 'pong_received' });
    this.#apply(t, t.machine.pong(now));
    return true;
  }

  #apply(t: PeerState, step: PathStep): void {
    if (step.probe) this.#ping(t);
    if (!step.switched) return;
    const from = step.switched === 'tls' ? 'wireguard' : 'tls';
    const to = step.switched === 'tls' ? 'tls' : 'wireguard';
    this.#d.metrics.inc('transport_switches_total', { from, to });
    this.#d.log.info({ peer: this.#d.peerName(t.key), from, to }, 'transport fallback: switching path');
    this.#d.onSwitch?.(t.key, from, to);
    // Our own decision overrides mirroring: on recovery we speak UDP first so the peer follows, and the
    // stream messages still in flight from the peer (it may switch back a moment later) do not pull us
    // back onto the stream; two sides recovering together would otherwise mirror each other forever.
    t.mirrorTls = false;
    t.mirrorHoldUntil = this.#d.now() + mirrorHoldMs;
    t.restartOnChange = true;
    if (to === 'tls') {
      t.nextDialAt = 0;
      t.backoffMs = dialBackoffMinMs;
    }
    this.#update(t);
    // Already on the target path (e.g. the stream never connected): nothing to restart later.
    if (t.path === to) t.restartOnChange = false;
  }

  #ping(t: PeerState): void {
    const ep = this.#d.engine.core.device.peerStatus(t.key)?.endpoint;
    if (!ep) return;
    const nonce = this.#d.random(8);
    t.pings.set(Buffer.from(nonce).toString('hex'), this.#d.now());
    const ping = encodeProbe(this.#d.probeKey, {
      pong: false,
      sender: this.#selfKey,
      receiver: Buffer.from(t.key, 'base64'),
      wallMs: this.#d.wallNow(),
      nonce,
    });
    this.#d.engine.sendRaw(ping, ep);
    this.#d.metrics.inc('transport_probes_total', { kind: 'ping_sent' });
  }

  #tick(): void {
    const now = this.#d.now();
    const core = this.#d.engine.core;
    for (const t of this.#peers.values()) {
      if (t.machine) {
        const c = core.counters(t.key);
        const staged = core.device.peerStatus(t.key)?.stagedPackets ?? 0;
        const tx = c?.txPackets ?? 0;
        const rx = c?.rxPackets ?? 0;
        const received = t.udpRx || (rx > t.lastRx && !t.streamRx && t.path === 'wireguard');
        const sending = tx > t.lastTx || staged > 0;
        t.lastTx = tx;
        t.lastRx = rx;
        t.udpRx = false;
        t.streamRx = false;
        for (const [nonce, at] of t.pings) if (now - at > 10_000) t.pings.delete(nonce);
        this.#apply(t, t.machine.tick(now, { received, sending }));
      }
      if (this.#wantsTls(t)) this.#ensureStream(t);
      else if (t.stream && now - t.stream.lastActivity > streamIdleCloseMs) {
        t.stream.socket.destroy();
        t.stream = undefined;
      }
    }
  }

  #streamSend(t: PeerState, data: Uint8Array): void {
    const s = t.stream;
    if (!s) {
      if (t.pending.length < pendingMax) t.pending.push(Buffer.from(data));
      else this.#d.engine.core.drops.add('stream_unavailable');
      this.#ensureStream(t);
      return;
    }
    if (s.socket.writableLength > streamQueueBytes) return this.#d.engine.core.drops.add('stream_queue_full');
    // Batch the frames of one event-loop turn into one TLS record write.
    if (!s.socket.writableCorked) {
      s.socket.cork();
      process.nextTick(() => s.socket.uncork());
    }
    s.socket.write(encodeFrame(data));
    s.lastActivity = this.#d.now();
  }

  #ensureStream(t: PeerState): void {
    if (t.stream || t.dialing || this.#d.now() < t.nextDialAt || !this.#peers.has(t.key)) return;
    t.dialing = true;
    this.#d.dial(t.key).then(
      (socket) => {
        t.dialing = false;
        if (this.#peers.get(t.key) !== t || t.stream) {
          socket.destroy();
          return;
        }
        t.backoffMs = dialBackoffMinMs;
        this.#attach(t, socket, true);
        this.#d.metrics.inc('transport_streams_total', { event: 'dialed' });
      },
      (err: Error) => {
        t.dialing = false;
        t.nextDialAt = this.#d.now() + t.backoffMs;
        t.backoffMs = Math.min(dialBackoffMaxMs, t.backoffMs * 2);
        t.pending.length = 0;
        this.#d.metrics.inc('transport_streams_total', { event: 'dial_failed' });
        this.#d.log.debug({ peer: this.#d.peerName(t.key), err: err.message }, 'transport stream dial failed');
      },
    );
  }

  #attach(t: PeerState, socket: Duplex, dialed: boolean): void {
    const s: Stream = { socket, dialed, lastActivity: this.#d.now() };
    t.stream = s;
    (socket as Duplex & { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      s.lastActivity = this.#d.now();
      if (!reader.push(chunk, (f) => this.#onFrame(t, f))) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (t.stream !== s) return;
      t.stream = undefined;
      this.#update(t);
    });
    // An accepted stream: the 101 is written right after this returns; frames must follow it.
    setImmediate(() => {
      if (t.stream !== s) return;
      for (const m of t.pending.splice(0)) this.#streamSend(t, m);
      this.#update(t);
    });
  }

  #onFrame(t: PeerState, frame: Buffer): void {
    if (frame[0] === undefined || frame[0] < 1 || frame[0] > 4) return this.#d.engine.core.drops.add('unknown_type');
    const ep = this.#d.engine.core.device.peerStatus(t.key)?.endpoint ?? { host: '0.0.0.0', port: 0 };
    this.#via = 'tls';
    try {
      this.#d.engine.core.receive(frame, ep, this.#d.now(), 'tls');
    } finally {
      this.#via = 'udp';
    }
  }
}
