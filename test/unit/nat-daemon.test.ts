// The daemon's NAT and roaming rules: which endpoint a member's peer gets from its record (daemon/nat.ts),
// the keepalive behind NAT, and the re-derivation of this node's own addresses (self-record.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/base/log.js';
import type { Config } from '../../src/config/index.js';
import type { PeerSpec } from '../../src/dataplane/engine.js';
import { MemberEndpoints, effectiveKeepaliveSec, noPathReason } from '../../src/daemon/nat.js';
import { SelfAddressWatcher, advertisedEndpoints, type SelfAddresses } from '../../src/daemon/self-record.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { FakeClock } from '../../src/platform/memory/clock.js';

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  epoch: 1,
  version: 0,
  publicKey: 'k',
  addresses: ['198.19.0.2/16'],
  endpoints: ['198.18.0.2:51820'],
  apiUrl: `https://198.18.0.2:4567`,
  methods: ['wireguard'],
  routes: [],
  ...over,
});
const spec = (r: NodeRecord): PeerSpec => ({
  publicKey: r.publicKey,
  name: r.id,
  allowedIps: ['198.19.0.2/32'],
  endpoint: r.endpoints[0] ? { host: r.endpoints[0].split(':')[0]!, port: 51820 } : undefined,
  persistentKeepaliveSec: 0,
});
const cfg = (o: { reach?: 'direct' | 'outbound'; keepalive?: number; advertise?: string[] }): Config =>
  ({
    node: { reach: o.reach ?? 'direct' },
    tun: { name: 'tunmesh0' },
    wireguard: { listen: '0.0.0.0:51820', advertise: o.advertise ?? [], persistentKeepaliveSec: o.keepalive ?? 0 },
    control: { advertiseUrl: '' },
  }) as unknown as Config;

test('a record update with the same endpoints keeps the endpoint the peer roamed to', () => {
  const m = new MemberEndpoints(silentLogger());
  const r0 = rec('b');
  assert.deepEqual(m.plan(undefined, r0, spec(r0), true).spec.endpoint, { host: '198.18.0.2', port: 51820 });
  // A heartbeat / groups change: nothing for the engine to do, and no endpoint to overwrite with.
  const r1 = rec('b', { version: 1, groups: ['239.1.2.3'] });
  const p1 = m.plan(undefined, r1, spec(r1), false);
  assert.equal(p1.spec.endpoint, undefined);
  assert.equal(p1.unchanged, true);
  // The node announces a new address: installed.
  const r2 = rec('b', { version: 2, endpoints: ['198.18.0.9:51820'] });
  const p2 = m.plan(undefined, r2, spec(r2), false);
  assert.deepEqual(p2.spec.endpoint, { host: '198.18.0.9', port: 51820 });
  assert.equal(p2.unchanged, false);
  // A restart (fresh peer) always takes the record's endpoint.
  assert.deepEqual(m.plan(undefined, r2, spec(r2), true).spec.endpoint, { host: '198.18.0.9', port: 51820 });
});

test('behind NAT: no own endpoint, keepalive 25 s unless set, NAT↔NAT reported', () => {
  assert.deepEqual(advertisedEndpoints(cfg({ reach: 'outbound' }), 51820, 'https://198.18.0.2:4567'), []);
  assert.deepEqual(advertisedEndpoints(cfg({}), 51820, 'https://198.18.0.2:4567'), ['198.18.0.2:51820']);
  assert.deepEqual(advertisedEndpoints(cfg({ reach: 'outbound', advertise: ['198.18.9.9:4000'] }), 1, ''), [
    '198.18.9.9:4000',
  ]);
  assert.equal(effectiveKeepaliveSec(cfg({ reach: 'outbound' })), 25);
  assert.equal(effectiveKeepaliveSec(cfg({ reach: 'outbound', keepalive: 1 })), 1);
  assert.equal(effectiveKeepaliveSec(cfg({})), 0);
  const nat = rec('n', { reach: 'outbound', endpoints: [] });
  assert.match(noPathReason(rec('me', { reach: 'outbound' }), nat) ?? '', /both nodes are behind NAT/);
  assert.equal(noPathReason(rec('me'), nat), undefined);
  assert.equal(noPathReason(rec('me', { reach: 'outbound' }), rec('p')), undefined);
});

test('SelfAddressWatcher announces a changed address once, and ignores a moment without any', () => {
  const clock = new FakeClock();
  let current: SelfAddresses = { endpoints: ['198.18.0.2:51820'], apiUrl: 'https://198.18.0.2:4567' };
  const changes: SelfAddresses[] = [];
  const w = new SelfAddressWatcher({
    initial: current,
    derive: () => current,
    clock,
    log: silentLogger(),
    onChange: (next) => changes.push(next),
  });
  w.start();
  clock.advance(5000);
  assert.equal(changes.length, 0);
  current = { endpoints: [], apiUrl: 'https://127.0.0.1:4567' }; // address removed, new one not yet added
  clock.advance(5000);
  assert.equal(changes.length, 0);
  current = { endpoints: ['198.18.5.2:51820'], apiUrl: 'https://198.18.5.2:4567' };
  clock.advance(2500);
  clock.advance(5000);
  assert.deepEqual(changes, [current]);
  w.stop();
  current = { endpoints: ['198.18.6.2:51820'], apiUrl: 'https://198.18.6.2:4567' };
  clock.advance(5000);
  assert.equal(changes.length, 1, 'stopped');
});

test('status: a NATed member is marked, and a NAT↔NAT pair says it has no path (text and JSON)', async () => {
  const { buildStatus } = await import('../../src/daemon/status.js');
  const { renderStatus } = await import('../../src/cli/commands/status.js');
  const self = rec('me', { reach: 'outbound', endpoints: [] });
  const member = (r: NodeRecord) => ({ id: r.id, state: 'alive' as const, lastSeen: 0, admitted: true, record: r });
  const report = buildStatus({
    config: {
      node: { name: 'me', reach: 'outbound', addresses: [] },
      wireguard: { staticPeers: [] },
    } as unknown as Config,
    self,
    startedAtMs: 0,
    nowWallMs: 1000,
    engine: undefined,
    members: [member(rec('pub')), member(rec('nat2', { reach: 'outbound', endpoints: [] }))],
    memberKeys: new Map(),
  });
  const nat2 = report.peers.find((p) => p.name === 'nat2')!;
  const pub = report.peers.find((p) => p.name === 'pub')!;
  assert.equal(nat2.reach, 'outbound');
  assert.match(nat2.note ?? '', /no path: both nodes are behind NAT/);
  assert.equal(pub.note, undefined);
  assert.equal(report.node.reach, 'outbound');
  const text = renderStatus(report, 1000);
  assert.match(text, /nat2: no path: both nodes are behind NAT/);
  assert.match(text, /reach outbound/);
});
