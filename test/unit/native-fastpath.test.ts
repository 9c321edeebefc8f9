// The native fast path's pure pieces, without root: its seal against the stored (self-generated snapshot) vectors and
// the JS seal; the TSO split of TUN super-packets (checksums, sequence numbers, flags, payload); and the
// TCP coalescing of TUN writes, which must be the exact inverse of the split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { sealInto } from '../../src/crypto/aead.js';
import { paddingSize } from '../../src/noise/outbound.js';
import { activityColumns, loadFastPath } from '../../src/dataplane/native-addon.js';
import { vectorFile, type NoiseVectors } from '../vectors/noise-vectors.js';

const fast = loadFastPath();
const skip = fast === undefined && 'native addon not built (run npm install)';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ---- packet construction and checks (independent of the native code) ----

function sum16(b: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2 === 1) acc += b[b.length - 1]! << 8;
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}
function pseudo(ip: Uint8Array, proto: number, len: number): number {
  const v4 = ip[0]! >> 4 === 4;
  return sum16(v4 ? ip.subarray(12, 20) : ip.subarray(8, 40)) + proto + len;
}
/** True when the L4 checksum (TCP or UDP) of a plain packet verifies. */
function l4ChecksumOk(p: Uint8Array): boolean {
  const v4 = p[0]! >> 4 === 4;
  const ipLen = v4 ? (p[0]! & 15) * 4 : 40;
  const total = v4 ? (p[2]! << 8) | p[3]! : 40 + ((p[4]! << 8) | p[5]!);
  const proto = v4 ? p[9]! : p[6]!;
  return fold(pseudo(p, proto, total - ipLen) + sum16(p.subarray(ipLen, total))) === 0xffff;
}
function ipv4HeaderOk(p: Uint8Array): boolean {
  return fold(sum16(p.subarray(0, (p[0]! & 15) * 4))) === 0xffff;
}

interface Seg {
  v6?: boolean;
  sport?: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
  id?: number;
  window?: number;
  options?: Uint8Array;
  udp?: boolean;
}

