// Bad input against a running node: garbage datagrams are dropped, counted by reason and never answered;
// the API refuses every request that is not properly authenticated; the node stays up and keeps working.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AttackLab, lastJson, outsideTotal as total } from '../helpers/attack-lab.js';
import type { Lab } from '../helpers/netns.js';
import type { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

// n1 and n2 form a mesh; n3 is an attacker on the same underlay (no tunmesh there).
let t: AttackLab;
let lab: Lab;
let mesh: Mesh;
const probe = (ns: string, args: string[]) => t.script(ns, 'hostile-probe.ts', args);

before(async () => {
  t = await AttackLab.create('t2h-');
  ({ lab, mesh } = t);
});

after(() => t?.destroy());

const drops = () => t.drops('n1', 'n1');

test('10^4 garbage datagrams and garbled handshakes: no reply, each one counted by reason, node unharmed', async () => {
  const before = await drops();
  const count = 10_000;
  const r = lastJson<{ sent: number; replies: number; unknownType: number }>(
    (await probe(lab.node('n3').ns, ['udp', lab.node('n1').ipv4, String(mesh.udpPort), String(count), '7'])).stdout,
  );
  assert.equal(r.sent, count);
  assert.equal(r.replies, 0, 'unauthenticated input must never be answered');
  await new Promise((res) => setTimeout(res, 500)); // one tick flushes the drop counters
  const afterDrops = await drops();
  const delta = Object.fromEntries(Object.keys(afterDrops).map((k) => [k, afterDrops[k]! - (before[k] ?? 0)]));
  assert.equal(total(afterDrops) - total(before), count, `every datagram counted once: ${JSON.stringify(delta)}`);
  // R5's figure at a running node: exactly as many unknown_type drops as the probe sent headers of no type.
  assert.ok(r.unknownType > 0);
  assert.equal(delta.unknown_type, r.unknownType, `unknown_type drops vs ${r.unknownType} sent`);
  for (const reason of ['short_packet', 'bad_length', 'unknown_type', 'bad_mac1', 'unknown_receiver'])
    assert.ok((delta[reason] ?? 0) > 0, `reason ${reason} seen: ${JSON.stringify(delta)}`);
  assert.ok(mesh.proc('n1').running, 'n1 still running');
  const p = await ping(lab, lab.node('n2').ns, mesh.overlay4('n1'), { count: 2 });
  assert.equal(p.received, 2, 'mesh still carries traffic');
});

test('the API answers 401 to unauthenticated, expired, future, replayed, wrongly signed and tampered requests', async () => {
  const r = lastJson<Record<string, number>>(
    (await probe(lab.node('n3').ns, ['api', mesh.apiUrl('n1'), join(mesh.dir, 'cluster.secret'), 'n1'])).stdout,
  );
  assert.equal(r.valid, 200, 'a properly signed request works (the probe is right)');
  assert.equal(r.first, 200);
  for (const k of [
    'unauthenticated',
    'garbled',
    'wrongSecret',
    'expired',
    'future',
    'tamperedPath',
    'replayed',
    'tamperedBody',
  ])
    assert.equal(r[k], 401, `${k}: ${JSON.stringify(r)}`);
  assert.equal(r.randomPath, 404);
  assert.equal(r.oversized, 413);
  assert.equal(r.health, 200);
  assert.ok(mesh.proc('n1').running, 'n1 still running');
});
