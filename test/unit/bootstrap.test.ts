// scripts/bootstrap.mjs's decisions (what `npm run demo` and `npm test` do before they start): npm ci only
// when node_modules does not match package-lock.json, the build only when dist/ is older than src/, the
// native addon rebuilt when native/src is newer than it, and a clear stop naming the missing package and
// its install command when it cannot install it. Run in a scratch tree whose PATH holds stand-ins for npm
// and the system commands, so that nothing is installed; the real installs are proven by
// test/netns/fresh-clone.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
let tree = '';
let bin = '';
const calls = (): string[] =>
  existsSync(join(tree, 'npm-calls')) ? readFileSync(join(tree, 'npm-calls'), 'utf8').trim().split('\n') : [];

function bootstrap(mode: string, env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  rmSync(join(tree, 'npm-calls'), { force: true });
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|TUNMESH_)/i.test(k)));
  const r = spawnSync(process.execPath, [join(tree, 'scripts/bootstrap.mjs'), mode], {
    cwd: tree,
    env: { ...clean, PATH: bin, TUNMESH_NO_APT: '1', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const tool = (name: string, body = 'exit 0'): void => {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
};

before(() => {
  tree = mkdtempSync(join(tmpdir(), 'tunmesh-bootstrap-'));
  bin = join(tree, 'bin');
  mkdirSync(join(tree, 'scripts'), { recursive: true });
  mkdirSync(join(tree, 'src'));
  mkdirSync(bin);
  copyFileSync(join(repo, 'scripts/bootstrap.mjs'), join(tree, 'scripts/bootstrap.mjs'));
  writeFileSync(join(tree, 'package-lock.json'), '{"lockfileVersion": 3}\n');
  writeFileSync(join(tree, 'tsconfig.json'), '{}\n');
  writeFileSync(join(tree, 'tsconfig.build.json'), '{}\n');
  writeFileSync(join(tree, 'src/main.ts'), 'export {};\n');
  // npm stand-in: records its arguments and makes what `npm ci` (node_modules, the addon) and the build make.
  tool(
    'npm',
    [
      'echo "$*" >> npm-calls',
      'case "$1" in',
      '  ci) /bin/rm -rf node_modules; /bin/mkdir -p node_modules native/build/Release; : > native/build/Release/tunmesh_native.node ;;',
      '  run) /bin/mkdir -p dist/cli; : > dist/cli/main.js ;;',
      'esac',
    ].join('\n'),
  );
  for (const t of ['g++', 'make', 'python3', 'ip']) tool(t);
  // apt-get stand-in: records its arguments; `install` puts back a g++ (what build-essential brings).
  tool(
    'apt-get',
    [
      'echo "apt-get $*" >> npm-calls',
      `[ "$1" = install ] && printf '#!/bin/sh\\n' > ${bin}/g++ && /bin/chmod 755 ${bin}/g++`,
      'exit 0',
    ].join('\n'),
  );
});

after(() => rmSync(tree, { recursive: true, force: true }));

test('fresh tree: npm ci and the build, each with its reason; then nothing to do', () => {
  const first = bootstrap('demo');
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /^bootstrap: npm ci \(node_modules is missing\)$/m);
  assert.match(first.out, /^bootstrap: npm run build \(dist\/ is missing\)$/m);
  assert.deepEqual(calls(), ['ci --no-audit --no-fund', 'run --silent build']);
  assert.match(readFileSync(join(tree, 'node_modules/.tunmesh-lock'), 'utf8'), /^[0-9a-f]{64} node-abi-\d+ /);

  const again = bootstrap('demo');
  assert.equal(again.code, 0, again.out);
  assert.deepEqual(calls(), []);
  assert.match(again.out, /^bootstrap: system packages and node_modules are up to date$/m);
});

test('a changed package-lock.json reinstalls; a changed source rebuilds; a lost addon reinstalls', () => {
  writeFileSync(join(tree, 'package-lock.json'), '{"lockfileVersion": 3, "changed": true}\n');
  let r = bootstrap('demo');
  assert.match(r.out, /^bootstrap: npm ci \(package-lock\.json or the Node version changed\)$/m, r.out);
  assert.ok(calls().includes('ci --no-audit --no-fund'));

  const later = new Date(Date.now() + 5_000);
  utimesSync(join(tree, 'src/main.ts'), later, later);
  r = bootstrap('demo');
  assert.match(r.out, /^bootstrap: npm run build \(src\/ changed since the last build\)$/m, r.out);
  assert.deepEqual(calls(), ['run --silent build']);

  rmSync(join(tree, 'native/build'), { recursive: true });
  r = bootstrap('demo');
  assert.match(r.out, /^bootstrap: npm ci \(the native addon is not built\)$/m, r.out);
  // npm test builds by itself: its bootstrap never runs the build
  utimesSync(join(tree, 'src/main.ts'), new Date(Date.now() + 10_000), new Date(Date.now() + 10_000));
  r = bootstrap('test');
  assert.ok(!calls().includes('run --silent build'), r.out);
});

test('native sources newer than the addon rebuild it (a pull or merge changed them); then nothing to do', () => {
  mkdirSync(join(tree, 'native/src'), { recursive: true });
  mkdirSync(join(tree, 'native/scripts'), { recursive: true });
  writeFileSync(
    join(tree, 'native/scripts/build.cjs'),
    "const fs = require('node:fs');\nfs.appendFileSync('npm-calls', 'native build\\n');\nfs.writeFileSync('native/build/Release/tunmesh_native.node', '');\n",
  );
  writeFileSync(join(tree, 'native/src/fastpath.cc'), '// changed\n');
  const later = new Date(Date.now() + 20_000);
  utimesSync(join(tree, 'native/src/fastpath.cc'), later, later);
  let r = bootstrap('test');
  assert.equal(r.code, 0, r.out);
  assert.match(
    r.out,
    /^bootstrap: node native\/scripts\/build\.cjs \(native\/src changed since the addon was built\)$/m,
  );
  assert.deepEqual(calls(), ['native build']);
  utimesSync(join(tree, 'native/build/Release/tunmesh_native.node'), later, later);
  r = bootstrap('test');
  assert.deepEqual(calls(), [], r.out);
  rmSync(join(tree, 'native/src'), { recursive: true });
  rmSync(join(tree, 'native/scripts'), { recursive: true });
});

test('missing commands it may not install: named with the package and its install command, nothing run', () => {
  rmSync(join(tree, 'node_modules'), { recursive: true });
  rmSync(join(bin, 'g++'));
  let r = bootstrap('demo');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /the native addon needs g\+\+, make and python3; missing \(TUNMESH_NO_APT is set\)/);
  assert.match(r.out, /install: apt-get install build-essential \(as root\)/);
  assert.deepEqual(calls(), [], 'neither apt-get nor npm ci is run');

  if (process.getuid?.() === 0) {
    // root with apt-get: one update, one install of what is missing, then npm ci
    r = bootstrap('demo', { TUNMESH_NO_APT: '' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^bootstrap: apt-get install build-essential$/m);
    assert.deepEqual(calls().slice(0, 2), [
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends build-essential',
    ]);
    assert.equal(calls()[2], 'ci --no-audit --no-fund');
  }
  tool('g++');
  bootstrap('demo');

  rmSync(join(bin, 'ip'));
  r = bootstrap('demo');
  if (process.getuid?.() === 0) {
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /the demo needs iproute2 \(the ip command\); missing \(TUNMESH_NO_APT is set\); install: /);
    assert.match(r.out, /apt-get install iproute2|packages for: ip/);
  } else {
    // not root: the demo stops at its own root check; the bootstrap only says what is missing
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^bootstrap: missing iproute2 \(not root\)/m);
  }
  tool('ip');
});

test('an unknown mode is refused with the usage', () => {
  const r = bootstrap('deploy');
  assert.equal(r.code, 2);
  assert.match(r.out, /usage: node scripts\/bootstrap\.mjs demo\|test/);
});
