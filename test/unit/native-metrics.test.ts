import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/registry.js';
import { registerFastPathMetrics } from '../../src/dataplane/native-metrics.js';
import { nativeDropReasons, type FastPathStats, type NativeDropReason } from '../../src/dataplane/native-addon.js';

function stats(n: number): FastPathStats {
  return {
    tunReads: 10 * n,
    tunSuperPackets: 2 * n,
    txPackets: 100 * n,
    sendCalls: 3 * n,
    gsoSends: 4 * n,
    rxDatagrams: 90 * n,
    recvCalls: 5 * n,
    groDatagrams: 6 * n,
    rxPackets: 80 * n,
    tunWrites: 7 * n,
    coalesced: 70 * n,
    usoWrites: n,
    puntedTun: 8 * n,
    puntedUdp: 9 * n,
    puntedInner: 11 * n,
    puntedUnconfirmed: 13 * n,
    resealed: 12 * n,
    cookieReplies: 14 * n,
    slowQueued: 0,
    slowPeak: 15 * n,
    drops: {
      ...(Object.fromEntries(nativeDropReasons.map((r) => [r, 0])) as Record<NativeDropReason, number>),
      replayed: 1,
    },
    running: n > 0,
  };
}

test('fast-path counters are read at each scrape and exported under one name per group', async () => {
  const m = new Metrics();
  let n = 1;
  registerFastPathMetrics(m, () => stats(n));
  assert.equal(await m.value('fastpath_packets_total', { path: 'tx' }), 100);
  assert.equal(await m.value('fastpath_syscalls_total', { call: 'tun_write' }), 7);
  assert.equal(await m.value('fastpath_offload_total', { kind: 'uso_writes' }), 1);
  assert.equal(await m.value('fastpath_punted_total', { kind: 'inner' }), 11);
  assert.equal(await m.value('fastpath_running'), 1);
  n = 3; // totals replace what the last scrape saw (not added to it)
  assert.equal(await m.value('fastpath_packets_total', { path: 'rx' }), 240);
  assert.equal(await m.value('fastpath_offload_total', { kind: 'coalesced_packets' }), 210);
  const text = await m.text();
  assert.match(text, /tunmesh_fastpath_syscalls_total\{call="udp_recv"\} 15/);
  assert.doesNotMatch(text, /fastpath.*replayed/, 'drops belong to packets_dropped_total');
});
