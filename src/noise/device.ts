// WgDevice: the sans-I/O WireGuard device the data plane drives. Datagrams, packets and time go in;
// actions (datagrams to send, packets to deliver, drops, session events) come out. Byte-compatible with
// wireguard-go: the same messages, keys, timers and key rotation (see docs of each module).
import type { Secret } from '../base/secret.js';
import { encodeKey, preparePrivateKey } from '../crypto/keys.js';
import { open } from '../crypto/aead.js';
import { net, wgMessage } from '../base/constants.js';
import { peekIp } from '../wire/ip.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  messageType,
  transportLayout,
} from '../wire/wireguard.js';
import { CookieChecker, sourceBytes } from './cookie.js';
import { consumeInitiation, consumeResponse, type StaticIdentity } from './handshake.js';
import { IndexTable } from './index-table.js';
import type { Keypair } from './keypairs.js';
import { resolveLimits, type WgLimits, type WgLimitsOverride } from './limits.js';
import { Outbound } from './outbound.js';
import type { Peer } from './peer.js';
import { applyFastPathActivity, type FastPathActivity } from './fastpath-activity.js';
import { firePeerTimers, PeerTimerRules } from './timers.js';
import { TimerWheel, timerValues } from './timer-wheel.js';
import { HandshakeRateLimiter } from './ratelimiter.js';
import type { HandshakeLoadMeter } from './load-meter.js';
import type { Now, WgAction, WgEndpoint } from './actions.js';

export interface WgPeerConfig {
  readonly publicKey: Uint8Array;
  readonly presharedKey?: Secret<Uint8Array>;
  readonly endpoint?: WgEndpoint;
  /** Seconds; 0 or absent = off. */
  readonly persistentKeepaliveSec?: number;
}

export interface WgDeviceOptions {
  readonly privateKey: Secret<Uint8Array>;
  readonly random: (n: number) => Uint8Array;
  readonly wallClockMs: () => number;
  readonly limits?: WgLimitsOverride;
  /** True while the caller is flooded with handshake messages: then mac2/cookies and rate limits apply. */
  readonly underLoad?: () => boolean;
  /** Used when `underLoad` is absent: the device notes handshake arrivals and asks it (load-meter.ts). */
  readonly loadMeter?: HandshakeLoadMeter;
  /** Tunnel MTU used to bound padding (default net.defaultTunMtu). */
  readonly mtu?: number;
}

/**
 * Checks a handshake message already passed in front of the device (the native rx thread's gate,
 * native/src/fastpath_handshake.h, which meters the load itself): 'mac1' = mac1 verified, not under
 * load; 'mac2' = under load, mac1 and mac2 verified (the per-source rate limit still applies here).
 */
export type HandshakeAdmission = 'mac1' | 'mac2';

/** How a datagram reached the device. */
export interface ReceiveOptions {
  /** A handshake message's macs were checked by the caller (see HandshakeAdmission). */
  readonly admitted?: HandshakeAdmission | undefined;
  /** False: an authenticated packet does not move the peer's endpoint (it came over a stream, not UDP). */
  readonly roam?: boolean;
  /** True: an authenticated handshake or transport message also yields a `received` action naming the peer. */
  readonly report?: boolean;
}

export interface WgPeerStatus {
  readonly endpoint: WgEndpoint | undefined;
  readonly lastHandshakeWallMs: number | undefined;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  /** Whether a current keypair exists (it may still be past its sending limits). */
  readonly hasSession: boolean;
  readonly stagedPackets: number;
}

const twoPow32 = 0x1_0000_0000;
/** High word above which a 64-bit counter is not a safe JS integer (≥ 2^53): always rejected. */
const maxSafeCounterHigh = 0x1f_ffff;

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function sameEndpoint(a: WgEndpoint | undefined, b: WgEndpoint): boolean {
  return a !== undefined && a.port === b.port && a.host === b.host;
}

/** The device's identity; mutable only through setPrivateKey (the Outbound shares this very object). */
type MutableIdentity = { -readonly [K in keyof StaticIdentity]: StaticIdentity[K] };

