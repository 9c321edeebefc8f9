// UDP coalescing of TUN writes (USO) in the native fast path, without root: a train of same-size datagrams
// of one flow becomes GSO writes (type UDP_L4, at most 64 datagrams each) that the split of the tx path
// turns back into exactly the same packets; what must not merge (fragments, other flows, a TUN without
// USO) is written alone and flows keep their order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const fast = loadFastPath();
const skip = fast === undefined && 'native addon not built (run npm install)';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function sum16(b: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2 === 1) acc += b[b.length - 1]! << 8;
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** A UDP datagram over IPv4 (DF, id) or IPv6 with correct checksums. */
function udp(o: { v6?: boolean; sport?: number; id?: number; frag?: boolean; payload: Uint8Array }): Buffer {
  const ipLen = o.v6 ? 40 : 20;
  const p = Buffer.alloc(ipLen + 8 + o.payload.length);
  if (o.v6) {
    p[0] = 0x60;
    p.writeUInt16BE(p.length - 40, 4);
    p[6] = 17;
    p[7] = 64;
    Buffer.from('fd000019000000000000000000000001fd000019000000000000000000000002', 'hex').copy(p, 8);
  } else {
    p[0] = 0x45;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(o.id ?? 0, 4);
    p.writeUInt16BE(o.frag ? 0x2000 : 0x4000, 6);
    p[8] = 64;
    p[9] = 17;
    Buffer.from([198, 19, 0, 1, 198, 19, 0, 2]).copy(p, 12);
    p.writeUInt16BE(~fold(sum16(p.subarray(0, 20))) & 0xffff, 10);
  }
  p.writeUInt16BE(o.sport ?? 5000, ipLen);
  p.writeUInt16BE(9000, ipLen + 2);
  p.writeUInt16BE(8 + o.payload.length, ipLen + 4);
  Buffer.from(o.payload).copy(p, ipLen + 8);
  const addrs = o.v6 ? p.subarray(8, 40) : p.subarray(12, 20);
  const c = ~fold(sum16(p.subarray(ipLen), sum16(addrs) + 17 + 8 + o.payload.length)) & 0xffff;
  p.writeUInt16BE(c === 0 ? 0xffff : c, ipLen + 6);
  return p;
}

function train(n: number, size: number, last: number, o: { v6?: boolean; sport?: number } = {}): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    udp({ ...o, id: 700 + i, payload: Buffer.alloc(i === n - 1 ? last : size, (i * 7 + (o.sport ?? 0)) & 0xff) }),
  );
}

/** What the kernel would see: every write split back into plain packets. */
function unwrap(writes: Buffer[]): Buffer[] {
  return writes.flatMap((w) => (w[1] === 0 ? [w.subarray(10)] : fast!.fastPathSplit(w, 1500)!));
}

test('USO: a UDP train becomes GSO writes that split back into the same bytes', { skip }, () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 2, max: 80 }),
      fc.integer({ min: 1, max: 1400 }),
      fc.integer({ min: 1, max: 1400 }),
      (v6, n, size, lastRaw) => {
        const pkts = train(n, size, Math.min(lastRaw, size), { v6 });
        const writes = fast!.fastPathCoalesce(pkts, { uso: true })!;
        assert.deepEqual(unwrap(writes).map(hex), pkts.map(hex));
        for (const w of writes.filter((x) => x[1] !== 0)) {
          assert.equal(w[0], 1, 'NEEDS_CSUM');
          assert.equal(w[1], 5, 'GSO_UDP_L4');
          assert.equal(w.readUInt16LE(4), size, 'gso_size');
          assert.ok(w.length - 10 <= 65535);
          assert.ok(fast!.fastPathSplit(w, 1500)!.length <= 64, 'at most 64 datagrams per write');
        }
        if (n <= 64 && (v6 ? 48 : 28) + size * n <= 65535) assert.equal(writes.length, 1, 'one write');
      },
    ),
    { numRuns: 60 },
  );
});

test('USO: flows keep their order; fragments, other sizes and a TUN without USO are written alone', { skip }, () => {
  const a = train(5, 1000, 1000, { sport: 1111 });
  const b = train(5, 800, 300, { sport: 2222 });
  const mixed = a.flatMap((p, i) => [p, b[i]!]);
  const writes = fast!.fastPathCoalesce(mixed, { uso: true })!;
  const out = unwrap(writes);
  const of = (port: number) => out.filter((p) => p.readUInt16BE(20) === port).map(hex);
  assert.deepEqual(of(1111), a.map(hex));
  assert.deepEqual(of(2222), b.map(hex));
  assert.equal(writes.length, 2);

  // A larger datagram after the train starts a new write; a fragment never merges.
  const grow = [...train(3, 500, 500), udp({ id: 703, payload: Buffer.alloc(600) })];
  assert.equal(fast!.fastPathCoalesce(grow, { uso: true })!.length, 2);
  const frags = [
    udp({ id: 1, frag: true, payload: Buffer.alloc(500) }),
    udp({ id: 1, frag: true, payload: Buffer.alloc(500) }),
  ];
  assert.ok(fast!.fastPathCoalesce(frags, { uso: true })!.every((w) => w[1] === 0));
  // Without USO every datagram is its own write.
  assert.equal(fast!.fastPathCoalesce(train(4, 500, 500))!.length, 4);
});
