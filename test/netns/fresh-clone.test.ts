// The README's first command on a fresh clone: `git clone` of this repository's HEAD (committed work only)
// into an empty directory, then `npm run demo` with no install step before it. The demo's own bootstrap
// must run npm ci (native addon included) and the build, and the demo must show the mesh: v4 and v6 pings,
// throughput, status, the dashboard; then leave no namespace, link, daemon or temp directory behind — after
// a normal run and after a Ctrl-C in the middle of one. (`npm test` on a fresh clone is proven by CI, whose
// .ci/run is just `npm test` on a clean clone; running it in here would nest the suite in itself.)
// Needs root (namespaces) and the network for npm ci; about a minute, most of it npm ci and tsc.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
const prefix = 'tmdemo-'; // scripts/demo.sh's namespace and link prefix

let work = '';
let clone = '';
let head = '';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  readonly ms: number;
}

/** The environment a user's shell would give: nothing from the npm or node:test that runs this file. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(npm_|TUNMESH_|NODE_TEST|NODE_OPTIONS$|INIT_CWD$)/i.test(k) && k !== 'NODE_TEST_CONTEXT',
    ),
  );
}

/**
 * `npm run demo` in the clone, in its own process group (as a terminal runs it). `interruptWhen`: send
 * SIGINT to the group, as Ctrl-C does, once the output matches it. Bounded by `timeoutMs` (then SIGKILL).
 */
function demo(opts: { env?: NodeJS.ProcessEnv; interruptWhen?: RegExp; timeoutMs: number }): Promise<Run> {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn('npm', ['run', 'demo'], {
      cwd: clone,
      env: { ...userEnv(), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let interrupted = false;
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (opts.interruptWhen && !interrupted && opts.interruptWhen.test(out)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const limit = setTimeout(() => {
      out += `\n[test: still running after ${opts.timeoutMs} ms, killed]\n`;
      process.kill(-child.pid!, 'SIGKILL');
    }, opts.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      done({ code, signal, out, ms: Date.now() - t0 });
    });
  });
}

/** What a demo run could leave behind: namespaces, host links, processes running from the clone. */
function leftovers(): string[] {
  const found: string[] = [];
  const nsDir = '/run/netns';
  if (existsSync(nsDir))
    found.push(
      ...readdirSync(nsDir)
        .filter((n) => n.startsWith(prefix))
        .map((n) => `netns ${n}`),
    );
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const m of links.matchAll(/^\d+: ([^:@]+)/gm)) if (m[1]!.startsWith(prefix)) found.push(`link ${m[1]}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (cmd.includes(clone)) found.push(`process ${pid}: ${cmd.replaceAll('\0', ' ')}`);
  }
  return found;
}

const demoWorkDir = (out: string): string | undefined => /logs in (\/\S+)\/<node>\.log/.exec(out)?.[1];

before(async () => {
  if (!isRoot) return;
  head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  // An empty directory under a 0700 parent, as a root user's clone in /root would be.
  work = await mkdtemp(join(tmpdir(), 'tunmesh-fresh-'));
  clone = join(work, 'tunmesh');
  execFileSync('git', ['clone', '--quiet', '--no-checkout', repo, clone]);
  execFileSync('git', ['-C', clone, 'checkout', '--quiet', '--detach', head]);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test(
  'npm run demo on a fresh clone installs and builds what it needs, shows the mesh and cleans up',
  { skip: !isRoot && 'needs root', timeout: 420_000 },
  async (t) => {
    assert.ok(!existsSync(join(clone, 'node_modules')) && !existsSync(join(clone, 'dist')), 'the clone is fresh');
    assert.deepEqual(leftovers(), [], 'nothing of an earlier demo around');
    const r = await demo({ timeoutMs: 400_000 });
    const why = `exit ${r.code}, output:\n${r.out}`;
    t.diagnostic(`fresh clone: npm run demo took ${(r.ms / 1000).toFixed(1)} s (npm ci + native build + tsc + demo)`);
    assert.equal(r.code, 0, why);
    // The bootstrap said what it did, and did the install and the build itself.
    assert.match(r.out, /^bootstrap: npm ci \(node_modules is missing\)$/m, why);
    assert.match(r.out, /^bootstrap: npm run build \(dist\/ is missing\)$/m, why);
    assert.ok(existsSync(join(clone, 'native/build/Release/tunmesh_native.node')), 'native addon built');
    // status, with both peers alive
    assert.match(r.out, /^node a\s+198\.19\.100\.1\/24 fd00:19:100::1\/64/m, why);
    assert.match(r.out, /^b\s+alive\s/m, why);
    assert.match(r.out, /^c\s+alive\s/m, why);
    // v4 and v6 pings through the mesh between every pair
    for (const [from, to, i] of [
      ['a', 'b', 2],
      ['a', 'c', 3],
      ['b', 'c', 3],
    ] as const)
      for (const addr of [`198.19.100.${i}`, `fd00:19:100::${i}`])
        assert.match(
          r.out,
          new RegExp(`^  ${from} -> ${to} ${addr}: 2 sent, 2 received, 0% loss rtt min/avg/max = `, 'm'),
          why,
        );
    // throughput, a figure above zero
    const rate = /^ {2}a -> b: \d+ MB in [\d.]+ s = (\d+) Mbit\/s/m.exec(r.out);
    assert.ok(rate && Number(rate[1]) > 0, why);
    t.diagnostic(`fresh clone demo throughput: ${rate[1]} Mbit/s`);
    // the dashboard's URL, and it answers with the operator token
    assert.match(r.out, /dashboard: https:\/\/198\.18\.100\.1:4567\/ui\//, why);
    assert.match(r.out, /\/ui\/api\/overview 200/, why);
    assert.match(r.out, /\/health 200/, why);
    // cleaned up
    assert.deepEqual(leftovers(), [], why);
    const dir = demoWorkDir(r.out);
    assert.ok(dir && !existsSync(dir), `the demo's temp dir ${dir} is removed`);
  },
);

test(
  'Ctrl-C in the middle of the demo removes everything; a second run installs and builds nothing',
  { skip: !isRoot && 'needs root', timeout: 180_000 },
  async () => {
    const r = await demo({ env: { DEMO_HOLD: '1' }, interruptWhen: /mesh is up; Ctrl-C/, timeoutMs: 150_000 });
    const why = `exit ${r.code} ${r.signal}, output:\n${r.out}`;
    assert.match(r.out, /mesh is up; Ctrl-C/, why);
    assert.notEqual(r.code, 0, why);
    assert.match(r.out, /^bootstrap: system packages and node_modules are up to date$/m, why);
    assert.doesNotMatch(r.out, /^bootstrap: npm (ci|run build)/m, why);
    assert.deepEqual(leftovers(), [], why);
    const dir = demoWorkDir(r.out);
    assert.ok(dir && !existsSync(dir), `the demo's temp dir ${dir} is removed`);
  },
);
