// Address parsers used by the schema: canonical round trips, and no throw on arbitrary input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCidr, parseHostPort, parseHttpsUrl, formatHostPort } from '../../src/config/net.js';

test('IPv4 and IPv6 CIDRs round-trip through parseCidr in canonical form', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
      assert.deepEqual(parseCidr(`${ip}/${len}`), { family: 4, address: ip, prefixLength: len });
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, len) => {
      const c = parseCidr(`${ip}/${len}`);
      assert.ok(c && c.family === 6 && c.prefixLength === len);
      assert.deepEqual(parseCidr(`${c.address}/${len}`), c, 'canonical form is a fixed point');
    }),
    { numRuns: 300 },
  );
});

test('host:port round-trips through formatHostPort', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
      const hp = parseHostPort(formatHostPort({ host: ip, port }));
      assert.ok(hp && hp.port === port);
      assert.deepEqual(parseHostPort(formatHostPort(hp)), hp);
    }),
    { numRuns: 300 },
  );
});

test('the parsers never throw on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      parseCidr(s);
      parseHostPort(s, { allowPortZero: true });
      parseHttpsUrl(s);
    }),
    { numRuns: 500 },
  );
  assert.equal(parseHttpsUrl('https://u:p@198.18.0.1:4567'), undefined);
  assert.equal(parseHttpsUrl('https://198.18.0.1:4567/?q=1'), undefined);
  assert.equal(parseHttpsUrl('https://tunmesh.example.svc:4567')?.port, '4567');
});
