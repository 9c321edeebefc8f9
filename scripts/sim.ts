// `npm run sim -- --nodes N --seed S`: the in-memory scale simulation (membership over the memory network
// with a simulated clock, plus a sample of WireGuard sessions over the memory internet); prints figures.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command } from 'commander';
import { runScale } from '../src/membership/scale-scenario.js';
import { runLazySessions } from '../test/sim/lazy-sessions.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const program = new Command('sim')
  .option('--nodes <n>', 'number of nodes', '100')
  .option('--seed <s>', 'seed', '1')
  .option('--storm-ms <ms>', 'window in which the nodes start', '1000')
  .option('--loss <p>', 'message loss probability', '0')
  .option('--failure-timeout-ms <ms>', 'membership.failureTimeoutMs', '10000')
  .option('--pairs <k>', 'node pairs that exchange data-plane traffic', '20')
  .option('--json', 'print one JSON object instead of text')
  .parse();
const o = program.opts<{
  nodes: string;
  seed: string;
  stormMs: string;
  loss: string;
  failureTimeoutMs: string;
  pairs: string;
  json?: boolean;
}>();

const nodes = Number(o.nodes);
const seed = Number(o.seed);
const scale = await runScale({
  nodes,
  seed,
  stormMs: Number(o.stormMs),
  loss: Number(o.loss),
  options: { failureTimeoutMs: Number(o.failureTimeoutMs) },
  gc,
  progress: o.json ? undefined : (l) => console.error(`# ${l}`),
});
const sessions = await runLazySessions({ nodes: Math.min(nodes, 3000), pairs: Number(o.pairs), seed });
const out = { ...scale, sessions };
if (o.json) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
