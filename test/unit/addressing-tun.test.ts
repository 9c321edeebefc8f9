import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hookEnv, mssClampScript, mssTableName } from '../../src/daemon/tun-setup.js';
import type { Config } from '../../src/config/index.js';

const config = {
  node: { name: 'n1', addresses: ['198.19.0.1/24', 'fd00:19::1/64'], routes: ['198.19.251.0/24'] },
  tun: { name: 'tm.0', mtu: 1400, routes: ['198.19.252.0/24'], addresses: ['198.19.250.1/32'] },
} as unknown as Config;

test('the MSS clamp script replaces its own table and clamps SYNs both ways through the device', () => {
  const s = mssClampScript('tm.0');
  assert.equal(mssTableName('tm.0'), 'tunmesh_tm_0');
  assert.match(s, /^table inet tunmesh_tm_0\ndelete table inet tunmesh_tm_0\n/);
  assert.match(s, /oifname "tm\.0" tcp flags syn \/ syn,rst tcp option maxseg size set rt mtu/);
  assert.match(s, /iifname "tm\.0" tcp flags syn/);
});

test('hooks see the documented variables and nothing secret', () => {
  const env = hookEnv(config, 'up');
  assert.equal(env.TUNMESH_PHASE, 'up');
  assert.equal(env.TUNMESH_NODE, 'n1');
  assert.equal(env.TUNMESH_TUN, 'tm.0');
  assert.equal(env.TUNMESH_MTU, '1400');
  assert.equal(env.TUNMESH_ADDRESSES, '198.19.0.1/24 fd00:19::1/64 198.19.250.1/32');
  assert.equal(env.TUNMESH_ROUTES, '198.19.252.0/24');
  assert.equal(env.TUNMESH_ADVERTISED_ROUTES, '198.19.251.0/24');
  assert.deepEqual(
    Object.keys(env).filter((k) => !k.startsWith('TUNMESH_') && k !== 'PATH'),
    [],
  );
  assert.equal(hookEnv(config, 'down').TUNMESH_PHASE, 'down');
});
