// Overlay addresses and prefixes must be routable unicast (security review 2, finding 13): link-local,
// multicast, loopback, unspecified and IPv4-mapped values are refused with an issue at the key that holds
// them, instead of announcing e.g. a link-local "overlay address" to the mesh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfigData } from '../../src/config/index.js';
import { specialUse, parseCidr } from '../../src/config/net.js';

function validate(node: Record<string, unknown>) {
  return validateConfigData(
    {
      node: { name: 'a', privateKeyFile: '/k', ...node },
      control: { tls: { certFile: '/c', keyFile: '/k2' } },
      cluster: { secretFile: '/s' },
    },
    { baseDir: '/', checkFiles: false },
  );
}

const refused: [Record<string, unknown>, string, RegExp][] = [
  [{ addresses: [], ipv6Prefix: 'fe80::/64', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /link-local/],
  [{ addresses: [], ipv6Prefix: 'ff02::/64', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /multicast/],
  [{ addresses: [], ipv6Prefix: '::ffff:0:0/96', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /IPv4-mapped/],
  [{ addresses: [], ipv6Prefix: '::/64', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /unspecified/],
  [{ addresses: [], ipv6Prefix: '::1/128', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /loopback/],
  [{ addresses: [], ipv6Prefix: 'fe00::/7', ipv6Derive: 'publicKey' }, 'node.ipv6Prefix', /link-local/],
  [{ addresses: [], ipv4Pool: '169.254.0.0/16' }, 'node.ipv4Pool', /link-local/],
  [{ addresses: [], ipv4Pool: '224.1.0.0/16' }, 'node.ipv4Pool', /multicast/],
  [{ addresses: [], ipv4Pool: '127.0.0.0/8' }, 'node.ipv4Pool', /loopback/],
  [{ addresses: [], ipv4Pool: '0.0.0.0/0' }, 'node.ipv4Pool', /unspecified/],
  [{ addresses: ['fe80::1/64'] }, 'node.addresses[0]', /link-local/],
  [{ addresses: ['198.19.0.1/16', 'ff02::1/64'] }, 'node.addresses[1]', /multicast/],
  [{ addresses: ['::ffff:198.19.0.1/96'] }, 'node.addresses[0]', /IPv4-mapped/],
  [{ addresses: ['127.0.0.2/8'] }, 'node.addresses[0]', /loopback/],
  [{ addresses: ['169.254.1.1/16'] }, 'node.addresses[0]', /link-local/],
  [{ addresses: ['0.0.0.0/16'] }, 'node.addresses[0]', /unspecified/],
  [{ addresses: ['::/64'] }, 'node.addresses[0]', /unspecified/],
  [{ addresses: ['::1/128'] }, 'node.addresses[0]', /loopback/],
  [{ addresses: ['239.1.2.3/24'] }, 'node.addresses[0]', /multicast/],
];

test('link-local, multicast, loopback, unspecified and IPv4-mapped overlay values are refused at their key', () => {
  for (const [node, path, why] of refused) {
    const r = validate(node);
    assert.equal(r.ok, false, JSON.stringify(node));
    if (r.ok) continue;
    const hit = r.issues.find((i) => i.path === path);
    assert.ok(hit, `${JSON.stringify(node)}: no issue at ${path} in ${JSON.stringify(r.issues)}`);
    assert.match(hit.rule, why);
    assert.match(hit.rule, /routable unicast/);
  }
});

test('ordinary overlay values stay valid', () => {
  for (const node of [
    { addresses: ['198.19.0.1/16', 'fd00:19::1/64'] },
    { addresses: ['100.64.0.1/10', '2001:db8::1/64'] },
    { addresses: ['10.0.0.1/8'] },
    { addresses: [], ipv4Pool: '198.19.0.0/16', ipv6Prefix: 'fd00:19::/64' },
    { addresses: [], ipv6Prefix: 'fec0::/64', ipv6Derive: 'publicKey' },
  ]) {
    const r = validate(node);
    assert.ok(r.ok, `${JSON.stringify(node)}: ${JSON.stringify(!r.ok && r.issues)}`);
  }
});

test('specialUse: an address judges its host alone; a prefix refuses any overlap', () => {
  const c = (s: string) => parseCidr(s)!;
  // 192.0.0.1/2 as an address is ordinary; as a prefix it covers multicast 224.0.0.0/4.
  assert.equal(specialUse(c('192.0.0.1/2'), 'address'), undefined);
  assert.match(specialUse(c('192.0.0.0/2'), 'prefix') ?? '', /multicast/);
  assert.equal(specialUse(c('fd00::/8'), 'prefix'), undefined);
  assert.match(specialUse(c('fe80::/9'), 'prefix') ?? '', /link-local/);
});
