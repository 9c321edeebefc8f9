// cluster.routePolicy as a setting (P11): bad grants are refused with an error naming the key, the glob
// rule of the schema is the routing layer's, `config check` warns about routes without a policy, a reload
// puts a new policy in force and re-installs members with only the routes it grants (keepalive reloads
// too), and status and the CLI tables show refused routes with their reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/base/log.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { validateConfigData } from '../../src/config/load.js';
import { routePolicyWarnings } from '../../src/config/policy-warnings.js';
import type { DataPlaneEngine, PeerSpec } from '../../src/dataplane/engine.js';
import { applyReload, planReload } from '../../src/daemon/reload.js';
import { buildStatus } from '../../src/daemon/status.js';
import { renderPeers } from '../../src/cli/peer-table.js';
import { renderStatus } from '../../src/cli/commands/status.js';
import { nodeGlobPattern } from '../../src/routing/route-policy.js';
import { makeConfigFixture, runCli } from '../helpers/config-fixture.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
const keyB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

const data = (patch: (c: Loose) => void = () => undefined): Loose => {
  const c: Loose = {
    node: { name: 'a', addresses: ['198.19.0.1/16'], privateKeyFile: '/k' },
    control: { listen: '127.0.0.1:4567', tls: { certFile: '/c', keyFile: '/k' } },
    cluster: { secretFile: '/s' },
  };
  patch(c);
  return c;
};
const config = (patch?: (c: Loose) => void): Config => configSchema.parse(data(patch));

