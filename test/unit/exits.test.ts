import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExitSets, flowHash, isExitOf, pickExit, routeValue } from '../../src/routing/exits.js';

/** A minimal IPv4 UDP packet 198.19.1.1:sport -> 198.19.251.10:dport. */
function udp4(sport: number, dport = 9000, flags = 0): Uint8Array {
  const p = new Uint8Array(28);
  p.set([0x45, 0, 0, 28, 0, 0, flags, 0, 64, 17, 0, 0, 198, 19, 1, 1, 198, 19, 251, 10]);
  p.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff], 20);
  return p;
}

function udp6(sport: number): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 0x60;
  p[6] = 17;
  p.set([0xfd, 0, 0, 0x19], 8);
  p[23] = 1;
  p.set([0xfd, 0, 0, 0x19], 24);
  p[39] = 2;
  p.set([sport >> 8, sport & 0xff, 0x23, 0x28], 40);
  return p;
}

test('ExitSets collects exits per canonical CIDR; routeValue is one key, a MultiExit or nothing', () => {
  const s = new ExitSets();
  assert.deepEqual(s.add('198.19.251.0/24', 'B'), ['B']);
  assert.equal(routeValue('198.19.251.0/24', s.exits('198.19.251.0/24')), 'B');
  assert.deepEqual(s.add('198.19.251.7/24', 'D'), ['B', 'D']);
  const v = routeValue('198.19.251.0/24', s.exits('198.19.251.0/24'));
  assert.deepEqual(v, { cidr: '198.19.251.0/24', exits: ['B', 'D'] });
  assert.ok(isExitOf(v, 'B') && isExitOf(v, 'D') && !isExitOf(v, 'C'));
  assert.deepEqual(s.remove('198.19.251.0/24', 'B'), ['D']);
  assert.deepEqual(s.remove('198.19.251.0/24', 'D'), []);
  assert.equal(routeValue('198.19.251.0/24', []), undefined);
  assert.ok(isExitOf('B', 'B') && !isExitOf(undefined, 'B'));
});

test('flowHash is the 5-tuple: same flow same hash, another port another hash, fragments hash without ports', () => {
  assert.equal(flowHash(udp4(4000)), flowHash(udp4(4000)));
  assert.notEqual(flowHash(udp4(4000)), flowHash(udp4(4001)));
  assert.notEqual(flowHash(udp6(4000)), flowHash(udp6(4001)));
  // More-fragments set: ports are not used, so every fragment of a datagram takes one exit.
  assert.equal(flowHash(udp4(4000, 9000, 0x20)), flowHash(udp4(5000, 9000, 0x20)));
  for (const bad of [new Uint8Array(0), new Uint8Array(3), Uint8Array.from([0x45, 1, 2]), new Uint8Array(30)])
    assert.equal(typeof flowHash(bad), 'number');
});

test('64 flows split over two exits with neither getting fewer than 16; losing one moves only its flows', () => {
  const flows = Array.from({ length: 64 }, (_, i) => flowHash(udp4(40000 + i)));
  const two = ['keyB', 'keyD'];
  const picks = flows.map((f) => pickExit(two, f)!);
  const b = picks.filter((p) => p === 'keyB').length;
  assert.ok(b >= 16 && 64 - b >= 16, `split ${b}/${64 - b}`);
  // D dies: every flow goes to B, and B's flows did not move.
  flows.forEach((f, i) => assert.equal(pickExit(['keyB'], f), 'keyB', `flow ${i}`));
  // A third exit joins: flows either stay or move to the new one, never between old ones.
  const three = ['keyB', 'keyD', 'keyE'];
  flows.forEach((f, i) => {
    const now = pickExit(three, f)!;
    assert.ok(now === picks[i] || now === 'keyE');
  });
  assert.equal(pickExit([], 1), undefined);
});

test('property: rendezvous picks are independent of exit order and balanced over many flows', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 44 }), { minLength: 2, maxLength: 6 }), (exits) => {
      const counts = new Map<string, number>();
      const reversed = [...exits].reverse();
      for (let i = 0; i < 600; i++) {
        const f = flowHash(udp4(1024 + i, 80 + (i % 7)));
        const p = pickExit(exits, f)!;
        assert.equal(pickExit(reversed, f), p);
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      // Every exit gets a fair share: at least a third of the even split.
      for (const e of exits) assert.ok((counts.get(e) ?? 0) >= 600 / exits.length / 3, `${e}: ${counts.get(e)}`);
    }),
    { numRuns: 40 },
  );
});
