// The responder's half of anti-entropy, bounded. A node that knows little differs from us in every bucket;
// answering with our digest of all of them would cost a reply of our whole table (≈ 30 B per entry, 90 KB
// at 3000 nodes) to let it pull at most `limits.wantPerPush` records. So the reply covers only as many
// differing buckets as fit in `limits.syncReplyEntries` digest entries, starting at a random bucket so
// that successive exchanges cover the others. The initiator reconciles exactly the buckets named in the
// reply (what it pushes back is also limited to those), so a partial reply is still a correct one.
import { bucketOf } from './digest.js';
import { limits, type DigestEntry } from './messages.js';
import type { Rng } from './rng.js';
import type { MemberTable } from './table.js';

export interface SyncAnswer {
  readonly buckets: number[];
  readonly digest: DigestEntry[];
}

export function boundedSyncAnswer(
  table: MemberTable,
  differing: ReadonlySet<number>,
  rng: Rng,
  maxEntries: number = limits.syncReplyEntries,
): SyncAnswer {
  if (differing.size === 0) return { buckets: [], digest: [] };
  const counts = new Uint32Array(limits.syncBuckets);
  counts[bucketOf(table.self.id)]!++;
  for (const e of table.entries()) counts[bucketOf(e.id)]!++;
  const order = [...differing].sort((a, b) => a - b);
  const first = Math.floor(rng() * order.length) % order.length;
  const chosen = new Set<number>();
  let total = 0;
  for (let i = 0; i < order.length; i++) {
    const b = order[(first + i) % order.length]!;
    // Always answer one bucket, even an oversized one (its digest is cut at maxEntries below).
    if (chosen.size > 0 && total + counts[b]! > maxEntries) continue;
    chosen.add(b);
    total += counts[b]!;
  }
  return { buckets: [...chosen].sort((a, b) => a - b), digest: table.digestIn(chosen, maxEntries) };
}
