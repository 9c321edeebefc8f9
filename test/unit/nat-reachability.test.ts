// Outbound-only members (membership/reachability.ts): the windows, the wire field, and the core's rules —
// never send to such a member, heartbeat when we are one, declare a silent one dead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { MembershipCore, type Action } from '../../src/membership/core.js';
import { parseReply } from '../../src/membership/messages.js';
import { outboundTiming, staleOutboundMembers } from '../../src/membership/reachability.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { deriveTiming } from '../../src/membership/timing.js';

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  epoch: 100,
  version: 0,
  publicKey: 'k',
  addresses: [],
  endpoints: [],
  apiUrl: `https://${id}:4567`,
  methods: ['wireguard'],
  routes: [],
  // Shape only: these tests trust every record (helpers/record-keys.ts); the wire schema requires both.
  sigKey: 'k',
  sig: 's',
  ...over,
});
const hooks = { log: silentLogger(), metrics: undefined, auth: trustingAuth };
const timing = deriveTiming({
  probeIntervalMs: 1000,
  failureTimeoutMs: 10_000,
  gossipFanout: 3,
  requestTimeoutMs: 2000,
});
const sendTargets = (acts: Action[]): string[] =>
  acts.flatMap((a) => (a.kind === 'send' && typeof a.to !== 'string' ? [a.to.id] : []));

test('windows: staleness leaves room for two heartbeats and stays within failureTimeoutMs', () => {
  for (const n of [2, 20, 3000]) {
    const t = outboundTiming(timing, n);
    assert.ok(t.staleMs >= 2 * t.heartbeatMs, `${n}: ${JSON.stringify(t)}`);
    assert.ok(t.staleMs < timing.failureTimeoutMs, `${n}: ${JSON.stringify(t)}`);
    assert.ok(t.heartbeatMs >= timing.probeIntervalMs);
  }
  assert.deepEqual(
    staleOutboundMembers(
      [
        { id: 'a', record: rec('a', { reach: 'outbound' }), lastSeen: 0 },
        { id: 'b', record: rec('b'), lastSeen: 0 },
        { id: 'c', record: rec('c', { reach: 'outbound' }), lastSeen: 9_000 },
      ],
      10_000,
      5_000,
    ),
    ['a'],
  );
});

test('wire: reach is optional, and only direct or outbound', () => {
  const reply = (r: unknown) => parseReply({ type: 'join-reply', self: r, members: [] });
  assert.ok(reply(rec('a')));
  assert.equal(reply(rec('a', { reach: 'outbound' }))?.type, 'join-reply');
  assert.equal(reply({ ...rec('a'), reach: 'sideways' }), undefined);
});

test('core: an outbound-only member is never sent to, and is declared dead once silent for staleMs', () => {
  const core = new MembershipCore(rec('me'), timing, seededRng(5), 0, hooks);
  core.mergeJoinReply(0, { type: 'join-reply', self: rec('seed'), members: [rec('nat', { reach: 'outbound' })] });
  const targets = new Set<string>();
  let now = 0;
  const { staleMs } = outboundTiming(timing, 3);
  while (now < staleMs - 500) {
    now += 100;
    for (const a of core.tick(now)) {
      for (const t of sendTargets([a])) targets.add(t);
      // The seed answers nothing: failures only (it is probed, suspected, ... — not our subject here).
      if (a.kind === 'send') core.handleFailure(now, a.token);
    }
  }
  assert.ok(!targets.has('nat'), 'sent a request to the outbound-only member');
  assert.ok(targets.has('seed'), 'the direct member was contacted');
  assert.equal(core.members().find((m) => m.id === 'nat')?.state, 'alive');
  // Its request is a sign of life: it resets the window.
  core.handleRequest(now, 1, { type: 'ping', from: 'nat', updates: [] }, 'nat');
  const seenAt = now;
  while (now < seenAt + staleMs + 1500) core.tick((now += 100));
  const nat = core.members().find((m) => m.id === 'nat');
  assert.equal(nat?.state, 'dead');
  // A later heartbeat (higher version) brings it back.
  core.handleRequest(
    now,
    2,
    { type: 'gossip', from: 'nat', updates: [{ t: 'alive', r: rec('nat', { reach: 'outbound', version: 9 }) }] },
    'nat',
  );
  assert.equal(core.members().find((m) => m.id === 'nat')?.state, 'alive');
});

test('core: an outbound-only node raises its version every heartbeatMs; a direct one does not', () => {
  for (const reach of ['outbound', 'direct'] as const) {
    const core = new MembershipCore(rec('me', { reach }), timing, seededRng(6), 0, hooks);
    for (let now = 0; now <= 20_000; now += 100) core.tick(now);
    const beats = core.self.version;
    const { heartbeatMs } = outboundTiming(timing, 1);
    if (reach === 'outbound')
      assert.ok(beats >= Math.floor(20_000 / heartbeatMs) - 1 && beats <= 20_000 / heartbeatMs + 1, `${beats}`);
    else assert.equal(beats, 0);
  }
});
