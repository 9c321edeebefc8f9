// The CNI plugin's pure parts: conf validation (every key hostile, every miss a CNI error with the spec's
// code naming the key), result shaping (prevResult passed on, our interface appended), and the commands
// that touch no namespace (VERSION, bad environment).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConf, decodeConf, supportedVersions } from '../../src/cni/conf.js';
import { CniError } from '../../src/cni/errors.js';
import { addResult } from '../../src/cni/result.js';
import { runCni } from '../../src/cni/plugin.js';

const good = {
  cniVersion: '1.0.0',
  name: 'mesh',
  type: 'tunmesh-cni',
  uid: 65532,
  gid: 65532,
  mtu: 1400,
  addresses: ['198.19.7.3/24', 'fd00:19:7::3/64'],
  routes: ['198.19.250.0/24'],
};

function cniErr(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `not a CniError: ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

test('a good conf parses, with ifName defaulting to tm0 and addresses canonical', () => {
  const c = parseConf({ ...good, addresses: ['198.19.7.3/24', 'FD00:19:7:0::3/64'] });
  assert.equal(c.ifName, 'tm0');
  assert.equal(c.mtu, 1400);
  assert.deepEqual(c.addresses, ['198.19.7.3/24', 'fd00:19:7::3/64']);
  assert.equal(parseConf({ ...good, mtu: undefined }).mtu, 1420);
});

test('bad values are error 7 naming the key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, uid: -1 }, /^uid /],
    [{ ...good, uid: 'root' }, /^uid /],
    [{ ...good, uid: undefined }, /^uid is required/],
    [{ ...good, gid: 1.5 }, /^gid /],
    [{ ...good, mtu: 100 }, /^mtu must be a whole number from 1280 to 9000/],
    [{ ...good, addresses: [] }, /^addresses must list at least one/],
    [{ ...good, addresses: ['198.19.7.3'] }, /^addresses\.0 must be a address CIDR/],
    [{ ...good, routes: ['198.19.250.1/24'] }, /^routes\.0 must be a network prefix with no host bits/],
    [{ ...good, routes: ['fd00::/129'] }, /^routes\.0 /],
    [{ ...good, ifName: 'a/b' }, /^ifName /],
    [{ ...good, ifName: 'x'.repeat(16) }, /^ifName /],
    [{ ...good, type: 'bridge' }, /^type must be "tunmesh-cni"/],
    [{ ...good, name: '' }, /^name /],
    [{ ...good, prevResult: { interfaces: 'eth0' } }, /^prevResult\.interfaces /],
  ];
  for (const [conf, msg] of cases) {
    const e = cniErr(() => parseConf(conf));
    assert.equal(e.code, 7, `${JSON.stringify(conf)}: code ${e.code} ${e.message}`);
    assert.match(e.message, msg);
  }
});

test('an unknown key is error 2 naming the key and its value; an unsupported version error 1; not JSON error 6', () => {
  const e = cniErr(() => parseConf({ ...good, adresses: ['198.19.7.3/24'] }));
  assert.equal(e.code, 2);
  assert.match(e.message, /"adresses"/);
  assert.match(e.details, /198\.19\.7\.3/);
  for (const v of ['0.2.0', '2.0.0', undefined, 7])
    assert.equal(cniErr(() => parseConf({ ...good, cniVersion: v })).code, 1);
  assert.equal(cniErr(() => decodeConf('{"cniVersion":')).code, 6);
  assert.equal(cniErr(() => parseConf([good])).code, 6);
  // The spec's own keys pass (a runtime may add them), and prevResult is kept.
  parseConf({ ...good, args: {}, runtimeConfig: {}, capabilities: {}, dns: {}, ipam: {}, prevResult: {} });
});

test('ADD result: prevResult passed on, our interface appended, ips pointing at it; version per IP before 1.0.0', () => {
  const prevResult = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', mac: '0a:58:0a:f4:00:05', sandbox: '/var/run/netns/x' }],
    ips: [{ address: '10.244.0.5/24', gateway: '10.244.0.1', interface: 0 }],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: { nameservers: ['10.96.0.10'] },
  };
  const r = addResult(parseConf({ ...good, prevResult }), '/var/run/netns/x');
  assert.equal(r.cniVersion, '1.0.0');
  assert.deepEqual(r.interfaces, [...prevResult.interfaces, { name: 'tm0', sandbox: '/var/run/netns/x' }]);
  assert.deepEqual(r.ips, [
    ...prevResult.ips,
    { address: '198.19.7.3/24', interface: 1 },
    { address: 'fd00:19:7::3/64', interface: 1 },
  ]);
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }, { dst: '198.19.250.0/24' }]);
  assert.deepEqual(r.dns, prevResult.dns);
  const old = addResult(parseConf({ ...good, cniVersion: '0.4.0' }), '/x');
  assert.deepEqual(old.ips, [
    { version: '4', address: '198.19.7.3/24', interface: 0 },
    { version: '6', address: 'fd00:19:7::3/64', interface: 0 },
  ]);
  assert.equal(old.cniVersion, '0.4.0');
});

test('VERSION answers the supported versions in the asked version', async () => {
  const out = await runCni({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  assert.equal(out.exitCode, 0);
  assert.deepEqual(JSON.parse(out.stdout), { cniVersion: '0.4.0', supportedVersions: [...supportedVersions] });
});

test('bad environment is error 4 naming the variable; errors are CNI error JSON on stdout', async () => {
  const bad = await runCni({ CNI_COMMAND: 'ATTACH' }, JSON.stringify(good));
  assert.equal(bad.exitCode, 1);
  const e = JSON.parse(bad.stdout) as Record<string, unknown>;
  assert.equal(e.code, 4);
  assert.equal(e.cniVersion, '1.0.0');
  assert.match(String(e.msg), /CNI_COMMAND/);
  const missing = await runCni({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1' }, JSON.stringify(good));
  assert.equal(JSON.parse(missing.stdout).code, 4);
  assert.match(JSON.parse(missing.stdout).msg, /CNI_NETNS, CNI_IFNAME, CNI_PATH/);
  const gone = await runCni(
    {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'c1',
      CNI_NETNS: '/nonexistent/ns',
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/opt/cni/bin',
    },
    JSON.stringify(good),
  );
  assert.equal(JSON.parse(gone.stdout).code, 4);
  assert.match(JSON.parse(gone.stdout).msg, /CNI_NETNS/);
  const conf = await runCni({ CNI_COMMAND: 'ADD' }, JSON.stringify({ ...good, mtu: 'big' }));
  assert.deepEqual(Object.keys(JSON.parse(conf.stdout)).sort(), ['cniVersion', 'code', 'msg']);
  assert.equal(JSON.parse(conf.stdout).code, 7);
});

test('DEL of a namespace that is gone succeeds (the spec: DEL is idempotent)', async () => {
  const out = await runCni(
    { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_NETNS: '/nonexistent/ns', CNI_IFNAME: 'eth0' },
    JSON.stringify(good),
  );
  assert.deepEqual(out, { stdout: '', exitCode: 0 });
});
