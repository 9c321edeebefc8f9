// Which live node holds each overlay address. When two live records claim the same address, the one with
// the lower (epoch, id) keeps it and the other is refused; since every node applies the same rule to the
// same converged table, the whole mesh agrees on the winner whatever order records arrived in.
import { addressKey, type NodeRecord } from './record.js';

export function holdsBefore(a: NodeRecord, b: NodeRecord): boolean {
  return a.epoch !== b.epoch ? a.epoch < b.epoch : a.id < b.id;
}

export interface Conflict {
  readonly address: string;
  /** The node that keeps the address. */
  readonly holder: string;
}

// Records are immutable and shared (one object reaches many tables in a simulation, and one record is
// applied again and again by gossip), so their parsed address keys are worth keeping.
const keysOf = new WeakMap<NodeRecord, string[]>();
function addressKeys(record: NodeRecord): string[] {
  let k = keysOf.get(record);
  if (!k) keysOf.set(record, (k = [...new Set(record.addresses.map(addressKey))]));
  return k;
}

export class AddressClaims {
  readonly #claims = new Map<string, string | Set<string>>();
  readonly #byNode = new Map<string, string[]>();

  /** Replaces the claims of `id` with the addresses of `record` (none when undefined: not live). */
  set(id: string, record: NodeRecord | undefined): string[] {
    const old = this.#byNode.get(id) ?? [];
    for (const a of old) this.#remove(a, id);
    const next = record ? addressKeys(record) : [];
    for (const a of next) this.#add(a, id);
    if (next.length) this.#byNode.set(id, next);
    else this.#byNode.delete(id);
    if (old.length === 0) return next;
    return [...new Set([...old, ...next])];
  }

  holders(address: string): ReadonlySet<string> {
    const h = this.#claims.get(address);
    return h === undefined ? new Set() : typeof h === 'string' ? new Set([h]) : h;
  }

  // An address almost always has one holder: keep a plain id then, a Set only for a conflict (a table of
  // thousands of nodes would otherwise hold thousands of one-element Sets).
  #add(address: string, id: string): void {
    const h = this.#claims.get(address);
    if (h === undefined) this.#claims.set(address, id);
    else if (typeof h === 'string') {
      if (h !== id) this.#claims.set(address, new Set([h, id]));
    } else h.add(id);
  }

  #remove(address: string, id: string): void {
    const h = this.#claims.get(address);
    if (h === undefined) return;
    if (typeof h === 'string') {
      if (h === id) this.#claims.delete(address);
      return;
    }
    h.delete(id);
    if (h.size === 1) this.#claims.set(address, h.values().next().value!);
    else if (h.size === 0) this.#claims.delete(address);
  }

  /** Addresses of `record` that another live node keeps, by the (epoch, id) rule. */
  conflictsOf(record: NodeRecord, recordOf: (id: string) => NodeRecord | undefined): Conflict[] {
    const out: Conflict[] = [];
    for (const address of this.#byNode.get(record.id) ?? []) {
      let winner = record;
      for (const id of this.holders(address)) {
        const r = id === record.id ? undefined : recordOf(id);
        if (r && holdsBefore(r, winner)) winner = r;
      }
      if (winner !== record) out.push({ address, holder: winner.id });
    }
    return out;
  }
}
