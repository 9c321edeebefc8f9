// Advanced TUN setup on a real node: an extra address and route, the MSS clamp table, and the up/down hooks
// with their environment (the down hook runs after the privilege drop, as the daemon's user).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;
let dir: string;

before(async () => {
  lab = await Lab.create('t5t-', { nodes: 1 });
  dir = await mkdtemp(join(tmpdir(), 'tunmesh-t5t-'));
  await chmod(dir, 0o777);
  for (const phase of ['up', 'down'])
    await writeFile(join(dir, `${phase}.sh`), `#!/bin/sh\nenv | grep ^TUNMESH_ | sort > ${dir}/${phase}.env\n`, {
      mode: 0o755,
    });
  mesh = await Mesh.create(lab, {
    patch: (_node, c) => {
      c.tun = {
        routes: ['198.19.252.0/24'],
        addresses: ['198.19.250.1/32'],
        mssClamp: true,
        upScript: join(dir, 'up.sh'),
        downScript: join(dir, 'down.sh'),
      };
    },
  });
  mesh.start('n1');
  await waitFor(async () => (await mesh.status('n1')).node.name === 'n1', { what: 'n1 up', timeoutMs: 20_000 });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ns = () => lab.node('n1').ns;

test('extra address and route are on the TUN, and the MSS clamp table is installed', async () => {
  assert.match((await lab.exec(ns(), 'ip', ['-4', 'addr', 'show', 'tunmesh0'])).stdout, /198\.19\.250\.1\/32/);
  assert.match((await lab.exec(ns(), 'ip', ['route', 'show', 'dev', 'tunmesh0'])).stdout, /198\.19\.252\.0\/24/);
  const nft = (await lab.exec(ns(), 'nft', ['list', 'table', 'inet', 'tunmesh_tunmesh0'])).stdout;
  assert.match(nft, /maxseg size set rt mtu/);
});

test('the up hook ran with the documented environment; the down hook runs at stop', async () => {
  const up = await readFile(join(dir, 'up.env'), 'utf8');
  assert.match(up, /^TUNMESH_PHASE=up$/m);
  assert.match(up, /^TUNMESH_TUN=tunmesh0$/m);
  assert.match(up, /^TUNMESH_NODE=n1$/m);
  assert.match(up, /^TUNMESH_ADDRESSES=.*198\.19\.250\.1\/32/m);
  assert.match(up, /^TUNMESH_ROUTES=198\.19\.252\.0\/24$/m);
  await mesh.stopAll();
  const down = await readFile(join(dir, 'down.env'), 'utf8');
  assert.match(down, /^TUNMESH_PHASE=down$/m);
});
