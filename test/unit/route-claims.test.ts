// P11 (claims), the pure rule of src/routing/route-claims.ts: an advertised route that equals or covers
// another live member's overlay address is refused entry by entry, the same way whatever order records
// arrive in, and withdrawn when such a member joins later; a cluster policy grants prefixes (and exits) to
// node names and globs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteClaims, type Claim, type RefusedRoute } from '../../src/routing/route-claims.js';
import { globMatches, type RouteGrant } from '../../src/routing/route-policy.js';

const claim = (addresses: string[], routes: string[] = []): Claim => ({ addresses, routes });
const a = claim(['198.19.0.1/16', 'fd00:19::1/64']);
const c = claim(['198.19.0.3/16', 'fd00:19::3/64']);

test('a route equal to another member’s address (v4 and v6) is refused; the peer keeps its other routes', () => {
  const rc = new RouteClaims();
  rc.set('a', a);
  rc.set('c', c);
  rc.set('x', claim(['198.19.0.9/16'], ['198.19.0.3/32', 'fd00:19::3/128', '198.19.251.0/24']));
  assert.deepEqual(rc.decision('x').accepted, ['198.19.251.0/24']);
  assert.deepEqual(rc.decision('x').refused, [
    { route: '198.19.0.3/32', reason: 'covers_member', member: 'c', address: '198.19.0.3' },
    { route: 'fd00:19::3/128', reason: 'covers_member', member: 'c', address: 'fd00:19::3' },
  ]);
});

test('a covering route is refused (it names a covered member); one covering only the advertiser is accepted', () => {
  const rc = new RouteClaims();
  rc.set('a', a);
  rc.set('c', c);
  rc.set('x', claim(['198.19.9.9/16'], ['198.19.0.0/24', '198.19.0.0/16', '0.0.0.0/0', '::/0', '198.19.9.0/24']));
  assert.deepEqual(rc.decision('x').accepted, ['198.19.9.0/24']);
  assert.deepEqual(
    rc.decision('x').refused.map((r) => [r.route, r.reason, r.member]),
    [
      ['198.19.0.0/24', 'covers_member', 'a'],
      ['198.19.0.0/16', 'covers_member', 'a'],
      ['0.0.0.0/0', 'covers_member', 'a'],
      ['::/0', 'covers_member', 'a'],
    ],
  );
});

test('non-overlapping routes are accepted, and routes of several members may overlap each other', () => {
  const rc = new RouteClaims();
  rc.set('a', a);
  rc.set('b', claim(['198.19.0.2/16'], ['198.19.251.0/24', '10.1.0.0/16']));
  rc.set('d', claim(['198.19.0.4/16'], ['198.19.251.0/24', '198.19.251.128/25']));
  assert.deepEqual(rc.decision('b'), { accepted: ['198.19.251.0/24', '10.1.0.0/16'], refused: [] });
  assert.deepEqual(rc.decision('d'), { accepted: ['198.19.251.0/24', '198.19.251.128/25'], refused: [] });
});

test('the victim joining after the route was accepted withdraws it; its leaving restores it', () => {
  const rc = new RouteClaims();
  rc.set('a', a);
  rc.set('x', claim(['198.19.0.9/16'], ['198.19.0.3/32', '198.19.0.0/30']));
  assert.deepEqual(rc.decision('x').accepted, ['198.19.0.3/32']); // 198.19.0.0/30 holds a (.1)
  assert.deepEqual(rc.set('c', c), ['x'], 'x must be installed again');
  assert.deepEqual(rc.decision('x').accepted, []);
  assert.equal(rc.decision('x').refused[0]!.member, 'c');
  // A heartbeat (same claim) changes nothing and costs nothing.
  assert.deepEqual(rc.set('c', c), []);
  // c moves to another address: the /32 is free again, the /30 still covers a.
  assert.deepEqual(rc.set('c', claim(['198.19.0.33/16'])), ['x']);
  assert.deepEqual(rc.decision('x').accepted, ['198.19.0.3/32']);
  rc.set('c', c);
  assert.deepEqual(rc.set('c', undefined), ['x']);
  assert.deepEqual(rc.decision('x').accepted, ['198.19.0.3/32']);
});

