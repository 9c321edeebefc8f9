import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { MembershipCore } from '../../src/membership/core.js';
import type { Update } from '../../src/membership/messages.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { Suspicions, suspicionTimeout } from '../../src/membership/suspicion.js';
import { deriveTiming, suspicionMinMs, suspicionTimeoutMs } from '../../src/membership/timing.js';

const bounds = { minMs: 1000, maxMs: 4000, k: 3 };

test('suspicion timeout: max without confirmations, min after k, shrinking in between', () => {
  assert.equal(suspicionTimeout(bounds, 0), 4000);
  assert.equal(suspicionTimeout(bounds, 3), 1000);
  assert.equal(suspicionTimeout(bounds, 10), 1000);
  const t1 = suspicionTimeout(bounds, 1);
  const t2 = suspicionTimeout(bounds, 2);
  assert.ok(4000 > t1 && t1 > t2 && t2 > 1000, `${t1} ${t2}`);
  assert.equal(suspicionTimeout({ ...bounds, k: 0 }, 0), 1000);
});

test('suspicions: only new confirmers of the same incarnation move the deadline, at most k of them', () => {
  const s = new Suspicions();
  assert.equal(s.start('x', 5, 2, 'a', 100, bounds), 4100);
  assert.equal(s.confirm('x', 5, 2, 'a'), undefined, 'the first suspector does not confirm itself');
  assert.equal(s.confirm('x', 5, 3, 'b'), undefined, 'another incarnation is another suspicion');
  assert.equal(s.confirm('y', 5, 2, 'b'), undefined);
  const d1 = s.confirm('x', 5, 2, 'b');
  assert.equal(d1, 100 + suspicionTimeout(bounds, 1));
  assert.equal(s.confirm('x', 5, 2, 'b'), undefined, 'the same confirmer counts once');
  assert.ok(s.confirm('x', 5, 2, 'c')! < d1!);
  assert.equal(s.confirm('x', 5, 2, 'd'), 1100);
  assert.equal(s.confirm('x', 5, 2, 'e'), undefined, 'beyond k nothing to pass on');
  s.prune((id) => id !== 'x');
  assert.equal(s.size, 0);
});

test("core: independent confirmations bring a suspect's death forward; without them it keeps the long timeout", () => {
  const rec = (id: string): NodeRecord => ({
    id,
    epoch: 100,
    version: 0,
    publicKey: 'k',
    addresses: [`198.19.0.${id.length}/16`],
    endpoints: [],
    apiUrl: `https://198.18.0.1:4567/${id}`,
    methods: ['wireguard'],
    routes: [],
  });
  const d = deriveTiming({ probeIntervalMs: 1000, failureTimeoutMs: 10_000, gossipFanout: 3, requestTimeoutMs: 2000 });
  const run = (confirmers: string[]): number => {
    const core = new MembershipCore(rec('me'), d, seededRng(3), 0, {
      log: silentLogger(),
      metrics: undefined,
      auth: trustingAuth,
    });
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'victim'];
    core.mergeJoinReply(0, { type: 'join-reply', self: rec('seed'), members: ids.map(rec) });
    const sus = (by: string): Update => ({ t: 'suspect', id: 'victim', epoch: 100, version: 0, by });
    core.handleRequest(10, 1, { type: 'gossip', from: 'm1', updates: [sus('m1')] }, 'm1');
    confirmers.forEach((by, i) =>
      core.handleRequest(20 + i, 2 + i, { type: 'gossip', from: by, updates: [sus(by)] }, by),
    );
    assert.equal(core.table.get('victim')?.state, 'suspect');
    for (let t = 10; t <= 20_000; t += 10) {
      core.tick(t);
      if (core.table.get('victim')?.state === 'dead') return t - 10;
    }
    return Infinity;
  };
  const { maxMs, minMs } = { maxMs: suspicionTimeoutMs(d, 8), minMs: suspicionMinMs(d) };
  assert.ok(maxMs > minMs + 500);
  const alone = run([]);
  const confirmed = run(['m2', 'm3', 'm4']);
  assert.ok(Math.abs(alone - maxMs) <= 10, `alone: ${alone} vs ${maxMs}`);
  assert.ok(Math.abs(confirmed - minMs) <= 10, `confirmed: ${confirmed} vs ${minMs}`);
  assert.equal(run(['m1', 'm1']), alone, 'the first suspector repeating itself is no confirmation');
});
