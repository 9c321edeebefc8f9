// wireguard-go's timers.go as deadlines: PeerTimerRules updates a peer's deadlines when packets come and
// go; firePeerTimers runs the expired ones (WgDevice.tick calls it for every peer).
import { maxHandshakeAttempts, type WgLimits } from './limits.js';
import type { Outbound } from './outbound.js';
import type { Peer } from './peer.js';
import type { Now, WgAction } from './actions.js';

/**
 * The timer rules of wireguard-go's timers.go, as deadline updates. `jitter` returns a random delay in
 * [0, rekeyTimeoutJitterMaxMs).
 */
export class PeerTimerRules {
  constructor(
    private readonly limits: WgLimits,
    private readonly jitter: () => number,
  ) {}

  /** After an authenticated data packet was sent: expect to hear back, or rehandshake. */
  dataSent(p: Peer, now: Now): void {
    if (p.timers.newHandshake === undefined) {
      p.timers.newHandshake = now + this.limits.keepaliveTimeoutMs + this.limits.rekeyTimeoutMs + this.jitter();
    }
  }

  /** After an authenticated data packet was received: answer with a keepalive if we stay silent. */
  dataReceived(p: Peer, now: Now): void {
    if (p.timers.sendKeepalive === undefined) p.timers.sendKeepalive = now + this.limits.keepaliveTimeoutMs;
    else p.needAnotherKeepalive = true;
  }

  anyAuthenticatedPacketSent(p: Peer): void {
    p.timers.sendKeepalive = undefined;
  }

  anyAuthenticatedPacketReceived(p: Peer): void {
    p.timers.newHandshake = undefined;
  }

  handshakeInitiated(p: Peer, now: Now): void {
    p.timers.retransmitHandshake = now + this.limits.rekeyTimeoutMs + this.jitter();
  }

  handshakeComplete(p: Peer, wallMs: number): void {
    p.timers.retransmitHandshake = undefined;
    p.handshakeAttempts = 0;
    p.sentLastMinuteHandshake = false;
    p.lastHandshakeWallMs = wallMs;
  }

  sessionDerived(p: Peer, now: Now): void {
    p.timers.zeroKeyMaterial = now + 3 * this.limits.rejectAfterTimeMs;
  }

  /** Before sending or after receiving any authenticated packet. */
  anyAuthenticatedPacketTraversal(p: Peer, now: Now): void {
    if (p.persistentKeepaliveMs > 0) p.timers.persistentKeepalive = now + p.persistentKeepaliveMs;
  }
}

/** Fires the due timers of one peer, in wireguard-go's order of concerns. */
export function firePeerTimers(peer: Peer, now: Now, limits: WgLimits, send: Outbound, out: WgAction[]): void {
  const t = peer.timers;
  const due = (at: Now | undefined): boolean => at !== undefined && at <= now;
  if (due(t.retransmitHandshake)) {
    t.retransmitHandshake = undefined;
    if (peer.handshakeAttempts > maxHandshakeAttempts(limits)) {
      // Give up: drop what waited for this session and schedule wiping any partial state.
      t.sendKeepalive = undefined;
      send.flushStaged(peer, out);
      if (t.zeroKeyMaterial === undefined) t.zeroKeyMaterial = now + 3 * limits.rejectAfterTimeMs;
    } else {
      peer.handshakeAttempts++;
      send.sendInitiation(peer, now, true, out);
    }
  }
  if (due(t.sendKeepalive)) {
    t.sendKeepalive = undefined;
    send.sendKeepalive(peer, now, out);
    if (peer.needAnotherKeepalive) {
      peer.needAnotherKeepalive = false;
      t.sendKeepalive = now + limits.keepaliveTimeoutMs;
    }
  }
  if (due(t.newHandshake)) {
    t.newHandshake = undefined;
    send.sendInitiation(peer, now, false, out);
  }
  if (due(t.zeroKeyMaterial)) {
    t.zeroKeyMaterial = undefined;
    send.zeroAndFlushAll(peer, out);
  }
  if (due(t.persistentKeepalive)) {
    t.persistentKeepalive = undefined;
    if (peer.persistentKeepaliveMs > 0) send.sendKeepalive(peer, now, out);
  }
  if (peer.keepaliveOnNextTick) {
    peer.keepaliveOnNextTick = false;
    send.sendKeepalive(peer, now, out);
  }
  // Packets still waiting with no handshake in flight (the endpoint arrived late, or an initiation
  // was suppressed by the once-per-rekeyTimeout rule): try again; sendInitiation rate-limits itself.
  if (peer.staged.length > 0 && t.retransmitHandshake === undefined) send.sendStaged(peer, now, out);
}
