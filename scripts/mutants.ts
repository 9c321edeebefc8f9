// npm run mutants: applies each one-line mutation of scripts/mutants-list.ts to a scratch copy of the tree
// (src/, test/, scripts/ and the configs copied to a temp dir, node_modules symlinked), runs only the
// tests that guard it, and expects them to fail ("killed"). The guarding tests are first run unmutated
// in the same copy: a mutant "killed" by a test that already fails would prove nothing.
// Prints a table and the kill rate; exits 1 when a mutant survives or a baseline fails.
//   node --import tsx scripts/mutants.ts [--only id[,id…]] [--list]
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mutants, type Mutant } from './mutants-list.js';

const root = resolve(import.meta.dirname, '..');
/** Per test run; a guarding test that hangs under a mutant counts as killed, but none should. */
const runTimeoutMs = 180_000;

/** The file text with the mutant applied; throws unless `find` occurs exactly once. */
export function applyMutant(text: string, m: Mutant): string {
  const at = text.indexOf(m.find);
  if (at < 0 || text.indexOf(m.find, at + 1) >= 0) {
    throw new Error(`mutant ${m.id}: expected exactly one "${m.find}" in ${m.file}`);
  }
  return text.slice(0, at) + m.replace + text.slice(at + m.find.length);
}

function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunmesh-mutants-'));
  for (const p of ['src', 'test', 'scripts', 'package.json', 'tsconfig.json']) {
    cpSync(join(root, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function runTests(dir: string, files: readonly string[]): { ok: boolean; ran: number; ms: number; detail: string } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    cwd: dir,
    encoding: 'utf8',
    timeout: runTimeoutMs,
    // Without NODE_TEST_CONTEXT: when this runs under node --test, the child would report to it and run nothing.
    env: { ...process.env, TUNMESH_PERF: '', NODE_TEST_CONTEXT: undefined },
  });
  const ran = Number(/^# tests (\d+)$/m.exec(r.stdout ?? '')?.[1] ?? 0);
  const failing = (r.stdout ?? '').match(/^not ok \d+ - .*$/gm) ?? [];
  const detail = r.error ? `timeout/error: ${r.error.message}` : failing.slice(0, 2).join('; ');
  // A run in which no test ran proves nothing either way: never a pass, never a kill.
  if (ran === 0 && !r.error) return { ok: false, ran, ms: Date.now() - t0, detail: 'no test ran' };
  return { ok: r.status === 0 && !r.error, ran, ms: Date.now() - t0, detail };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? new Set(args[onlyAt + 1]?.split(',')) : undefined;
  const chosen = mutants.filter((m) => only === undefined || only.has(m.id));
  if (args.includes('--list')) {
    for (const m of chosen) console.log(`${m.id}\t${m.file}\t${m.tests.join(' ')}`);
    return;
  }
  if (chosen.length === 0) throw new Error('no mutant chosen');
  for (const m of chosen) applyMutant(readFileSync(join(root, m.file), 'utf8'), m); // fail before any run
  const dir = scratchCopy();
  console.log(`# scratch copy: ${dir}`);
  let failed: boolean;
  try {
    const baselineFiles = [...new Set(chosen.flatMap((m) => m.tests))];
    const base = runTests(dir, baselineFiles);
    console.log(
      `# baseline (unmutated) ${baselineFiles.length} test files: ${base.ok ? 'pass' : 'FAIL'} in ${base.ms} ms`,
    );
    if (!base.ok) {
      console.error(`# the guarding tests fail without any mutation: ${base.detail}`);
      process.exitCode = 1;
      failed = true;
      return;
    }
    const rows: { m: Mutant; killed: boolean; ms: number; detail: string }[] = [];
    for (const m of chosen) {
      const path = join(dir, m.file);
      const original = readFileSync(path, 'utf8');
      writeFileSync(path, applyMutant(original, m));
      try {
        const r = runTests(dir, m.tests);
        const killed = !r.ok && (r.ran > 0 || r.detail.startsWith('timeout'));
        rows.push({ m, killed, ms: r.ms, detail: r.ok ? 'all guarding tests passed' : r.detail });
        console.log(`# ${m.id}: ${killed ? 'killed' : 'SURVIVED'} (${r.ms} ms)`);
      } finally {
        writeFileSync(path, original);
      }
    }
    const killed = rows.filter((r) => r.killed).length;
    console.log('\n| mutant | file | guarded by | result | ms |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) {
      const tests = r.m.tests.map((t) => t.replace(/^test\//, '')).join(', ');
      console.log(`| ${r.m.id} | ${r.m.file} | ${tests} | ${r.killed ? 'killed' : 'SURVIVED'} | ${r.ms} |`);
    }
    console.log(`\nkill rate: ${killed}/${rows.length} (${((100 * killed) / rows.length).toFixed(0)} %)`);
    for (const r of rows) console.log(`#   ${r.m.id}: ${r.detail}`);
    failed = killed !== rows.length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed) {
    console.error('# a mutant survived: the tests listed for it do not guard that code');
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'mutants.ts')) await main();
