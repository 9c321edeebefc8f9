// Nodes that left gracefully are usually restarting (a rolling update, a redeploy). One that has no bootstrap
// URLs — a seed — has nobody to announce its new incarnation to once everyone buried it, so a few members
// sync with a departed node at 1, 2, 4… sync intervals after it left, for as long as its tombstone lasts.
// Which members try is a hash of (member, departed node, round): about `tries` per round mesh-wide, with
// no random draws (seeded simulations keep their sequences) and no herd at the restarted node.
import type { NodeRecord } from './record.js';

/** Members trying each round, in expectation. */
export const departedTriesPerRound = 3;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The departed nodes `selfId` should sync with now: those with a round (left at + syncIntervalMs × 2^k)
 * falling in (fromMs, toMs] and `selfId` among that round's chosen members out of `members`.
 */
export function departedDue(
  selfId: string,
  departed: ReadonlyMap<string, { readonly record: NodeRecord; readonly at: number }>,
  members: number,
  fromMs: number,
  toMs: number,
  syncIntervalMs: number,
): NodeRecord[] {
  const out: NodeRecord[] = [];
  const n = Math.max(1, members);
  for (const [id, d] of departed) {
    for (let k = 0, at = d.at + syncIntervalMs; at <= toMs; k++, at = d.at + syncIntervalMs * 2 ** k) {
      if (at > fromMs && fnv1a(`${selfId}|${id}|${k}`) % n < departedTriesPerRound) {
        out.push(d.record);
        break;
      }
    }
  }
  return out;
}
