// `tunmesh config check` on broken configs: each case must name the key path and the rule, exit 1, and
// never print secret content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeConfigFixture, pool, runCli, type ConfigFixture } from '../helpers/config-fixture.js';

interface Case {
  readonly name: string;
  /** Breaks the fixture (data changes are written by the harness unless `raw` writes the file itself). */
  readonly breakIt: (f: ConfigFixture) => Promise<void> | void;
  /** Expected `<path>: <rule prefix>` lines. */
  readonly expect: readonly string[];
}

const cases: Case[] = [
  { name: 'unknown key at the root', breakIt: (f) => void (f.data.extra = 1), expect: ['extra: unknown key'] },
  {
    name: 'unknown key nested',
    breakIt: (f) => void (f.data.control.tls.verifyHostnme = true),
    expect: ['control.tls.verifyHostnme: unknown key; did you mean "verifyHostname"?'],
  },
  { name: 'missing required key', breakIt: (f) => void delete f.data.node.name, expect: ['node.name: is required'] },
  {
    name: 'missing required section',
    breakIt: (f) => void delete f.data.cluster,
    expect: ['cluster: is required'],
  },
  { name: 'wrong type', breakIt: (f) => void (f.data.tun = { mtu: 'big' }), expect: ['tun.mtu: must be a number'] },
  {
    name: 'empty value',
    breakIt: (f) => void (f.data.logging = { level: null }),
    expect: ['logging.level: has no value'],
  },
  {
    name: 'bad CIDR',
    breakIt: (f) => void (f.data.node.addresses[1] = 'fd00::1/129'),
    expect: ['node.addresses[1]: must be a CIDR like 198.19.0.1/16 or fd00::1/64'],
  },
  {
    name: 'two IPv4 addresses',
    breakIt: (f) => void (f.data.node.addresses = ['198.19.0.1/16', '198.19.0.2/16']),
    expect: ['node.addresses[1]: second IPv4 address'],
  },
  {
    name: 'bad node name',
    breakIt: (f) => void (f.data.node.name = 'Node_A'),
    expect: ['node.name: must be a DNS label'],
  },
  {
    name: 'bad ip:port',
    breakIt: (f) => void (f.data.wireguard = { listen: '198.18.0.1' }),
    expect: ['wireguard.listen: must be ip:port'],
  },
  {
    name: 'IPv6 ip:port without brackets',
    breakIt: (f) => void (f.data.wireguard = { advertise: ['fd00::1:51820'] }),
    expect: ['wireguard.advertise[0]: must be ip:port'],
  },
  {
    name: 'bad URL',
    breakIt: (f) => void (f.data.cluster.bootstrap = ['https://198.18.0.1:4567', 'http://198.18.0.2:4567']),
    expect: ['cluster.bootstrap[1]: must be an https URL'],
  },
  {
    name: 'MTU out of range',
    breakIt: (f) => void (f.data.tun = { mtu: 576 }),
    expect: ['tun.mtu: must be a whole number from 1280 to 9000'],
  },
  {
    name: 'bad enum',
    breakIt: (f) => void (f.data.dataplane = { engine: 'fast' }),
    expect: ['dataplane.engine: must be one of: js, native'],
  },
  {
    name: 'bad base64 key in staticPeers',
    breakIt: (f) =>
      void (f.data.wireguard = {
        staticPeers: [{ name: 'gw', publicKey: 'bm90IGEga2V5', allowedIps: ['198.19.9.0/24'] }],
      }),
    expect: ['wireguard.staticPeers[0].publicKey: must be a WireGuard public key'],
  },
  {
    name: 'staticPeer without allowedIps and with an unknown key',
    breakIt: (f) =>
      void (f.data.wireguard = {
        staticPeers: [
          { name: 'gw', publicKey: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=', allowedIps: [], mtu: 1 },
        ],
      }),
    expect: [
      'wireguard.staticPeers[0].allowedIps: must list at least one CIDR',
      'wireguard.staticPeers[0].mtu: unknown key',
    ],
  },
  {
    name: 'secret file missing',
    breakIt: (f) => void (f.data.cluster.secretFile = 'nope/cluster.secret'),
    expect: ['cluster.secretFile: file /'],
  },
  {
    name: 'secret too short',
    breakIt: (f) => writeFile(join(f.dir, 'cluster.secret'), '  x7Q2-only-19-chars \n'),
    expect: ['cluster.secretFile: the secret in'],
  },
  {
    name: 'private key not 32 bytes of base64',
    breakIt: (f) => writeFile(join(f.dir, 'node.key'), 'AAAA\n'),
    expect: ['node.privateKeyFile: ', 'must hold a key: 32 bytes in base64'],
  },
  {
    name: 'retry min > max',
    breakIt: (f) => void (f.data.membership = { bootstrapRetryMinMs: 5000, bootstrapRetryMaxMs: 1000 }),
    expect: ['membership.bootstrapRetryMinMs: must be ≤ membership.bootstrapRetryMaxMs (1000)'],
  },
  {
    name: 'uid 0',
    breakIt: (f) => void (f.data.process = { uid: 0 }),
    expect: ['process.uid: must be a whole number from 1 to'],
  },
  {
    name: 'YAML syntax error',
    breakIt: (f) => f.write('node:\n  name: a\n addresses: [198.19.0.1/16\n'),
    expect: ['line ', 'YAML syntax error'],
  },
  {
    name: 'several problems at once',
    breakIt: (f) => {
      f.data.tun = { mtu: 70000, name: 'this-name-is-far-too-long' };
      f.data.metrics = { enabled: 'maybe' };
    },
    expect: ['tun.mtu: must be a whole number', 'tun.name: must be 1-15', 'metrics.enabled: must be true or false'],
  },
];

test(`config check rejects ${cases.length} kinds of broken config with path, rule and exit 1`, async () => {
  const results = await pool(
    cases.map((c) => async () => {
      const f = await makeConfigFixture();
      try {
        const before = stringify(f.data);
        await c.breakIt(f);
        if (stringify(f.data) !== before) await f.write();
        const r = await runCli(['config', 'check', f.file]);
        return { c, r, secret: f.secret, privateKey: f.privateKey };
      } finally {
        await f.cleanup();
      }
    }),
  );
  for (const { c, r, secret, privateKey } of results) {
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 1, `${c.name}: exit code\n${out}`);
    assert.match(r.stderr, /^error: /, `${c.name}: starts with error:`);
    assert.match(r.stderr, /\nhint: /, `${c.name}: says what to do next`);
    for (const e of c.expect) assert.ok(out.includes(e), `${c.name}: expected "${e}" in:\n${out}`);
    assert.ok(!out.includes(secret) && !out.includes(privateKey), `${c.name}: secret leaked`);
    assert.ok(!out.includes('x7Q2-only-19-chars'), `${c.name}: short secret leaked`);
    assert.doesNotMatch(r.stdout, /^ok$/m, `${c.name}: printed ok`);
  }
});

