import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fanout } from '../../src/routing/fanout.js';

const to = (dst: number[]) => {
  const p = new Uint8Array(28);
  p.set([0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 198, 19, 5, 1, ...dst]);
  return p;
};

test('limited and overlay-prefix broadcast go to every peer once when enabled', () => {
  const f = new Fanout({ broadcast: true, multicast: true, multicastLinkLocal: false, addresses: ['198.19.5.1/24'] });
  f.setPeer('B', []);
  f.setPeer('C', ['239.1.2.3']);
  for (const dst of [
    [255, 255, 255, 255],
    [198, 19, 5, 255],
  ]) {
    const o = f.outbound(to(dst));
    assert.ok(o && o.kind === 'broadcast', dst.join('.'));
    assert.deepEqual([...o.peers].sort(), ['B', 'C']);
    assert.equal(o.packet[8], 1, 'TTL untouched: the mesh is one link for broadcast');
    assert.equal(f.inboundAllowed(to(dst)), undefined);
  }
  // Another prefix's broadcast address, or a unicast miss, is not a broadcast.
  assert.equal(f.outbound(to([198, 19, 6, 255])), undefined);
  assert.equal(f.outbound(to([198, 19, 5, 77])), undefined);
  assert.equal(f.inboundAllowed(to([198, 19, 5, 2])), undefined);
});

test('with broadcast off it reaches nobody and received copies are dropped', () => {
  const f = new Fanout({ broadcast: false, multicast: true, multicastLinkLocal: false, addresses: ['198.19.5.1/24'] });
  f.setPeer('B', []);
  assert.deepEqual(f.outbound(to([255, 255, 255, 255])), { kind: 'drop', reason: 'broadcast_disabled' });
  assert.deepEqual(f.outbound(to([198, 19, 5, 255])), { kind: 'drop', reason: 'broadcast_disabled' });
  assert.equal(f.inboundAllowed(to([198, 19, 5, 255])), 'broadcast_disabled');
});
