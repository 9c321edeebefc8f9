// Everything a WgDevice sends to a peer: handshake initiations and responses, keepalives and transport
// data (wireguard-go send.go), plus the session bookkeeping those sends depend on.
import { Secret } from '../base/secret.js';
import { clamp } from '../crypto/keys.js';
import { sealInto, aeadTagLength } from '../crypto/aead.js';
import { tai64n } from '../crypto/tai64n.js';
import { transportLayout, writeTransportHeader } from '../wire/wireguard.js';
import { wg } from '../base/constants.js';
import { createInitiation, createResponse, deriveSessionKeys, type StaticIdentity } from './handshake.js';
import { Keypair } from './keypairs.js';
import type { IndexTable } from './index-table.js';
import type { WgLimits } from './limits.js';
import type { Peer } from './peer.js';
import type { PeerTimerRules } from './timers.js';
import type { Now, WgAction, WgEndpoint } from './actions.js';

export interface DeviceContext {
  readonly identity: StaticIdentity;
  readonly limits: WgLimits;
  readonly random: (n: number) => Uint8Array;
  readonly wallClockMs: () => number;
  readonly indices: IndexTable<Peer, Keypair>;
  readonly rules: PeerTimerRules;
  /** Tunnel MTU, for padding (0: pad to the next multiple of 16 only). */
  readonly mtu: number;
}

const emptyPacket = new Uint8Array(0);

/**
 * wireguard-go calculatePaddingSize: pad to a multiple of 16 without exceeding the MTU. `bound`, when below
 * the MTU, is the smallest route MTU into the TUN (R28): padding stops there as the kernel's dst_mtu bound
 * does, and a packet already at or past it is not padded (it fit a larger route). Native twin:
 * Core::PaddedLength in native/src/fastpath_core.cc, kept byte-identical by native-fastpath.test.ts.
 */
export function paddingSize(packetSize: number, mtu: number, bound = 0): number {
  const m = wg.paddingMultiple;
  if (bound > 0 && (mtu === 0 || bound < mtu)) {
    if (packetSize >= bound) return 0;
    return Math.min(bound, (packetSize + m - 1) & ~(m - 1)) - packetSize;
  }
  if (mtu === 0) return ((packetSize + m - 1) & ~(m - 1)) - packetSize;
  const lastUnit = packetSize > mtu ? packetSize % mtu : packetSize;
  const padded = Math.min(mtu, (lastUnit + m - 1) & ~(m - 1));
  return Math.max(0, padded - lastUnit);
}

export class Outbound {
  /** Padding bound below the tunnel MTU (0: none): see paddingSize. */
  #paddingMtu = 0;

  constructor(private readonly ctx: DeviceContext) {}

  /** Sets the padding bound: the smallest MTU of the routes into the TUN (0 or ≥ the MTU: no extra bound). */
  setPaddingMtu(mtu: number): void {
    this.#paddingMtu = Number.isInteger(mtu) && mtu > 0 ? mtu : 0;
  }

  /** A usable sending keypair, or undefined when a handshake is needed first. */
  sendingKeypair(peer: Peer, now: Now): Keypair | undefined {
    const kp = peer.keypairs.current;
    const l = this.ctx.limits;
    if (kp === undefined || kp.sendNonce >= l.rejectAfterMessages || now - kp.createdAt >= l.rejectAfterTimeMs) {
      return undefined;
    }
    return kp;
  }