test('config check prints ok and exits 0 for a valid config', async () => {
  const f = await makeConfigFixture();
  try {
    const r = await runCli(['config', 'check', f.file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
    assert.ok(!(r.stdout + r.stderr).includes(f.secret));
  } finally {
    await f.cleanup();
  }
});

test('config check applies TUNMESH_* overrides and names the variable of a bad value', async () => {
  const f = await makeConfigFixture();
  try {
    const bad = await runCli(['config', 'check'], {
      env: { ...process.env, TUNMESH_CONFIG: f.file, TUNMESH_TUN__MTU: '100', TUNMESH_NODE__NAMEX: 'b' },
    });
    assert.equal(bad.code, 1);
    assert.ok(
      bad.stderr.includes('tun.mtu: must be a whole number from 1280 to 9000 (set by TUNMESH_TUN__MTU)'),
      bad.stderr,
    );
    assert.ok(bad.stderr.includes('TUNMESH_NODE__NAMEX: no such setting in node'), bad.stderr);
    const good = await runCli(['config', 'check', f.file], { env: { ...process.env, TUNMESH_TUN__MTU: '1380' } });
    assert.equal(good.code, 0, good.stderr);
  } finally {
    await f.cleanup();
  }
});

test('config check on a missing file says it cannot be read and exits 1', async () => {
  const r = await runCli(['config', 'check', '/nonexistent/tunmesh.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*CONFIG_UNREADABLE/);
  assert.ok(r.stderr.includes('/nonexistent/tunmesh.yaml: does not exist'));
});
