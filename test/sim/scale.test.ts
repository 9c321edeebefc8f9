// The scale scenario (npm run sim) at test size: a join storm through 3 bootstrap nodes, steady state,
// 10 % killed, a 50/50 partition healed; and the lazy-session sample over the memory internet. Deterministic
// for a seed; the bounds are in simulated time, never wall-clock time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScale, type ScaleFigures } from '../../src/membership/scale-scenario.js';
import { runLazySessions } from './lazy-sessions.js';

const NODES = 40;

function simulated(f: ScaleFigures): Omit<ScaleFigures, 'realMs'> {
  const { realMs: _real, ...rest } = f;
  return rest;
}

test(`${NODES} nodes: storm, failure and partition figures are within bounds and repeat for a seed`, async () => {
  const a = await runScale({ nodes: NODES, seed: 7, steadyMs: 10_000 });
  assert.notEqual(a.convergeMs, undefined, 'no full membership after the join storm');
  assert.ok(a.convergeMs! <= 5_000, `converged ${a.convergeMs} ms after the storm`);
  assert.equal(a.failureMissing, 0, 'some survivors never dropped every killed node');
  // Defaults: failureTimeoutMs 10 s is the protocol's own budget for declaring a death everywhere.
  assert.ok(a.failureMaxMs! <= 10_000, `failure took ${a.failureMaxMs} ms`);
  assert.notEqual(a.healMs, undefined, 'the partition did not heal');
  // A quiet mesh: about one probe and its ack per second, a sync every few seconds.
  assert.ok(a.steadyMsgsPerNodeSec > 1 && a.steadyMsgsPerNodeSec < 5, `${a.steadyMsgsPerNodeSec} msgs/s`);
  const b = await runScale({ nodes: NODES, seed: 7, steadyMs: 10_000 });
  assert.deepEqual(simulated(b), simulated(a), 'same seed, different figures');
  const c = await runScale({ nodes: NODES, seed: 8, steadyMs: 10_000 });
  assert.notDeepEqual(simulated(c), simulated(a), 'another seed should give another run');
});

test('sessions are lazy: of 199 configured peers only the 10 with traffic handshake', async () => {
  const s = await runLazySessions({ nodes: 200, pairs: 10, seed: 3 });
  assert.equal(s.configuredPeers, 199);
  assert.equal(s.handshakes, 10);
  assert.equal(s.packetsDelivered, 3 * 10);
});