  sendInitiation(peer: Peer, now: Now, isRetry: boolean, out: WgAction[]): void {
    const { ctx } = this;
    const hs = peer.handshake;
    if (!isRetry) peer.handshakeAttempts = 0;
    // One initiation per rekeyTimeout, whatever asks for it.
    if (hs.lastSentHandshakeAt !== undefined && now - hs.lastSentHandshakeAt < ctx.limits.rekeyTimeoutMs) return;
    const to = peer.endpoint;
    if (to === undefined) return;
    hs.lastSentHandshakeAt = now;
    if (hs.localIndex !== undefined) ctx.indices.delete(hs.localIndex);
    hs.localIndex = undefined;
    const index = ctx.indices.newIndex(peer);
    const ephemeral = clamp(ctx.random(32));
    const msg = createInitiation(ctx.identity, hs, ephemeral, tai64n(ctx.wallClockMs()), index);
    ephemeral.fill(0);
    if (msg === undefined) {
      ctx.indices.delete(index);
      out.push({ type: 'drop', reason: 'handshake_failed', peer: peer.key });
      return;
    }
    peer.cookies.addMacs(msg, now);
    hs.lastInitiation = msg;
    ctx.rules.anyAuthenticatedPacketTraversal(peer, now);
    ctx.rules.anyAuthenticatedPacketSent(peer);
    out.push({ type: 'send', to, data: msg, message: 'initiation', peer: peer.key });
    ctx.rules.handshakeInitiated(peer, now);
  }

  /** Answers a consumed initiation; the responder's keypair goes to `next`. */
  sendResponse(peer: Peer, now: Now, out: WgAction[]): void {
    const { ctx } = this;
    const hs = peer.handshake;
    const to = peer.endpoint;
    if (to === undefined) return;
    hs.lastSentHandshakeAt = now;
    if (hs.localIndex !== undefined) ctx.indices.delete(hs.localIndex);
    hs.localIndex = undefined;
    const index = ctx.indices.newIndex(peer);
    const ephemeral = clamp(ctx.random(32));
    const msg = createResponse(hs, ephemeral, index);
    ephemeral.fill(0);
    if (msg === undefined) {
      ctx.indices.delete(index);
      out.push({ type: 'drop', reason: 'handshake_failed', peer: peer.key });
      return;
    }
    peer.cookies.addMacs(msg, now);
    if (this.beginSession(peer, now, out) === undefined) return;
    ctx.rules.sessionDerived(peer, now);
    ctx.rules.anyAuthenticatedPacketTraversal(peer, now);
    ctx.rules.anyAuthenticatedPacketSent(peer);
    out.push({ type: 'send', to, data: msg, message: 'response', peer: peer.key });
  }

  /** Derives and installs the keypair of a finished handshake. */
  beginSession(peer: Peer, now: Now, out: WgAction[]): Keypair | undefined {
    const keys = deriveSessionKeys(peer.handshake);
    if (keys === undefined) return undefined;
    const kp = new Keypair(keys, now);
    this.ctx.indices.setKeypair(kp.localIndex, kp);
    for (const old of peer.keypairs.install(kp)) this.deleteKeypair(peer, old, out);
    out.push({
      type: 'keypair',
      peer: peer.key,
      keypair: {
        localIndex: kp.localIndex,
        remoteIndex: kp.remoteIndex,
        sendKey: new Secret(Uint8Array.from(kp.sendKey.expose())),
        receiveKey: new Secret(Uint8Array.from(kp.receiveKey.expose())),
        isInitiator: kp.isInitiator,
        createdAt: kp.createdAt,
      },
    });
    return kp;
  }

  deleteKeypair(peer: Peer, kp: Keypair, out: WgAction[]): void {
    this.ctx.indices.delete(kp.localIndex);
    kp.zero();
    out.push({ type: 'keypair_removed', peer: peer.key, localIndex: kp.localIndex });
  }

  /** wireguard-go ZeroAndFlushAll: forget every key and the handshake in flight, drop staged packets. */
  zeroAndFlushAll(peer: Peer, out: WgAction[]): void {
    for (const kp of peer.keypairs.clear()) this.deleteKeypair(peer, kp, out);
    const hs = peer.handshake;
    if (hs.localIndex !== undefined) this.ctx.indices.delete(hs.localIndex);
    hs.localIndex = undefined;
    hs.clear();
    this.flushStaged(peer, out);
  }

  flushStaged(peer: Peer, out: WgAction[]): void {
    for (let n = peer.flushStaged(); n > 0; n--)
      out.push({ type: 'drop', reason: 'no_session_timeout', peer: peer.key });
  }