test('every arrival order gives the same decisions (the mesh agrees)', () => {
  const members: [string, Claim][] = [
    ['a', a],
    ['c', c],
    ['x', claim(['198.19.0.9/16'], ['198.19.0.3/32', '198.19.251.0/24', '198.19.0.0/24'])],
    ['y', claim(['198.19.251.7/16'], ['198.19.0.9/32', '10.0.0.0/8'])],
  ];
  const orders = (xs: [string, Claim][]): [string, Claim][][] =>
    xs.length <= 1 ? [xs] : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((r) => [x, ...r]));
  const seen = new Set<string>();
  for (const order of orders(members)) {
    const rc = new RouteClaims();
    for (const [id, cl] of order) rc.set(id, cl);
    seen.add(JSON.stringify(members.map(([id]) => rc.decision(id))));
  }
  assert.equal(seen.size, 1, [...seen].join('\n'));
  const [only] = [...seen];
  // y's address sits in x's LAN route: members win over routes.
  assert.deepEqual(JSON.parse(only!)[2].accepted, []);
  assert.deepEqual(JSON.parse(only!)[3].accepted, ['10.0.0.0/8']);
});

test('policy: routes are installed only inside a prefix granted to the node by name or glob', () => {
  const policy: RouteGrant[] = [
    { prefix: '198.19.251.0/24', nodes: ['gw-*', 'router'] },
    { prefix: '10.0.0.0/8', nodes: ['lab-??'] },
  ];
  const rc = new RouteClaims({ policy });
  rc.set('a', a);
  rc.set('gw-1', claim(['198.19.0.11/16'], ['198.19.251.0/24', '198.19.251.64/26', '198.19.252.0/24']));
  rc.set('router', claim(['198.19.0.12/16'], ['198.19.251.0/24']));
  rc.set('lab-07', claim(['198.19.0.13/16'], ['10.7.0.0/16']));
  rc.set('lab-100', claim(['198.19.0.14/16'], ['10.100.0.0/16']));
  rc.set('other', claim(['198.19.0.15/16'], ['198.19.251.0/24']));
  assert.deepEqual(rc.accepted('gw-1'), ['198.19.251.0/24', '198.19.251.64/26']);
  assert.deepEqual(rc.decision('gw-1').refused, [{ route: '198.19.252.0/24', reason: 'not_granted' }]);
  assert.deepEqual(rc.accepted('router'), ['198.19.251.0/24']);
  assert.deepEqual(rc.accepted('lab-07'), ['10.7.0.0/16']);
  assert.deepEqual(rc.decision('lab-100').refused, [{ route: '10.100.0.0/16', reason: 'not_granted' }]);
  assert.deepEqual(rc.decision('other').refused, [{ route: '198.19.251.0/24', reason: 'not_granted' }]);
  // A broader route than the grant is not inside it.
  rc.set('gw-2', claim(['198.19.0.16/16'], ['198.19.250.0/23']));
  assert.equal(rc.decision('gw-2').refused[0]!.reason, 'not_granted');
});

test('policy: an exit (a route over member addresses) needs exit: true; a /32 of a member is never granted', () => {
  const policy: RouteGrant[] = [
    { prefix: '0.0.0.0/0', nodes: ['egress-*'], exit: true },
    { prefix: '0.0.0.0/0', nodes: ['plain'] },
  ];
  const rc = new RouteClaims({ policy });
  rc.set('a', a);
  rc.set('c', c);
  rc.set('egress-1', claim(['198.19.0.21/16'], ['0.0.0.0/0', '198.19.0.3/32']));
  rc.set('plain', claim(['198.19.0.22/16'], ['0.0.0.0/0', '203.0.113.0/24']));
  assert.deepEqual(rc.accepted('egress-1'), ['0.0.0.0/0']);
  assert.deepEqual(rc.decision('egress-1').refused, [
    { route: '198.19.0.3/32', reason: 'covers_member', member: 'c', address: '198.19.0.3' },
  ]);
  assert.deepEqual(rc.accepted('plain'), ['203.0.113.0/24']);
  assert.deepEqual(rc.decision('plain').refused, [
    { route: '0.0.0.0/0', reason: 'exit_not_granted', member: 'a', address: '198.19.0.1' },
  ]);
  // ::/0 is granted to nobody.
  rc.set('egress-1', claim(['198.19.0.21/16'], ['::/0']));
  assert.equal(rc.decision('egress-1').refused[0]!.reason, 'not_granted');
});

