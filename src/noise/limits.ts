// The protocol limits a device runs with: wg constants by default, lowered by tests. Message counts are
// JS numbers on the hot path; 2^53 packets is ~285 years at 1 Mpps, so clamping the 2^60 and 2^64 − 2^13 − 1
// limits to Number.MAX_SAFE_INTEGER never changes behaviour for a real peer.
import { wg } from '../base/constants.js';

export interface WgLimits {
  readonly rekeyAfterMessages: number;
  readonly rejectAfterMessages: number;
  readonly rekeyAfterTimeMs: number;
  readonly rejectAfterTimeMs: number;
  readonly rekeyAttemptTimeMs: number;
  readonly rekeyTimeoutMs: number;
  readonly rekeyTimeoutJitterMaxMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly cookieRefreshTimeMs: number;
  readonly handshakeInitationRateMs: number;
  readonly stagedPacketsMax: number;
}

export type WgLimitsOverride = Partial<
  Omit<WgLimits, 'rekeyAfterMessages' | 'rejectAfterMessages'> & {
    rekeyAfterMessages: number | bigint;
    rejectAfterMessages: number | bigint;
  }
>;

function count(n: number | bigint): number {
  return typeof n === 'bigint'
    ? Number(n > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : n)
    : Math.min(n, Number.MAX_SAFE_INTEGER);
}

export function resolveLimits(o: WgLimitsOverride = {}): WgLimits {
  return {
    rekeyAfterMessages: count(o.rekeyAfterMessages ?? wg.rekeyAfterMessages),
    rejectAfterMessages: count(o.rejectAfterMessages ?? wg.rejectAfterMessages),
    rekeyAfterTimeMs: o.rekeyAfterTimeMs ?? wg.rekeyAfterTimeMs,
    rejectAfterTimeMs: o.rejectAfterTimeMs ?? wg.rejectAfterTimeMs,
    rekeyAttemptTimeMs: o.rekeyAttemptTimeMs ?? wg.rekeyAttemptTimeMs,
    rekeyTimeoutMs: o.rekeyTimeoutMs ?? wg.rekeyTimeoutMs,
    rekeyTimeoutJitterMaxMs: o.rekeyTimeoutJitterMaxMs ?? wg.rekeyTimeoutJitterMaxMs,
    keepaliveTimeoutMs: o.keepaliveTimeoutMs ?? wg.keepaliveTimeoutMs,
    cookieRefreshTimeMs: o.cookieRefreshTimeMs ?? wg.cookieRefreshTimeMs,
    handshakeInitationRateMs: o.handshakeInitationRateMs ?? wg.handshakeInitationRateMs,
    stagedPacketsMax: o.stagedPacketsMax ?? wg.stagedPacketsMax,
  };
}

/** How many retransmissions before giving up: rekeyAttemptTime / rekeyTimeout (18 by default). */
export function maxHandshakeAttempts(l: WgLimits): number {
  return Math.floor(l.rekeyAttemptTimeMs / l.rekeyTimeoutMs);
}
