// Per-peer protocol state (wireguard-go peer.go). Timers are deadlines in monotonic ms (undefined = not
// pending); timers.ts sets and fires them.
import { CookieGenerator } from './cookie.js';
import { HandshakeState, type StaticIdentity } from './handshake.js';
import { Keypairs } from './keypairs.js';
import type { WgLimits } from './limits.js';
import type { Now, WgEndpoint } from './actions.js';

export interface PeerTimers {
  retransmitHandshake: Now | undefined;
  sendKeepalive: Now | undefined;
  newHandshake: Now | undefined;
  zeroKeyMaterial: Now | undefined;
  persistentKeepalive: Now | undefined;
}

export class Peer {
  readonly key: string;
  readonly handshake: HandshakeState;
  readonly keypairs = new Keypairs();
  readonly cookies: CookieGenerator;
  endpoint: WgEndpoint | undefined;
  persistentKeepaliveMs = 0;
  /** Set when persistent keepalive was switched on: wireguard-go then sends a keepalive at once. */
  keepaliveOnNextTick = false;
  /** Outbound packets waiting for a session, oldest first; bounded by limits.stagedPacketsMax. */
  staged: Uint8Array[] = [];
  readonly timers: PeerTimers = {
    retransmitHandshake: undefined,
    sendKeepalive: undefined,
    newHandshake: undefined,
    zeroKeyMaterial: undefined,
    persistentKeepalive: undefined,
  };
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;
  lastHandshakeWallMs: number | undefined;
  rxBytes = 0;
  txBytes = 0;
  rxPackets = 0;
  txPackets = 0;

  constructor(key: string, identity: StaticIdentity, publicKey: Uint8Array, limits: WgLimits, psk?: Uint8Array) {
    this.key = key;
    this.handshake = new HandshakeState(identity, publicKey, psk);
    this.cookies = new CookieGenerator(publicKey, limits.cookieRefreshTimeMs);
  }

  /** Queues a packet; returns how many old packets were dropped to make room. */
  stage(packet: Uint8Array, max: number): number {
    this.staged.push(packet);
    let dropped = 0;
    while (this.staged.length > max) {
      this.staged.shift();
      dropped++;
    }
    return dropped;
  }

  /** Empties the staging queue; returns how many packets it held. */
  flushStaged(): number {
    const n = this.staged.length;
    this.staged = [];
    return n;
  }
}
