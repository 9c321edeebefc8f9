// R28 wiring: the daemon's padding bound follows the memory twin's routes — min(tunnel MTU, smallest route
// MTU), handed to the engine (0 when the tunnel MTU alone bounds it) and exported as a gauge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/base/log.js';
import type { DataPlaneEngine } from '../../src/dataplane/engine.js';
import { paddingMtuFor, watchPaddingMtu } from '../../src/daemon/padding-mtu.js';
import { Metrics } from '../../src/metrics/registry.js';
import { MemoryRouteMtu } from '../../src/platform/memory/route-mtu.js';

test('paddingMtuFor: never above the tunnel MTU', () => {
  assert.equal(paddingMtuFor(1420, undefined), 1420);
  assert.equal(paddingMtuFor(1420, 1299), 1299);
  assert.equal(paddingMtuFor(1420, 1500), 1420);
});

test('watchPaddingMtu: the engine and the gauge follow the routes into the TUN, and stop with the watch', async () => {
  const routes = new MemoryRouteMtu();
  routes.setRoute('tm0', '198.19.0.0/16');
  routes.setRoute('tm0', '198.19.0.2/32', 1350);
  const calls: number[] = [];
  const engine = { setPaddingMtu: (m: number) => void calls.push(m) } as unknown as DataPlaneEngine;
  const metrics = new Metrics();
  const gauge = () => metrics.value('padding_mtu_bytes');
  const w = await watchPaddingMtu({
    source: routes,
    device: 'tm0',
    tunMtu: 1420,
    engine,
    metrics,
    log: silentLogger(),
  });
  assert.ok(w);
  assert.equal(calls.at(-1), 1350);
  assert.equal(await gauge(), 1350);
  routes.setRoute('tm0', 'fd00::2/128', 1299);
  assert.equal(calls.at(-1), 1299);
  assert.equal(await gauge(), 1299);
  routes.setRoute('other0', '198.19.0.3/32', 1280);
  assert.equal(await gauge(), 1299, 'another device does not count');
  routes.setRoute('tm0', 'fd00::2/128', 1600);
  routes.setRoute('tm0', '198.19.0.2/32');
  assert.equal(calls.at(-1), 0, 'no route below the tunnel MTU: the engine pads as wireguard-go');
  assert.equal(await gauge(), 1420);
  await w.stop();
  routes.setRoute('tm0', '198.19.0.2/32', 1280);
  assert.equal(await gauge(), 1420, 'nothing after stop');
});

test('watchPaddingMtu: without a source the tunnel MTU bounds padding', async () => {
  const metrics = new Metrics();
  const engine = {} as DataPlaneEngine;
  const w = await watchPaddingMtu({
    source: undefined,
    device: 'tm0',
    tunMtu: 1380,
    engine,
    metrics,
    log: silentLogger(),
  });
  assert.equal(w, undefined);
  assert.equal(await metrics.value('padding_mtu_bytes'), 1380);
});
