import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wgMessage } from '../../src/base/constants.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeMessage,
  decodeResponse,
  decodeTransport,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  encodeTransport,
  messageType,
} from '../../src/wire/wireguard.js';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const init = encodeInitiation({
  sender: 0xdeadbeef,
  ephemeral: bytes(32, 1),
  static: bytes(48, 2),
  timestamp: bytes(28, 3),
  mac1: bytes(16, 4),
  mac2: bytes(16, 5),
});
const resp = encodeResponse({
  sender: 1,
  receiver: 0xffffffff,
  ephemeral: bytes(32, 6),
  empty: bytes(16, 7),
  mac1: bytes(16, 8),
  mac2: bytes(16, 9),
});
const cookie = encodeCookieReply({ receiver: 42, nonce: bytes(24, 10), cookie: bytes(32, 11) });
const data = encodeTransport({ receiver: 7, counter: 2n ** 64n - 1n, content: bytes(40, 12) });

test('encoders produce the exact wire sizes and little-endian header', () => {
  assert.equal(init.length, 148);
  assert.equal(resp.length, 92);
  assert.equal(cookie.length, 64);
  assert.equal(data.length, 56);
  assert.equal(hex(init.subarray(0, 8)), '01000000efbeadde');
  assert.equal(hex(resp.subarray(0, 12)), '0200000001000000ffffffff');
  assert.equal(hex(data.subarray(0, 16)), '0400000007000000ffffffffffffffff');
});

test('decode(encode(x)) round-trips every field', () => {
  const i = decodeInitiation(init);
  assert.ok(i.ok);
  assert.equal(i.msg.sender, 0xdeadbeef);
  assert.deepEqual(
    [i.msg.ephemeral, i.msg.static, i.msg.timestamp, i.msg.mac1, i.msg.mac2].map(hex),
    [bytes(32, 1), bytes(48, 2), bytes(28, 3), bytes(16, 4), bytes(16, 5)].map(hex),
  );
  const r = decodeResponse(resp);
  assert.ok(r.ok);
  assert.deepEqual([r.msg.sender, r.msg.receiver], [1, 0xffffffff]);
  assert.deepEqual(
    [r.msg.ephemeral, r.msg.empty, r.msg.mac1, r.msg.mac2].map(hex),
    [bytes(32, 6), bytes(16, 7), bytes(16, 8), bytes(16, 9)].map(hex),
  );
  const c = decodeCookieReply(cookie);
  assert.ok(c.ok);
  assert.equal(c.msg.receiver, 42);
  assert.deepEqual([c.msg.nonce, c.msg.cookie].map(hex), [bytes(24, 10), bytes(32, 11)].map(hex));
  const t = decodeTransport(data);
  assert.ok(t.ok);
  assert.equal(t.msg.receiver, 7);
  assert.equal(t.msg.counter, 2n ** 64n - 1n);
  assert.equal(hex(t.msg.content), hex(bytes(40, 12)));
  for (const m of [init, resp, cookie, data]) {
    const d = decodeMessage(m);
    assert.ok(d.ok);
    assert.equal(d.msg.type, m[0]);
  }
});

test('handshake messages must have exactly their length; transport at least 32 bytes', () => {
  const cases: [Uint8Array, number][] = [
    [init, wgMessage.initiationSize],
    [resp, wgMessage.responseSize],
    [cookie, wgMessage.cookieReplySize],
  ];
  for (const [m, size] of cases) {
    const longer = new Uint8Array(size + 1);
    longer.set(m);
    for (const bad of [m.subarray(0, size - 1), longer, m.subarray(0, 4)]) {
      assert.deepEqual(decodeMessage(bad), { ok: false, reason: 'bad_length' });
    }
  }
  assert.deepEqual(decodeMessage(data.subarray(0, 31)), { ok: false, reason: 'short_packet' });
  assert.ok(decodeMessage(data.subarray(0, 32)).ok);
  const longData = new Uint8Array(2000);
  longData.set(data);
  assert.ok(decodeMessage(longData).ok);
});

test('short, unknown and reserved-bit messages are rejected with their reason', () => {
  for (const n of [0, 1, 3]) assert.deepEqual(decodeMessage(new Uint8Array(n)), { ok: false, reason: 'short_packet' });
  for (const t of [0, 5, 255]) {
    const m = Uint8Array.from(init);
    m[0] = t;
    assert.deepEqual(decodeMessage(m), { ok: false, reason: 'unknown_type' });
  }
  for (const at of [1, 2, 3]) {
    const m = Uint8Array.from(init);
    m[at] = 1;
    assert.equal(messageType(m), 0);
    assert.deepEqual(decodeMessage(m), { ok: false, reason: 'unknown_type' });
  }
  // A specific decoder refuses another type.
  assert.deepEqual(decodeInitiation(resp), { ok: false, reason: 'unknown_type' });
});

test('decoders return views into the input (no copies)', () => {
  const i = decodeInitiation(init);
  assert.ok(i.ok);
  assert.equal(i.msg.ephemeral.buffer, init.buffer);
});

test('encoders refuse wrong field sizes (programming errors)', () => {
  assert.throws(() => encodeCookieReply({ receiver: 1, nonce: bytes(23, 0), cookie: bytes(32, 0) }));
  assert.throws(() => encodeTransport({ receiver: 1, counter: 0n, content: bytes(15, 0) }));
});
