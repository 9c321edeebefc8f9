// Secret files and the CLI (security review 2, findings 8 and 9). Every generator writes its secret at
// mode 0600 through a temporary file and a rename, also over an existing looser file with --force, and
// refuses a symlink at the path instead of writing through it. `config check` treats the operator token
// file like the other secrets: a mode warning, and an error naming the key when it is too short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeConfigFixture, pool, runCli } from '../helpers/config-fixture.js';

const mode = async (f: string) => (await stat(f)).mode & 0o777;

test('--force over an existing 0644 file leaves a 0600 file with the new secret (keys, secret, cert)', async () => {
  const f = await makeConfigFixture({ prefix: 'tunmesh-secret-files-' });
  try {
    const key = join(f.dir, 'k1.key');
    const secret = join(f.dir, 's1.secret');
    const certDir = join(f.dir, 'tls2');
    await runCli(['cert', 'generate', '--out-dir', certDir]);
    for (const x of [key, secret]) await writeFile(x, 'old\n', { mode: 0o644 });
    await chmod(join(certDir, 'key.pem'), 0o644);
    const oldPem = await readFile(join(certDir, 'key.pem'), 'utf8');
    const runs = await pool([
      () => runCli(['keys', 'generate', '--out', key, '--force']),
      () => runCli(['secret', 'generate', '--out', secret, '--force']),
      () => runCli(['cert', 'generate', '--out-dir', certDir, '--force']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    for (const file of [key, secret, join(certDir, 'key.pem')]) {
      assert.equal(await mode(file), 0o600, file);
      assert.ok((await lstat(file)).isFile());
    }
    assert.notEqual(await readFile(key, 'utf8'), 'old\n');
    assert.notEqual(await readFile(secret, 'utf8'), 'old\n');
    assert.notEqual(await readFile(join(certDir, 'key.pem'), 'utf8'), oldPem);
    // No temporary file is left behind.
    assert.deepEqual((await readdir(certDir)).sort(), ['cert.pem', 'key.pem']);
    assert.ok(!(await readdir(f.dir)).some((n) => n.endsWith('.tmp')));
  } finally {
    await f.cleanup();
  }
});

test('a symlink at the target is refused, with or without --force; the file it points to is unchanged', async () => {
  const f = await makeConfigFixture({ prefix: 'tunmesh-secret-links-' });
  try {
    const victim = join(f.dir, 'victim.txt');
    await writeFile(victim, 'precious\n', { mode: 0o644 });
    const certDir = join(f.dir, 'tls3');
    await runCli(['cert', 'generate', '--out-dir', certDir]);
    await symlink(victim, join(f.dir, 'link.key'));
    await symlink(victim, join(f.dir, 'link.secret'));
    await symlink(join(f.dir, 'missing-target'), join(f.dir, 'dangling.key'));
    const keyPem = join(certDir, 'key.pem');
    await rm(keyPem);
    await symlink(victim, keyPem);
    const runs = await pool([
      () => runCli(['keys', 'generate', '--out', join(f.dir, 'link.key'), '--force']),
      () => runCli(['secret', 'generate', '--out', join(f.dir, 'link.secret'), '--force']),
      () => runCli(['cert', 'generate', '--out-dir', certDir, '--force']),
      () => runCli(['keys', 'generate', '--out', join(f.dir, 'dangling.key')]),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /is a symbolic link; refusing to write a secret through it/);
    }
    assert.equal(await readFile(victim, 'utf8'), 'precious\n');
    assert.equal(await mode(victim), 0o644);
    assert.ok((await lstat(join(f.dir, 'dangling.key'))).isSymbolicLink());
    await assert.rejects(stat(join(f.dir, 'missing-target')), { code: 'ENOENT' });
  } finally {
    await f.cleanup();
  }
});

test('config check: a 0644, 13-character operator token is an error naming the key, with a mode warning', async () => {
  const f = await makeConfigFixture({ prefix: 'tunmesh-token-check-' });
  try {
    const token = join(f.dir, 'operator.token');
    await writeFile(token, 'short-token-1\n', { mode: 0o644 });
    f.data.control.operatorTokenFile = 'operator.token';
    await f.write();
    const bad = await runCli(['config', 'check', f.file]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(
      bad.stderr,
      /control\.operatorTokenFile: the token in .*operator\.token is too short: it must be at least 32/,
    );
    assert.ok(!bad.stderr.includes('short-token-1'), 'the token itself is never printed');

    await writeFile(token, `${'t'.repeat(40)}\n`);
    const warned = await runCli(['config', 'check', f.file]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.equal(warned.stdout, 'ok\n');
    assert.match(warned.stderr, /warning: control\.operatorTokenFile: .*readable by other users \(mode 0644\)/);

    await chmod(token, 0o600);
    const clean = await runCli(['config', 'check', f.file]);
    assert.deepEqual([clean.code, clean.stdout, clean.stderr], [0, 'ok\n', '']);

    f.data.control.operatorTokenFile = 'no-such.token';
    await f.write();
    const missing = await runCli(['config', 'check', f.file]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /control\.operatorTokenFile: file .*no-such\.token does not exist/);
  } finally {
    await f.cleanup();
  }
});

test('config check: a short or world-readable metrics token is refused / warned about, naming control.metricsTokenFile', async () => {
  const f = await makeConfigFixture({ prefix: 'tunmesh-metrics-token-' });
  try {
    const token = join(f.dir, 'metrics.token');
    await writeFile(token, 'short-metrics\n', { mode: 0o644 });
    (f.data.control as Record<string, unknown>).metricsTokenFile = 'metrics.token';
    await f.write();
    const bad = await runCli(['config', 'check', f.file]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, /control\.metricsTokenFile: the token in .*metrics\.token is too short/);
    assert.ok(!bad.stderr.includes('short-metrics'), 'the token itself is never printed');
    await writeFile(token, `${'m'.repeat(40)}\n`);
    const warned = await runCli(['config', 'check', f.file]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /warning: control\.metricsTokenFile: .*readable by other users \(mode 0644\)/);
  } finally {
    await f.cleanup();
  }
});
