// Operator commands and the daemon pieces behind them, without a network: reload planning and applying
// (which settings are live, sessions kept by upsert), the bounded event log, traffic rates, the
// topology the dashboard draws, and the CLI's answers when no daemon is listening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/base/log.js';
import { net } from '../../src/base/constants.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { DataPlaneEngine, PeerSpec } from '../../src/dataplane/engine.js';
import { applyReload, planReload } from '../../src/daemon/reload.js';
import { EventLog } from '../../src/daemon/events.js';
import { TrafficSampler } from '../../src/daemon/traffic.js';
import { buildTopology } from '../../src/daemon/topology.js';
import type { PeerStatusRow, StatusReport } from '../../src/daemon/status.js';
import { renderPing } from '../../src/cli/commands/ping.js';
import { renderReload } from '../../src/cli/commands/reload.js';
import { renderPeers } from '../../src/cli/commands/peers.js';
import { makeConfigFixture, runCli } from '../helpers/config-fixture.js';

const keyA = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';
const keyB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function config(patch: (c: Loose) => void = () => undefined): Config {
  const c = {
    node: { name: 'a', addresses: ['198.19.0.1/16'], privateKeyFile: '/k' },
    control: { listen: '127.0.0.1:4567', tls: { certFile: '/c', keyFile: '/k' } },
    cluster: { secretFile: '/s' },
    wireguard: { staticPeers: [{ name: 'gw', publicKey: keyA, allowedIps: ['198.19.100.0/24'] }] },
  };
  patch(c);
  return configSchema.parse(c);
}

/** A mesh member's record, as reload sees it. */
const memberB = {
  id: 'b',
  epoch: 1,
  version: 0,
  publicKey: keyB,
  addresses: ['198.19.0.2/16'],
  routes: [],
  endpoints: ['198.18.0.2:51820'],
  apiUrl: 'https://198.18.0.2:4567',
  methods: ['wireguard'],
};

function fakeEngine() {
  const calls: string[] = [];
  const engine: DataPlaneEngine = {
    kind: 'js',
    start: () => undefined,
    upsertPeer: (s: PeerSpec) => void calls.push(`upsert ${s.name} ka=${s.persistentKeepaliveSec ?? '-'}`),
    removePeer: (k: string) => void calls.push(`remove ${k.slice(0, 4)}`),
    counters: () => undefined,
    greet: () => undefined,
    onEvent: () => undefined,
    stop: async () => undefined,
  };
  return { engine, calls };
}

test('planReload splits changed settings into live and restart-needing ones', () => {
  const a = config();
  const b = config((c) => {
    c.logging = { level: 'debug' };
    c.wireguard.persistentKeepaliveSec = 5;
    c.control.listen = '127.0.0.1:4570';
    c.membership = { probeIntervalMs: 500 };
    c.node.addresses = ['198.19.0.9/16'];
  });
  const p = planReload(a, b);
  assert.deepEqual(p.live, ['logging.level', 'wireguard.persistentKeepaliveSec']);
  assert.deepEqual(p.restart, [
    'control.advertiseUrl',
    'control.listen',
    'membership.probeIntervalMs',
    'node.addresses',
  ]);
  assert.deepEqual(planReload(a, config()), { live: [], restart: [] });
});

test('applyReload applies live settings, keeps running values of the rest, never removes kept peers', async () => {
  const { engine, calls } = fakeEngine();
  const log = silentLogger();
  const a = config();
  const b = config((c) => {
    c.logging = { level: 'warn' };
    c.wireguard.staticPeers = [{ name: 'gw2', publicKey: keyB, allowedIps: ['198.19.101.0/24'] }];
    c.tun = { name: 'other0' };
  });
  let dashboard: boolean | undefined;
  const { config: now, result } = await applyReload(a, b, {
    log,
    engine,
    families: new Set([4]),
    memberRecords: () => [],
    setDashboard: (_t, on) => (dashboard = on),
  });
  assert.equal(log.level, 'warn');
  assert.deepEqual(calls, [`remove ${keyA.slice(0, 4)}`, 'upsert gw2 ka=0']);
  assert.deepEqual(result.applied, ['logging.level', 'wireguard.staticPeers']);
  assert.deepEqual(result.restartRequired, ['tun.name']);
  assert.deepEqual(result.errors, []);
  assert.equal(now.tun.name, 'tunmesh0', 'a restart-needing setting keeps its running value');
  assert.equal(now.wireguard.staticPeers[0]!.name, 'gw2');
  assert.equal(dashboard, undefined, 'dashboard untouched when its settings did not change');
});

