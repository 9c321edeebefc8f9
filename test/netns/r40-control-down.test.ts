// R40 / P8: with the control plane unreachable (nft drops the API's TCP port both ways), existing peers
// keep forwarding and keep rotating session keys (test-only 10 s rekey timer); after the control plane
// returns, membership reconverges. The outage lasts 30 s (3× the failure timeout) in npm test; TUNMESH_R40_OUTAGE_S=600 runs the
// matrix's 10 minutes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { nftTable } from '../helpers/impair-nft.js';
import { ping } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;
const outageS = Number(process.env.TUNMESH_R40_OUTAGE_S ?? 30);
const env = { TUNMESH_TEST_REKEY_AFTER_MS: '10000' };

before(async () => {
  lab = await Lab.create('tp8d-', { nodes: 2 });
  mesh = await Mesh.create(lab, { bootstrap: { n2: ['n1'] } });
  mesh.start('n1', env);
  mesh.start('n2', env);
  await mesh.waitConverged(['n1', 'n2']);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

async function handshakes(node: string): Promise<string | null> {
  const s = await mesh.status(node);
  return s.peers.find((p) => p.name !== node)?.lastHandshake ?? null;
}

test(`R40: control plane down ${outageS} s: data keeps flowing (0 probes lost), rekeys continue, rejoin after`, async () => {
  const n2 = lab.node('n2');
  assert.equal((await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 2 })).received, 2);
  await nftTable(lab, n2.ns);
  // Everything between n2 and n1's API, and n1 and n2's API; n2's own CLI still reaches its local API.
  const n1ip = lab.node('n1').ipv4;
  const port = String(mesh.apiPort);
  for (const rule of [
    ['out', 'ip', 'daddr', n1ip, 'tcp', 'dport', port],
    ['in', 'ip', 'saddr', n1ip, 'tcp', 'sport', port],
    ['in', 'ip', 'saddr', n1ip, 'tcp', 'dport', port],
    ['out', 'ip', 'daddr', n1ip, 'tcp', 'sport', port],
  ])
    await lab.exec(n2.ns, 'nft', ['add', 'rule', 'inet', 'tp8', ...rule, 'drop', 'comment', '"loss"']);
  const hsBefore = await handshakes('n2');
  const started = Date.now();
  let probes = 0;
  let ok = 0;
  const seenHandshakes = new Set<string>();
  while (Date.now() - started < outageS * 1000) {
    const r = await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 1, timeoutS: 1 });
    probes++;
    if (r.received === 1) ok++;
    const hs = await handshakes('n2').catch(() => null);
    if (hs) seenHandshakes.add(hs);
    await new Promise((res) => setTimeout(res, 1000));
  }
  const { nftClearLoss } = await import('../helpers/impair-nft.js');
  await nftClearLoss(lab, n2.ns);
  console.log(
    `# R40 outage ${outageS} s: ${ok}/${probes} probes answered; ${seenHandshakes.size} distinct last-handshake times` +
      ` (before: ${hsBefore})`,
  );
  assert.equal(ok, probes, 'existing peers keep forwarding while the control plane is unreachable');
  assert.ok(seenHandshakes.size >= 2, 'session keys kept rotating during the outage');
  await mesh.waitConverged(['n1', 'n2'], 60_000);
});
