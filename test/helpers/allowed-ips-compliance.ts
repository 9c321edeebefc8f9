// One crypto-key routing suite for every prefix table (the TypeScript AllowedIps trie, the native fast
// path's hash-per-length table): lookups equal a brute-force longest-prefix match over the inserted CIDRs
// through inserts, replacements and removals. test/property/allowed-ips.compliance.test.ts runs it on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskAddress } from '../../src/wire/ip.js';

export interface PrefixTableImpl {
  /** Maps addr/prefixLength (host bits ignored) to `value`, replacing an equal prefix's value. */
  insert(addr: Uint8Array, prefixLength: number, value: number): void;
  /** Removes every prefix that maps to `value` (a peer leaving). */
  removeValue(value: number): void;
  /** The value of the longest prefix containing `addr`, or undefined. */
  lookup(addr: Uint8Array): number | undefined;
  /** How many prefixes are in the table. */
  size(): number;
}

function contains(net: Uint8Array, len: number, addr: Uint8Array): boolean {
  if (net.length !== addr.length) return false;
  const m = maskAddress(addr, len);
  return m.every((x, i) => x === net[i]);
}

export function allowedIpsSuite(name: string, make: () => PrefixTableImpl, skip: string | false): void {
  for (const size of [4, 16] as const) {
    test(
      `${name}: IPv${size === 4 ? 4 : 6} lookup equals brute force (inserts, replacements, removals)`,
      { skip },
      () => {
        // Few distinct leading bytes so prefixes overlap often.
        const addr = fc.uint8Array({ minLength: size, maxLength: size }).map((a) => {
          const b = Uint8Array.from(a);
          b[0] = b[0]! & 0x03;
          return b;
        });
        const op = fc.oneof(
          fc.record({
            kind: fc.constant('insert' as const),
            addr,
            len: fc.integer({ min: 0, max: size * 8 }),
            value: fc.integer({ min: 0, max: 5 }),
          }),
          fc.record({ kind: fc.constant('removeValue' as const), value: fc.integer({ min: 0, max: 5 }) }),
        );
        fc.assert(
          fc.property(
            fc.array(op, { maxLength: 40 }),
            fc.array(addr, { minLength: 1, maxLength: 30 }),
            (ops, probes) => {
              const t = make();
              let model: { net: Uint8Array; len: number; value: number }[] = [];
              for (const o of ops) {
                if (o.kind === 'insert') {
                  const net = maskAddress(o.addr, o.len);
                  t.insert(o.addr, o.len, o.value);
                  model = model.filter((e) => !(e.len === o.len && e.net.every((x, i) => x === net[i])));
                  model.push({ net, len: o.len, value: o.value });
                } else {
                  t.removeValue(o.value);
                  model = model.filter((e) => e.value !== o.value);
                }
              }
              for (const p of probes) {
                let best: { len: number; value: number } | undefined;
                for (const e of model) if (contains(e.net, e.len, p) && (!best || e.len > best.len)) best = e;
                assert.equal(t.lookup(p), best?.value);
              }
              assert.equal(t.size(), model.length);
            },
          ),
          { numRuns: 300 },
        );
      },
    );
  }
}
