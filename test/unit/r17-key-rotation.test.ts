// R17 (live static-key rotation), the pure pieces: which keys may replace the running one, the device's
// identity swap (old sessions and old-key handshakes fail, new-key handshakes work), the engine core
// re-installing every peer under the new key, the membership core pushing the new record at once, the
// operator-token gate, the control route, and the atomic key-file replacement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { Secret } from '../../src/base/secret.js';
import { renderRotate, type RotateReply } from '../../src/cli/commands/key-rotate.js';
import { writeSecretFile } from '../../src/cli/secret-file.js';
import { keyRotateRoute } from '../../src/control/routes/key-rotate.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { planRotation, rotateNodeKey } from '../../src/daemon/key-rotation.js';
import { Ops, type OpsDeps } from '../../src/daemon/ops.js';
import { EngineCore } from '../../src/dataplane/engine-core.js';
import type { DataPlaneEngine } from '../../src/dataplane/engine.js';
import { MembershipCore } from '../../src/membership/core.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { deriveTiming } from '../../src/membership/timing.js';
import { Metrics } from '../../src/metrics/registry.js';
import { ipv4Packet, keyFromSeed, makePair, ofType, sends, Wire } from '../helpers/wg-pair.js';

const pub = (k: Uint8Array): string => encodeKey(publicKeyOf(k));

test('planRotation: a fresh key is accepted; the running key, a member’s key or a short key are refused', () => {
  const running = generatePrivateKey();
  const other = generatePrivateKey();
  const fresh = generatePrivateKey();
  const members: [string, string][] = [['n3', pub(other)]];
  assert.deepEqual(planRotation(pub(running), fresh, members), { ok: true, publicKey: pub(fresh) });
  const same = planRotation(pub(running), running, members);
  assert.equal(same.ok, false);
  assert.equal(!same.ok && same.code, 'KEY_ROTATION_REFUSED');
  const taken = planRotation(pub(running), other, members);
  assert.ok(!taken.ok && /n3 already uses/.test(taken.error));
  assert.equal(planRotation(pub(running), new Uint8Array(31), members).ok, false);
});

test('device: setPrivateKey refuses while peers are installed', () => {
  const { a } = makePair();
  assert.throws(() => a.dev.setPrivateKey(new Secret(keyFromSeed('a2'))), /peers installed/);
});

test('device swap: old sessions and handshakes to the old key fail; the new key handshakes and carries data', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  const ab = ipv4Packet('198.19.0.1', '198.19.0.2', Uint8Array.from([1, 2, 3]));
  w.send(a, ab);
  assert.equal(ofType(w.take(b), 'deliver').length, 1, 'session up before the swap');

  // b rotates: every peer out, the key swapped, the peers back in (EngineCore.replaceIdentity's order).
  const newKey = keyFromSeed('b-rotated');
  b.dev.removePeer(a.key);
  b.dev.setPrivateKey(new Secret(newKey));
  b.dev.addPeer({ publicKey: a.dev.publicKey, endpoint: a.endpoint });
  assert.equal(encodeKey(b.dev.publicKey), pub(newKey));

  // a still holds the old key: its session and a fresh initiation both go nowhere.
  w.take(a);
  w.send(a, ab);
  assert.equal(ofType(w.take(b), 'deliver').length, 0, 'old session refused');
  a.dev.removePeer(b.key);
  a.dev.addPeer({ publicKey: publicKeyOf(keyFromSeed('b')), endpoint: b.endpoint });
  w.take(a);
  w.send(a, ab);
  const lb = w.take(b);
  assert.equal(ofType(lb, 'handshake').length, 0, 'initiation to the old key is not answered');
  assert.equal(sends(lb).length, 0, 'silence towards it');

  // a installs b's new record: the handshake completes and data flows.
  a.dev.removePeer(b.key);
  a.dev.addPeer({ publicKey: b.dev.publicKey, endpoint: b.endpoint });
  w.take(a);
  clock.advance(100);
  w.push(a, a.dev.send(pub(newKey), ab, clock.now));
  w.flush();
  const after = w.take(b);
  assert.equal(ofType(after, 'handshake').length, 1);
  assert.equal(ofType(after, 'deliver').length, 1);
});