test('applyReload re-applies a new keepalive to mesh members by upsert (sessions kept)', async () => {
  const { engine, calls } = fakeEngine();
  const { result } = await applyReload(
    config(),
    config((c) => (c.wireguard.persistentKeepaliveSec = 7)),
    {
      log: silentLogger(),
      engine,
      families: new Set([4]),
      memberRecords: () => [memberB as never],
      setDashboard: () => undefined,
    },
  );
  assert.deepEqual(result.applied, ['wireguard.persistentKeepaliveSec']);
  assert.deepEqual(calls, ['upsert gw ka=7', 'upsert b ka=7']);
  assert.ok(!calls.some((c) => c.startsWith('remove')));
});

test('applyReload behind NAT: a keepalive reloaded to 0 means the NAT keepalive for mesh members', async () => {
  const { engine, calls } = fakeEngine();
  const outbound = (ka: number) =>
    config((c) => {
      c.node.reach = 'outbound';
      c.wireguard.persistentKeepaliveSec = ka;
    });
  await applyReload(outbound(7), outbound(0), {
    log: silentLogger(),
    engine,
    families: new Set([4]),
    memberRecords: () => [memberB as never],
    setDashboard: () => undefined,
  });
  assert.ok(calls.includes(`upsert b ka=${net.natKeepaliveSec}`), calls.join(', '));
});

test('an unreadable new operator token is reported and the old one stays', async () => {
  let set = 0;
  const { result } = await applyReload(
    config(),
    config((c) => (c.control.operatorTokenFile = '/nonexistent/tp9-token')),
    {
      log: silentLogger(),
      engine: undefined,
      families: new Set([4]),
      memberRecords: () => [],
      setDashboard: () => set++,
    },
  );
  assert.equal(set, 0);
  assert.equal(result.errors.length, 1);
  assert.match(result.errors[0]!, /operatorTokenFile.*cannot be read.*previous token stays/);
});

test('EventLog is bounded, counts what it drops and lists after a sequence number', () => {
  const log = new EventLog(3, () => 0);
  for (let i = 0; i < 5; i++) log.add('join', `n${i}`);
  assert.equal(log.dropped, 2);
  assert.deepEqual(
    log.list().map((e) => e.peer),
    ['n2', 'n3', 'n4'],
  );
  assert.deepEqual(
    log.list(4).map((e) => e.seq),
    [5],
  );
  assert.deepEqual(
    log.list(0, 1).map((e) => e.seq),
    [5],
  );
});

test('TrafficSampler derives rates from counter deltas and treats a counter reset as no traffic', () => {
  let t = 0;
  let rows = [{ name: 'b', rxBytes: 0, txBytes: 0 }];
  const s = new TrafficSampler({ rows: () => rows, rttMs: () => 1.5, now: () => t, points: 2 });
  s.sample();
  assert.equal(s.rates('b'), undefined);
  t = 2000;
  rows = [{ name: 'b', rxBytes: 4000, txBytes: 1000 }];
  s.sample();
  assert.deepEqual(s.rates('b'), { rxBps: 2000, txBps: 500 });
  t = 3000;
  rows = [{ name: 'b', rxBytes: 10, txBytes: 10 }];
  s.sample();
  assert.deepEqual(s.rates('b'), { rxBps: 0, txBps: 0 });
  t = 4000;
  s.sample();
  assert.equal(s.history().b!.length, 2, 'ring keeps `points` samples');
  rows = [];
  s.sample();
  assert.deepEqual(s.history(), {});
});

const row = (name: string, state: string, rttMs: number | null, hs: string | null): PeerStatusRow => ({
  name,
  kind: 'mesh',
  state,
  publicKey: keyA,
  addresses: [`198.19.0.${name.charCodeAt(0)}/32`],
  endpoint: null,
  method: 'wireguard',
  lastHandshake: hs,
  rxBytes: 0,
  txBytes: 0,
  rxPackets: 0,
  txPackets: 0,
  lastSeen: null,
  rttMs,
  rxBps: 10,
  txBps: 20,
});
const report = (name: string, peers: PeerStatusRow[]): StatusReport => ({
  node: {
    name,
    publicKey: null,
    addresses: [],
    endpoints: [],
    apiUrl: null,
    engine: 'js',
    startedAt: '',
    uptimeSec: 0,
  },
  peers,
});

test('buildTopology: nodes from this view, links from every view, dead and vanished nodes are down', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const hs = new Date(now - 1000).toISOString();
  const own = report('a', [row('b', 'alive', 0.5, hs), row('c', 'alive', null, hs), row('d', 'dead', null, hs)]);
  const remote = new Map([['b', report('b', [row('a', 'alive', 0.6, hs), row('c', 'alive', 0.9, hs)])]]);
  const t = buildTopology(own, remote, new Set(['e']), now);
  const state = Object.fromEntries(t.nodes.map((n) => [n.name, n.state]));
  assert.deepEqual(state, { a: 'up', b: 'up', c: 'up', d: 'down', e: 'down' });
  const links = Object.fromEntries(t.links.map((l) => [`${l.source}-${l.target}`, [l.state, l.rttMs]]));
  assert.deepEqual(links, {
    'a-b': ['up', 0.5],
    'a-c': ['up', null],
    'a-d': ['down', null],
    'b-c': ['up', 0.9],
  });
  const stale = buildTopology(own, new Map(), new Set(), now + 200_000);
  assert.equal(stale.links.find((l) => l.target === 'b')!.state, 'idle');
});

