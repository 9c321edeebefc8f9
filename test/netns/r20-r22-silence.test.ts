// R20 silence: 10^5 random datagrams and 10^5 initiations with a bad mac1 at a running node are never
// answered — 0 bytes counted by an nft counter on the attacker's side — and each one that reached the
// socket is counted once as a drop. R22: a flood of initiations with a VALID mac1 (the attacker knows
// our public key) from 1000 sources engages cookies (under load) and keeps data-plane throughput
// between two other nodes ≥ 70 % of its baseline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { nftCounter, readCounter, udpRcvbufErrors } from '../helpers/impair-nft.js';

let lab: Lab;
let mesh: Mesh;
const lastJson = <T>(s: string): T => JSON.parse(s.trim().split('\n').at(-1)!) as T;

before(async () => {
  lab = await Lab.create('tp8-', { nodes: 3 });
  mesh = await Mesh.create(lab, { bootstrap: { n2: ['n1'] } });
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2']);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

const outsideReasons = [
  'short_packet',
  'bad_length',
  'unknown_type',
  'bad_mac1',
  'bad_mac2',
  'rate_limited',
  'handshake_failed',
  'replayed_handshake',
  'stale_handshake',
  'unknown_receiver',
  'decrypt_failed',
  'replayed',
  'expired_keypair',
];

async function drops(node: string): Promise<Record<string, number>> {
  // Read from n2, so the attacker's namespace sees nothing of n1 but answers to the attack.
  const r = await lab.exec(lab.node('n2').ns, process.execPath, [
    '--import',
    'tsx',
    'test/helpers/hostile-probe.ts',
    'metrics',
    mesh.apiUrl(node),
  ]);
  return lastJson(r.stdout);
}
const sum = (d: Record<string, number>) => outsideReasons.reduce((a, k) => a + (d[k] ?? 0), 0);

function flood(mode: string, count: number, rate: number, extra: string[] = []) {
  return lab
    .exec(
      lab.node('n3').ns,
      process.execPath,
      [
        '--import',
        'tsx',
        'test/helpers/impair-flood.ts',
        mode,
        lab.node('n1').ipv4,
        String(mesh.udpPort),
        String(count),
        String(rate),
        '20',
        ...extra,
      ],
      { timeoutMs: 180_000 },
    )
    .then((r) => lastJson<{ sent: number; replies: number; replyBytes: number; seconds: number }>(r.stdout));
}

test('R20: 10^5 random datagrams + 10^5 bad-mac1 initiations: 0 bytes answered (nft), each arrival counted once', async () => {
  const n1 = lab.node('n1');
  const n3 = lab.node('n3');
  await nftCounter(lab, n3.ns, 'from_victim', 'in', `ip saddr ${n1.ipv4}`);
  await nftCounter(lab, n3.ns, 'from_victim6', 'in', `ip6 saddr ${n1.ipv6}`);
  await nftCounter(lab, n1.ns, 'attack_in', 'in', `ip saddr ${n3.ipv4} udp dport ${mesh.udpPort}`);
  const before = await drops('n1');
  const bufBefore = await udpRcvbufErrors(lab, n1.ns);
  const random = await flood('random', 100_000, 20_000);
  const badmac = await flood('badmac1', 100_000, 20_000);
  assert.equal(random.sent + badmac.sent, 200_000);
  await new Promise((r) => setTimeout(r, 600)); // one engine tick flushes the drop counters
  const fromVictim = await readCounter(lab, n3.ns, 'from_victim');
  const fromVictim6 = await readCounter(lab, n3.ns, 'from_victim6');
  const arrived = await readCounter(lab, n1.ns, 'attack_in');
  const bufLost = (await udpRcvbufErrors(lab, n1.ns)) - bufBefore;
  const afterDrops = await drops('n1');
  const delta = Object.fromEntries(outsideReasons.map((k) => [k, (afterDrops[k] ?? 0) - (before[k] ?? 0)]));
  console.log(
    `# R20 sent=200000 arrived=${arrived.packets} socketOverflow=${bufLost} counted=${sum(afterDrops) - sum(before)}` +
      ` answeredBytes=${fromVictim.bytes + fromVictim6.bytes} replies=${random.replies + badmac.replies}`,
  );
  assert.equal(fromVictim.bytes + fromVictim6.bytes, 0, '0 bytes leave the victim towards the attacker');
  assert.equal(random.replies + badmac.replies, 0);
  assert.ok(arrived.packets >= 190_000, `most datagrams reached n1 (${arrived.packets})`);
  assert.equal(
    sum(afterDrops) - sum(before),
    arrived.packets - bufLost,
    `every arrival counted: ${JSON.stringify(delta)}`,
  );
  assert.ok(delta.bad_mac1! >= 100_000 - bufLost, `bad_mac1 ${delta.bad_mac1}`);
  assert.ok(mesh.proc('n1').running, 'n1 alive');
});
