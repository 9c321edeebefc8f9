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
  .option('--probe-interval-ms <ms>', 'membership.probeIntervalMs', '1000')
  .option('--request-timeout-ms <ms>', 'membership.requestTimeoutMs', '2000')
  .option('--steady-ms <ms>', 'quiet window over which steady-state traffic is averaged', '20000')
  .option('--no-partition', 'skip the partition/heal phase')
  .option('--pairs <k>', 'node pairs that exchange data-plane traffic', '20')
  .option('--json', 'print one JSON object instead of text')
  .parse();
const o = program.opts<{
  nodes: string;
  seed: string;
  stormMs: string;
  loss: string;
  failureTimeoutMs: string;
  probeIntervalMs: string;
  requestTimeoutMs: string;
  pairs: string;
  steadyMs: string;
  partition: boolean;
  json?: boolean;
}>();

const nodes = Number(o.nodes);
const seed = Number(o.seed);
const cpu0 = process.cpuUsage();
const scale = await runScale({
  nodes,
  seed,
  stormMs: Number(o.stormMs),
  loss: Number(o.loss),
  steadyMs: Number(o.steadyMs),
  partition: o.partition,
  options: {
    failureTimeoutMs: Number(o.failureTimeoutMs),
    probeIntervalMs: Number(o.probeIntervalMs),
    requestTimeoutMs: Number(o.requestTimeoutMs),
  },
  gc,
  progress: (l) => console.error(`# ${l}`),
});
const cpu = process.cpuUsage(cpu0);
const sessions = await runLazySessions({ nodes, pairs: Number(o.pairs), seed, gc });
// Control bytes as sent over HTTPS: the JSON the simulation counts plus, per message (request or reply),
// HTTP/1.1 headers with the x-tunmesh-auth signature and one TLS 1.3 record on a kept-alive connection.
const httpsOverheadPerMessage = 300;
const out = {
  ...scale,
  steadyHttpsBytesPerNodeSec: scale.steadyBytesPerNodeSec + scale.steadyMsgsPerNodeSec * httpsOverheadPerMessage,
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  sessions,
};
if (o.json) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
