import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress, formatCidr, maskAddress, parseAddress, parseCidr, peekIp } from '../../src/wire/ip.js';
import { buildEcho } from '../helpers/wg-icmp.js';

test('peekIp reads IPv4 and IPv6 headers', () => {
  const v4 = buildEcho({
    src: '198.19.0.1',
    dst: '198.19.0.2',
    kind: 'request',
    id: 1,
    seq: 1,
    payload: new Uint8Array(4),
  });
  const r4 = peekIp(v4);
  assert.ok(r4.ok);
  assert.deepEqual(
    { v: r4.ip.version, len: r4.ip.totalLength, proto: r4.ip.protocol, ttl: r4.ip.ttl, hl: r4.ip.headerLength },
    { v: 4, len: 32, proto: 1, ttl: 64, hl: 20 },
  );
  assert.equal(formatAddress(r4.ip.src), '198.19.0.1');
  assert.equal(formatAddress(r4.ip.dst), '198.19.0.2');
  const v6 = buildEcho({ src: 'fd00::1', dst: 'fd00::2', kind: 'reply', id: 1, seq: 1, payload: new Uint8Array(4) });
  const r6 = peekIp(v6);
  assert.ok(r6.ok);
  assert.deepEqual({ v: r6.ip.version, len: r6.ip.totalLength, proto: r6.ip.protocol }, { v: 6, len: 52, proto: 58 });
  assert.equal(formatAddress(r6.ip.dst), 'fd00::2');
  // Trailing padding after the IP length is allowed (the tunnel pads to 16 bytes).
  const padded = new Uint8Array(v4.length + 12);
  padded.set(v4);
  assert.equal(peekIp(padded).ok && (peekIp(padded) as { ip: { totalLength: number } }).ip.totalLength, 32);
});

test('peekIp rejects truncated or malformed headers without throwing', () => {
  const v4 = buildEcho({
    src: '198.19.0.1',
    dst: '198.19.0.2',
    kind: 'request',
    id: 1,
    seq: 1,
    payload: new Uint8Array(4),
  });
  const bad = (p: Uint8Array) => assert.deepEqual(peekIp(p), { ok: false, reason: 'bad_inner_packet' });
  bad(new Uint8Array(0));
  bad(v4.subarray(0, 19));
  bad(v4.subarray(0, 31)); // total length says 32
  const ihl = Uint8Array.from(v4);
  ihl[0] = 0x44;
  bad(ihl);
  const ver = Uint8Array.from(v4);
  ver[0] = 0x55;
  bad(ver);
  const tiny = Uint8Array.from(v4);
  tiny[2] = 0;
  tiny[3] = 10;
  bad(tiny);
  bad(new Uint8Array(39).fill(0x60));
  const v6 = new Uint8Array(40);
  v6[0] = 0x60;
  v6[5] = 1; // payload length 1, but none present
  bad(v6);
});

test('addresses parse to bytes and format canonically (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', '0.0.0.0'],
    ['198.19.250.1', '198.19.250.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['FD00:250::1', 'fd00:250::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:198.18.0.1', '::ffff:c612:1'],
    ['fd00::', 'fd00::'],
  ];
  for (const [input, out] of cases) {
    const b = parseAddress(input);
    assert.ok(b, input);
    assert.equal(formatAddress(b), out, input);
    assert.deepEqual(parseAddress(out), b);
  }
  assert.equal(parseAddress('::ffff:198.18.0.1')?.length, 16);
  for (const bad of ['', '1.2.3', '256.1.1.1', 'fd00::1::2', 'x', 'fe80::1%eth0', '[::1]']) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.equal(formatAddress(new Uint8Array(5)), undefined);
});

test('CIDRs parse with host bits masked', () => {
  assert.equal(formatCidr(parseCidr('198.19.250.7/24')!), '198.19.250.0/24');
  assert.equal(formatCidr(parseCidr('fd00:250::1/64')!), 'fd00:250::/64');
  assert.equal(formatCidr(parseCidr('198.19.250.7')!), '198.19.250.7/32');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')!), '0.0.0.0/0');
  assert.equal(formatCidr(parseCidr('fd00::1:2/113')!), 'fd00::1:0/113');
  for (const bad of ['198.19.0.0/33', 'fd00::/129', '198.19.0.0/', '198.19.0.0/-1', '198.19.0.0/a', 'x/8']) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
  assert.deepEqual([...maskAddress(Uint8Array.of(255, 255, 255, 255), 9)], [255, 128, 0, 0]);
});