test('a new policy (reload) re-decides every advertiser and names the members whose routes changed', () => {
  const rc = new RouteClaims();
  rc.set('a', a);
  rc.set('b', claim(['198.19.0.2/16'], ['198.19.251.0/24']));
  rc.set('d', claim(['198.19.0.4/16'], ['198.19.252.0/24']));
  assert.equal(rc.policySize, undefined);
  assert.deepEqual(rc.setPolicy([{ prefix: '198.19.251.0/24', nodes: ['b'] }]), ['d']);
  assert.equal(rc.policySize, 1);
  assert.deepEqual(rc.accepted('d'), []);
  assert.deepEqual(rc.setPolicy(undefined), ['d']);
  assert.deepEqual(rc.accepted('d'), ['198.19.252.0/24']);
  assert.deepEqual(rc.setPolicy([]), ['b', 'd'], 'an empty policy grants nothing');
});

test('onRefused fires once per refusal, not on every re-decision', () => {
  const seen: [string, RefusedRoute][] = [];
  const rc = new RouteClaims({ onRefused: (id, r) => seen.push([id, r]) });
  rc.set('c', c);
  const x = claim(['198.19.0.9/16'], ['198.19.0.3/32']);
  for (let i = 0; i < 5; i++) rc.set('x', { ...x, routes: [...x.routes] });
  rc.set('a', a);
  assert.deepEqual(
    seen.map(([id, r]) => [id, r.route, r.reason]),
    [['x', '198.19.0.3/32', 'covers_member']],
  );
});

test('globs: * any run, ? one character, everything else literal', () => {
  assert.ok(globMatches('gw-*', 'gw-eu-1'));
  assert.ok(globMatches('*', 'anything'));
  assert.ok(globMatches('n?', 'n1'));
  assert.ok(!globMatches('n?', 'n12'));
  assert.ok(!globMatches('gw.1', 'gwx1'), '. is a literal');
  assert.ok(!globMatches('gw-*', 'xgw-1'));
});

test('3000 members and 3000 routes: each join or leave re-decides only the routes over its address', () => {
  const rc = new RouteClaims();
  const n = 3000;
  const addr = (i: number) => `198.19.${i >> 8}.${i & 255}/16`;
  let redecided = 0;
  for (let i = 1; i <= n; i++) redecided += rc.set(`m${i}`, claim([addr(i)], [`10.${i >> 8}.${i & 255}.0/24`])).length;
  assert.equal(redecided, 0, 'no route covers a member');
  // One LAN route over a block of 64 member addresses: refused, and a join inside it touches only it.
  rc.set('gw', claim(['198.19.200.1/16'], ['198.19.1.0/26']));
  assert.equal(rc.decision('gw').refused[0]!.reason, 'covers_member');
  const t0 = performance.now();
  for (let i = 1; i <= 64; i++) rc.set(`m${256 + i - 1}`, undefined);
  const changed = rc.set('m256', undefined);
  assert.deepEqual(changed, []);
  assert.deepEqual(rc.accepted('gw'), ['198.19.1.0/26'], 'free once its members left');
  assert.deepEqual(rc.set('late', claim(['198.19.1.5/16'])), ['gw']);
  console.log(`# 65 leaves + 1 join among ${n} members: ${(performance.now() - t0).toFixed(2)} ms`);
});
