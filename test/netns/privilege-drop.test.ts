// The privilege drop of a daemon started from `config init` output as is (security review 2, finding 11):
// config init writes process.uid/gid 65532, and after the drop EVERY thread of the daemon (Node's, libuv's,
// the inspector's and the native engine's) has that uid, no effective or permitted capability, an empty
// capability bounding set and no_new_privs set.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;

before(async () => {
  lab = await Lab.create('tsml-priv-', { nodes: 1 });
  mesh = await Mesh.create(lab, { runAs: 'init' });
  mesh.start('n1');
  await mesh.waitConverged(['n1'], 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('every thread: uid 65532, CapEff/CapPrm 0, CapBnd 0, NoNewPrivs 1', (t) => {
  const pid = mesh.proc('n1').pid;
  const tasks = readdirSync(`/proc/${pid}/task`);
  assert.ok(tasks.length >= 8, `${tasks.length} threads`);
  const rows = tasks.map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const f = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
    return {
      tid,
      name: f('Name'),
      uid: f('Uid'),
      gid: f('Gid'),
      eff: f('CapEff'),
      prm: f('CapPrm'),
      bnd: f('CapBnd'),
      nnp: f('NoNewPrivs'),
    };
  });
  for (const r of rows) {
    const what = `thread ${r.tid} (${r.name})`;
    assert.equal(r.uid.split(/\s+/).join(' '), '65532 65532 65532 65532', `${what} Uid`);
    assert.equal(r.gid.split(/\s+/).join(' '), '65532 65532 65532 65532', `${what} Gid`);
    assert.equal(r.eff, '0000000000000000', `${what} CapEff`);
    assert.equal(r.prm, '0000000000000000', `${what} CapPrm`);
    assert.equal(r.bnd, '0000000000000000', `${what} CapBnd`);
    assert.equal(r.nnp, '1', `${what} NoNewPrivs`);
  }
  assert.match(mesh.proc('n1').log(), /"noNewPrivs":true[^\n]*dropped privileges/);
  t.diagnostic(`${rows.length} threads checked: ${rows.map((r) => r.name).join(', ')}`);
});
