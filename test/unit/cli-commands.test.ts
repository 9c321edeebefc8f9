// The daemon-less CLI commands, run as a user would: `node --import tsx src/cli/main.ts ...`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { allSettings } from '../../src/config/introspect.js';
import { decodeKey, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { cleanEnv, makeConfigFixture, pool, runCli } from '../helpers/config-fixture.js';

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

test('every command has --help with an Examples section, exiting 0', async () => {
  const paths = [[], ...commandPaths(buildProgram())].filter((p) => p[p.length - 1] !== 'help');
  assert.ok(paths.length >= 12, `found ${paths.length} commands`);
  const results = await pool(paths.map((p) => () => runCli([...p, '--help'])));
  results.forEach((r, i) => {
    const name = ['tunmesh', ...paths[i]!].join(' ');
    assert.equal(r.code, 0, `${name} --help exit code`);
    assert.match(r.stdout, /\nExamples:\n {2}\$ .*tunmesh/, `${name} --help has Examples`);
  });
});

test('usage errors print error: with a next step and exit 1', async () => {
  const [unknown, missing] = await pool([() => runCli(['confg']), () => runCli(['cert', 'generate'])]);
  assert.equal(unknown!.code, 1);
  assert.match(unknown!.stderr, /^error: unknown command 'confg'/);
  assert.match(unknown!.stderr, /--help/);
  assert.equal(missing!.code, 1);
  assert.match(missing!.stderr, /error: required option '--out-dir <dir>' not specified/);
});

test('config example is YAML with every setting documented, and passes check once placeholders are real', async () => {
  const f = await makeConfigFixture();
  try {
    const [plain, all] = await pool([
      () => runCli(['config', 'example']),
      () => runCli(['config', 'example', '--all']),
    ]);
    assert.equal(plain!.code, 0);
    parse(plain!.stdout); // throws on invalid YAML
    for (const s of allSettings()) {
      assert.ok(
        plain!.stdout.includes(`${s.required ? '[REQUIRED]' : '[optional]'} ${s.key} (`),
        `${s.path} documented`,
      );
      assert.ok(plain!.stdout.includes(s.meta.description), `${s.path} description`);
    }
    assert.match(plain!.stdout, /# Default: 1420\n/);
    assert.match(plain!.stdout, /# Unit: milliseconds\n/);
    // Fill the placeholders: the example's /etc/tunmesh/... files become the fixture's files.
    const fill = (text: string): string =>
      text
        .replaceAll('/etc/tunmesh/tls/', `${f.dir}/tls/`)
        .replaceAll('/etc/tunmesh/node.key', `${f.dir}/node.key`)
        .replaceAll('/etc/tunmesh/', `${f.dir}/`);
    assert.ok(!parse(fill(all!.stdout)).toString().includes('/etc/tunmesh'));
    await writeFile(join(f.dir, 'tls', 'ca.pem'), await readFile(join(f.dir, 'tls', 'cert.pem')));
    await writeFile(join(f.dir, 'office-gw.psk'), f.privateKey);
    await writeFile(join(f.dir, 'operator.token'), `operator-${f.secret}`, { mode: 0o600 });
    await writeFile(join(f.dir, 'metrics.token'), `metrics-${f.secret}`, { mode: 0o600 });
    for (const hook of ['up.sh', 'down.sh']) await writeFile(join(f.dir, hook), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(f.dir, 'plain.yaml'), fill(plain!.stdout));
    await writeFile(join(f.dir, 'all.yaml'), fill(all!.stdout));
    const checks = await pool([
      () => runCli(['config', 'check', join(f.dir, 'plain.yaml')]),
      () => runCli(['config', 'check', join(f.dir, 'all.yaml')]),
    ]);
    for (const r of checks) assert.deepEqual([r.code, r.stdout], [0, 'ok\n'], r.stderr);
  } finally {
    await f.cleanup();
  }
});

test('config init prints a config that passes check, with absolute paths and a new 0600 key file', async () => {
  const f = await makeConfigFixture();
  try {
    const init = await runCli(
      [
        'config',
        'init',
        '--name',
        'b',
        '--address',
        '198.19.0.2/16',
        '--address',
        'fd00:19::2/64',
        '--listen',
        '0.0.0.0:51820',
        '--api-listen',
        '0.0.0.0:4567',
        '--api-advertise',
        'https://198.18.0.2:4567',
        '--bootstrap',
        'https://198.18.0.1:4567',
        '--bootstrap',
        'https://198.18.0.3:4567',
        '--secret-file',
        'cluster.secret',
        '--cert',
        'tls/cert.pem',
        '--key',
        'tls/key.pem',
        '--wg-advertise',
        '198.18.0.2:51820',
      ],
      { cwd: f.dir },
    );
    assert.equal(init.code, 0, init.stderr);
    const keyFile = join(f.dir, 'b.key');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.ok(decodeKey(await readFile(keyFile, 'utf8')));
    const data = parse(init.stdout);
    assert.equal(data.node.privateKeyFile, keyFile);
    assert.equal(data.cluster.secretFile, join(f.dir, 'cluster.secret'));
    assert.deepEqual(data.cluster.bootstrap, ['https://198.18.0.1:4567', 'https://198.18.0.3:4567']);
    assert.deepEqual(data.wireguard.advertise, ['198.18.0.2:51820']);
    await writeFile(join(f.dir, 'b.yaml'), init.stdout);
    const check = await runCli(['config', 'check', 'b.yaml'], { cwd: f.dir });
    assert.deepEqual([check.code, check.stdout], [0, 'ok\n'], check.stderr);
    const key = await readFile(keyFile, 'utf8');
    assert.ok(!(init.stdout + init.stderr + check.stdout + check.stderr).includes(key.trim()));

    const bad = await runCli(
      [
        'config',
        'init',
        '--name',
        'c',
        '--address',
        '198.19.0.3',
        '--listen',
        'x',
        '--api-listen',
        '0.0.0.0:4567',
        '--secret-file',
        'cluster.secret',
        '--cert',
        'c.pem',
        '--key',
        'k.pem',
      ],
      { cwd: f.dir },
    );
    assert.equal(bad.code, 1);
    assert.ok(bad.stderr.includes('--address (node.addresses[0]): must be a CIDR'), bad.stderr);
    assert.ok(bad.stderr.includes('--listen (wireguard.listen): must be ip:port'), bad.stderr);
    assert.ok(!existsSync(join(f.dir, 'c.key')), 'no key written for a rejected config');
  } finally {
    await f.cleanup();
  }
});

test('secrets never appear in the output of example, check, init or keys public', async () => {
  const f = await makeConfigFixture();
  try {
    const outputs = await pool([
      () => runCli(['config', 'check', f.file]),
      () => runCli(['config', 'check', f.file], { env: cleanEnv({ TUNMESH_TUN__MTU: '1' }) }),
      () => runCli(['keys', 'public', '-c', f.file]),
      () => runCli(['config', 'example', '--all']),
    ]);
    for (const r of outputs) {
      const out = r.stdout + r.stderr;
      assert.ok(!out.includes(f.secret) && !out.includes(f.privateKey), `leaked in: ${out}`);
    }
    assert.equal(outputs[2]!.stdout, `${encodeKey(publicKeyOf(decodeKey(f.privateKey)!))}\n`);
  } finally {
    await f.cleanup();
  }
});

test('secret generate prints 256-bit base64url secrets; --out writes mode 0600 and refuses to overwrite', async () => {
  const f = await makeConfigFixture();
  try {
    const out = join(f.dir, 'new.secret');
    const [a, b, w] = await pool([
      () => runCli(['secret', 'generate']),
      () => runCli(['secret', 'generate']),
      () => runCli(['secret', 'generate', '--out', out]),
    ]);
    for (const r of [a!, b!]) assert.match(r.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.notEqual(a!.stdout, b!.stdout);
    assert.equal(w!.code, 0);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    assert.match(await readFile(out, 'utf8'), /^[A-Za-z0-9_-]{43}\n$/);
    assert.ok(!w!.stdout.includes((await readFile(out, 'utf8')).trim()));
    const again = await runCli(['secret', 'generate', '--out', out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already\nhint: pass --force/);
  } finally {
    await f.cleanup();
  }
});

test('keys generate/public agree with each other and with wg pubkey', async (t) => {
  const gen = await runCli(['keys', 'generate']);
  const priv = gen.stdout.trim();
  const key = decodeKey(priv);
  assert.ok(key, 'prints a base64 32-byte key');
  assert.equal(key[0]! & 7, 0, 'clamped');
  const pub = await runCli(['keys', 'public', '--stdin'], { input: `${priv}\n` });
  assert.equal(pub.stdout, `${encodeKey(publicKeyOf(key))}\n`);
  const bad = await runCli(['keys', 'public', '--stdin'], { input: 'nonsense' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: standard input is not a WireGuard private key\nhint: /);
  if (spawnSync('wg', ['--version']).status !== 0) {
    t.skip('wg not installed');
    return;
  }
  const f = await makeConfigFixture();
  try {
    const ours = await runCli(['keys', 'public', '-c', f.file]);
    const theirs = execFileSync('wg', ['pubkey'], { input: `${f.privateKey}\n` }).toString();
    assert.equal(ours.stdout, theirs);
    assert.equal(pub.stdout, execFileSync('wg', ['pubkey'], { input: gen.stdout }).toString());
  } finally {
    await f.cleanup();
  }
});

test('cert generate writes a cert node:tls serves and trusts as its own CA', async () => {
  const f = await makeConfigFixture();
  try {
    const dir = join(f.dir, 'newtls');
    const r = await runCli([
      'cert',
      'generate',
      '--out-dir',
      dir,
      '--cn',
      '127.0.0.1',
      '--days',
      '30',
      '--san',
      'localhost',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
    const cert = await readFile(join(dir, 'cert.pem'));
    const key = await readFile(join(dir, 'key.pem'));
    const server = createServer({ cert, key }, (s) => s.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (const servername of [undefined, 'localhost']) {
        const got = await new Promise<string>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, ca: cert, ...(servername ? { servername } : {}) }, () => {
            let data = '';
            s.on('data', (d: Buffer) => (data += d.toString())).on('end', () => resolve(data));
          });
          s.on('error', reject);
          s.setTimeout(5000, () => s.destroy(new Error('timeout')));
        });
        assert.equal(got, 'hello');
      }
      // A certificate for another name is refused, so the check above is real.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, ca: cert, servername: 'other.example' }, () => resolve(s.end()));
          s.on('error', reject);
        }),
        /ERR_TLS_CERT_ALTNAME_INVALID|does not match/,
      );
    } finally {
      server.close();
    }
    const again = await runCli(['cert', 'generate', '--out-dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /cert\.pem exists already/);
  } finally {
    await f.cleanup();
  }
});

test('completion bash is valid bash and completes commands and file options', async (t) => {
  const r = await runCli(['completion', 'bash']);
  assert.equal(r.code, 0);
  if (spawnSync('bash', ['--version']).status !== 0) {
    t.skip('bash not installed');
    return;
  }
  const complete = (words: string[]): string =>
    execFileSync('bash', [
      '-c',
      `${r.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tunmesh_complete; echo "\${COMPREPLY[*]}"`,
    ])
      .toString()
      .trim();
  // Every top-level command is offered, in help order.
  const names = buildProgram().commands.map((c) => c.name());
  assert.ok(names.includes('config') && names.includes('run'));
  assert.deepEqual(complete(['tunmesh', '']).split(' ').slice(0, names.length), names);
  assert.equal(complete(['tunmesh', 'config', '']), 'example check init --help');
  assert.equal(complete(['tunmesh', 'config', 'init', '--api-']), '--api-listen --api-advertise');
  const f = await makeConfigFixture();
  try {
    // After an option that takes a value, files complete (the fixture dir holds config.yaml and cluster.secret).
    assert.deepEqual(
      complete(['tunmesh', 'keys', 'public', '-c', join(f.dir, 'c')])
        .split(' ')
        .sort(),
      [`${f.dir}/cluster.secret`, `${f.dir}/config.yaml`],
    );
  } finally {
    await f.cleanup();
  }
  const bad = await runCli(['completion', 'fish']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: no completion for shell "fish"\nhint: /);
});

test('bin/tunmesh.js runs the CLI (built or through tsx)', () => {
  const bin = new URL('../../bin/tunmesh.js', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [bin, '--version'], { env: cleanEnv(), timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr.toString());
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(r.stdout.toString(), `${pkg.version}\n`);
});