function issues(grants: unknown): string[] {
  const r = validateConfigData(
    data((c) => (c.cluster.routePolicy = grants)),
    { baseDir: '/', checkFiles: false },
  );
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.rule}`);
}

test('bad grants are refused, each with an issue naming its key', () => {
  const invalidCidr = issues([{ prefix: '198.19.251.0/33', nodes: ['gw'] }]);
  assert.ok(
    invalidCidr.some((i) => i.startsWith('cluster.routePolicy[0].prefix: must be a CIDR')),
    invalidCidr.join(),
  );
  const badGlob = issues([{ prefix: '198.19.251.0/24', nodes: ['gw', 'g w/*'] }]);
  assert.ok(badGlob.some((i) => i.startsWith('cluster.routePolicy[0].nodes[1]: must be a node name or a glob')));
  const unknown = issues([{ prefix: '198.19.251.0/24', nodes: ['gw'], exits: true }]);
  assert.ok(
    unknown.some((i) => i.startsWith('cluster.routePolicy[0].exits')),
    unknown.join(),
  );
  const noNodes = issues([{ prefix: '198.19.251.0/24', nodes: [] }]);
  assert.ok(noNodes.some((i) => i.startsWith('cluster.routePolicy[0].nodes: must list at least one')));
  const notList = issues({ prefix: '198.19.251.0/24' });
  assert.ok(notList.some((i) => i.startsWith('cluster.routePolicy')));
  assert.deepEqual(issues([{ prefix: '198.19.251.7/24', nodes: ['gw-*', 'n?'], exit: true }]), []);
  const c = config((x) => (x.cluster.routePolicy = [{ prefix: '198.19.251.0/24', nodes: ['gw'] }]));
  assert.deepEqual(c.cluster.routePolicy, [{ prefix: '198.19.251.0/24', nodes: ['gw'], exit: false }]);
});

test('the schema’s node glob rule is the routing layer’s', () => {
  for (const s of ['gw-*', 'n?', 'A.b_c-1', '*', 'x'.repeat(64), '', 'x'.repeat(65), 'a b', 'a/b', 'ä', 'a,b'])
    assert.equal(issues([{ prefix: '10.0.0.0/8', nodes: [s] }]).length === 0, nodeGlobPattern.test(s), s);
});

test('config check warns when routes are used without a policy, and not otherwise', () => {
  assert.deepEqual(routePolicyWarnings(config()), []);
  const adv = routePolicyWarnings(config((c) => (c.node.routes = ['198.19.251.0/24'])));
  assert.equal(adv.length, 1);
  assert.equal(adv[0]!.path, 'cluster.routePolicy');
  assert.match(adv[0]!.rule, /node\.routes/);
  assert.equal(routePolicyWarnings(config((c) => (c.tun = { routes: ['198.19.251.0/24'] }))).length, 1);
  const set = config((c) => {
    c.node.routes = ['198.19.251.0/24'];
    c.cluster.routePolicy = [];
  });
  assert.deepEqual(routePolicyWarnings(set), []);
});

const memberB = {
  id: 'b',
  epoch: 1,
  version: 0,
  publicKey: keyB,
  addresses: ['198.19.0.2/16'],
  routes: ['198.19.251.0/24', '198.19.0.3/32'],
  endpoints: ['198.18.0.2:51820'],
  apiUrl: 'https://198.18.0.2:4567',
  methods: ['wireguard'],
};

function fakeEngine() {
  const specs: PeerSpec[] = [];
  const engine: DataPlaneEngine = {
    kind: 'js',
    start: () => undefined,
    upsertPeer: (s: PeerSpec) => void specs.push(s),
    removePeer: () => undefined,
    counters: () => undefined,
    greet: () => undefined,
    onEvent: () => undefined,
    stop: async () => undefined,
  };
  return { engine, specs };
}

test('cluster.routePolicy reloads live; a keepalive reload installs only the accepted routes', async () => {
  const a = config();
  const b = config((c) => (c.cluster.routePolicy = [{ prefix: '198.19.251.0/24', nodes: ['b'] }]));
  assert.deepEqual(planReload(a, b).live, ['cluster.routePolicy']);
  const { engine, specs } = fakeEngine();
  let policy: unknown = 'untouched';
  const { config: now, result } = await applyReload(a, b, {
    log: silentLogger(),
    engine,
    families: new Set([4]),
    memberRecords: () => [memberB as never],
    setDashboard: () => undefined,
    setRoutePolicy: (g) => (policy = g),
  });
  assert.deepEqual(result.applied, ['cluster.routePolicy']);
  assert.deepEqual(policy, b.cluster.routePolicy);
  assert.deepEqual(now.cluster.routePolicy, b.cluster.routePolicy);
  // Without the hook (an embedding that cannot re-decide), it is reported as needing a restart.
  const old = await applyReload(a, b, {
    log: silentLogger(),
    engine,
    families: new Set([4]),
    memberRecords: () => [],
    setDashboard: () => undefined,
  });
  assert.deepEqual(old.result.restartRequired, ['cluster.routePolicy']);
  // A keepalive reload re-installs members with the routes this node accepted, never the record's list.
  await applyReload(
    a,
    config((c) => (c.wireguard = { persistentKeepaliveSec: 9 })),
    {
      log: silentLogger(),
      engine,
      families: new Set([4]),
      memberRecords: () => [memberB as never],
      setDashboard: () => undefined,
      acceptedRoutes: () => ['198.19.251.0/24'],
    },
  );
  assert.deepEqual(specs.at(-1)!.allowedIps, ['198.19.0.2/32', '198.19.251.0/24']);
});

test('status lists refused routes per peer and for this node; the CLI prints them with their reason', () => {
  const refused = new Map([
    ['b', [{ route: '198.19.0.3/32', reason: 'covers_member' as const, member: 'c', address: '198.19.0.3' }]],
    ['a', [{ route: '10.0.0.0/8', reason: 'not_granted' as const }]],
  ]);
  const s = buildStatus({
    config: config(),
    self: { ...memberB, id: 'a', addresses: ['198.19.0.1/16'] },
    startedAtMs: 0,
    nowWallMs: 1000,
    engine: undefined,
    members: [{ id: 'b', state: 'alive', admitted: true, record: memberB, lastSeen: 0 } as never],
    memberKeys: new Map([['b', keyB]]),
    routes: { refused: (id) => refused.get(id) ?? [], policyGrants: 2 },
  });
  assert.deepEqual(s.peers[0]!.refusedRoutes, refused.get('b'));
  assert.deepEqual(s.node.refusedRoutes, refused.get('a'));
  assert.equal(s.node.routePolicyGrants, 2);
  const table = renderPeers(s.peers);
  assert.match(
    table,
    /refused routes \(not installed\):\n {2}b: 198\.19\.0\.3\/32 covers_member \(198\.19\.0\.3 of c\)/,
  );
  const text = renderStatus(s);
  assert.match(text, /route policy 2 grants/);
  assert.match(text, /own route refused by this policy: 10\.0\.0\.0\/8 not_granted/);
  // No refusals: no extra lines, and no field in the rows.
  const clean = buildStatus({
    config: config(),
    self: undefined,
    startedAtMs: 0,
    nowWallMs: 0,
    engine: undefined,
    members: [{ id: 'b', state: 'alive', admitted: true, record: memberB, lastSeen: 0 } as never],
    memberKeys: new Map(),
    routes: { refused: () => [], policyGrants: undefined },
  });
  assert.equal('refusedRoutes' in clean.peers[0]!, false);
  assert.equal(clean.node.routePolicyGrants, null);
  assert.doesNotMatch(renderPeers(clean.peers), /refused/);
  assert.match(renderStatus(clean), /route policy not set/);
});

test('`tunmesh config check` prints the warning for routes without a policy, and `ok`', async () => {
  const fx = await makeConfigFixture({ prefix: 'tunmesh-p11-' });
  try {
    fx.data.node.routes = ['198.19.251.0/24'];
    await fx.write();
    const warned = await runCli(['config', 'check', fx.file]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.equal(warned.stdout, 'ok\n');
    assert.match(warned.stderr, /warning: cluster\.routePolicy: is not set while node\.routes is used/);
    fx.data.cluster.routePolicy = [{ prefix: '198.19.251.0/24', nodes: ['a'] }];
    await fx.write();
    const quiet = await runCli(['config', 'check', fx.file]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /routePolicy/);
    fx.data.cluster.routePolicy = [{ prefix: '198.19.251.0/24', nodes: ['a b'] }];
    await fx.write();
    const bad = await runCli(['config', 'check', fx.file]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /cluster\.routePolicy\[0\]\.nodes\[0\]/);
  } finally {
    await fx.cleanup();
  }
});
