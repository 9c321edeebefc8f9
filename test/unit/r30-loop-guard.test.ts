// R30 routing-loop guard, unit level: which endpoints count as routed into our own tunnel, and that the
// peer specs built from node records and static peers leave them out (the next advertised endpoint is
// used, or none), reporting each refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointGuard, guardEndpoint, tunnelPrefixes } from '../../src/daemon/loop-guard.js';
import { specFromRecord, specsFromStaticPeers } from '../../src/daemon/peers.js';
import type { Config } from '../../src/config/index.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';

const key = () => encodeKey(publicKeyOf(generatePrivateKey()));

test('R30: endpoints inside the mesh prefix, tun routes/addresses or static allowed IPs loop; /0 and the underlay do not', () => {
  const g = endpointGuard(['198.19.0.1/16', 'fd00:19::1/64', '198.19.250.0/24', '10.99.0.0/16', '0.0.0.0/0', '::/0']);
  for (const host of ['198.19.0.2', '198.19.255.255', 'fd00:19::2', '10.99.3.4'])
    assert.equal(g.loops({ host, port: 51820 }), true, host);
  for (const host of ['198.18.0.2', 'fd00:18::2', '2001:db8::1', '10.98.0.1', 'not-an-ip'])
    assert.equal(g.loops({ host, port: 51820 }), false, host);
  const refused: string[] = [];
  const counting = endpointGuard(['198.19.0.0/16'], (peer, e) => refused.push(`${peer} ${e.host}`));
  assert.equal(guardEndpoint(counting, 'p', { host: '198.19.0.9', port: 1 }), undefined);
  assert.deepEqual(guardEndpoint(counting, 'p', { host: '198.18.0.9', port: 1 }), { host: '198.18.0.9', port: 1 });
  assert.equal(guardEndpoint(counting, 'p', undefined), undefined);
  assert.deepEqual(refused, ['p 198.19.0.9']);
});

test('R30: a record advertising a looping endpoint first gets its next endpoint; only looping ones gives none', () => {
  const refused: string[] = [];
  const g = endpointGuard(['198.19.0.1/16'], (peer, e) => refused.push(`${peer} ${e.host}`));
  const record = (endpoints: string[]) =>
    ({ id: 'n2', publicKey: key(), addresses: ['198.19.0.2/16'], routes: [], endpoints }) as unknown as NodeRecord;
  const fams = new Set<4 | 6>([4]);
  assert.deepEqual(specFromRecord(record(['198.19.0.2:51820', '198.18.0.2:51820']), [], fams, 25, g)?.endpoint, {
    host: '198.18.0.2',
    port: 51820,
  });
  assert.equal(specFromRecord(record(['198.19.0.2:51820']), [], fams, 25, g)?.endpoint, undefined);
  assert.deepEqual(refused, ['n2 198.19.0.2', 'n2 198.19.0.2']);
  // Without a guard (callers that predate it) nothing changes.
  assert.equal(specFromRecord(record(['198.19.0.2:51820']), [], fams, 25)?.endpoint?.host, '198.19.0.2');
});

test('R30: static peers: the config-derived guard refuses an endpoint inside the tunnel', () => {
  const config = {
    node: { addresses: ['198.19.0.1/24'] },
    tun: { addresses: [], routes: ['198.19.251.0/24'] },
    wireguard: {
      persistentKeepaliveSec: 0,
      staticPeers: [
        { name: 'ok', publicKey: key(), endpoint: '198.18.0.5:51820', allowedIps: ['198.19.0.5/32'] },
        { name: 'loop', publicKey: key(), endpoint: '198.19.0.6:51820', allowedIps: ['198.19.0.6/32'] },
        { name: 'site', publicKey: key(), endpoint: '198.19.251.7:51820', allowedIps: ['198.19.251.0/24'] },
      ],
    },
  } as unknown as Config;
  assert.deepEqual(tunnelPrefixes(config), [
    '198.19.0.1/24',
    '198.19.251.0/24',
    '198.19.0.5/32',
    '198.19.0.6/32',
    '198.19.251.0/24',
  ]);
  const specs = specsFromStaticPeers(config, new Map());
  assert.deepEqual(
    specs.map((s) => [s.name, s.endpoint?.host]),
    [
      ['ok', '198.18.0.5'],
      ['loop', undefined],
      ['site', undefined],
    ],
  );
});