/** A TCP (or UDP) packet over IPv4 or IPv6 with correct checksums. */
function packet(s: Seg): Buffer {
  const v6 = s.v6 ?? false;
  const ipLen = v6 ? 40 : 20;
  const opts = s.options ?? new Uint8Array(0);
  const l4Len = s.udp ? 8 : 20 + opts.length;
  const total = ipLen + l4Len + s.payload.length;
  const p = Buffer.alloc(total);
  if (v6) {
    p[0] = 0x60;
    p.writeUInt16BE(total - 40, 4);
    p[6] = s.udp ? 17 : 6;
    p[7] = 64;
    p.set([0xfd, 0, 0, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    p.set([0xfd, 0, 0, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  } else {
    p[0] = 0x45;
    p.writeUInt16BE(total, 2);
    p.writeUInt16BE(s.id ?? 7, 4);
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = s.udp ? 17 : 6;
    p.set([198, 19, 0, 1, 198, 19, 0, 2], 12);
    const c = 0xffff - fold(sum16(p.subarray(0, 20)));
    p.writeUInt16BE(c, 10);
  }
  const t = p.subarray(ipLen);
  t.writeUInt16BE(s.sport ?? 40000, 0);
  t.writeUInt16BE(5201, 2);
  if (s.udp) {
    t.writeUInt16BE(l4Len + s.payload.length, 4);
  } else {
    t.writeUInt32BE(s.seq >>> 0, 4);
    t.writeUInt32BE(12345, 8);
    t[12] = (l4Len / 4) << 4;
    t[13] = s.flags;
    t.writeUInt16BE(s.window ?? 512, 14);
    t.set(opts, 20);
  }
  t.set(s.payload, l4Len);
  const c = 0xffff - fold(pseudo(p, s.udp ? 17 : 6, l4Len + s.payload.length) + sum16(t));
  t.writeUInt16BE(s.udp && c === 0 ? 0xffff : c, s.udp ? 6 : 16);
  return p;
}

/** virtio_net_hdr (little-endian fields) + packet, as a vnet-header TUN hands it over. */
function vnet(
  h: { flags?: number; gsoType: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number },
  p: Uint8Array,
): Buffer {
  const b = Buffer.alloc(10 + p.length);
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType;
  b.writeUInt16LE(h.hdrLen ?? 0, 2);
  b.writeUInt16LE(h.gsoSize ?? 0, 4);
  b.writeUInt16LE(h.csumStart ?? 0, 6);
  b.writeUInt16LE(h.csumOffset ?? 0, 8);
  b.set(p, 10);
  return b;
}

const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const tsOption = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2);

// ---- layout shared with the TypeScript reader ----

test('activity rows: the addon writes rows as wide as the engine reads them (activityColumns)', { skip }, () => {
  assert.equal(fast!.fastPathActivityColumns, activityColumns);
});

// ---- seal ----

test(
  'seal: the fast path produces the stored snapshot transport vectors byte for byte (wireguard-go bytes: wg-go-transcript.test.ts)',
  { skip },
  () => {
    const v = JSON.parse(readFileSync(vectorFile, 'utf8')) as NoiseVectors;
    let n = 0;
    for (const c of v.cases) {
      for (const t of c.transport) {
        const initiator = t.from === 'initiator';
        const key = Buffer.from(initiator ? c.initiatorSendKey : c.initiatorReceiveKey, 'hex');
        const receiver = initiator ? c.inputs.responderIndex : c.inputs.initiatorIndex;
        // The stored plaintexts are already padded; any MTU keeps them as they are.
        const msg = fast!.fastPathSeal(key, receiver, t.counter, Buffer.from(t.plaintext, 'hex'), 1420);
        assert.equal(hex(msg), t.message, `${c.name} ${t.from} #${t.counter}`);
        n++;
      }
    }
    assert.ok(n >= 3);
  },
);

test('seal: padding and layout equal the TypeScript engine for any length, counter and MTU', { skip }, () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 1500 }),
      fc.constantFrom(0, 1280, 1420, 1440),
      (key, receiver, counter, len, mtu) => {
        const packet = Buffer.alloc(len, 0xa5);
        const pad = paddingSize(len, mtu);
        const expected = Buffer.alloc(16 + len + pad + 16);
        expected[0] = 4;
        expected.writeUInt32LE(receiver, 4);
        expected.writeBigUInt64LE(BigInt(counter), 8);
        sealInto(key, counter, packet, pad, undefined, expected, 16);
        assert.equal(hex(fast!.fastPathSeal(key, receiver, counter, packet, mtu)), hex(expected));
      },
    ),
    { numRuns: 60 },
  );
});

test('seal: a padding bound (route MTU, R28) pads the same way in both engines', { skip }, () => {
  const key = new Uint8Array(32).fill(7);
  // Every length around the bounds that matter, then random ones.
  const cases: [number, number, number][] = [];
  for (const [mtu, bound] of [
    [1420, 1299],
    [1420, 1280],
    [0, 1299],
    [1420, 1500],
    [1420, 0],
  ] as const)
    for (let len = 1260; len <= 1440; len++) cases.push([len, mtu, bound]);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1500 }),
      fc.constantFrom(0, 1280, 1420, 1440),
      fc.integer({ min: 0, max: 1500 }),
      (len, mtu, bound) => void cases.push([len, mtu, bound]),
    ),
    { numRuns: 200 },
  );
  for (const [len, mtu, bound] of cases) {
    const packet = Buffer.alloc(len, 0x5a);
    const pad = paddingSize(len, mtu, bound);
    const expected = Buffer.alloc(16 + len + pad + 16);
    expected[0] = 4;
    expected.writeUInt32LE(9, 4);
    expected.writeBigUInt64LE(3n, 8);
    sealInto(key, 3, packet, pad, undefined, expected, 16);
    const got = fast!.fastPathSeal(key, 9, 3, packet, mtu, bound);
    assert.equal(got.length, expected.length, `len ${len} mtu ${mtu} bound ${bound}`);
    assert.ok(got.equals(expected), `len ${len} mtu ${mtu} bound ${bound}`);
  }
});