test('engine core: replaceIdentity re-installs every peer with its last endpoint, under the new key', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, ipv4Packet('198.19.0.1', '198.19.0.2'));
  // A core around b's device with a's peer as the daemon installed it (no endpoint in the spec).
  b.dev.removePeer(a.key);
  const core = new EngineCore({ device: b.dev, metrics: new Metrics(), log: silentLogger() });
  core.install({ publicKey: a.key, name: 'a', allowedIps: ['198.19.0.1/32'] });
  b.dev.updatePeer(a.key, { endpoint: { host: '198.18.9.9', port: 4000 } });
  const calls: string[] = [];
  core.replaceIdentity(
    new Secret(keyFromSeed('b-new')),
    (k) => {
      calls.push(`remove ${k}`);
      core.uninstall(k);
    },
    (s) => {
      calls.push(`add ${s.publicKey}`);
      core.install(s);
    },
  );
  assert.deepEqual(calls, [`remove ${a.key}`, `add ${a.key}`]);
  assert.equal(encodeKey(b.dev.publicKey), pub(keyFromSeed('b-new')));
  assert.deepEqual(b.dev.peerStatus(a.key)?.endpoint, { host: '198.18.9.9', port: 4000 }, 'learned endpoint kept');
  assert.equal(b.dev.peerStatus(a.key)?.hasSession, false, 'sessions ended');
  assert.deepEqual(core.peers.get(a.key)?.allowedIps, ['198.19.0.1/32']);
});

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  epoch: 100,
  version: 0,
  publicKey: `key-${id}`,
  addresses: [`198.19.0.${id.length}/16`],
  endpoints: [],
  apiUrl: `https://198.18.0.1:4567/${id}`,
  methods: ['wireguard'],
  routes: [],
  ...over,
});

test('membership core: updateSelfNow bumps the version and pushes the record to every live member at once', () => {
  const d = deriveTiming({ probeIntervalMs: 1000, failureTimeoutMs: 10_000, gossipFanout: 1, requestTimeoutMs: 2000 });
  const core = new MembershipCore(rec('me'), d, seededRng(3), 0, {
    log: silentLogger(),
    metrics: undefined,
    auth: trustingAuth,
  });
  core.mergeJoinReply(0, { type: 'join-reply', self: rec('seed'), members: [rec('n2'), rec('n3'), rec('n4')] });
  core.tick(1);
  const acts = core.updateSelfNow({ publicKey: 'rotated' });
  assert.equal(core.self.version, 1);
  assert.equal(core.self.epoch, 100, 'same incarnation: no restart');
  const pushed = acts
    .filter((a) => a.kind === 'send' && a.msg.type === 'gossip')
    .filter(
      (a) =>
        a.kind === 'send' &&
        a.msg.type === 'gossip' &&
        a.msg.updates.some((u) => u.t === 'alive' && u.r.id === 'me' && u.r.publicKey === 'rotated'),
    )
    .map((a) => (a.kind !== 'send' ? '' : typeof a.to === 'string' ? a.to : a.to.id))
    .sort();
  assert.deepEqual(pushed, ['n2', 'n3', 'n4', 'seed']);
});

function opsWith(rotateKey?: OpsDeps['rotateKey']): Ops {
  return new Ops({
    log: silentLogger(),
    configPath: undefined,
    config: () =>
      ({
        node: { addresses: ['198.19.0.1/16'], name: 'n1' },
        wireguard: { staticPeers: [{ name: 'laptop' }] },
      }) as never,
    setConfig: () => undefined,
    status: () => ({ peers: [] }) as never,
    health: () => ({ ok: true }),
    members: () => [],
    memberRecords: () => [],
    engine: () => undefined,
    families: () => new Set([4]),
    client: () => undefined,
    rotateKey,
  });
}

