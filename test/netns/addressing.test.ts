// Derived and pool addresses on the real path: n2 and n3 list no addresses and get an IPv4 from the pool
// (distinct from n1's, kept across a restart) and an IPv6 derived from their IPv4 (n2) or public key (n3);
// all three reach each other on both. n4's derived IPv6 (/124 clamps 198.19.k.17 to ::1) collides with n1's
// fd00:19:k::1 and it refuses to start with a clear message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';
import { decodeKey } from '../../src/crypto/keys.js';
import { ipv6FromIpv4, ipv6FromPublicKey } from '../../src/routing/addressing.js';

let lab: Lab;
let mesh: Mesh;
const nodes = ['n1', 'n2', 'n3'];

before(async () => {
  lab = await Lab.create('t5a-', { nodes: 4 });
  const k = () => lab.subnetIndex;
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'], n4: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 6000 };
      const n = c.node!;
      if (node === 'n2' || node === 'n3') {
        n.addresses = [];
        n.ipv4Pool = `198.19.${k()}.0/24`;
        n.ipv6Prefix = `fd00:19:${k()}::/64`;
        n.ipv6Derive = node === 'n2' ? 'ipv4' : 'publicKey';
      }
      if (node === 'n4') {
        n.addresses = [`198.19.${k()}.17/24`];
        n.ipv6Prefix = `fd00:19:${k()}::/124`;
      }
    },
  });
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2'], 30_000);
  mesh.start('n3');
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

const addressesOf = async (node: string) => (await mesh.status(node)).node.addresses;

test('pool IPv4s are distinct and in the pool; IPv6s follow the documented formulas', async () => {
  const k = lab.subnetIndex;
  const seen = new Set<string>();
  for (const n of nodes) {
    const [v4, v6] = await addressesOf(n);
    assert.ok(v4 && v6, `${n} has two addresses`);
    assert.match(v4, new RegExp(`^198\\.19\\.${k}\\.\\d+/24$`));
    assert.ok(!seen.has(v4), `${n}: ${v4} is unique`);
    seen.add(v4);
    if (n === 'n2') {
      const r = ipv6FromIpv4(`fd00:19:${k}::/64`, v4);
      assert.ok(r.ok && r.cidr === v6, `n2 v6 ${v6}`);
    }
    if (n === 'n3') {
      const s = await mesh.status('n3');
      const key = decodeKey(s.node.publicKey)!;
      const r = ipv6FromPublicKey(`fd00:19:${k}::/64`, key);
      assert.ok(r.ok && r.cidr === v6, `n3 v6 ${v6}`);
    }
  }
});

test('every pair reaches the other on its resolved IPv4 and IPv6', async () => {
  const addr = new Map<string, string[]>();
  for (const n of nodes)
    addr.set(
      n,
      (await addressesOf(n)).map((a) => a.split('/')[0]!),
    );
  for (const a of nodes)
    for (const b of nodes) {
      if (a === b) continue;
      for (const target of addr.get(b)!) {
        const r = await ping(lab, lab.node(a).ns, target, { count: 1 });
        assert.equal(r.received, 1, `${a} -> ${b} ${target}: ${r.output}`);
      }
    }
});

test('a restarted pool node gets the same addresses', async () => {
  const before = await addressesOf('n2');
  mesh.proc('n2').kill('SIGTERM');
  await mesh.proc('n2').waitExit(10_000);
  mesh.start('n2');
  await mesh.waitConverged(nodes, 45_000);
  assert.deepEqual(await addressesOf('n2'), before);
});

test('a derived IPv6 that collides is refused with a clear message', async () => {
  const p = mesh.start('n4');
  const exit = await p.waitExit(20_000);
  assert.notEqual(exit.code, 0);
  assert.match(readFileSync(p.logFile, 'utf8'), /already held by node n1.*low 4 bits/);
});
