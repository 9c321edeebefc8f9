// A node that knows little differs from us in every anti-entropy bucket: our sync reply must still be
// bounded (whole buckets up to limits.syncReplyEntries), and name exactly the buckets it covers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { MembershipCore } from '../../src/membership/core.js';
import { BucketDigest, bucketOf } from '../../src/membership/digest.js';
import { limits } from '../../src/membership/messages.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { deriveTiming } from '../../src/membership/timing.js';

const rec = (id: string): NodeRecord => ({
  id,
  epoch: 100,
  version: 0,
  publicKey: 'k',
  addresses: [],
  endpoints: [],
  apiUrl: `https://198.18.0.1:4567/${id}`,
  methods: ['wireguard'],
  routes: [],
});

test('sync reply to a node that knows nothing is bounded and covers whole named buckets', () => {
  const d = deriveTiming({ probeIntervalMs: 1000, failureTimeoutMs: 10_000, gossipFanout: 3, requestTimeoutMs: 2000 });
  const core = new MembershipCore(rec('me'), d, seededRng(9), 0, {
    log: silentLogger(),
    metrics: undefined,
    auth: trustingAuth,
  });
  const members = Array.from({ length: 3000 }, (_, i) => rec(`n${i}`));
  core.mergeJoinReply(0, { type: 'join-reply', self: rec('seed'), members });
  assert.equal(core.table.liveCount, 3001);
  const empty = new BucketDigest();
  empty.toggle('newbie', 1, 0);
  const covered = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const acts = core.handleRequest(
      10 + i,
      i + 1,
      { type: 'sync', from: 'newbie', buckets: empty.buckets() },
      'newbie',
    );
    const r = acts.find((a) => a.kind === 'reply');
    assert.ok(r?.kind === 'reply' && r.reply.type === 'sync-reply');
    const { buckets, digest } = r.reply;
    assert.ok(digest.length > 0 && digest.length <= limits.syncReplyEntries, `digest of ${digest.length} entries`);
    const named = new Set(buckets);
    // Every entry of a named bucket is there (a partial bucket would make the initiator push what we have).
    const expected =
      [...core.table.entries()].filter((e) => named.has(bucketOf(e.id))).length + (named.has(bucketOf('me')) ? 1 : 0);
    assert.equal(digest.length, expected);
    for (const [id] of digest) assert.ok(named.has(bucketOf(id)));
    for (const b of buckets) covered.add(b);
  }
  assert.ok(covered.size > 20, `successive replies start at different buckets (${covered.size} covered)`);
});
