// loadConfig / readSecrets in-process: defaults, path resolution, env overrides, error shape, secrecy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { net } from '../../src/base/constants.js';
import {
  ConfigError,
  loadConfig,
  readSecrets,
  secretFileWarnings,
  parseCidr,
  parseHostPort,
  derivedAdvertiseUrl,
} from '../../src/config/index.js';
import { decodeKey, encodeKey, generatePrivateKey } from '../../src/crypto/keys.js';
import { makeConfigFixture, type ConfigFixture } from '../helpers/config-fixture.js';

async function withFixture(fn: (f: ConfigFixture) => Promise<void>): Promise<void> {
  const f = await makeConfigFixture();
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

async function loadError(f: ConfigFixture, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  try {
    await loadConfig(f.file, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('loadConfig accepted a broken config');
}

test('defaults are filled in and relative file paths become absolute, relative to the config file', async () => {
  await withFixture(async (f) => {
    const c = await loadConfig(f.file, {});
    assert.equal(c.tun.mtu, net.defaultTunMtu);
    assert.equal(c.tun.name, 'tunmesh0');
    assert.equal(c.wireguard.listen, '0.0.0.0:51820');
    assert.deepEqual(c.wireguard.staticPeers, []);
    assert.equal(c.dataplane.engine, 'native');
    assert.equal(c.membership.failureTimeoutMs, 10_000);
    assert.equal(c.logging.level, 'info');
    assert.equal(c.metrics.enabled, true);
    assert.equal(c.process.uid, undefined);
    assert.equal(c.node.privateKeyFile, join(f.dir, 'node.key'));
    assert.equal(c.control.tls.certFile, join(f.dir, 'tls/cert.pem'));
    assert.equal(c.cluster.secretFile, join(f.dir, 'cluster.secret'));
  });
});

test('addresses are canonicalised and advertiseUrl is derived from a specific listen address', async () => {
  await withFixture(async (f) => {
    f.data.node.addresses = ['198.19.0.7/16', 'FD00:19:0:0::0007/64'];
    f.data.control.listen = '[fd00::1]:4567';
    await f.write();
    const c = await loadConfig(f.file, {});
    assert.deepEqual(c.node.addresses, ['198.19.0.7/16', 'fd00:19::7/64']);
    assert.equal(c.control.advertiseUrl, 'https://[fd00::1]:4567');
  });
  assert.equal(derivedAdvertiseUrl('0.0.0.0:4567'), '');
  assert.equal(derivedAdvertiseUrl('[::]:4567'), '');
  assert.equal(derivedAdvertiseUrl('198.18.0.1:0'), '');
  assert.equal(derivedAdvertiseUrl('198.18.0.1:4567'), 'https://198.18.0.1:4567');
});

test('address parsers accept the documented forms and reject the rest', () => {
  assert.deepEqual(parseCidr('198.19.0.1/16'), { family: 4, address: '198.19.0.1', prefixLength: 16 });
  assert.deepEqual(parseCidr('fd00::1/128'), { family: 6, address: 'fd00::1', prefixLength: 128 });
  for (const bad of [
    '198.19.0.1',
    '198.19.0.1/33',
    '198.19.0.256/16',
    'fd00::1/129',
    'fd00::1%eth0/64',
    '01.2.3.4/8',
    ' 1.2.3.4/8',
  ])
    assert.equal(parseCidr(bad), undefined, bad);
  assert.deepEqual(parseHostPort('[::]:51820', { allowPortZero: true }), { family: 6, host: '::', port: 51820 });
  assert.deepEqual(parseHostPort('198.18.0.1:1'), { family: 4, host: '198.18.0.1', port: 1 });
  for (const bad of ['198.18.0.1:0', '198.18.0.1:65536', 'fd00::1:5', '[198.18.0.1]:5', 'host:5', '198.18.0.1'])
    assert.equal(parseHostPort(bad), undefined, bad);
});

test('environment overrides: __ paths, case and _ ignored, coercion by type, lists as CSV or JSON', async () => {
  await withFixture(async (f) => {
    const peers = [{ name: 'gw', publicKey: encodeKey(generatePrivateKey()), allowedIps: ['198.19.50.0/24'] }];
    const c = await loadConfig(f.file, {
      TUNMESH_NODE__NAME: 'b',
      TUNMESH_CLUSTER__BOOTSTRAP: 'https://198.18.0.1:4567, https://tunmesh.example.svc:4567',
      TUNMESH_WIREGUARD__PERSISTENT_KEEPALIVE_SEC: '25',
      TUNMESH_WIREGUARD__ADVERTISE: '["198.18.0.9:51820"]',
      TUNMESH_WIREGUARD__STATIC_PEERS: JSON.stringify(peers),
      TUNMESH_CONTROL__TLS__VERIFY_HOSTNAME: 'true',
      TUNMESH_Membership__probeIntervalMs: '250',
      TUNMESH_LOGGING__LEVEL: 'debug',
      TUNMESH_METRICS__ENABLED: 'no',
      TUNMESH_CONFIG: '/ignored.yaml',
      TUNMESH_DEBUG: '1',
    });
    assert.equal(c.node.name, 'b');
    assert.deepEqual(c.cluster.bootstrap, ['https://198.18.0.1:4567', 'https://tunmesh.example.svc:4567']);
    assert.equal(c.wireguard.persistentKeepaliveSec, 25);
    assert.deepEqual(c.wireguard.advertise, ['198.18.0.9:51820']);
    assert.deepEqual(c.wireguard.staticPeers, peers);
    assert.equal(c.control.tls.verifyHostname, true);
    assert.equal(c.membership.probeIntervalMs, 250);
    assert.equal(c.logging.level, 'debug');
    assert.equal(c.metrics.enabled, false);
    const empty = await loadConfig(f.file, { TUNMESH_CLUSTER__BOOTSTRAP: '' });
    assert.deepEqual(empty.cluster.bootstrap, []);
  });
});

test('bad overrides are issues that name the variable', async () => {
  await withFixture(async (f) => {
    const e = await loadError(f, {
      TUNMESH_NODE__COLOUR: 'red',
      TUNMESH_TUN__MTU__X: '1',
      TUNMESH_WIREGUARD__STATIC_PEERS: 'gw',
      TUNMESH_MEMBERSHIP__GOSSIP_FANOUT: 'many',
    });
    const byPath = new Map(e.issues.map((i) => [i.path, i.rule]));
    assert.match(byPath.get('TUNMESH_NODE__COLOUR') ?? '', /no such setting in node/);
    assert.match(byPath.get('TUNMESH_TUN__MTU__X') ?? '', /has no sub-settings/);
    assert.match(byPath.get('TUNMESH_WIREGUARD__STATIC_PEERS') ?? '', /JSON list/);
    assert.match(byPath.get('membership.gossipFanout') ?? '', /\(set by TUNMESH_MEMBERSHIP__GOSSIP_FANOUT\)$/);
    assert.equal(e.code, 'CONFIG_INVALID');
  });
});

test('ConfigError carries every issue and formats one per line as <path>: <rule>', async () => {
  await withFixture(async (f) => {
    f.data.node.addresses = ['198.19.0.1/16', 'nope'];
    f.data.tun = { mtu: 1 };
    f.data.node.privateKeyFile = 'missing.key';
    await f.write();
    const e = await loadError(f);
    assert.deepEqual(
      e.issues.map((i) => i.path),
      ['node.addresses[1]', 'tun.mtu', 'node.privateKeyFile'],
    );
    assert.equal(e.issues[0]!.rule, 'must be a CIDR like 198.19.0.1/16 or fd00::1/64');
    const lines = e.message.split('\n');
    assert.equal(lines[0], `${f.file}: 3 problems`);
    assert.deepEqual(
      lines.slice(1),
      e.issues.map((i) => `${i.path}: ${i.rule}`),
    );
  });
});

test('a missing named file alone is CONFIG_UNREADABLE; YAML errors carry line and column', async () => {
  await withFixture(async (f) => {
    f.data.control.tls.keyFile = 'tls/none.pem';
    await f.write();
    const e = await loadError(f);
    assert.equal(e.code, 'CONFIG_UNREADABLE');
    assert.deepEqual(e.issues, [
      { path: 'control.tls.keyFile', rule: `file ${join(f.dir, 'tls/none.pem')} does not exist` },
    ]);
    await f.write('node:\n  name: a\n  name: b\n');
    const y = await loadError(f);
    assert.equal(y.issues[0]!.path, 'line 3, column 3');
    assert.match(y.issues[0]!.rule, /^YAML syntax error: Map keys must be unique/);
    await f.write('');
    assert.deepEqual((await loadError(f)).issues[0], { path: 'node', rule: 'is required' });
  });
});

test('readSecrets returns redacted secrets; its errors never contain secret content', async () => {
  await withFixture(async (f) => {
    const psk = encodeKey(generatePrivateKey());
    await writeFile(join(f.dir, 'gw.psk'), psk);
    f.data.wireguard = {
      staticPeers: [
        {
          name: 'gw',
          publicKey: encodeKey(generatePrivateKey()),
          allowedIps: ['198.19.9.0/24'],
          presharedKeyFile: 'gw.psk',
        },
      ],
    };
    await f.write();
    const s = await readSecrets(await loadConfig(f.file, {}));
    assert.equal(s.cluster.expose(), f.secret);
    assert.deepEqual(s.privateKey.expose(), decodeKey(f.privateKey));
    assert.deepEqual(s.staticPeerPsks.get('gw')?.expose(), decodeKey(psk));
    const shown = `${inspect(s, { depth: 5 })} ${JSON.stringify({ ...s, staticPeerPsks: [...s.staticPeerPsks] })} ${String(s.cluster)}`;
    for (const secret of [f.secret, f.privateKey, psk]) assert.ok(!shown.includes(secret));

    const tooShort = 'Sh0rt-but-secret-31-characters!';
    await writeFile(join(f.dir, 'cluster.secret'), `\n ${tooShort} \n`);
    await writeFile(join(f.dir, 'node.key'), f.secret);
    await writeFile(join(f.dir, 'gw.psk'), 'c2VjcmV0');
    const config = await loadConfig(f.file, {});
    const e = await readSecrets(config).then(
      () => assert.fail('accepted bad secrets'),
      (err: unknown) => err as ConfigError,
    );
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.deepEqual(
      e.issues.map((i) => i.path),
      ['cluster.secretFile', 'node.privateKeyFile', 'wireguard.staticPeers[0].presharedKeyFile'],
    );
    assert.match(e.issues[0]!.rule, /too short: it must be at least 32 characters/);
    const text = `${e.message} ${e.hint ?? ''} ${inspect(e)}`;
    for (const secret of [tooShort, f.secret, 'c2VjcmV0']) assert.ok(!text.includes(secret), 'secret leaked');
  });
});

test('secret files readable by other users produce warnings, not errors', async () => {
  await withFixture(async (f) => {
    const config = await loadConfig(f.file, {});
    assert.deepEqual(await secretFileWarnings(config), []);
    await chmod(join(f.dir, 'cluster.secret'), 0o644);
    const warnings = await secretFileWarnings(config);
    assert.deepEqual(
      warnings.map((w) => w.path),
      ['cluster.secretFile'],
    );
    assert.match(warnings[0]!.rule, /readable by other users \(mode 0644\); chmod 600 it$/);
    await readSecrets(config); // still usable
  });
});
