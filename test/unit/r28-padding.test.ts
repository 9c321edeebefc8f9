// R28: padding bounded by the smallest route MTU into the TUN, not only by the tunnel MTU. With a route MTU
// of 1299 under a 1420 tunnel, an inner packet of 1297 bytes used to be padded to 1312 (1372 bytes as
// outer IPv4/UDP), over a 1360-byte underlay; the kernel bounds padding by the route MTU and sends 1359.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { paddingSize } from '../../src/noise/outbound.js';
import { ipv4Packet, makePair, sends, Wire } from '../helpers/wg-pair.js';

/** Outer IPv4 + UDP + WireGuard header + tag around `inner` padded bytes. */
const outer4 = (padded: number) => 20 + 8 + 16 + padded + 16;

test('R28 padding: inner 1297..1299 under a route MTU of 1299 stay ≤ 1299 (outer ≤ 1360)', () => {
  for (let len = 1297; len <= 1299; len++) {
    const padded = len + paddingSize(len, 1420, 1299);
    assert.ok(padded <= 1299, `inner ${len} padded to ${padded}`);
    assert.ok(outer4(padded) <= 1360, `inner ${len}: outer ${outer4(padded)}`);
    // The tunnel MTU alone pads it to 1312: what blackholed these sizes before the bound.
    assert.equal(len + paddingSize(len, 1420), 1312);
  }
  assert.equal(paddingSize(1297, 1420, 1299), 2);
  assert.equal(paddingSize(1269, 1420, 1299), 11, 'still a multiple of 16 below the bound');
});

test('R28 padding: the bound never pads past itself, never shrinks, and changes nothing at or above the MTU', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1500 }),
      fc.constantFrom(0, 1280, 1420, 9000),
      fc.integer({ min: 1, max: 9100 }),
      (len, mtu, bound) => {
        const pad = paddingSize(len, mtu, bound);
        assert.ok(pad >= 0 && pad < 16);
        if (mtu !== 0 && bound >= mtu) {
          assert.equal(pad, paddingSize(len, mtu), 'no bound below the MTU: wireguard-go padding');
        } else if (len >= bound) {
          assert.equal(pad, 0, 'a packet at or past the bound went through a larger route: left alone');
        } else {
          assert.ok(len + pad <= bound);
          assert.ok((len + pad) % 16 === 0 || len + pad === bound);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('R28 padding: WgDevice.setPaddingMtu bounds what goes on the wire, live', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, ipv4Packet('198.19.0.1', '198.19.0.2'));
  const inner = ipv4Packet('198.19.0.1', '198.19.0.2', new Uint8Array(1297 - 20));
  const sentLength = (): number => {
    w.take(a);
    w.send(a, inner);
    const s = sends(w.take(a));
    assert.deepEqual(
      s.map((x) => x.message),
      ['transport'],
    );
    return s[0]!.data.length;
  };
  assert.equal(sentLength(), 16 + 1312 + 16, 'tunnel MTU only');
  a.dev.setPaddingMtu(1299);
  assert.equal(sentLength(), 16 + 1299 + 16, 'route MTU 1299');
  a.dev.setPaddingMtu(0);
  assert.equal(sentLength(), 16 + 1312 + 16, 'bound removed');
});
