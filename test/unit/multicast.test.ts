import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Fanout, isLinkLocalGroup } from '../../src/routing/fanout.js';
import { parseMembershipReport } from '../../src/routing/membership-reports.js';

function ipv4(dst: number[], proto: number, payload: number[], ttl = 1): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p.set([0x45, 0, 0, p.length, 0, 0, 0, 0, ttl, proto, 0, 0, 198, 19, 0, 1, ...dst]);
  p.set(payload, 20);
  return p;
}
const checksum = (p: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i]! << 8) | p[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return (~s & 0xffff) >>> 0;
};
function withChecksum(p: Uint8Array): Uint8Array {
  const c = checksum(p);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

const igmpV2 = (type: number, g: number[]) => ipv4(type === 0x17 ? [224, 0, 0, 2] : g, 2, [type, 0, 0, 0, ...g]);
/** IGMPv3 report with records [type, group, sources]. */
function igmpV3(records: [number, number[], number][]): Uint8Array {
  const body: number[] = [0x22, 0, 0, 0, 0, 0, 0, records.length];
  for (const [t, g, n] of records) body.push(t, 0, 0, n, ...g, ...new Array(4 * n).fill(9));
  return ipv4([224, 0, 0, 22], 2, body);
}
/** MLDv2 report behind a hop-by-hop router-alert header. */
function mldV2(records: [number, number[], number][]): Uint8Array {
  const icmp: number[] = [143, 0, 0, 0, 0, 0, 0, records.length];
  for (const [t, g, n] of records) icmp.push(t, 0, 0, n, ...g, ...new Array(16 * n).fill(9));
  const hbh = [58, 0, 5, 2, 0, 0, 1, 0];
  const p = new Uint8Array(40 + hbh.length + icmp.length);
  p[0] = 0x60;
  p[6] = 0;
  p[7] = 1;
  p.set([0xff, 0x02], 24);
  p[39] = 0x16;
  p.set(hbh, 40);
  p.set(icmp, 48);
  return p;
}
const ff15 = [0xff, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3]; // ff15::1:3

test('IGMPv2 report/leave and IGMPv3 records give joins and leaves', () => {
  assert.deepEqual(parseMembershipReport(igmpV2(0x16, [239, 1, 2, 3])), { joins: ['239.1.2.3'], leaves: [] });
  assert.deepEqual(parseMembershipReport(igmpV2(0x17, [239, 1, 2, 3])), { joins: [], leaves: ['239.1.2.3'] });
  assert.deepEqual(
    parseMembershipReport(
      igmpV3([
        [4, [239, 1, 2, 3], 0], // CHANGE_TO_EXCLUDE {} = join
        [3, [239, 9, 9, 9], 0], // CHANGE_TO_INCLUDE {} = leave
        [1, [239, 7, 7, 7], 2], // MODE_IS_INCLUDE {2 sources} = member
      ]),
    ),
    { joins: ['239.1.2.3', '239.7.7.7'], leaves: ['239.9.9.9'] },
  );
});

test('MLDv2 records behind hop-by-hop options give joins and leaves', () => {
  assert.deepEqual(
    parseMembershipReport(
      mldV2([
        [4, ff15, 0],
        [3, [0xff, 0x15, ...new Array(13).fill(0), 7], 0],
      ]),
    ),
    { joins: ['ff15::1:3'], leaves: ['ff15::7'] },
  );
});

test('property: report parsing never throws and ignores non-reports', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      parseMembershipReport(b);
      const f = new Fanout({ broadcast: true, multicast: true, multicastLinkLocal: true, addresses: [] });
      f.outbound(b);
      f.inboundAllowed(b);
    }),
    { numRuns: 2000 },
  );
  // Truncated v3 report: ignored, not half-applied.
  const cut = igmpV3([[4, [239, 1, 2, 3], 3]]).subarray(0, 34);
  assert.equal(parseMembershipReport(cut), undefined);
  assert.equal(parseMembershipReport(ipv4([239, 1, 2, 3], 17, [0, 0, 0, 0, 0, 0, 0, 0])), undefined);
});

test('local joins are learnt from reports and published; link-local ones only when opted in', () => {
  const f = new Fanout({ broadcast: false, multicast: true, multicastLinkLocal: false, addresses: [] });
  const published: string[][] = [];
  f.onLocalGroups((g) => published.push([...g]));
  assert.deepEqual(f.outbound(igmpV2(0x16, [239, 1, 2, 3])), { kind: 'report' });
  assert.deepEqual(f.outbound(mldV2([[4, ff15, 0]])), { kind: 'report' });
  f.outbound(igmpV2(0x16, [224, 0, 0, 251])); // mDNS: link-local, off by default
  f.outbound(igmpV2(0x16, [239, 1, 2, 3])); // repeated: no change published
  assert.deepEqual(published, [['239.1.2.3'], ['239.1.2.3', 'ff15::1:3']]);
  f.outbound(igmpV2(0x17, [239, 1, 2, 3]));
  assert.deepEqual(f.localGroups(), ['ff15::1:3']);
  assert.ok(isLinkLocalGroup('224.0.0.251') && isLinkLocalGroup('ff02::fb') && !isLinkLocalGroup('ff15::1:2:3'));
});

test('multicast goes only to members, TTL above 1, decremented with a valid checksum', () => {
  const f = new Fanout({ broadcast: false, multicast: true, multicastLinkLocal: false, addresses: [] });
  f.setPeer('B', ['239.1.2.3']);
  f.setPeer('C', ['239.1.2.3', 'ff15::1:3']);
  f.setPeer('D', []);
  const pkt = withChecksum(ipv4([239, 1, 2, 3], 17, [0, 1, 0, 2, 0, 8, 0, 0], 4));
  const o = f.outbound(pkt);
  assert.ok(o && o.kind === 'multicast');
  assert.deepEqual([...o.peers].sort(), ['B', 'C']);
  assert.equal(o.packet[8], 3);
  assert.equal(checksum(o.packet), 0);
  assert.deepEqual(f.outbound(ipv4([239, 1, 2, 3], 17, [], 1)), { kind: 'drop', reason: 'multicast_ttl' });
  assert.deepEqual(f.outbound(ipv4([224, 0, 0, 251], 17, [], 255)), { kind: 'drop', reason: 'multicast_scope' });
  f.removePeer('C');
  const again = f.outbound(pkt);
  assert.ok(again && again.kind === 'multicast' && again.peers.join() === 'B');
  assert.equal(f.inboundAllowed(pkt), undefined);
  assert.equal(f.inboundAllowed(ipv4([224, 0, 0, 251], 17, [])), 'multicast_scope');
  const off = new Fanout({ broadcast: false, multicast: false, multicastLinkLocal: false, addresses: [] });
  assert.deepEqual(off.outbound(pkt), { kind: 'drop', reason: 'multicast_disabled' });
});
