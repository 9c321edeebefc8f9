// `config init` writes a process section, so a daemon started from its output drops root after setup
// (security review 2, finding 11): uid/gid 65532 unless --uid/--gid say otherwise; root is not on offer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { makeConfigFixture, pool, runCli } from '../helpers/config-fixture.js';

// Each run names its own node: `config init` writes the node's key file (NAME.key) beside the config and
// refuses to replace one, so runs in parallel must not share a name.
const base = (name: string) => [
  'config',
  'init',
  '--name',
  name,
  '--address',
  '198.19.0.2/16',
  '--listen',
  '0.0.0.0:51820',
  '--api-listen',
  '0.0.0.0:4567',
  '--secret-file',
  'cluster.secret',
  '--cert',
  'tls/cert.pem',
  '--key',
  'tls/key.pem',
];

test('config init writes process.uid/gid: 65532 by default, --uid/--gid otherwise; 0 is refused', async () => {
  const f = await makeConfigFixture({ prefix: 'tunmesh-init-process-' });
  try {
    const [plain, uid, both, root] = await pool([
      () => runCli(base('b1'), { cwd: f.dir }),
      () => runCli([...base('b2'), '--uid', '1000'], { cwd: f.dir }),
      () => runCli([...base('b3'), '--uid', '1000', '--gid', '2000'], { cwd: f.dir }),
      () => runCli([...base('b4'), '--uid', '0'], { cwd: f.dir }),
    ]);
    for (const r of [plain!, uid!, both!]) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parse(plain!.stdout).process, { uid: 65532, gid: 65532 });
    assert.deepEqual(parse(uid!.stdout).process, { uid: 1000, gid: 1000 });
    assert.deepEqual(parse(both!.stdout).process, { uid: 1000, gid: 2000 });
    assert.equal(root!.code, 1);
    assert.match(root!.stderr, /--uid.*must be a whole number from 1 to 4294967294/);
  } finally {
    await f.cleanup();
  }
});
