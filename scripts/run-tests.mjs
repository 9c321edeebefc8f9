// Runs node's test runner over test/<suite>/**/*.test.ts (all suites by default), through tsx.
// Suites that need root and network namespaces (netns) are skipped, with a message, when not root.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'property', 'sim', 'netns'];
const isRoot = process.getuid?.() === 0;
const files = [];
const walk = (dir) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.test.ts')) files.push(p);
  }
};
for (const s of suites) {
  if (s === 'netns' && !isRoot) {
    console.log('# netns suite skipped: needs root');
    continue;
  }
  walk(join('test', s));
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
