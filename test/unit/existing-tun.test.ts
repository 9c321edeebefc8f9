// tun.existing without a kernel: the device's state is compared with the config before attaching (missing
// device, down, other MTU, missing address: refused with tun.name and tun.existing named; missing routes:
// a warning), and the config refuses tun.mssClamp with it. The real device is in test/netns/cni-unprivileged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunmeshError } from '../../src/base/errors.js';
import { silentLogger } from '../../src/base/log.js';
import { validateConfigData, type Config } from '../../src/config/index.js';
import { attachExistingTun } from '../../src/daemon/existing-tun.js';
import { canonicalCidr, linkMismatches, type LinkState } from '../../src/platform/linux/link-state.js';
import type { TunDevice } from '../../src/platform/ports.js';

function config(tun: Record<string, unknown>): Config {
  const r = validateConfigData(
    {
      node: { name: 'a', privateKeyFile: '/k', addresses: ['198.19.7.3/24', 'fd00:19:7::3/64'] },
      tun: { existing: true, ...tun },
      control: { tls: { certFile: '/c', keyFile: '/k2' } },
      cluster: { secretFile: '/s' },
    },
    { baseDir: '/', checkFiles: false },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

const fine: LinkState = {
  name: 'tm0',
  up: true,
  mtu: 1420,
  kind: 'tun',
  addresses: ['198.19.7.3/24', 'fd00:19:7::3/64', 'fe80::1/64'],
  routes: ['198.19.7.0/24', 'fd00:19:7::/64'],
};

const device = { name: 'tm0', fd: 3 } as unknown as TunDevice;

async function attach(c: Config, state: LinkState | undefined, opened: string[] = []) {
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((_o: unknown, msg: string) => void warnings.push(msg)) as unknown as typeof log.warn;
  const tun = await attachExistingTun({
    config: c,
    tun: { open: async (n) => (opened.push(n), device) },
    linkState: async () => state,
    extraRoutes: [],
    log,
  });
  return { tun, warnings };
}

async function refusal(c: Config, state: LinkState | undefined): Promise<TunmeshError> {
  const opened: string[] = [];
  try {
    await attach(c, state, opened);
  } catch (e) {
    assert.ok(e instanceof TunmeshError);
    assert.deepEqual(opened, [], 'a refused device is never opened');
    return e;
  }
  assert.fail('attached');
}

test('a device as the config says is attached, without a warning', async () => {
  const opened: string[] = [];
  const { tun, warnings } = await attach(config({ name: 'tm0' }), fine, opened);
  assert.equal(tun, device);
  assert.deepEqual(opened, ['tm0']);
  assert.deepEqual(warnings, []);
});

test('no device: an error naming tun.name and tun.existing, with how to create it', async () => {
  const e = await refusal(config({ name: 'tm0' }), undefined);
  assert.equal(e.code, 'TUN_SETUP_FAILED');
  assert.match(e.message, /tun\.existing is true but there is no device "tm0" \(tun\.name\)/);
  assert.match(e.hint ?? '', /ip tuntap add dev tm0 mode tun user UID/);
});

test('down, another MTU, a missing address or another kind of device: refused, each named', async () => {
  const c = config({ name: 'tm0' });
  assert.match((await refusal(c, { ...fine, up: false })).message, /"tm0" \(tun\.name\) is down/);
  assert.match((await refusal(c, { ...fine, mtu: 1500 })).message, /has MTU 1500, not 1420/);
  const e = await refusal(c, { ...fine, addresses: ['198.19.7.3/24'] });
  assert.match(e.message, /lacks the address fd00:19:7::3\/64/);
  assert.match((await refusal(c, { ...fine, kind: 'veth' })).message, /is a veth device, not a TUN/);
  // The extra tun.addresses count as well.
  const extra = config({ name: 'tm0', addresses: ['198.19.250.1/32'] });
  assert.match((await refusal(extra, fine)).message, /lacks the address 198\.19\.250\.1\/32/);
});

test('missing tun.routes only warn', async () => {
  const { warnings } = await attach(config({ name: 'tm0', routes: ['198.19.251.0/24'] }), fine);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /routes of the config are not on the device/);
});

test('the open failing (not the owner) is explained with tun.name and ownership', async () => {
  const c = config({ name: 'tm0' });
  try {
    await attachExistingTun({
      config: c,
      tun: {
        open: async () => {
          throw new Error('TUNSETIFF tm0: Operation not permitted');
        },
      },
      linkState: async () => fine,
      extraRoutes: [],
      log: silentLogger(),
    });
    assert.fail('attached');
  } catch (e) {
    assert.ok(e instanceof TunmeshError);
    assert.match(
      e.message,
      /tun\.existing: cannot attach to the device "tm0" \(tun\.name\): TUNSETIFF tm0: Operation not permitted/,
    );
    assert.match(e.hint ?? '', /must belong to this process's uid/);
  }
});

test('tun.existing refuses tun.mssClamp (nftables needs privileges)', () => {
  const r = validateConfigData(
    {
      node: { name: 'a', privateKeyFile: '/k', addresses: ['198.19.7.3/24'] },
      tun: { existing: true, mssClamp: true },
      control: { tls: { certFile: '/c', keyFile: '/k2' } },
      cluster: { secretFile: '/s' },
    },
    { baseDir: '/', checkFiles: false },
  );
  assert.equal(r.ok, false);
  if (!r.ok)
    assert.ok(
      r.issues.some((i) => i.path === 'tun.mssClamp' && /tun\.existing/.test(i.rule)),
      JSON.stringify(r.issues),
    );
});

test('addresses compare in canonical spelling', () => {
  assert.equal(canonicalCidr('FD00:0019:0007:0::3/64'), 'fd00:19:7::3/64');
  assert.equal(canonicalCidr('198.19.7.3'), '198.19.7.3/32');
  const r = linkMismatches(
    { ...fine, addresses: ['fd00:19:7::3/64', '198.19.7.3/24'] },
    {
      mtu: 1420,
      addresses: ['FD00:19:7:0:0::3/64', '198.19.7.3/24'],
      routes: ['198.19.7.0/24'],
    },
  );
  assert.deepEqual(r, { errors: [], missingRoutes: [] });
});
