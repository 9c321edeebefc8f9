// The container image's file tree, built without a container engine by scripts/image-build.sh (which
// replays deploy/Dockerfile), runs on its own: the CLI answers from it, and its daemon runs the way the
// container runs it — started as root holding only NET_ADMIN, SETUID and SETGID (cap_drop ALL + cap_add,
// no-new-privileges), health-checked by the Dockerfile's own HEALTHCHECK command, and left with no
// capability after the drop. Slow (npm ci + builds: about a minute), hence in the netns suite.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { cleanEnv, makeConfigFixture, type ConfigFixture } from '../helpers/config-fixture.js';

const repo = resolve(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
const ns = 'tp5-img';
const tunName = 'tp5img0';

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
) {
  return new Promise<Result>((done) => {
    execFile(
      cmd,
      [...args],
      { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? cleanEnv(), cwd: opts.cwd, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

let work = '';
let tree = '';
const cli = (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Result> =>
  run(process.execPath, [join(tree, 'dist/cli/main.js'), ...args], { env: env ?? cleanEnv(), cwd: work });

/** The Dockerfile's HEALTHCHECK command (exec form). */
function healthcheckCommand(): string[] {
  const text = readFileSync(join(repo, 'deploy/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const m = /^HEALTHCHECK\s.*?\sCMD\s+(\[.*\])\s*$/m.exec(text);
  assert.ok(m, 'deploy/Dockerfile has HEALTHCHECK ... CMD [exec form]');
  return JSON.parse(m[1]!) as string[];
}

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'tp5-image-'));
    tree = join(work, 'image-root');
    const r = await run('bash', [join(repo, 'scripts/image-build.sh'), tree], {
      timeoutMs: 480_000,
      env: { ...cleanEnv(), npm_config_update_notifier: 'false' },
    });
    assert.equal(r.code, 0, `image-build.sh failed:\n${r.stderr.slice(-4000)}`);
  },
  { timeout: 500_000 },
);

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('the tree holds only the runtime files', async () => {
  assert.deepEqual((await readdir(tree)).sort(), ['bin', 'dist', 'native', 'node_modules', 'package.json', 'web']);
  assert.ok(existsSync(join(tree, 'web/index.html')), 'dashboard files');
  assert.ok(existsSync(join(tree, 'native/build/Release/tunmesh_native.node')), 'native addon');
  assert.ok(existsSync(join(tree, 'node_modules/@tunmesh/native/index.cjs')), 'addon workspace link resolves');
  for (const dev of ['typescript', 'tsx', 'eslint', 'prettier', 'fast-check', 'kubernetes-models'])
    assert.ok(!existsSync(join(tree, 'node_modules', dev)), `${dev} (dev dependency) is pruned`);
  assert.ok(!existsSync(join(tree, 'src')), 'no TypeScript sources');
});

test('--version, from dist/ and through bin/tunmesh.js', async () => {
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
  const direct = await cli(['--version']);
  assert.equal(direct.code, 0, direct.stderr);
  assert.equal(direct.stdout.trim(), pkg.version);
  // The image links /usr/local/bin/tunmesh to bin/tunmesh.js; without tsx it must find dist/.
  const bin = await run(process.execPath, [join(tree, 'bin/tunmesh.js'), '--version'], { cwd: work });
  assert.equal(bin.code, 0, bin.stderr);
  assert.equal(bin.stdout.trim(), pkg.version);
});

test('`config example`, filled in, passes `config check`; unfilled, it does not', async () => {
  const example = await cli(['config', 'example']);
  assert.equal(example.code, 0, example.stderr);
  const fx = await makeConfigFixture({ prefix: 'tp5-image-cfg-' });
  try {
    const file = join(fx.dir, 'example.yaml');
    await writeFile(file, example.stdout);
    const unfilled = await cli(['config', 'check', file]);
    assert.equal(unfilled.code, 1, 'placeholder paths name files that do not exist');
    const doc = parseDocument(example.stdout);
    doc.setIn(['node', 'privateKeyFile'], join(fx.dir, 'node.key'));
    doc.setIn(['control', 'tls', 'certFile'], join(fx.dir, 'tls/cert.pem'));
    doc.setIn(['control', 'tls', 'keyFile'], join(fx.dir, 'tls/key.pem'));
    doc.setIn(['cluster', 'secretFile'], join(fx.dir, 'cluster.secret'));
    await writeFile(file, doc.toString());
    const check = await cli(['config', 'check', file]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'ok\n');
  } finally {
    await fx.cleanup();
  }
});

async function deleteNetns(): Promise<void> {
  await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
}

/** Starts `tunmesh run` from the tree in the namespace, as root limited to `caps` (like a container). */
function startDaemon(fx: ConfigFixture, caps: readonly string[]) {
  const child = spawn(
    'ip',
    [
      ...['netns', 'exec', ns, 'setpriv'],
      `--bounding-set=-all,${caps.map((c) => `+${c}`).join(',')}`,
      ...['--inh-caps=-all', '--no-new-privs'],
      ...[process.execPath, join(tree, 'dist/cli/main.js'), 'run', '-c', fx.file],
    ],
    {
      // What the image's ENV sets.
      env: cleanEnv({ TUNMESH_PROCESS__UID: '65532', TUNMESH_PROCESS__GID: '65532' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 1 << 20) stderr += d.toString();
  });
  const exited = new Promise<number>((done) => child.once('exit', (code, signal) => done(code ?? (signal ? 128 : 1))));
  return { child, exited, stderr: () => stderr };
}

function statusOf(pid: number): Record<string, string> {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(text.split('\n').map((l) => [l.split(':')[0]!, l.slice(l.indexOf(':') + 1).trim()]));
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, fail) => (timer = setTimeout(() => fail(new Error(`${what}: no result in ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test(
  'the daemon runs from the tree as in the container: only NET_ADMIN/SETUID/SETGID at start, none after',
  { skip: isRoot ? false : 'needs root', timeout: 90_000 },
  async () => {
    const fx = await makeConfigFixture({ prefix: 'tp5-image-run-' });
    Object.assign(fx.data, {
      tun: { name: tunName },
      wireguard: { listen: '127.0.0.1:51820' },
      control: { ...fx.data.control, listen: '127.0.0.1:4567' },
    });
    await fx.write(stringify(fx.data));
    const health = healthcheckCommand();
    const healthcheck = (): Promise<Result> =>
      run('ip', ['netns', 'exec', ns, ...health], { timeoutMs: 10_000, cwd: work });
    const daemons: ReturnType<typeof startDaemon>[] = [];
    await deleteNetns();
    try {
      assert.equal((await run('ip', ['netns', 'add', ns])).code, 0);
      assert.equal((await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])).code, 0);
      assert.notEqual((await healthcheck()).code, 0, 'the health check fails while nothing listens');

      // NET_ADMIN alone creates the device but cannot drop to the tunmesh user: the daemon refuses to run on.
      const netAdminOnly = startDaemon(fx, ['net_admin']);
      daemons.push(netAdminOnly);
      const code = await withTimeout(netAdminOnly.exited, 30_000, 'daemon with NET_ADMIN only');
      assert.notEqual(code, 0);
      assert.match(netAdminOnly.stderr(), /PRIVILEGE_DROP_FAILED/);

      const d = startDaemon(fx, ['net_admin', 'setuid', 'setgid']);
      daemons.push(d);
      let healthy = false;
      for (let i = 0; i < 40 && !healthy && d.child.exitCode === null; i++) {
        healthy = (await healthcheck()).code === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(healthy, `the Dockerfile's health check passes; daemon log:\n${d.stderr().slice(-3000)}`);

      const st = statusOf(d.child.pid!);
      assert.equal(st.Name, 'node');
      assert.equal(st.Uid, '65532\t65532\t65532\t65532');
      assert.equal(st.Gid, '65532\t65532\t65532\t65532');
      assert.equal(st.CapEff, '0000000000000000');
      assert.equal(st.CapPrm, '0000000000000000');
      assert.equal(st.CapInh, '0000000000000000');
      assert.equal(st.CapAmb, '0000000000000000');
      assert.equal(st.NoNewPrivs, '1');
      const addr = await run('ip', ['-n', ns, '-o', 'addr', 'show', 'dev', tunName]);
      assert.match(addr.stdout, /inet 198\.19\.0\.1\/16/);

      d.child.kill('SIGTERM');
      assert.equal(await withTimeout(d.exited, 15_000, 'daemon stop'), 0, d.stderr().slice(-2000));
      const gone = await run('ip', ['-n', ns, 'link', 'show', 'dev', tunName]);
      assert.notEqual(gone.code, 0, 'the TUN device is gone after SIGTERM');
    } finally {
      for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
      await Promise.all(daemons.map((d) => withTimeout(d.exited, 10_000, 'daemon exit').catch(() => 1)));
      await deleteNetns();
      await fx.cleanup();
    }
  },
);