// ---- TSO split ----

function superPacket(v6: boolean, mss: number, payload: Uint8Array, flags: number, opts = tsOption): Buffer {
  const p = packet({ v6, seq: 1000, flags, payload, options: opts, id: 100 });
  const ipLen = v6 ? 40 : 20;
  return vnet(
    { flags: 1, gsoType: v6 ? 4 : 1, hdrLen: ipLen + 20 + opts.length, gsoSize: mss, csumStart: ipLen, csumOffset: 16 },
    p,
  );
}

test('split: TSO super-packets become valid MSS-sized segments (IPv4 and IPv6)', { skip }, () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 200, max: 1360 }),
      fc.integer({ min: 1, max: 30000 }),
      fc.constantFrom(ACK, ACK | PSH, ACK | PSH | FIN),
      (v6, mss, size, flags) => {
        const payload = Buffer.alloc(size);
        for (let i = 0; i < size; i++) payload[i] = (i * 7 + 3) & 0xff;
        const segs = fast!.fastPathSplit(superPacket(v6, mss, payload, flags), 1440);
        assert.ok(segs, 'not dropped');
        assert.equal(segs.length, Math.ceil(size / mss));
        const ipLen = v6 ? 40 : 20;
        const hdr = ipLen + 20 + tsOption.length;
        const joined: Buffer[] = [];
        segs.forEach((s, i) => {
          assert.ok(l4ChecksumOk(s), `segment ${i} TCP checksum`);
          if (!v6) {
            assert.ok(ipv4HeaderOk(s), `segment ${i} IPv4 checksum`);
            assert.equal(s.readUInt16BE(4), 100 + i, 'IPv4 id increments');
          }
          assert.equal(s.readUInt32BE(ipLen + 4), 1000 + i * mss, 'sequence number');
          const last = i === segs.length - 1;
          assert.equal(s[ipLen + 13], last ? flags : flags & ~(PSH | FIN), 'PSH/FIN only on the last segment');
          assert.ok(s.length - hdr <= mss);
          joined.push(s.subarray(hdr));
        });
        assert.ok(Buffer.concat(joined).equals(payload), 'payload in order');
      },
    ),
    { numRuns: 60 },
  );
});

test('split: a plain packet with a partial checksum is finished; USO trains are split', { skip }, () => {
  const udp = packet({ udp: true, seq: 0, flags: 0, payload: Buffer.from('hello partial checksum') });
  // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
  const partial = Buffer.from(udp);
  partial.writeUInt16BE(fold(pseudo(partial, 17, udp.length - 20)), 26);
  const [done] = fast!.fastPathSplit(vnet({ flags: 1, gsoType: 0, csumStart: 20, csumOffset: 6 }, partial), 1440)!;
  assert.ok(done!.equals(udp), 'same bytes as a fully checksummed packet');

  const big = packet({ udp: true, seq: 0, flags: 0, payload: Buffer.alloc(4000, 9) });
  const segs = fast!.fastPathSplit(
    vnet({ flags: 1, gsoType: 5, gsoSize: 1200, csumStart: 20, csumOffset: 6 }, big),
    1440,
  )!;
  assert.deepEqual(
    segs.map((s) => s.length),
    [1228, 1228, 1228, 428],
  );
  for (const s of segs) {
    assert.ok(ipv4HeaderOk(s) && l4ChecksumOk(s));
    assert.equal(s.readUInt16BE(24), s.length - 20, 'UDP length');
  }
  // Segments that would not fit the MTU are refused, not truncated.
  assert.equal(fast!.fastPathSplit(superPacket(false, 1400, Buffer.alloc(3000), ACK), 1280), null);
});

// ---- coalescing of TUN writes ----

