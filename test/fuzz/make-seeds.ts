// Writes the seed corpus (run once; the files are kept in git): valid inputs of every kind, so the
// mutator starts next to the accepting paths. `node --import tsx test/fuzz/make-seeds.ts`
import { deriveAuthKey, signRequest } from '../../src/control/auth.js';
import { Secret } from '../../src/base/secret.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { ipv4Packet, makePair, sends } from '../helpers/wg-pair.js';
import { saveInput } from './engine.js';

const te = new TextEncoder();
const { a, b, clock } = makePair();
const packet = ipv4Packet('198.19.0.1', '198.19.0.2', Uint8Array.from([1, 2, 3]));
const init = sends(a.dev.send(b.key, packet, clock.now))[0]!.data;
const resp = sends(b.dev.receive(init, a.endpoint, clock.now))[0]!.data;
const first = sends(a.dev.receive(resp, b.endpoint, clock.now)).find((x) => x.message === 'transport')!.data;
const data = sends(a.dev.send(b.key, packet, clock.now))[0]!.data;
const cookie = new Uint8Array(64);
cookie[0] = 3;
const ip6 = new Uint8Array(48);
ip6[0] = 0x60;
ip6[5] = 8;
ip6[6] = 17;
ip6[7] = 64;

const wire = [init, resp, cookie, first, data];
for (const t of [
  'wire-message',
  'wire-initiation',
  'wire-response',
  'wire-cookie-reply',
  'wire-transport',
  'wire-type',
])
  for (const m of wire) saveInput(t, m, 'seed-');
for (const m of [...wire, packet]) saveInput('device-receive', m, 'seed-');
for (const m of [packet, ip6]) saveInput('ip-peek', m, 'seed-');
for (const s of ['198.19.0.1', '198.19.0.0/16', 'fd00::1', 'fd00:19:1::/64', '::ffff:198.18.0.1', '2001:db8::1/128'])
  saveInput('ip-address-text', te.encode(s), 'seed-');
const key = deriveAuthKey(new Secret('fuzz-seed-secret-0123456789abcdef'));
const req = signRequest(key, {
  method: 'POST',
  path: '/v1/gossip',
  body: te.encode('{}'),
  from: 'n1',
  to: 'n2',
  now: 1,
});
saveInput('auth-header', te.encode(req.header), 'seed-');
saveInput('auth-header', te.encode(req.header.replace(' to=n2', '')), 'seed-');

const record: NodeRecord = {
  id: 'n1',
  epoch: 1,
  version: 3,
  publicKey: 'x'.repeat(43) + '=',
  addresses: ['198.19.1.1/24', 'fd00:19:1::1/64'],
  endpoints: ['198.18.1.1:51820'],
  apiUrl: 'https://198.18.1.1:4567',
  methods: ['wireguard'],
  routes: [],
};
const json = (v: unknown) => te.encode(JSON.stringify(v));
saveInput('body-node-record', json(record), 'seed-');
const updates = [
  { t: 'alive', r: record },
  { t: 'suspect', id: 'n2', epoch: 1, version: 2, by: 'n1' },
  { t: 'dead', id: 'n3', epoch: 1, version: 2, by: 'n1', reason: 'failed' },
];
const requests = [
  { type: 'ping', from: 'n1', updates },
  { type: 'ping-req', from: 'n1', target: 'n2', updates: [] },
  { type: 'gossip', from: 'n1', updates },
  { type: 'sync', from: 'n1', buckets: Array.from({ length: 64 }, (_, i) => String(i)) },
  { type: 'push', from: 'n1', updates, want: ['n2'] },
];
for (const r of requests) saveInput('body-gossip-request', json(r), 'seed-');
const replies = [
  { type: 'join-reply', self: record, members: [record] },
  { type: 'ack', from: 'n1', updates },
  { type: 'nack', from: 'n1', updates: [] },
  { type: 'sync-reply', from: 'n1', buckets: [0, 5], digest: [['n1', 1, 3, 0]] },
  { type: 'push-reply', from: 'n1', updates },
];
for (const r of replies) saveInput('body-reply', json(r), 'seed-');
saveInput('body-join-reply', json(replies[0]), 'seed-');
console.log('seeds written');
