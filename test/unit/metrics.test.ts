import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/registry.js';
import { dropReasons, metricTable } from '../../src/metrics/table.js';
import { DropCounter } from '../../src/dataplane/drop-counter.js';

test('every metric in the table is exported with its help text', async () => {
  const m = new Metrics();
  const text = await m.text();
  for (const [name, def] of Object.entries(metricTable)) {
    assert.match(text, new RegExp(`# HELP tunmesh_${name} ${def.help.replace(/[()]/g, '\\$&')}`));
  }
});

test('drop counter sums per reason and flushes into packets_dropped_total', async () => {
  const m = new Metrics();
  const d = new DropCounter(m);
  d.add('replayed');
  d.add('replayed');
  d.add('bad_mac1', 5);
  assert.equal(await m.value('packets_dropped_total', { reason: 'replayed' }), 0, 'nothing before flush');
  d.flush();
  d.flush();
  assert.equal(await m.value('packets_dropped_total', { reason: 'replayed' }), 2);
  assert.equal(await m.value('packets_dropped_total', { reason: 'bad_mac1' }), 5);
  assert.ok(Object.keys(dropReasons).length > 10);
});

test('collectFrom reads values owned elsewhere at scrape time', async () => {
  const m = new Metrics();
  let rx = 10;
  m.collectFrom('peer_rx_bytes_total', () => [[{ peer: 'b' }, rx]]);
  assert.match(await m.text(), /tunmesh_peer_rx_bytes_total\{peer="b"\} 10/);
  rx = 25;
  assert.match(await m.text(), /tunmesh_peer_rx_bytes_total\{peer="b"\} 25/);
});
