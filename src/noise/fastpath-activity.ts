// Traffic carried outside the device by a native fast path (sealed and opened with keys from the
// device's `keypair` actions) reaches the protocol core as periodic summaries: the counters, and the
// timer rules the device would have applied per packet (wireguard-go timers.go), in time order. The
// summaries are at most one tick old, which is well inside every timer's granularity.
import type { Outbound } from './outbound.js';
import type { Peer } from './peer.js';
import type { PeerTimerRules } from './timers.js';
import type { Now, WgAction } from './actions.js';

export interface FastPathActivity {
  /** Inner packets and bytes since the last summary. */
  readonly txPackets: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly rxBytes: number;
  /** Monotonic ms of the latest data packet sent, data packet received and authenticated packet
   * received (data or keepalive) since the last summary; undefined when there was none. */
  readonly dataSentAt?: Now;
  readonly dataReceivedAt?: Now;
  readonly receivedAt?: Now;
  /** The next send counter of the fast path's current keypair: rekey-after-messages counts it. */
  readonly sendCounter?: { readonly localIndex: number; readonly next: number };
}

export function applyFastPathActivity(
  peer: Peer,
  a: FastPathActivity,
  now: Now,
  rules: PeerTimerRules,
  send: Outbound,
  out: WgAction[],
): void {
  peer.txPackets += a.txPackets;
  peer.txBytes += a.txBytes;
  peer.rxPackets += a.rxPackets;
  peer.rxBytes += a.rxBytes;
  const kp = peer.keypairs.current;
  if (a.sendCounter !== undefined && kp !== undefined && kp.localIndex === a.sendCounter.localIndex) {
    kp.sendNonce = Math.max(kp.sendNonce, a.sendCounter.next);
  }
  const sent = (at: Now): void => {
    rules.anyAuthenticatedPacketTraversal(peer, at);
    rules.anyAuthenticatedPacketSent(peer);
    rules.dataSent(peer, at);
  };
  const received = (at: Now): void => {
    rules.anyAuthenticatedPacketTraversal(peer, at);
    rules.anyAuthenticatedPacketReceived(peer);
    if (a.dataReceivedAt === undefined) return;
    rules.dataReceived(peer, a.dataReceivedAt);
    // More than one data packet without a send in between asks for another keepalive, as per packet.
    if (a.rxPackets > 1) rules.dataReceived(peer, a.dataReceivedAt);
  };
  const s = a.dataSentAt;
  const r = a.receivedAt;
  if (s !== undefined && r !== undefined && r < s) {
    received(r);
    sent(s);
  } else {
    if (s !== undefined) sent(s);
    if (r !== undefined) received(r);
  }
  if (s !== undefined) send.keepKeyFreshSending(peer, now, out);
  if (r !== undefined) send.keepKeyFreshReceiving(peer, now, out);
}
