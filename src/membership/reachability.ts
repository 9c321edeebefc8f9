// Members that take no inbound connections (`reach: 'outbound'`: behind a NAT or a firewall that only lets
// connections out). SWIM's failure detector probes members, and a probe of such a member can only fail, so
// it would be suspected and declared dead within failureTimeoutMs of joining. Instead:
//  - nobody sends to it (no probe, ping-req, gossip, sync or reconnect); it talks to the others, and its
//    requests count as signs of life where they arrive;
//  - it raises its own record's version every heartbeatMs (a heartbeat); the new version spreads like
//    any update, and every node that learns it counts it as a sign of life;
//  - a node that has had no sign of life from it for staleMs declares it dead (reason `failed`) and spreads
//    that; a live one refutes it with its next heartbeat, which outbids the verdict.
// The windows are chosen so that a stopped outbound-only node is declared dead everywhere within
// failureTimeoutMs, like any other member (staleMs + one check period + spreading the verdict), while a
// live one is never stale: staleMs leaves room for two heartbeats and their spreading.
import type { NodeRecord } from './record.js';
import { spreadTimeMs, type DerivedTiming } from './timing.js';

export interface OutboundTiming {
  /** How often an outbound-only node raises its version. */
  readonly heartbeatMs: number;
  /** No sign of life for this long: an outbound-only member is declared dead. */
  readonly staleMs: number;
}

export function isOutboundOnly(r: NodeRecord | undefined): boolean {
  return r?.reach === 'outbound';
}

/** Heartbeat and staleness windows for a mesh of `n` nodes. */
export function outboundTiming(d: DerivedTiming, n: number): OutboundTiming {
  const heartbeatMs = Math.max(d.probeIntervalMs, Math.round(d.failureTimeoutMs / 5));
  const spread = spreadTimeMs(d, n);
  // Members check staleness once per probe period: that period is part of the budget too.
  return {
    heartbeatMs,
    staleMs: Math.max(2 * heartbeatMs + spread, d.failureTimeoutMs - spread - d.probeIntervalMs),
  };
}

/** Live outbound-only members whose last sign of life is older than `staleMs`. */
export function staleOutboundMembers(
  members: Iterable<{ readonly id: string; readonly record: NodeRecord | undefined; readonly lastSeen: number }>,
  now: number,
  staleMs: number,
): string[] {
  const out: string[] = [];
  for (const m of members) if (isOutboundOnly(m.record) && now - m.lastSeen > staleMs) out.push(m.id);
  return out;
}
