// Decoders and the device's receive path never throw on arbitrary bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeMessage,
  decodeResponse,
  decodeTransport,
} from '../../src/wire/wireguard.js';
import { parseAddress, parseCidr, peekIp } from '../../src/wire/ip.js';
import { dropReasons } from '../../src/metrics/table.js';
import { makePair } from '../helpers/wg-pair.js';

const decoders = { decodeMessage, decodeInitiation, decodeResponse, decodeCookieReply, decodeTransport, peekIp };

// Arbitrary bytes, plus bytes that start with a valid WireGuard header so the type-specific paths run.
const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 200 }))
    .map(([t, rest]) => Uint8Array.from([t, 0, 0, 0, ...rest])),
  fc
    .tuple(fc.constantFrom(0x45, 0x46, 0x60, 0x4f), fc.uint8Array({ maxLength: 80 }))
    .map(([v, rest]) => Uint8Array.from([v, ...rest])),
);

test('every decoder returns a value (never throws) and reasons come from the drop table', () => {
  fc.assert(
    fc.property(anyBytes, (b) => {
      for (const decode of Object.values(decoders)) {
        const r = decode(b);
        if (!r.ok) assert.ok(Object.hasOwn(dropReasons, r.reason));
      }
    }),
    { numRuns: 3000 },
  );
});

test('address and CIDR parsers never throw on arbitrary strings', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.constantFrom('::', '1.2.3.4/', '::ffff:1.2.3.4', ':::', '1.2.3.4/99')),
      (s) => {
        parseAddress(s);
        parseCidr(s);
      },
    ),
    { numRuns: 2000 },
  );
});

test('WgDevice.receive answers arbitrary datagrams with drops only (no reply, no state)', () => {
  const { a, b, clock } = makePair();
  const before = a.dev.snapshot(b.key);
  fc.assert(
    fc.property(anyBytes, (d) => {
      const out = a.dev.receive(d, b.endpoint, clock.now);
      assert.ok(out.length === 1 && out[0]!.type === 'drop', JSON.stringify(out));
    }),
    { numRuns: 500 },
  );
  assert.deepEqual(a.dev.snapshot(b.key), before);
});