test('renderers: ping summary, reload outcome, peers table with RTT', () => {
  const p = renderPing({
    node: 'b',
    address: '198.19.0.2',
    method: 'wireguard',
    sent: 3,
    received: 2,
    rttMs: [0.5, null, 1.5],
    minMs: 0.5,
    avgMs: 1,
    maxMs: 1.5,
  });
  assert.match(p, /seq=2 timeout/);
  assert.match(p, /3 sent, 2 received, 33% loss/);
  assert.match(p, /rtt min\/avg\/max = 0.500\/1.000\/1.500 ms/);
  const r = renderReload({ ok: true, applied: ['logging.level'], restartRequired: ['tun.name'], errors: [] });
  assert.match(r, /applied live: logging.level/);
  assert.match(r, /needs a restart .*tun.name/);
  assert.match(renderPeers([row('b', 'alive', 0.25, null)]), /RTT[\s\S]*0\.25 ms/);
});

test('operator commands without a running daemon say what to do next', async () => {
  const f = await makeConfigFixture({ prefix: 'tp9-cli-ops-' });
  try {
    f.data.control.listen = '127.0.0.1:1'; // nothing listens on port 1
    await f.write();
    // Operator commands need the operator token: without control.operatorTokenFile the CLI says so.
    for (const args of [['status'], ['peers'], ['ping', 'b'], ['reload']]) {
      const r = await runCli([...args, '-c', f.file]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: operator commands need the operator token.*control\.operatorTokenFile/m);
    }
    await writeFile(join(f.dir, 'operator.token'), `${'t'.repeat(40)}\n`, { mode: 0o600 });
    (f.data.control as Record<string, unknown>).operatorTokenFile = 'operator.token';
    await f.write();
    for (const args of [['peers'], ['ping', 'b'], ['reload']]) {
      const r = await runCli([...args, '-c', f.file]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: .*\[PEER_UNREACHABLE\]/m);
      assert.match(r.stderr, /hint: is the daemon running/);
      assert.ok(!r.stderr.includes(f.secret));
    }
  } finally {
    await f.cleanup();
  }
});

test('peers, ping and reload have --help with examples and appear in the bash completion', async () => {
  for (const cmd of ['peers', 'ping', 'reload']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`Usage: tunmesh ${cmd}`));
    assert.match(r.stdout, /-c, --config <file>/);
    assert.match(r.stdout, /\nExamples:\n {2}\$ tunmesh /);
  }
  assert.match((await runCli(['reload', '--help'])).stdout, /live:\s+logging\.level,\s+wireguard\.staticPeers/);
  const completion = (await runCli(['completion', 'bash'])).stdout;
  for (const w of ['peers', 'ping', 'reload']) assert.ok(completion.includes(w), `completion knows ${w}`);
});

test('RttMonitor answers only exact 16-byte probes, with the same size, and times its own probes', async () => {
  const { RttMonitor } = await import('../../src/daemon/rtt.js');
  const { createSocket } = await import('node:dgram');
  const port = 40000 + Math.floor(Math.random() * 20000);
  const m = new RttMonitor({ addresses: ['127.0.0.1/8'], port, log: silentLogger(), intervalMs: 60_000 });
  await m.start();
  const s = createSocket('udp4');
  try {
    const ms = await m.probe('127.0.0.1', 2000);
    assert.ok(ms !== undefined && ms >= 0, 'a probe to itself is answered');
    const replies: Buffer[] = [];
    s.on('message', (b) => replies.push(b));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer) => new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));
    await send(Buffer.concat([Buffer.from('TMRQ'), Buffer.alloc(13)])); // 17 bytes: ignored
    await send(Buffer.concat([Buffer.from('XXXX'), Buffer.alloc(12)])); // wrong magic: ignored
    await send(Buffer.concat([Buffer.from('TMRP'), Buffer.alloc(12)])); // unsolicited reply: ignored
    await send(Buffer.concat([Buffer.from('TMRQ'), Buffer.alloc(12, 7)]));
    await waitUntil(() => replies.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(replies.length, 1);
    assert.deepEqual(replies[0], Buffer.concat([Buffer.from('TMRP'), Buffer.alloc(12, 7)]));
    assert.equal(await m.probe('127.0.0.2', 200), undefined, 'no responder there: timeout');
    m.setTargets(new Map([['self', ['127.0.0.1/8']]]));
    assert.equal(m.stats('self'), undefined, 'no samples before the first round');
  } finally {
    s.close();
    m.stop();
  }
});

async function waitUntil(f: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 20));
}
