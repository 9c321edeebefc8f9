import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  ipv4Candidates,
  ipv6Collision,
  ipv6FromIpv4,
  ipv6FromPublicKey,
  pickIpv4,
} from '../../src/routing/addressing.js';

const ok = (r: ReturnType<typeof ipv6FromIpv4>) => {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r;
};

test('ipv6FromIpv4 at /64 and /96 keeps the whole IPv4 in the low 32 bits', () => {
  assert.equal(ok(ipv6FromIpv4('fd00:19::/64', '198.19.0.1')).cidr, 'fd00:19::c613:1/64');
  assert.equal(ok(ipv6FromIpv4('2001:db8:1:2::/64', '198.19.255.254')).address, '2001:db8:1:2::c613:fffe');
  assert.equal(ok(ipv6FromIpv4('fd00:19::/96', '198.19.0.1')).cidr, 'fd00:19::c613:1/96');
  // Host bits in the configured prefix are ignored (the prefix is masked first).
  assert.equal(ok(ipv6FromIpv4('fd00:19::ffff:ffff/96', '198.19.0.2')).address, 'fd00:19::c613:2');
});

test('ipv6FromIpv4 at /112 and /124 clamps the IPv4 to the low host bits', () => {
  // /112: 16 host bits = the low 16 bits of 198.19.1.2 = 0x0102
  assert.equal(ok(ipv6FromIpv4('fd00:19::/112', '198.19.1.2')).cidr, 'fd00:19::102/112');
  // /124: 4 host bits = 0x12 & 0xf = 2
  assert.equal(ok(ipv6FromIpv4('fd00:19::10/124', '198.19.0.18')).cidr, 'fd00:19::12/124');
  assert.equal(ok(ipv6FromIpv4('fd00:19::10/124', '198.19.0.2')).address, 'fd00:19::12');
});

test('ipv6FromIpv4 refuses the all-zero host and malformed input', () => {
  const r = ipv6FromIpv4('fd00:19::/124', '198.19.0.16');
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : '', /all-zero host/);
  assert.equal(ipv6FromIpv4('198.19.0.0/16', '198.19.0.1').ok, false);
  assert.equal(ipv6FromIpv4('fd00::/64', 'fd00::1').ok, false);
  assert.equal(ipv6FromIpv4('fd00::/128', '198.19.0.1').ok, false);
});

test('property: the derived address stays inside the prefix and is injective up to /96', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 255 })).map((t) => t.join('.'));
  fc.assert(
    fc.property(v4, v4, fc.constantFrom(64, 80, 96, 112, 124), (a, b, len) => {
      const ra = ipv6FromIpv4(`fd00:19::/${len}`, a);
      const rb = ipv6FromIpv4(`fd00:19::/${len}`, b);
      for (const r of [ra, rb]) if (r.ok) assert.ok(r.address.startsWith('fd00:19:'));
      if (len <= 96 && ra.ok && rb.ok) assert.equal(ra.address === rb.address, a === b);
      // Beyond /96 two addresses collide exactly when their low host bits agree.
      if (len > 96 && ra.ok && rb.ok) {
        const low = (s: string) =>
          Number(s.split('.').reduce((x, o) => (x << 8n) | BigInt(o), 0n) % 2n ** BigInt(128 - len));
        assert.equal(ra.address === rb.address, low(a) === low(b));
      }
    }),
    { numRuns: 300 },
  );
});

test('a collision is refused with a message naming the holder and the cause', () => {
  const mine = ok(ipv6FromIpv4('fd00:19::/124', '198.19.0.17'));
  const other = ok(ipv6FromIpv4('fd00:19::/124', '198.19.0.1'));
  assert.equal(mine.address, other.address);
  const msg = ipv6Collision({ address: mine.address, source: 'IPv4 198.19.0.17', prefix: 'fd00:19::/124' }, [
    ['n9', '198.19.0.9/16'],
    ['n1', other.cidr],
  ]);
  assert.match(msg ?? '', /already held by node n1/);
  assert.match(msg ?? '', /low 4 bits/);
  assert.equal(
    ipv6Collision({ address: mine.address, source: 'x', prefix: 'fd00:19::/124' }, [['n2', 'fd00:19::3']]),
    undefined,
  );
});

test('ipv6FromPublicKey uses the low host bits of SHA-256(key)[0..16)', () => {
  const key = new Uint8Array(32).map((_, i) => i + 1);
  const d = createHash('sha256').update(key).digest();
  const low64 = d.subarray(8, 16).toString('hex');
  const r = ok(ipv6FromPublicKey('fd00:42::/64', key));
  const expected = `fd00:42:0:0:${low64
    .match(/.{4}/g)!
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}`;
  assert.equal(r.address, new URL(`http://[${expected}]/`).hostname.slice(1, -1));
  assert.equal(r.cidr.endsWith('/64'), true);
  const r124 = ok(ipv6FromPublicKey('fd00:42::/124', key));
  assert.equal(r124.address, `fd00:42::${(d[15]! & 0xf).toString(16)}`);
  assert.equal(ipv6FromPublicKey('fd00::/64', new Uint8Array(31)).ok, false);
});

test('ipv4Candidates: every usable pool address exactly once, deterministic per name', () => {
  const all = [...ipv4Candidates('198.19.7.0/28', 'node-a')];
  assert.equal(all.length, 14);
  assert.equal(new Set(all).size, 14);
  assert.ok(!all.includes('198.19.7.0') && !all.includes('198.19.7.15'));
  assert.deepEqual([...ipv4Candidates('198.19.7.0/28', 'node-a')], all);
  assert.notDeepEqual([...ipv4Candidates('198.19.7.0/28', 'node-b')], all);
  assert.equal([...ipv4Candidates('198.19.7.0/31', 'x')].length, 2);
});

test('pickIpv4 skips addresses held by others, keeps its own, reports a full pool', () => {
  const pool = '198.19.7.0/29';
  const first = [...ipv4Candidates(pool, 'a')];
  const fresh = pickIpv4(pool, 'a', new Map());
  assert.ok(fresh.ok && fresh.cidr === `${first[0]}/29`);
  const r = pickIpv4(pool, 'a', new Map([[first[0]!, 'b']]));
  assert.ok(r.ok && r.address === first[1]);
  // Held by itself (its old record is still in the mesh): not a conflict.
  const own = pickIpv4(pool, 'a', new Map([[first[3]!, 'a']]), first[3]);
  assert.ok(own.ok && own.address === first[3]);
  const full = pickIpv4(pool, 'a', new Map(first.map((x, i) => [x, `o${i}`])));
  assert.equal(full.ok, false);
  assert.match(!full.ok ? full.error : '', /full/);
});

// The in-memory mesh: 20 nodes join one after another (each sees what the earlier ones hold), then every
// node restarts in turn (its own old record is gone, everything else is held): all distinct, all stable.
test('20 nodes get 20 distinct pool addresses that survive restarts', () => {
  const pool = '198.19.0.0/27';
  const held = new Map<string, string>();
  const names = Array.from({ length: 20 }, (_, i) => `n${i + 1}`);
  for (const n of names) {
    const r = pickIpv4(pool, n, held);
    assert.ok(r.ok);
    held.set(r.address, n);
  }
  assert.equal(held.size, 20);
  const before = new Map([...held].map(([a, n]) => [n, a]));
  for (const n of names) {
    const mine = before.get(n)!;
    held.delete(mine);
    const r = pickIpv4(pool, n, held);
    assert.ok(r.ok);
    assert.equal(r.address, mine, `${n} moved`);
    held.set(r.address, n);
  }
});
