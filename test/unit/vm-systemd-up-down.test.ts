// VMs (issue 14): the shipped systemd unit passes `systemd-analyze verify` and keeps its hardening, and
// `tunmesh up --no-start` / `tunmesh down --purge` round-trip in temporary directories: up writes a config
// that `config check` accepts, its secrets at mode 0600 and a unit that verifies; down removes exactly what
// up wrote. A join file carries a mesh to a second node. Bad inputs fail with errors naming the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { pool, runCli } from '../helpers/config-fixture.js';

const shipped = new URL('../../deploy/systemd/tunmesh@.service', import.meta.url).pathname;
const mode = async (f: string) => (await stat(f)).mode & 0o777;
/** The exposure `systemd-analyze security --offline=yes` gives the shipped unit must stay at or below this. */
const maxExposure = 3.0;

/**
 * systemd-analyze output, or undefined when it is missing and cannot have been installed: `npm test`'s
 * bootstrap installs Debian's systemd package as root, and only names it otherwise.
 */
function analyze(args: string[]): { code: number; out: string } | undefined {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.notEqual(process.getuid?.(), 0, 'systemd-analyze is missing: apt-get install systemd');
    return undefined;
  }
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** Every file under dir (relative paths), to prove `down` leaves the tree as it found it. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    out.push(`${relative(dir, join(e.parentPath, e.name))}${e.isDirectory() ? '/' : ''}`);
  return out.sort();
}

function unitSettings(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hit = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (hit) m.set(hit[1]!, hit[2]!);
  }
  return m;
}

test('the shipped unit passes systemd-analyze verify, keeps its hardening and a low exposure score', async (t) => {
  const v = analyze(['verify', shipped]);
  if (!v) return t.skip('systemd-analyze is missing (not root, so not installed): apt-get install systemd');
  assert.equal(v.code, 0, v.out);
  const s = unitSettings(await readFile(shipped, 'utf8'));
  assert.equal(s.get('CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SETPCAP');
  assert.equal(s.get('AmbientCapabilities'), '');
  for (const [k, want] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['DevicePolicy', 'closed'],
    ['DeviceAllow', '/dev/net/tun rw'],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_NETLINK AF_UNIX'],
    ['SystemCallArchitectures', 'native'],
    ['LockPersonality', 'yes'],
    ['MemoryDenyWriteExecute', 'no'],
    ['Restart', 'on-failure'],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
  ] as const)
    assert.equal(s.get(k), want, k);
  const sec = analyze(['security', '--offline=yes', shipped])!;
  const score = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.out);
  assert.ok(score, sec.out);
  assert.ok(Number(score[1]) <= maxExposure, `exposure ${score[1]} > ${maxExposure}`);
});

