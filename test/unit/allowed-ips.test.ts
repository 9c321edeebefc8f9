import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIps } from '../../src/dataplane/allowed-ips.js';
import { parseAddress } from '../../src/wire/ip.js';

const ip = (s: string): Uint8Array => parseAddress(s)!;

test('longest prefix wins, per family', () => {
  const t = new AllowedIps<string>();
  t.insert('0.0.0.0/0', 'default4');
  t.insert('198.19.0.0/16', 'mesh');
  t.insert('198.19.250.0/24', 'site');
  t.insert('198.19.250.7/32', 'host');
  t.insert('fd00::/8', 'ula');
  t.insert('fd00:250::/64', 'site6');
  assert.equal(t.lookup(ip('198.19.250.7')), 'host');
  assert.equal(t.lookup(ip('198.19.250.8')), 'site');
  assert.equal(t.lookup(ip('198.19.1.1')), 'mesh');
  assert.equal(t.lookup(ip('198.18.0.1')), 'default4');
  assert.equal(t.lookup(ip('fd00:250::9')), 'site6');
  assert.equal(t.lookup(ip('fd01::1')), 'ula');
  assert.equal(t.lookup(ip('2001:db8::1')), undefined, 'no IPv6 default');
  assert.equal(t.lookup(new Uint8Array(5)), undefined, 'not an address');
});

test('host bits are masked on insert; re-inserting a CIDR replaces its value', () => {
  const t = new AllowedIps<string>();
  t.insert('198.19.250.77/24', 'a');
  t.insert('198.19.250.0/24', 'b');
  assert.deepEqual(t.entries(), [{ cidr: '198.19.250.0/24', value: 'b' }]);
  t.insert({ addr: ip('fd00:250::1234'), prefixLength: 112 }, 'c');
  assert.deepEqual(t.entries()[1], { cidr: 'fd00:250::/112', value: 'c' });
  assert.throws(() => t.insert('198.19.0.0/40', 'x'));
  assert.throws(() => t.insert('nonsense', 'x'));
});

test('removeValue removes every CIDR of a peer; remove takes one CIDR out', () => {
  const t = new AllowedIps<string>();
  t.insert('198.19.0.0/16', 'a');
  t.insert('198.19.1.0/24', 'b');
  t.insert('fd00:1::/64', 'b');
  t.insert('198.19.1.128/25', 'a');
  t.removeValue('b');
  assert.deepEqual(
    t.entries().map((e) => `${e.cidr}=${e.value}`),
    ['198.19.0.0/16=a', '198.19.1.128/25=a'],
  );
  assert.equal(t.lookup(ip('198.19.1.1')), 'a');
  assert.equal(t.lookup(ip('fd00:1::1')), undefined);
  assert.equal(t.remove('198.19.1.128/25'), true);
  assert.equal(t.remove('198.19.1.128/25'), false);
  assert.equal(t.remove('198.19.0.0/15'), false);
  assert.deepEqual(
    t.entries().map((e) => e.cidr),
    ['198.19.0.0/16'],
  );
});

test('entries() lists IPv4 first, in address order', () => {
  const t = new AllowedIps<number>();
  for (const [i, c] of ['fd00::/8', '198.19.2.0/24', '10.0.0.0/8', '198.19.1.0/24', '0.0.0.0/0'].entries())
    t.insert(c, i);
  assert.deepEqual(
    t.entries().map((e) => e.cidr),
    ['0.0.0.0/0', '10.0.0.0/8', '198.19.1.0/24', '198.19.2.0/24', 'fd00::/8'],
  );
});