function flow(
  n: number,
  mss: number,
  lastLen: number,
  opts: { v6?: boolean; sport?: number; lastFlags?: number } = {},
) {
  return Array.from({ length: n }, (_, i) =>
    packet({
      v6: opts.v6,
      sport: opts.sport,
      seq: 5000 + i * mss,
      id: 300 + i,
      flags: i === n - 1 ? (opts.lastFlags ?? ACK) : ACK,
      options: tsOption,
      payload: Buffer.alloc(i === n - 1 ? lastLen : mss, (i * 13 + (opts.sport ?? 0)) & 0xff),
    }),
  );
}

test('coalesce: consecutive segments become one GSO write that splits back into the same bytes', { skip }, () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 2, max: 40 }),
      // ≤ 1440 (the MTU here) − 72 bytes of IPv6 + TCP headers with timestamps
      fc.integer({ min: 100, max: 1360 }),
      fc.integer({ min: 1, max: 1360 }),
      fc.constantFrom(ACK, ACK | PSH),
      (v6, n, mss, lastRaw, lastFlags) => {
        const lastLen = Math.min(lastRaw, mss);
        const segs = flow(n, mss, lastLen, { v6, lastFlags });
        const total = segs.reduce((a, s) => a + s.length - (v6 ? 40 : 20) - 32, 0) + (v6 ? 40 : 20) + 32;
        const writes = fast!.fastPathCoalesce(segs)!;
        if (total > 65535) {
          assert.ok(writes.length > 1);
          return;
        }
        assert.equal(writes.length, 1, 'one write');
        const w = writes[0]!;
        assert.equal(w[0], 1, 'NEEDS_CSUM');
        assert.equal(w[1], v6 ? 4 : 1, 'GSO TCP type');
        assert.equal(w.readUInt16LE(4), mss, 'gso_size');
        const back = fast!.fastPathSplit(w, 1440)!;
        assert.equal(back.length, n);
        back.forEach((s, i) => assert.equal(hex(s), hex(segs[i]!), `segment ${i}`));
      },
    ),
    { numRuns: 60 },
  );
});

test('coalesce: flows stay in order, and what must not merge is written alone', { skip }, () => {
  const a = flow(6, 1000, 1000, { sport: 1111 });
  const b = flow(6, 1000, 400, { sport: 2222, lastFlags: ACK | FIN });
  const mixed = [a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!, b[3]!, a[4]!, b[4]!, a[5]!, b[5]!];
  const writes = fast!.fastPathCoalesce(mixed)!;
  const out = writes.flatMap((w) => (w[1] === 0 ? [w.subarray(10)] : fast!.fastPathSplit(w, 1440)!));
  const of = (port: number) => out.filter((p) => p.readUInt16BE(20) === port).map(hex);
  assert.deepEqual(of(1111), a.map(hex), 'flow a complete and in order');
  assert.deepEqual(of(2222), b.map(hex), 'flow b complete and in order');
  const plain = writes.filter((w) => w[1] === 0).map((w) => w.subarray(10));
  assert.ok(
    plain.some((p) => p.equals(b[5]!)),
    'the FIN segment is not merged',
  );
  assert.ok(writes.length <= 4, `few writes (${writes.length})`);

  // A gap in the sequence, differing options or a non-TCP packet end a group.
  const gap = flow(3, 800, 800);
  gap[2] = packet({ seq: 5000 + 3 * 800, id: 302, flags: ACK, options: tsOption, payload: Buffer.alloc(800, 1) });
  assert.equal(fast!.fastPathCoalesce(gap)!.length, 2);
  const ts2 = flow(2, 800, 800);
  ts2[1] = packet({
    seq: 5800,
    id: 301,
    flags: ACK,
    options: Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2),
    payload: Buffer.alloc(800),
  });
  assert.equal(fast!.fastPathCoalesce(ts2)!.length, 2);
  const udp = packet({ udp: true, seq: 0, flags: 0, payload: Buffer.alloc(100) });
  const w = fast!.fastPathCoalesce([udp, udp])!;
  assert.equal(w.length, 2);
  assert.ok(w.every((x) => x[0] === 0 && x[1] === 0 && x.subarray(10).equals(udp)));
});
