// The mutation check (npm run mutants, scripts/mutants.ts) stays runnable: every mutant still applies to
// exactly one place in today's tree and names test files that exist, and the tool really reports a
// killed mutant (one fast mutant is run end to end in a scratch copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mutants } from '../../scripts/mutants-list.js';
import { applyMutant } from '../../scripts/mutants.js';

test('every mutant applies exactly once and changes its file; its guarding tests exist', () => {
  assert.ok(mutants.length >= 15, `${mutants.length} mutants`);
  assert.equal(new Set(mutants.map((m) => m.id)).size, mutants.length, 'ids are unique');
  for (const m of mutants) {
    const text = readFileSync(m.file, 'utf8');
    const mutated = applyMutant(text, m);
    assert.notEqual(mutated, text, m.id);
    assert.ok(m.tests.length > 0, m.id);
    for (const t of m.tests) assert.ok(existsSync(t), `${m.id}: ${t}`);
  }
  assert.throws(() => applyMutant('x x', { ...mutants[0]!, find: 'x' }), /exactly one/);
});

test('npm run mutants --only one mutant: killed in a scratch copy, the checkout untouched', () => {
  const m = mutants.find((x) => x.id === 'source-check-off')!;
  const before = readFileSync(m.file, 'utf8');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/mutants.ts', '--only', m.id], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\| source-check-off \| src\/dataplane\/packet-policy\.ts \| .* \| killed \|/);
  assert.match(r.stdout, /kill rate: 1\/1 \(100 %\)/);
  assert.equal(readFileSync(m.file, 'utf8'), before);
});
