// Linux platform pieces that need no root: the system clock passes the clock compliance suite and never
// holds the process open, randomness comes from the OS, the addon loads (or fails with a clear error),
// and IPv4-mapped addresses are normalised. TUN, NetConfig and UDP run in test/netns/platform-linux.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SystemClock } from '../../src/platform/linux/clock.js';
import { CryptoRandom } from '../../src/platform/linux/random.js';
import { loadNative, nativeAvailable } from '../../src/platform/linux/native.js';
import { mapIPv4, unmapIPv4 } from '../../src/platform/ip.js';
import { TunmeshError } from '../../src/base/errors.js';
import { clockCompliance } from '../helpers/platform-compliance.js';

clockCompliance('SystemClock', () => ({
  clock: new SystemClock(),
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
}));

test('SystemClock: a pending timer does not keep the process alive', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { SystemClock } from './src/platform/linux/clock.ts'; new SystemClock().after(60_000, () => {}); console.log('armed');",
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(r.signal, null, 'process had to be killed: the timer held it open');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'armed');
});

test('CryptoRandom: right length, not constant', () => {
  const r = new CryptoRandom();
  const a = r.bytes(32);
  assert.ok(a instanceof Uint8Array);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, r.bytes(32));
  assert.equal(r.bytes(0).length, 0);
});

test('native addon: loads and exposes the TUN functions', () => {
  assert.equal(nativeAvailable(), true);
  const n = loadNative();
  assert.equal(typeof n.openTun, 'function');
  assert.equal(typeof n.writeTun, 'function');
  assert.equal(typeof n.startTunReader, 'function');
  assert.equal(loadNative(), n, 'loaded once');
});

test('native addon: a missing addon is NATIVE_UNAVAILABLE with an install hint', () => {
  assert.throws(
    () => loadNative('@tunmesh/no-such-addon'),
    (err: unknown) =>
      err instanceof TunmeshError &&
      err.code === 'NATIVE_UNAVAILABLE' &&
      /could not be loaded/.test(err.message) &&
      err.hint === 'run npm install (needs g++, make, python3)',
  );
});

test('native addon: argument errors throw TypeError instead of crashing', () => {
  const n = loadNative();
  assert.throws(() => (n.openTun as unknown as (x: number) => void)(5), TypeError);
  assert.throws(() => (n.writeTun as unknown as (fd: string) => void)('x'), TypeError);
  assert.throws(() => n.startTunReader('x' as unknown as number, () => {}), TypeError);
});

test('IPv4-mapped IPv6 addresses are normalised both ways', () => {
  assert.equal(unmapIPv4('::ffff:198.18.0.1'), '198.18.0.1');
  assert.equal(unmapIPv4('::FFFF:198.18.0.1'), '198.18.0.1');
  assert.equal(unmapIPv4('fd00::1'), 'fd00::1');
  assert.equal(unmapIPv4('::ffff:zz'), '::ffff:zz');
  assert.equal(unmapIPv4('198.18.0.1'), '198.18.0.1');
  assert.equal(mapIPv4('198.18.0.1'), '::ffff:198.18.0.1');
});
