// `npm run fuzz`: the long fuzz run (R1/R2/R4). Every target in test/fuzz/targets.ts gets 10^6 cases
// (time-boxed per target), seeded from its kept corpus in test/fuzz/corpus/<target>/. Inputs that
// reach a new outcome are added to the corpus; a crash or hang (> 100 ms) is saved as crash-*.bin (it
// replays first on every later run, including the bounded run in npm test) and fails the run.
//
//   npm run fuzz                          10^6 cases per target, at most 300 s each
//   npm run fuzz -- --cases 100000 --time 30 --seed 42 --only wire-message,body-reply --no-keep
import { parseArgs } from 'node:util';
import { fuzz, loadCorpus, saveInput } from '../test/fuzz/engine.js';
import { makeTargets } from '../test/fuzz/targets.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    time: { type: 'string', default: '300' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    only: { type: 'string' },
    'no-keep': { type: 'boolean', default: false },
  },
});
const cases = Number(values.cases);
const timeMs = Number(values.time) * 1000;
const seed = Number(values.seed);
const only = values.only?.split(',');
let failed = 0;
console.log(`fuzz: ${cases} cases per target, ≤ ${timeMs / 1000} s each, seed ${seed}`);
for (const target of makeTargets()) {
  if (only && !only.includes(target.name)) continue;
  const s = fuzz(target, loadCorpus(target.name), { cases, timeMs, seed, stopOnFailure: false });
  if (!values['no-keep']) for (const d of s.discovered) saveInput(target.name, d);
  for (const f of s.failures.slice(0, 20)) {
    const path = saveInput(target.name, Buffer.from(f.inputHex, 'hex'), 'crash-');
    console.log(`  FAIL ${f.kind} ${f.message} -> ${path}`);
  }
  failed += s.failures.length;
  const rate = Math.round(s.cases / (s.elapsedMs / 1000));
  console.log(
    `${target.name.padEnd(22)} ${String(s.cases).padStart(8)} cases ${(s.elapsedMs / 1000).toFixed(1).padStart(6)} s` +
      ` ${String(rate).padStart(7)}/s  max call ${s.maxCallMs.toFixed(1)} ms  outcomes ${Object.keys(s.outcomes).length}` +
      `  new corpus ${s.discovered.length}  failures ${s.failures.length}`,
  );
  if (s.cases < cases) console.log(`  (time box reached before ${cases} cases)`);
}
console.log(failed === 0 ? 'fuzz: 0 failures' : `fuzz: ${failed} failures`);
process.exit(failed === 0 ? 0 : 1);
