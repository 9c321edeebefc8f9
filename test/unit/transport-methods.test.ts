import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isInitiator, negotiate, transportMethods } from '../../src/transport/methods.js';

const A = 'AAAA'; // sorts first: the initiator
const B = 'BBBB';

test('negotiation table of issue #4', () => {
  assert.deepEqual(negotiate({ publicKey: A, methods: ['wireguard', 'tls'] }, { publicKey: B, methods: ['tls'] }), {
    method: 'tls',
    fallback: false,
  });
  assert.deepEqual(
    negotiate({ publicKey: A, methods: ['null', 'wireguard'] }, { publicKey: B, methods: ['wireguard'] }),
    {
      method: 'wireguard',
      fallback: false,
    },
  );
  const none = negotiate({ publicKey: A, methods: ['null'] }, { publicKey: B, methods: ['wireguard'] });
  assert.equal(none.method, 'none');
  assert.match((none as { reason: string }).reason, /no common transport method/);
  assert.deepEqual(
    negotiate({ publicKey: A, methods: ['wireguard', 'tls'] }, { publicKey: B, methods: ['wireguard', 'tls'] }),
    {
      method: 'wireguard',
      fallback: true,
    },
  );
});

test("the initiator's preference wins, whichever side asks", () => {
  const a = { publicKey: A, methods: ['tls', 'wireguard'] };
  const b = { publicKey: B, methods: ['wireguard', 'tls'] };
  assert.equal(negotiate(a, b).method, 'tls');
  assert.equal(negotiate(b, a).method, 'tls');
  assert.equal(isInitiator(A, B), true);
  assert.equal(isInitiator(B, A), false);
});

test('unknown method names are ignored', () => {
  assert.equal(
    negotiate({ publicKey: A, methods: ['quic', 'null'] }, { publicKey: B, methods: ['null', 'quic'] }).method,
    'null',
  );
});

test('property: symmetric, allowed by both, first of the initiator list', () => {
  const list = fc.uniqueArray(fc.constantFrom(...transportMethods, 'x'), { maxLength: 4 });
  fc.assert(
    fc.property(fc.string(), fc.string(), list, list, (ka, kb, ma, mb) => {
      fc.pre(ka !== kb);
      const a = { publicKey: ka, methods: ma };
      const b = { publicKey: kb, methods: mb };
      const r = negotiate(a, b);
      assert.deepEqual(r, negotiate(b, a));
      const [first, second] = ka < kb ? [ma, mb] : [mb, ma];
      const common = first.filter((m) => m !== 'x' && second.includes(m));
      if (common.length === 0) assert.equal(r.method, 'none');
      else assert.equal(r.method, common[0]);
    }),
    { numRuns: 300 },
  );
});
