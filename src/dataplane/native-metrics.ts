// The native fast path's own counters (FastPathStats) as Prometheus metrics, read from the addon at each
// scrape: nothing runs per packet or per tick. Its drops are not here: the native engine adds them to
// packets_dropped_total by reason, like every other drop.
import type { Metrics } from '../metrics/registry.js';
import type { FastPathStats } from './native-addon.js';

type Rows<L extends string> = readonly (readonly [L, (s: FastPathStats) => number])[];

const packets: Rows<string> = [
  ['tx', (s) => s.txPackets],
  ['rx', (s) => s.rxPackets],
  ['rx_datagrams', (s) => s.rxDatagrams],
  ['cookie_replies', (s) => s.cookieReplies],
];
const syscalls: Rows<string> = [
  ['tun_read', (s) => s.tunReads],
  ['tun_write', (s) => s.tunWrites],
  ['udp_send', (s) => s.sendCalls],
  ['udp_recv', (s) => s.recvCalls],
];
const offload: Rows<string> = [
  ['tso_reads', (s) => s.tunSuperPackets],
  ['gso_sends', (s) => s.gsoSends],
  ['gro_datagrams', (s) => s.groDatagrams],
  ['coalesced_packets', (s) => s.coalesced],
  ['uso_writes', (s) => s.usoWrites],
];
const punted: Rows<string> = [
  ['tun', (s) => s.puntedTun],
  ['udp', (s) => s.puntedUdp],
  ['inner', (s) => s.puntedInner],
  ['unconfirmed', (s) => s.puntedUnconfirmed],
  ['resealed', (s) => s.resealed],
];

function* rows<K extends string>(
  label: K,
  table: Rows<string>,
  s: FastPathStats,
): Iterable<[Record<K, string>, number]> {
  for (const [value, read] of table) yield [{ [label]: value } as Record<K, string>, read(s)];
}

/**
 * Makes `metrics` read the fast path's counters from `stats` at every scrape. Call once when the engine
 * is built; `stats` must stay callable after the threads stop (the counters keep their last values).
 */
export function registerFastPathMetrics(metrics: Metrics, stats: () => FastPathStats): void {
  metrics.collectFrom('fastpath_packets_total', () => rows('path', packets, stats()));
  metrics.collectFrom('fastpath_syscalls_total', () => rows('call', syscalls, stats()));
  metrics.collectFrom('fastpath_offload_total', () => rows('kind', offload, stats()));
  metrics.collectFrom('fastpath_punted_total', () => rows('kind', punted, stats()));
  metrics.collectFrom('fastpath_slow_queue_items', () => {
    const s = stats();
    return [
      [{ stat: 'now' }, s.slowQueued],
      [{ stat: 'peak' }, s.slowPeak],
    ];
  });
  metrics.collectFrom('fastpath_running', () => [[{}, stats().running ? 1 : 0]]);
}
