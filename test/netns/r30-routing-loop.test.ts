// R30 routing loop (the kernel's netns.sh check): a peer's endpoint is set, by a live config reload, to
// an address our kernel routes into our own TUN. Without protection each encrypted packet would come back
// out of the TUN to be encrypted again, 60 bytes bigger, then fragmented, forever. A 1 s ping flood at the
// peer must make the daemon send < 70,000 bytes of UDP in total; the daemon stays alive, refuses the
// endpoint (counted in tunmesh_endpoints_refused_total) and keeps the last good one.
//
// Two single-node meshes (no bootstrap) peered with each other as static peers, so the endpoint can be
// changed live with `tunmesh reload`, as `wg set … endpoint` does in the kernel test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { decodeKey, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh, cliPath } from '../helpers/mesh.js';
import { nftCounter, readCounter } from '../helpers/impair-nft.js';
import { ping } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = Record<string, any>;
const readYaml = async (node: string) => parse(await readFile(mesh.configFile(node), 'utf8')) as Yaml;
const writeYaml = (node: string, c: Yaml) => writeFile(mesh.configFile(node), stringify(c));

async function publicKey(node: string): Promise<string> {
  const text = await readFile(join(mesh.dir, `${node}.key`), 'utf8');
  return encodeKey(publicKeyOf(decodeKey(text.trim())!));
}

before(async () => {
  lab = await Lab.create('hd30-', { nodes: 2 });
  mesh = await Mesh.create(lab);
  const keys = { n1: await publicKey('n1'), n2: await publicKey('n2') };
  for (const [self, other] of [
    ['n1', 'n2'],
    ['n2', 'n1'],
  ] as const) {
    const c = await readYaml(self);
    c.wireguard.staticPeers = [
      {
        name: `${other}s`,
        publicKey: keys[other],
        endpoint: `${lab.node(other).ipv4}:${mesh.udpPort}`,
        allowedIps: [`${mesh.overlay4(other)}/32`],
      },
    ];
    await writeYaml(self, c);
  }
  mesh.start('n1');
  mesh.start('n2');
  for (const n of ['n1', 'n2'])
    await waitFor(() => mesh.status(n), { what: `${n} to answer status`, timeoutMs: 20_000 });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

async function refusedEndpoints(node: string): Promise<number> {
  const line = (await mesh.metricsText(node)).split('\n').find((l) => l.startsWith('tunmesh_endpoints_refused_total'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('R30: endpoint routed through our own tunnel: < 70,000 bytes sent in 1 s of ping flood, daemon alive', async () => {
  const n1 = lab.node('n1');
  const target = mesh.overlay4('n2');
  // The static peers work: a session exists, so a looping endpoint would have keys to encrypt with.
  const first = await ping(lab, n1.ns, target, { count: 3, timeoutS: 10 });
  assert.ok(first.received >= 1, 'static peers reach each other');

  // The far side goes away (the kernel test deletes its device), so nothing roams the endpoint back.
  const n2 = mesh.proc('n2');
  n2.kill('SIGTERM');
  await n2.waitExit(10_000);

  const c = await readYaml('n1');
  c.wireguard.staticPeers[0].endpoint = `${target}:${mesh.udpPort}`;
  await writeYaml('n1', c);
  await lab.exec(n1.ns, process.execPath, [cliPath, 'reload', '-c', mesh.configFile('n1')]);

  await nftCounter(lab, n1.ns, 'wg_out', 'out', `udp dport ${mesh.udpPort}`);
  const before = await readCounter(lab, n1.ns, 'wg_out');
  await lab.exec(n1.ns, 'ping', ['-f', '-w', '1', '-q', target], { allowFailure: true, timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const sent = (await readCounter(lab, n1.ns, 'wg_out')).bytes - before.bytes;
  console.log(`# R30: ${sent} bytes of UDP sent by n1 during and 1 s after a 1 s ping flood`);
  assert.ok(mesh.proc('n1').running, 'daemon alive');
  assert.ok(sent < 70_000, `${sent} bytes sent (loop)`);
  assert.ok((await refusedEndpoints('n1')) >= 1, 'the looping endpoint is refused and counted');
  const peer = (await mesh.status('n1')).peers.find((p) => p.name === 'n2s');
  assert.ok(peer && !peer.endpoint?.startsWith(target), `endpoint ${peer?.endpoint} kept out of the tunnel`);
});
