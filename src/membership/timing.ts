// The protocol's time budget, derived from the four operator settings so that a node that dies is declared
// dead everywhere within failureTimeoutMs: first probe of it (a few periods) + direct and indirect probe
// timeouts + suspicion + spreading the verdict by gossip.

export interface MembershipTiming {
  /** One protocol period: each node probes one member per period. */
  readonly probeIntervalMs: number;
  /** A dead node is declared dead everywhere within this long of its death. */
  readonly failureTimeoutMs: number;
  /** Members contacted per gossip round, and helpers asked for an indirect probe. */
  readonly gossipFanout: number;
  /** Timeout of one request; indirect probes get this long. */
  readonly requestTimeoutMs: number;
}

export interface DerivedTiming extends MembershipTiming {
  readonly gossipIntervalMs: number;
  readonly directTimeoutMs: number;
  /** The indirect (ping-req) phase of a probe: within one protocol period, as memberlist does. */
  readonly indirectTimeoutMs: number;
  readonly syncIntervalMs: number;
  readonly tombstoneMs: number;
  readonly retransmitMult: number;
  /** How often to try one failed node again (heals partitions, as Serf's reconnect does). */
  readonly reconnectIntervalMs: number;
  /** How long a failed node stays a reconnect candidate. */
  readonly reconnectTimeoutMs: number;
}

export function deriveTiming(
  t: MembershipTiming,
  overrides: Partial<
    Pick<
      DerivedTiming,
      | 'gossipIntervalMs'
      | 'syncIntervalMs'
      | 'tombstoneMs'
      | 'retransmitMult'
      | 'reconnectIntervalMs'
      | 'reconnectTimeoutMs'
    >
  > = {},
): DerivedTiming {
  const T = t.probeIntervalMs;
  return {
    ...t,
    gossipIntervalMs: overrides.gossipIntervalMs ?? Math.max(10, Math.round(T / 5)),
    directTimeoutMs: Math.max(1, Math.round(Math.min(t.requestTimeoutMs, T) / 2)),
    indirectTimeoutMs: Math.max(2, Math.min(t.requestTimeoutMs, T)),
    syncIntervalMs: overrides.syncIntervalMs ?? 5 * T,
    tombstoneMs: overrides.tombstoneMs ?? Math.max(60_000, 6 * t.failureTimeoutMs),
    retransmitMult: overrides.retransmitMult ?? 4,
    reconnectIntervalMs: overrides.reconnectIntervalMs ?? 30 * T,
    reconnectTimeoutMs: overrides.reconnectTimeoutMs ?? 3_600_000,
  };
}

/** Times each update is passed on: λ·⌈log10(n+1)⌉ as memberlist does, at least 3. */
export function retransmitLimit(d: DerivedTiming, n: number): number {
  return Math.max(3, d.retransmitMult * Math.ceil(Math.log10(n + 1)));
}

/** Rounds for gossip with fanout k to reach n nodes with high probability: log_{k+1}(n) plus a tail. */
function spreadRounds(d: DerivedTiming, n: number): number {
  return Math.ceil(Math.log(n + 1) / Math.log(d.gossipFanout + 1)) + 2;
}

/** How long an update takes to reach all of `n` nodes by gossip, with high probability. */
export function spreadTimeMs(d: DerivedTiming, n: number): number {
  return d.gossipIntervalMs * spreadRounds(d, n);
}

/** Independent confirmations after which a suspicion has its shortest timeout (see suspicion.ts). */
export const suspicionConfirmations = 3;

/** The shortest suspicion timeout: one protocol period, enough for the suspect's refutation to come back. */
export function suspicionMinMs(d: DerivedTiming): number {
  return d.probeIntervalMs;
}

/**
 * How long a suspect may refute (without confirmations from other members) before it is declared dead: what is left of failureTimeoutMs after the
 * wait for a first probe (4 periods: P(none) ≈ e^-4), both probe timeouts and spreading the verdict; at least one period.
 */
export function suspicionTimeoutMs(d: DerivedTiming, n: number): number {
  const detect = 4 * d.probeIntervalMs + d.directTimeoutMs + d.indirectTimeoutMs;
  const spread = d.gossipIntervalMs * spreadRounds(d, n);
  return Math.max(d.probeIntervalMs, d.failureTimeoutMs - detect - spread);
}