  /** Queues an empty packet (unless data is already queued) and sends what is queued. */
  sendKeepalive(peer: Peer, now: Now, out: WgAction[]): void {
    if (peer.staged.length === 0) peer.staged.push(emptyPacket);
    this.sendStaged(peer, now, out);
  }

  /** Sends one inner packet now if a session is up, else stages it and starts a handshake. */
  sendPacket(peer: Peer, packet: Uint8Array, now: Now, out: WgAction[]): void {
    if (peer.staged.length === 0 && peer.endpoint !== undefined) {
      const kp = this.sendingKeypair(peer, now);
      if (kp !== undefined) {
        this.#encrypt(peer, kp, packet, peer.endpoint, out);
        this.#afterSend(peer, packet.length > 0, now, out);
        return;
      }
    }
    for (let n = peer.stage(packet, this.ctx.limits.stagedPacketsMax); n > 0; n--) {
      out.push({ type: 'drop', reason: 'no_session_queue_full', peer: peer.key });
    }
    this.sendStaged(peer, now, out);
  }

  sendStaged(peer: Peer, now: Now, out: WgAction[]): void {
    if (peer.staged.length === 0) return;
    const kp = this.sendingKeypair(peer, now);
    if (kp === undefined) {
      this.sendInitiation(peer, now, false, out);
      return;
    }
    const to = peer.endpoint;
    if (to === undefined) return;
    const staged = peer.staged;
    peer.staged = [];
    let data = false;
    for (let i = 0; i < staged.length; i++) {
      const packet = staged[i]!;
      if (kp.sendNonce >= this.ctx.limits.rejectAfterMessages) {
        // Out of counters mid-batch: keep the rest staged for the next session.
        peer.staged = staged.slice(i);
        break;
      }
      this.#encrypt(peer, kp, packet, to, out);
      if (packet.length > 0) data = true;
    }
    this.#afterSend(peer, data, now, out);
    if (peer.staged.length > 0) this.sendInitiation(peer, now, false, out);
  }

  #encrypt(peer: Peer, kp: Keypair, packet: Uint8Array, to: WgEndpoint, out: WgAction[]): void {
    const counter = kp.sendNonce++;
    const pad = paddingSize(packet.length, this.ctx.mtu, this.#paddingMtu);
    const data = Buffer.allocUnsafe(transportLayout.content + packet.length + pad + aeadTagLength);
    writeTransportHeader(data, kp.remoteIndex, counter);
    sealInto(kp.sendKey.expose(), counter, packet, pad, undefined, data, transportLayout.content);
    out.push({ type: 'send', to, data, message: 'transport', peer: peer.key });
    if (packet.length > 0) {
      peer.txPackets++;
      peer.txBytes += packet.length;
    }
  }

  #afterSend(peer: Peer, dataSent: boolean, now: Now, out: WgAction[]): void {
    const { rules } = this.ctx;
    rules.anyAuthenticatedPacketTraversal(peer, now);
    rules.anyAuthenticatedPacketSent(peer);
    if (dataSent) rules.dataSent(peer, now);
    this.keepKeyFreshSending(peer, now, out);
  }

  /** The initiator rekeys after rekeyAfterTime; either side after rekeyAfterMessages. */
  keepKeyFreshSending(peer: Peer, now: Now, out: WgAction[]): void {
    const kp = peer.keypairs.current;
    if (kp === undefined) return;
    const l = this.ctx.limits;
    if (kp.sendNonce > l.rekeyAfterMessages || (kp.isInitiator && now - kp.createdAt > l.rekeyAfterTimeMs)) {
      this.sendInitiation(peer, now, false, out);
    }
  }

  /** An initiator hearing on an old session rekeys once before the session would be rejected. */
  keepKeyFreshReceiving(peer: Peer, now: Now, out: WgAction[]): void {
    if (peer.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    const l = this.ctx.limits;
    if (
      kp !== undefined &&
      kp.isInitiator &&
      now - kp.createdAt > l.rejectAfterTimeMs - l.keepaliveTimeoutMs - l.rekeyTimeoutMs
    ) {
      peer.sentLastMinuteHandshake = true;
      this.sendInitiation(peer, now, false, out);
    }
  }
}