test('up --no-start writes a checked config, 0600 secrets and a verifying unit; down --purge removes exactly that', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tunmesh-vm-'));
  try {
    const cfg = join(root, 'etc');
    const units = join(root, 'units');
    await mkdir(cfg);
    await mkdir(units);
    // Someone else's files, which down must leave alone.
    await writeFile(join(cfg, 'other.yaml'), 'x\n');
    await writeFile(join(units, 'other.service'), '[Service]\n');
    const before = await tree(root);
    const secret = 'a-cluster-secret-of-more-than-32-characters';
    await writeFile(join(root, 'cluster.secret'), `${secret}\n`, { mode: 0o600 });
    const where = ['--config-dir', cfg, '--unit-dir', units];
    const up = await runCli([
      'up',
      '--name',
      'vm-a',
      '--address',
      '198.19.0.1/16',
      '--api-advertise',
      'https://198.18.0.1:4567',
      '--secret-file',
      join(root, 'cluster.secret'),
      '--no-start',
      ...where,
    ]);
    assert.equal(up.code, 0, up.stderr);
    assert.ok(!`${up.stdout}${up.stderr}`.includes(secret), 'the secret leaked into the output');
    const dir = join(cfg, 'vm-a');
    assert.deepEqual((await tree(dir)).sort(), [
      'cluster.secret',
      'config.yaml',
      'node.key',
      'operator.token',
      'tls/',
      'tls/cert.pem',
      'tls/key.pem',
    ]);
    for (const f of ['cluster.secret', 'node.key', 'operator.token', 'tls/key.pem'])
      assert.equal(await mode(join(dir, f)), 0o600, f);
    assert.equal((await readFile(join(dir, 'cluster.secret'), 'utf8')).trim(), secret);
    const check = await runCli(['config', 'check', join(dir, 'config.yaml')]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    const config = parse(await readFile(join(dir, 'config.yaml'), 'utf8'));
    assert.equal(config.control.operatorTokenFile, join(dir, 'operator.token'));
    assert.equal(config.process.uid, 65532);

    const unit = join(units, 'tunmesh@vm-a.service');
    const v = analyze(['verify', unit]);
    if (v) assert.equal(v.code, 0, v.out);
    const exec = unitSettings(await readFile(unit, 'utf8')).get('ExecStart') ?? '';
    assert.match(exec, new RegExp(`^${process.execPath} .*/bin/tunmesh\\.js run --config ${dir}/config\\.yaml$`));

    // Without --force an existing node is refused and left as it was.
    const keyBefore = await readFile(join(dir, 'node.key'), 'utf8');
    const again = await runCli([
      'up',
      '--name',
      'vm-a',
      '--secret-file',
      join(root, 'cluster.secret'),
      '--address',
      '198.19.0.9/16',
      '--no-start',
      ...where,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /node vm-a exists already/);
    assert.match(again.stderr, /--force/);
    assert.equal(parse(await readFile(join(dir, 'config.yaml'), 'utf8')).node.addresses[0], '198.19.0.1/16');
    // With --force the config is rewritten and the node keeps its key (its identity in the mesh).
    const forced = await runCli([
      'up',
      '--name',
      'vm-a',
      '--secret-file',
      join(root, 'cluster.secret'),
      '--address',
      '198.19.0.9/16',
      '--no-start',
      '--force',
      ...where,
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(parse(await readFile(join(dir, 'config.yaml'), 'utf8')).node.addresses[0], '198.19.0.9/16');
    assert.equal(await readFile(join(dir, 'node.key'), 'utf8'), keyBefore);

    // A file the operator added to the node's directory survives the purge (and so does the directory).
    await writeFile(join(dir, 'notes.txt'), 'mine\n');
    const down = await runCli(['down', '--name', 'vm-a', '--purge', '--no-stop', ...where]);
    assert.equal(down.code, 0, down.stderr);
    await rm(join(root, 'cluster.secret'));
    assert.deepEqual(await tree(root), [...before, 'etc/vm-a/', 'etc/vm-a/notes.txt'].sort());
    await rm(join(dir, 'notes.txt'));
    await rm(dir, { recursive: true });
    assert.deepEqual(await tree(root), before);
    const gone = await runCli(['down', '--name', 'vm-a', '--no-stop', ...where]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no node vm-a/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a join file from one node brings up a second node of the same mesh; down without --purge keeps the files', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tunmesh-vm-join-'));
  try {
    const where = ['--config-dir', join(root, 'etc'), '--unit-dir', join(root, 'units'), '--no-start'];
    await writeFile(join(root, 'cluster.secret'), 'another-cluster-secret-of-32-characters-or-more\n');
    const a = await runCli([
      'up',
      '--name',
      'a',
      '--address',
      '198.19.0.1/16',
      '--api-advertise',
      'https://198.18.0.1:4567',
      '--secret-file',
      join(root, 'cluster.secret'),
      ...where,
    ]);
    assert.equal(a.code, 0, a.stderr);
    const joinFile = join(root, 'mesh.join');
    const made = await runCli(['join-file', 'create', '-c', join(root, 'etc/a/config.yaml'), '--out', joinFile]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(await mode(joinFile), 0o600);
    const b = await runCli(['up', '--name', 'b', '--address', '198.19.0.2/16', '--join', joinFile, ...where]);
    assert.equal(b.code, 0, b.stderr);
    const check = await runCli(['config', 'check', join(root, 'etc/b/config.yaml')]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    const cb = parse(await readFile(join(root, 'etc/b/config.yaml'), 'utf8'));
    assert.deepEqual(cb.cluster.bootstrap, ['https://198.18.0.1:4567']);
    for (const f of ['cluster.secret', 'tls/cert.pem', 'tls/key.pem'])
      assert.equal(await readFile(join(root, 'etc/b', f), 'utf8'), await readFile(join(root, 'etc/a', f), 'utf8'), f);
    assert.notEqual(
      await readFile(join(root, 'etc/b/node.key'), 'utf8'),
      await readFile(join(root, 'etc/a/node.key'), 'utf8'),
    );
    const down = await runCli([
      'down',
      '--name',
      'b',
      '--config-dir',
      join(root, 'etc'),
      '--unit-dir',
      join(root, 'units'),
      '--no-stop',
    ]);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!(await tree(join(root, 'units'))).includes('tunmesh@b.service'));
    assert.ok((await tree(join(root, 'etc/b'))).includes('config.yaml'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('up refuses bad inputs with errors naming the flag or field, and writes nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tunmesh-vm-bad-'));
  try {
    const secret = 'a-secret-that-must-never-appear-in-errors-0123456789';
    await writeFile(join(root, 'cluster.secret'), `${secret}\n`);
    await writeFile(join(root, 'short.secret'), 'too-short\n');
    assert.equal((await runCli(['cert', 'generate', '--out-dir', join(root, 'tls')])).code, 0);
    const good = { cert: join(root, 'tls/cert.pem'), key: join(root, 'tls/key.pem') };
    const joinBad = join(root, 'bad.join');
    await writeFile(
      joinBad,
      JSON.stringify({
        format: 'tunmesh-join/1',
        bootstrap: ['http://198.18.0.1:4567'],
        clusterSecret: secret,
        tls: { cert: 'nope', key: 'nope' },
        extra: 1,
      }),
    );
    const where = ['--config-dir', join(root, 'etc'), '--unit-dir', join(root, 'units'), '--no-start'];
    const base = ['up', '--name', 'n', '--address', '198.19.0.3/16'];
    const cases: [string[], RegExp][] = [
      [[...base, ...where], /the cluster secret is missing: pass --secret-file FILE or --join FILE/],
      [[...base, '--secret-file', join(root, 'short.secret'), ...where], /--secret-file .* at least 32 characters/],
      [
        [...base, '--secret-file', join(root, 'absent.secret'), ...where],
        /--secret-file .*absent\.secret does not exist/,
      ],
      [
        [
          ...base,
          '--secret-file',
          join(root, 'cluster.secret'),
          '--cert',
          good.cert,
          '--key',
          good.key,
          '--bootstrap',
          'http://198.18.0.1:4567',
          ...where,
        ],
        /--bootstrap \(cluster\.bootstrap\[0\]\)/,
      ],
      [
        [...base, '--secret-file', join(root, 'cluster.secret'), '--bootstrap', 'https://198.18.0.1:4567', ...where],
        /joining a mesh \(--bootstrap\) needs the mesh’s TLS certificate/,
      ],
      [
        [...base, '--secret-file', join(root, 'cluster.secret'), '--cert', good.cert, ...where],
        /--cert and --key go together/,
      ],
      [
        [
          'up',
          '--name',
          '../evil',
          '--address',
          '198.19.0.3/16',
          '--secret-file',
          join(root, 'cluster.secret'),
          ...where,
        ],
        /--name "\.\.\/evil" is not a node name/,
      ],
      [
        [
          ...base,
          '--secret-file',
          join(root, 'cluster.secret'),
          '--config-dir',
          join(root, 'a b'),
          '--unit-dir',
          join(root, 'units'),
          '--no-start',
        ],
        /--config-dir ".*a b" must be a path of/,
      ],
      [
        [...base, '--secret-file', join(root, 'cluster.secret'), '--address', '10.0.0.1', ...where],
        /--address \(node\.addresses\[1\]\)/,
      ],
      [
        [...base, '--join', joinBad, ...where],
        /join file .*bad\.join is not valid:[\s\S]*bootstrap\.0: must be an https URL[\s\S]*tls\.cert: must be PEM text[\s\S]*Unrecognized key/,
      ],
      [
        [...base, '--join', joinBad, '--secret-file', join(root, 'cluster.secret'), ...where],
        /--join and --secret-file exclude each other/,
      ],
      [
        ['down', '--name', 'n', '--config-dir', join(root, 'etc'), '--unit-dir', join(root, 'units'), '--no-stop'],
        /no node n:/,
      ],
      [
        [
          ...base,
          '--secret-file',
          join(root, 'cluster.secret'),
          '--config-dir',
          '/home/tunmesh-vm-test/etc',
          '--unit-dir',
          join(root, 'units'),
        ],
        /--config-dir .* is under \/home, which the unit's sandbox \(ProtectHome, PrivateTmp\) hides from the daemon/,
      ],
    ];
    const runs = await pool(
      cases.map(
        ([args]) =>
          () =>
            runCli(args),
      ),
    );
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 1, `${cases[i]![0].join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, cases[i]![1]);
      assert.ok(!r.stderr.includes(secret), `secret leaked: ${r.stderr}`);
    }
    assert.deepEqual((await readdir(root)).sort(), ['bad.join', 'cluster.secret', 'short.secret', 'tls']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
