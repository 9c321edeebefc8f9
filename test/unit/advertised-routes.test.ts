// P11 in the daemon (src/daemon/advertised-routes.ts): refusals of members' routes are counted once per
// refusal by reason (`routes_refused_total`), the routes refused now are a gauge, this node's own refused
// routes are shown but not counted, and warnings are rate limited (20 a minute, then one summary line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ManualClock } from '../../src/base/manual-clock.js';
import { AdvertisedRoutes } from '../../src/daemon/advertised-routes.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { Metrics } from '../../src/metrics/registry.js';

const record = (id: string, address: string, routes: string[] = []): NodeRecord => ({
  id,
  epoch: 1,
  version: 0,
  publicKey: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=',
  addresses: [address],
  endpoints: [],
  apiUrl: 'https://198.18.0.1:4567',
  methods: ['wireguard'],
  routes,
});

function setup(policy?: { prefix: string; nodes: string[]; exit?: boolean }[]) {
  const lines: { msg: string; suppressed?: number }[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }),
  );
  const metrics = new Metrics();
  const clock = new ManualClock();
  const self = record('a', '198.19.0.1/16', ['10.9.0.0/16']);
  const routes = new AdvertisedRoutes({ self, policy, metrics, log, clock });
  return { routes, metrics, clock, lines };
}

test('a member joining under a route withdraws it: counted once, shown, and the advertiser re-installed', async () => {
  const { routes, metrics, lines } = setup();
  const x = record('x', '198.19.0.9/16', ['198.19.0.3/32', '198.19.251.0/24']);
  assert.deepEqual(routes.member('x', x), []);
  assert.deepEqual(routes.accepted('x'), ['198.19.0.3/32', '198.19.251.0/24']);
  const again = routes.member('c', record('c', '198.19.0.3/16'));
  assert.deepEqual(
    again.map((r) => r.id),
    ['x'],
    'x must be installed again',
  );
  assert.deepEqual(routes.accepted('x'), ['198.19.251.0/24']);
  assert.deepEqual(routes.refused('x'), [
    { route: '198.19.0.3/32', reason: 'covers_member', member: 'c', address: '198.19.0.3' },
  ]);
  for (let i = 0; i < 5; i++) routes.member('x', { ...x, version: i + 1 }); // heartbeats
  assert.equal(await metrics.value('routes_refused_total', { reason: 'covers_member' }), 1);
  assert.equal(await metrics.value('routes_refused', { reason: 'covers_member' }), 1);
  assert.equal(lines.filter((l) => l.msg.startsWith('route 198.19.0.3/32 advertised by x refused')).length, 1);
  // c leaves: the route is back, the gauge is 0, the counter keeps its history.
  assert.deepEqual(
    routes.member('c', undefined).map((r) => r.id),
    ['x'],
  );
  assert.equal(await metrics.value('routes_refused', { reason: 'covers_member' }), 0);
  assert.equal(await metrics.value('routes_refused_total', { reason: 'covers_member' }), 1);
});

test('this node’s own refused routes are shown and logged, not counted; no policy warns at start', async () => {
  const { routes, metrics, lines } = setup([{ prefix: '198.19.251.0/24', nodes: ['gw-*'] }]);
  assert.deepEqual(routes.refused('a'), [{ route: '10.9.0.0/16', reason: 'not_granted' }]);
  assert.equal(routes.policyGrants, 1);
  assert.equal(await metrics.value('routes_refused_total', { reason: 'not_granted' }), 0);
  assert.ok(lines.some((l) => l.msg.startsWith("this node's route 10.9.0.0/16 is refused")));
  const open = setup();
  assert.equal(open.routes.policyGrants, undefined);
  assert.ok(open.lines.some((l) => l.msg.startsWith('cluster.routePolicy is not set')));
});

test('warnings are rate limited: 20 a minute, then one line with the number left out', async () => {
  const { routes, metrics, clock, lines } = setup([]);
  for (let i = 0; i < 50; i++) routes.member(`m${i}`, record(`m${i}`, `198.19.1.${i}/16`, [`10.${i}.0.0/16`]));
  assert.equal(await metrics.value('routes_refused_total', { reason: 'not_granted' }), 50);
  const refusedLines = () => lines.filter((l) => / advertised by (m\d+|late) refused/.test(l.msg)).length;
  assert.equal(refusedLines(), 19, '20 a minute, the first spent on this node’s own route');
  clock.advance(60_000);
  routes.member('late', record('late', '198.19.2.1/16', ['10.200.0.0/16']));
  assert.deepEqual(
    lines.filter((l) => l.suppressed !== undefined).map((l) => l.suppressed),
    [31],
  );
  assert.equal(refusedLines(), 20);
});