test('ops: rotation needs this node’s operator token; refusals never reach the daemon', async () => {
  const token = 'x'.repeat(40);
  const key = new Secret(generatePrivateKey());
  let called = 0;
  const rotate = () => {
    called++;
    return { ok: true as const, publicKey: 'new', previousPublicKey: 'old', liveMembers: 2 };
  };
  const none = await opsWith(rotate).rotateKey(key, new Secret(token));
  assert.equal(none.ok, false);
  assert.equal(!none.ok && none.code, 'KEY_ROTATION_REFUSED', 'no operator token configured');

  const ops = opsWith(rotate);
  ops.setDashboard(new Secret(token), false);
  const wrong = await ops.rotateKey(key, new Secret('y'.repeat(40)));
  assert.equal(!wrong.ok && wrong.code, 'AUTH_FAILED');
  assert.equal(called, 0);
  assert.equal(
    (await ops.rotateKey(undefined, new Secret('y'.repeat(40)))).ok,
    false,
    'a check with a wrong token fails too',
  );
  assert.deepEqual(await ops.rotateKey(undefined, new Secret(token)), { ok: true, check: true });
  assert.equal(called, 0, 'a check rotates nothing');
  const ok = await ops.rotateKey(key, new Secret(token));
  assert.equal(ok.ok, true);
  assert.deepEqual(
    (ok as { staticPeers?: string[] }).staticPeers,
    ['laptop'],
    'static peers named: they still hold the old key',
  );
  assert.match(renderRotate(ok as RotateReply, '/k'), /static peers laptop know this node by its old key/);
  assert.equal(called, 1);
  assert.ok(!JSON.stringify([none, wrong, ok]).includes(encodeKey(key.expose())), 'the key is never echoed');
});

test('rotateNodeKey: refuses before touching anything when the engine cannot swap; swaps in order otherwise', () => {
  const order = [] as string[];
  const running = generatePrivateKey();
  const self = rec('me', { publicKey: pub(running) });
  const membership = {
    self: () => self,
    members: () => [{ id: 'n2', state: 'alive', record: rec('n2') }],
    rotateIdentity: (_auth: unknown, p: { publicKey: string }) => order.push(`record ${p.publicKey}`),
  };
  const transport = { setSelfKey: (k: Uint8Array) => order.push(`mux ${encodeKey(k)}`) };
  const base = { kind: 'native' } as unknown as DataPlaneEngine;
  const key = generatePrivateKey();
  const r0 = rotateNodeKey({ log: silentLogger(), engine: base, transport, membership }, new Secret(key));
  assert.equal(r0.ok, false);
  assert.equal(order.length, 0, 'nothing touched');
  const engine = { ...base, replaceIdentity: () => order.push('engine') } as DataPlaneEngine;
  const r = rotateNodeKey({ log: silentLogger(), engine, transport, membership }, new Secret(key));
  assert.deepEqual(r, { ok: true, publicKey: pub(key), previousPublicKey: pub(running), liveMembers: 1 });
  assert.deepEqual(order, ['engine', `mux ${pub(key)}`, `record ${pub(key)}`]);
});

test('route: the body is strict; a malformed key is refused with a reason; a good one reaches the provider', async () => {
  let got: Uint8Array | undefined;
  const route = keyRotateRoute({
    rotateKey: async (k) => {
      got = k?.expose();
      return { ok: true };
    },
  });
  assert.equal(route.auth, true);
  assert.equal(route.body!.safeParse({ privateKey: 'a', operatorToken: 'b', extra: 1 }).success, false);
  assert.equal(route.body!.safeParse({ operatorToken: 'b' }).success, false, 'a key or check: true');
  assert.equal(route.body!.safeParse({ check: true, privateKey: 'a', operatorToken: 'b' }).success, false);
  let checked = 0;
  const checkRoute = keyRotateRoute({
    rotateKey: async (k) => {
      if (k === undefined) checked++;
      return { ok: true, check: true };
    },
  });
  await checkRoute.handle({ from: 'cli', body: { check: true, operatorToken: 't' } });
  assert.equal(checked, 1, 'a check reaches the provider without a key');
  const bad = await route.handle({ from: 'cli', body: { privateKey: 'not-a-key', operatorToken: 't' } });
  assert.equal((bad.body as { ok: boolean }).ok, false);
  assert.equal(got, undefined);
  const key = generatePrivateKey();
  await route.handle({ from: 'cli', body: { privateKey: encodeKey(key), operatorToken: 't' } });
  assert.deepEqual(got, key);
});

test('writeSecretFile (keys rotate): replaces the content, mode 0600 even over a looser file, no temp file left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'r17-keyfile-'));
  try {
    const file = join(dir, 'node.key');
    await writeFile(file, 'old\n', { mode: 0o644 });
    await writeSecretFile(file, 'new\n', { replace: true });
    assert.equal(await readFile(file, 'utf8'), 'new\n');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['node.key']);
    await writeSecretFile(join(dir, 'fresh.key'), 'k\n', { replace: true });
    assert.equal((await stat(join(dir, 'fresh.key'))).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
