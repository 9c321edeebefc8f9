// Runs node's test runner over test/<suite>/**/*.test.ts (all suites by default), through tsx.
// Suites that need root and network namespaces (netns) are skipped, with a message, when they cannot run
// (not root, or `ip netns add` fails) — unless the environment requires them (CI set, as CI runs with
// CI=true, or TUNMESH_REQUIRE_NETNS=1): then the run fails, so CI cannot go green without its network tests.
// TUNMESH_NETNS_UNAVAILABLE=1 makes the runner behave as if they could not run (for the runner's own test).
//
// The netns files run one at a time, each in its own process group under a watchdog. A file's process
// hung once in about a dozen clean runs: its main thread sat in a futex, idle, with its SIGTERM handler
// unable to run (cause not found; Node 20 runs tsx's module hooks on a second thread), and the whole run
// would have waited for CI's limit. Every
// wait inside a test is bounded far below the file limit, so a file that reaches it is stuck, not slow: it
// is killed (with its daemons) and run once more; a second time fails the run.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { netnsRequired, netnsUnavailableReason } from './netns-gate.mjs';

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'property', 'sim', 'netns'];
/** A netns file's time limit; the longest file takes about 3 minutes on a busy 2-core machine. */
const netnsFileTimeoutMs = Number(process.env.TUNMESH_NETNS_FILE_TIMEOUT_MS ?? 8 * 60_000);

const walk = (dir, files) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return files;
  }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, files);
    else if (e.endsWith('.test.ts')) files.push(p);
  }
  return files;
};

const inProcess = [];
const netns = [];
let skipped = false;
for (const s of suites) {
  const unavailable = s === 'netns' ? netnsUnavailableReason() : undefined;
  if (unavailable !== undefined) {
    if (netnsRequired()) {
      console.error(
        `# netns suite required (CI=${process.env.CI ?? ''}, TUNMESH_REQUIRE_NETNS=${process.env.TUNMESH_REQUIRE_NETNS ?? ''}) ` +
          `but it cannot run: ${unavailable}. Failing: every network-level promise in docs/SECURITY.md rests on it.`,
      );
      process.exit(1);
    }
    console.log(`# netns suite skipped: ${unavailable} (set TUNMESH_REQUIRE_NETNS=1 or CI to make this a failure)`);
    skipped = true;
    continue;
  }
  walk(join('test', s), s === 'netns' ? netns : inProcess);
}
if (inProcess.length + netns.length === 0 && skipped) process.exit(0);
if (inProcess.length + netns.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

let failed = false;
if (inProcess.length) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...inProcess], {
    stdio: 'inherit',
  });
  failed ||= r.status !== 0;
}

/** One run of a netns file: its exit code, or 'stuck' when the watchdog had to kill it. */
function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', file], {
      stdio: 'inherit',
      detached: true, // its own process group, so the kill reaches the file's process and its daemons
    });
    let stuck = false;
    const limit = setTimeout(() => {
      stuck = true;
      console.log(`# ${file}: still running after ${netnsFileTimeoutMs / 60_000} min, killed`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, netnsFileTimeoutMs);
    child.on('exit', (code) => {
      clearTimeout(limit);
      resolve(stuck ? 'stuck' : code);
    });
  });
}

const failedFiles = [];
for (const file of netns) {
  let r = await runFile(file);
  if (r === 'stuck') {
    console.log(`# ${file}: running it once more`);
    r = await runFile(file);
  }
  if (r !== 0) failedFiles.push(file);
}
if (netns.length) {
  console.log(
    `# netns files: ${netns.length}, failed: ${failedFiles.length}${failedFiles.length ? ` (${failedFiles.join(', ')})` : ''}`,
  );
}
process.exit(failed || failedFiles.length ? 1 : 0);
