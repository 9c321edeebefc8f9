import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameReader,
  decodeNull,
  decodeProbe,
  encodeFrame,
  encodeNull,
  encodeProbe,
  probeKey,
  probeLen,
} from '../../src/transport/frames.js';

const ka = new Uint8Array(32).fill(1);
const kb = new Uint8Array(32).fill(2);
const key = probeKey('cluster secret');

test('null frame round trip; garbage never throws', () => {
  const pkt = Uint8Array.of(0x45, 0, 0, 20);
  const d = decodeNull(encodeNull(ka, pkt));
  assert.ok(d.ok);
  assert.equal(d.sender, Buffer.from(ka).toString('base64'));
  assert.deepEqual([...d.packet], [...pkt]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => void decodeNull(b)),
    { numRuns: 500 },
  );
});

test('probe: verifies for its receiver only, within the time window, and not after any bit flip', () => {
  const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const p = encodeProbe(key, { pong: false, sender: ka, receiver: kb, wallMs: 1_000_000, nonce });
  assert.equal(p.length, probeLen);
  const d = decodeProbe(key, p, kb, 1_000_500, 30_000);
  assert.deepEqual(d, {
    pong: false,
    sender: Buffer.from(ka).toString('base64'),
    wallMs: 1_000_000,
    nonce: '0102030405060708',
  });
  assert.equal(decodeProbe(key, p, ka, 1_000_500, 30_000), undefined, 'other receiver');
  assert.equal(decodeProbe(key, p, kb, 1_100_000, 30_000), undefined, 'too old');
  assert.equal(decodeProbe(probeKey('other'), p, kb, 1_000_500, 30_000), undefined, 'other secret');
  for (let i = 0; i < p.length * 8; i++) {
    const q = Buffer.from(p);
    q[i >> 3]! ^= 1 << (i & 7);
    assert.equal(decodeProbe(key, q, kb, 1_000_500, 30_000), undefined, `bit ${i}`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => void decodeProbe(key, b, kb, 0, 1)),
    { numRuns: 500 },
  );
});

test('stream frames survive any chunking; a zero length is an error', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 50 }),
      (msgs, step) => {
        const wire = Buffer.concat(msgs.map((m) => encodeFrame(m)));
        const r = new FrameReader();
        const got: string[] = [];
        for (let i = 0; i < wire.length; i += step)
          assert.ok(r.push(wire.subarray(i, i + step), (f) => got.push(f.toString('hex'))));
        assert.deepEqual(
          got,
          msgs.map((m) => Buffer.from(m).toString('hex')),
        );
      },
    ),
    { numRuns: 200 },
  );
  assert.equal(
    new FrameReader().push(Buffer.from([0, 0, 1]), () => undefined),
    false,
  );
});