export class WgDevice {
  readonly #identity: MutableIdentity;
  readonly #random: (n: number) => Uint8Array;
  readonly #wallClockMs: () => number;
  readonly #limits: WgLimits;
  readonly #underLoad: () => boolean;
  readonly #loadMeter: HandshakeLoadMeter | undefined;
  readonly #peers = new Map<string, Peer>();
  readonly #indices: IndexTable<Peer, Keypair>;
  #checker: CookieChecker;
  readonly #rate = new HandshakeRateLimiter();
  readonly #rules: PeerTimerRules;
  readonly #out: Outbound;
  /** Peers by next timer deadline: tick visits only those falling due. */
  readonly #wheel = new TimerWheel();
  /** Options of the receive() call in progress. */
  #rx: ReceiveOptions = {};

  constructor(opts: WgDeviceOptions) {
    const privateKey = Uint8Array.from(opts.privateKey.expose());
    const prepared = preparePrivateKey(privateKey);
    this.#identity = { privateKey, publicKey: prepared.publicKey, prepared };
    this.#random = opts.random;
    this.#wallClockMs = opts.wallClockMs;
    this.#limits = resolveLimits(opts.limits);
    const meter = opts.underLoad === undefined ? opts.loadMeter : undefined;
    this.#loadMeter = meter;
    this.#underLoad = opts.underLoad ?? (meter ? () => meter.underLoad() : () => false);
    this.#indices = new IndexTable(opts.random);
    this.#checker = new CookieChecker(this.#identity.publicKey, this.#limits.cookieRefreshTimeMs);
    const jitterMax = this.#limits.rekeyTimeoutJitterMaxMs;
    this.#rules = new PeerTimerRules(this.#limits, () => {
      if (jitterMax <= 0) return 0;
      const b = this.#random(2);
      return ((b[0]! << 8) | b[1]!) % jitterMax;
    });
    this.#out = new Outbound({
      identity: this.#identity,
      limits: this.#limits,
      random: opts.random,
      wallClockMs: opts.wallClockMs,
      indices: this.#indices,
      rules: this.#rules,
      mtu: opts.mtu ?? net.defaultTunMtu,
    });
  }

  /**
   * Replaces this device's static key (live key rotation). Only with no peer installed: every peer's
   * precomputed static-static DH and sessions belong to the old key, so callers remove them first and
   * add them again afterwards (EngineCore.replaceIdentity). The identity object is changed in place
   * because the outbound path holds a reference to it; mac1 checks use the new key at once.
   */
  setPrivateKey(privateKey: Secret<Uint8Array>): void {
    if (this.#peers.size > 0) throw new Error('setPrivateKey with peers installed: remove them first');
    const raw = Uint8Array.from(privateKey.expose());
    const prepared = preparePrivateKey(raw);
    this.#identity.privateKey.fill(0);
    this.#identity.privateKey = raw;
    this.#identity.publicKey = prepared.publicKey;
    this.#identity.prepared = prepared;
    this.#checker = new CookieChecker(prepared.publicKey, this.#limits.cookieRefreshTimeMs);
  }

  /** Our static public key. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#identity.publicKey);
  }

  get limits(): WgLimits {
    return this.#limits;
  }

  /** Bounds padding by the smallest route MTU into the TUN (R28; 0: the tunnel MTU alone). */
  setPaddingMtu(mtu: number): void {
    this.#out.setPaddingMtu(mtu);
  }

  addPeer(cfg: WgPeerConfig): void {
    const key = encodeKey(cfg.publicKey);
    if (this.#peers.has(key)) throw new Error(`peer ${key} exists already`);
    const peer = this.#wheel.createPeer(key, this.#identity, cfg.publicKey, this.#limits, cfg.presharedKey?.expose());
    this.#peers.set(key, peer);
    this.#configure(peer, cfg);
  }

  /** Changes endpoint, PSK or persistent keepalive of a peer (the public key cannot change). */
  updatePeer(publicKeyB64: string, patch: Partial<Omit<WgPeerConfig, 'publicKey'>>): void {
    const peer = this.#peers.get(publicKeyB64);
    if (peer === undefined) throw new Error(`no peer ${publicKeyB64}`);
    this.#configure(peer, patch);
  }

  #configure(peer: Peer, cfg: Partial<WgPeerConfig>): void {
    if (cfg.endpoint !== undefined) peer.endpoint = { host: cfg.endpoint.host, port: cfg.endpoint.port };
    if (cfg.presharedKey !== undefined) peer.handshake.presharedKey = Uint8Array.from(cfg.presharedKey.expose());
    if (cfg.persistentKeepaliveSec !== undefined) {
      const was = peer.persistentKeepaliveMs;
      peer.persistentKeepaliveMs = Math.max(0, Math.floor(cfg.persistentKeepaliveSec)) * 1000;
      if (was === 0 && peer.persistentKeepaliveMs > 0) peer.keepaliveOnNextTick = true;
    }
    this.#wheel.touch(peer);
  }

  removePeer(publicKeyB64: string): void {
    const peer = this.#peers.get(publicKeyB64);
    if (peer === undefined) return;
    const ignored: WgAction[] = [];
    this.#out.zeroAndFlushAll(peer, ignored);
    this.#wheel.forget(peer);
    this.#peers.delete(publicKeyB64);
  }

  hasPeer(publicKeyB64: string): boolean {
    return this.#peers.has(publicKeyB64);
  }

  peerKeys(): string[] {
    return [...this.#peers.keys()];
  }

  peerStatus(publicKeyB64: string): WgPeerStatus | undefined {
    const p = this.#peers.get(publicKeyB64);
    if (p === undefined) return undefined;
    return {
      endpoint: p.endpoint,
      lastHandshakeWallMs: p.lastHandshakeWallMs,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      rxPackets: p.rxPackets,
      txPackets: p.txPackets,
      hasSession: p.keypairs.current !== undefined,
      stagedPackets: p.staged.length,
    };
  }

  /**
   * Everything protocol state of one peer except key material, as plain data: tests compare snapshots
   * to prove rejected input changed nothing; operators can dump it.
   */
  snapshot(publicKeyB64: string): Record<string, unknown> | undefined {
    const p = this.#peers.get(publicKeyB64);
    if (p === undefined) return undefined;
    const hs = p.handshake;
    const kp = (k: Keypair | undefined) =>
      k && {
        localIndex: k.localIndex,
        remoteIndex: k.remoteIndex,
        sendNonce: k.sendNonce,
        createdAt: k.createdAt,
        replay: k.replay.describe(),
      };
    return {
      handshake: {
        stage: hs.stage,
        localIndex: hs.localIndex,
        remoteIndex: hs.remoteIndex,
        lastTimestamp: Buffer.from(hs.lastTimestamp).toString('hex'),
        lastInitiationConsumedAt: hs.lastInitiationConsumedAt,
        lastSentHandshakeAt: hs.lastSentHandshakeAt,
      },
      keypairs: { current: kp(p.keypairs.current), previous: kp(p.keypairs.previous), next: kp(p.keypairs.next) },
      timers: timerValues(p.timers),
      handshakeAttempts: p.handshakeAttempts,
      endpoint: p.endpoint,
      staged: p.staged.length,
      stats: { rx: p.rxBytes, tx: p.txBytes, rxPackets: p.rxPackets, txPackets: p.txPackets },
      indices: this.#indices.size,
    };
  }

  /** Encrypts an inner packet for `peer`, or stages it and starts a handshake. */
  send(peerKey: string, packet: Uint8Array, now: Now): WgAction[] {
    const peer = this.#peers.get(peerKey);
    if (peer === undefined) return [{ type: 'drop', reason: 'no_route' }];
    const out: WgAction[] = [];
    this.#out.sendPacket(peer, packet, now, out);
    this.#wheel.touch(peer);
    return out;
  }

  /** Sends a keepalive now; without a session this stages it and starts a handshake. */
  keepalive(peerKey: string, now: Now): WgAction[] {
    const peer = this.#peers.get(peerKey);
    if (peer === undefined) return [];
    const out: WgAction[] = [];
    this.#out.sendKeepalive(peer, now, out);
    this.#wheel.touch(peer);
    return out;
  }

  /** Handles one datagram from the wire. */
  receive(datagram: Uint8Array, from: WgEndpoint, now: Now, opts: ReceiveOptions = {}): WgAction[] {
    this.#rx = opts;
    const out: WgAction[] = [];
    if (datagram.length < 4) {
      out.push({ type: 'drop', reason: 'short_packet' });
      return out;
    }
    const type = messageType(datagram);
    if ((type === wgMessage.initiation || type === wgMessage.response) && opts.admitted === undefined)
      this.#loadMeter?.note(now);
    switch (type) {
      case wgMessage.transport:
        this.#receiveTransport(datagram, from, now, out);
        break;
      case wgMessage.initiation:
        this.#receiveInitiation(datagram, from, now, out);
        break;
      case wgMessage.response:
        this.#receiveResponse(datagram, from, now, out);
        break;
      case wgMessage.cookieReply:
        this.#receiveCookieReply(datagram, now, out);
        break;
      default:
        out.push({ type: 'drop', reason: 'unknown_type' });
    }
    return out;
  }

  #receiveTransport(d: Uint8Array, from: WgEndpoint, now: Now, out: WgAction[]): void {
    if (d.length < wgMessage.transportMinSize) {
      out.push({ type: 'drop', reason: 'short_packet' });
      return;
    }
    const entry = this.#indices.lookup(u32(d, transportLayout.receiver));
    const kp = entry?.keypair;
    if (entry === undefined || kp === undefined) {
      out.push({ type: 'drop', reason: 'unknown_receiver' });
      return;
    }
    const peer = entry.peer;
    if (now - kp.createdAt > this.#limits.rejectAfterTimeMs) {
      out.push({ type: 'drop', reason: 'expired_keypair', peer: peer.key });
      return;
    }
    const high = u32(d, transportLayout.counter + 4);
    const counter = high > maxSafeCounterHigh ? -1 : high * twoPow32 + u32(d, transportLayout.counter);
    const limit = this.#limits.rejectAfterMessages;
    if (!kp.replay.check(counter, limit)) {
      out.push({ type: 'drop', reason: 'replayed', peer: peer.key });
      return;
    }
    const packet = open(kp.receiveKey.expose(), counter, d.subarray(transportLayout.content));
    if (packet === undefined) {
      out.push({ type: 'drop', reason: 'decrypt_failed', peer: peer.key });
      return;
    }
    if (!kp.replay.validate(counter, limit)) {
      out.push({ type: 'drop', reason: 'replayed', peer: peer.key });
      return;
    }
    this.#learnEndpoint(peer, from, out);
    const { rotated, removed } = peer.keypairs.receivedWith(kp);
    if (rotated) {
      if (removed !== undefined) this.#out.deleteKeypair(peer, removed, out);
      out.push({ type: 'keypair_current', peer: peer.key, localIndex: kp.localIndex });
      this.#rules.handshakeComplete(peer, this.#wallClockMs());
      out.push({ type: 'handshake', peer: peer.key, role: 'responder' });
      this.#out.sendStaged(peer, now, out);
    }
    this.#out.keepKeyFreshReceiving(peer, now, out);
    this.#rules.anyAuthenticatedPacketTraversal(peer, now);
    this.#rules.anyAuthenticatedPacketReceived(peer);
    if (packet.length === 0) return; // keepalive
    this.#rules.dataReceived(peer, now);
    const ip = peekIp(packet);
    if (!ip.ok) {
      out.push({ type: 'drop', reason: 'bad_inner_packet', peer: peer.key });
      return;
    }
    const inner = ip.ip.totalLength === packet.length ? packet : packet.subarray(0, ip.ip.totalLength);
    peer.rxPackets++;
    peer.rxBytes += inner.length;
    out.push({ type: 'deliver', peer: peer.key, packet: inner });
  }

  /**
   * mac1 always; under load mac2 (else a cookie reply) and the per-source rate limit. A message the caller
   * admitted (ReceiveOptions.admitted) skips the checks it already made.
   */
  #admitHandshake(d: Uint8Array, sender: number, from: WgEndpoint, now: Now, out: WgAction[]): boolean {
    const admitted = this.#rx.admitted;
    if (admitted === 'mac1') return true;
    if (admitted === undefined) {
      if (!this.#checker.checkMac1(d)) {
        out.push({ type: 'drop', reason: 'bad_mac1' });
        return false;
      }
      if (!this.#underLoad()) return true;
      const source = sourceBytes(from.host, from.port);
      if (!this.#checker.checkMac2(d, source, now)) {
        const data = this.#checker.createReply(d, sender, source, now, this.#random);
        out.push({ type: 'send', to: from, data, message: 'cookie_reply' });
        out.push({ type: 'drop', reason: 'bad_mac2' });
        return false;
      }
    }
    if (!this.#rate.allow(from.host, now)) {
      out.push({ type: 'drop', reason: 'rate_limited' });
      return false;
    }
    return true;
  }

  #receiveInitiation(d: Uint8Array, from: WgEndpoint, now: Now, out: WgAction[]): void {
    const m = decodeInitiation(d);
    if (!m.ok) {
      out.push({ type: 'drop', reason: m.reason });
      return;
    }
    if (!this.#admitHandshake(d, m.msg.sender, from, now, out)) return;
    const r = consumeInitiation(this.#identity, m.msg, (pk) => this.#peers.get(encodeKey(pk))?.handshake, {
      now,
      initiationRateMs: this.#limits.handshakeInitationRateMs,
      rekeyTimeoutMs: this.#limits.rekeyTimeoutMs,
    });
    if (!r.ok) {
      out.push({ type: 'drop', reason: r.reason });
      const again = r.crossed?.lastInitiation;
      const peer = r.crossed && this.#peers.get(encodeKey(r.crossed.remoteStatic));
      if (again && peer?.endpoint)
        out.push({
          type: 'send',
          to: peer.endpoint,
          data: Uint8Array.from(again),
          message: 'initiation',
          peer: peer.key,
        });
      return;
    }
    const peer = this.#peers.get(encodeKey(r.remoteStatic))!;
    this.#rules.anyAuthenticatedPacketTraversal(peer, now);
    this.#rules.anyAuthenticatedPacketReceived(peer);
    this.#learnEndpoint(peer, from, out);
    this.#out.sendResponse(peer, now, out);
  }

  #receiveResponse(d: Uint8Array, from: WgEndpoint, now: Now, out: WgAction[]): void {
    const m = decodeResponse(d);
    if (!m.ok) {
      out.push({ type: 'drop', reason: m.reason });
      return;
    }
    if (!this.#admitHandshake(d, m.msg.sender, from, now, out)) return;
    const entry = this.#indices.lookup(m.msg.receiver);
    if (entry === undefined || entry.keypair !== undefined || entry.peer.handshake.localIndex !== m.msg.receiver) {
      out.push({ type: 'drop', reason: 'unknown_receiver' });
      return;
    }
    const peer = entry.peer;
    const r = consumeResponse(this.#identity, peer.handshake, m.msg);
    if (!r.ok) {
      out.push({ type: 'drop', reason: r.reason, peer: peer.key });
      return;
    }
    this.#learnEndpoint(peer, from, out);
    this.#rules.anyAuthenticatedPacketTraversal(peer, now);
    this.#rules.anyAuthenticatedPacketReceived(peer);
    if (this.#out.beginSession(peer, now, out) === undefined) return;
    this.#rules.sessionDerived(peer, now);
    this.#rules.handshakeComplete(peer, this.#wallClockMs());
    out.push({ type: 'handshake', peer: peer.key, role: 'initiator' });
    this.#out.sendKeepalive(peer, now, out);
  }

  #receiveCookieReply(d: Uint8Array, now: Now, out: WgAction[]): void {
    const m = decodeCookieReply(d);
    if (!m.ok) {
      out.push({ type: 'drop', reason: m.reason });
      return;
    }
    const entry = this.#indices.lookup(m.msg.receiver);
    if (entry === undefined) {
      out.push({ type: 'drop', reason: 'unknown_receiver' });
      return;
    }
    if (!entry.peer.cookies.consumeReply(m.msg, now)) {
      out.push({ type: 'drop', reason: 'handshake_failed', peer: entry.peer.key });
    }
  }

  #learnEndpoint(peer: Peer, from: WgEndpoint, out: WgAction[]): void {
    if (this.#rx.report) out.push({ type: 'received', peer: peer.key });
    if (this.#rx.roam === false || sameEndpoint(peer.endpoint, from)) return;
    peer.endpoint = { host: from.host, port: from.port };
    out.push({ type: 'endpoint', peer: peer.key, endpoint: peer.endpoint });
  }

  /** What a native fast path carried for a peer since its last summary (see fastpath-activity.ts). */
  fastPathActivity(publicKeyB64: string, activity: FastPathActivity, now: Now): WgAction[] {
    const out: WgAction[] = [];
    const peer = this.#peers.get(publicKeyB64);
    if (peer !== undefined) {
      applyFastPathActivity(peer, activity, now, this.#rules, this.#out, out);
      this.#wheel.touch(peer);
    }
    return out;
  }

  /** Fires due timers (wireguard-go timers.go); call every 100–250 ms. */
  tick(now: Now): WgAction[] {
    const out: WgAction[] = [];
    this.#wheel.advance(now, (peer) => firePeerTimers(peer, now, this.#limits, this.#out, out));
    this.#rate.collect(now);
    return out;
  }
}
