// Bootstrap by DNS name: a node whose only bootstrap entry is a name resolving to several addresses (as
// a Kubernetes headless Service does) joins through any of them. A dnsmasq started in its own namespace
// answers the name with an address where no node listens and the address of a live node; the joining
// node's namespace uses it through /etc/netns/<ns>/resolv.conf (created and removed here). The node
// joins through the live address and learns the rest of the mesh by gossip.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { Lab, waitFor, type LabNode, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

const dnsmasq = '/usr/sbin/dnsmasq';
const name = 'seed.tunmesh.test';
let lab: Lab;
let mesh: Mesh;
let dns: LabNode;
let server: LabProcess;
let netnsEtc = '';
let createdEtcNetns = false;

before(async () => {
  if (!existsSync(dnsmasq)) return;
  lab = await Lab.create('tp9s-', { nodes: 3 });
  const k = lab.subnetIndex;
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (node, c) => {
      c.membership = {
        probeIntervalMs: 500,
        failureTimeoutMs: 5000,
        bootstrapRetryMinMs: 200,
        bootstrapRetryMaxMs: 1000,
      };
      if (node === 'n3') c.cluster!.bootstrap = [`https://${name}:4567`];
    },
  });
  dns = await lab.addNode();
  // 198.18.k.77: nobody there. The live node is n2; n1 is not in the answer at all.
  server = lab.spawn(
    dns.ns,
    dnsmasq,
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--pid-file=',
      '--bind-interfaces',
      `--listen-address=${dns.ipv4}`,
      '--log-queries',
      '--log-facility=-',
      `--host-record=${name},198.18.${k}.77`,
      `--host-record=${name},${lab.node('n2').ipv4}`,
    ],
    { logFile: 'dnsmasq.log' },
  );
  createdEtcNetns = !existsSync('/etc/netns');
  netnsEtc = `/etc/netns/${lab.node('n3').ns}`;
  await mkdir(netnsEtc, { recursive: true });
  await writeFile(`${netnsEtc}/resolv.conf`, `nameserver ${dns.ipv4}\noptions timeout:1 attempts:2\n`);
  await waitFor(async () => (await resolveIn(lab.node('n3').ns)).length === 2, {
    what: `dnsmasq to answer ${name}`,
    timeoutMs: 10_000,
    intervalMs: 200,
  });
});

after(async () => {
  if (netnsEtc) await rm(netnsEtc, { recursive: true, force: true });
  if (createdEtcNetns) await rmdir('/etc/netns').catch(() => undefined);
  await mesh?.cleanup();
  server?.kill('SIGTERM');
  await lab?.destroy();
});

async function resolveIn(ns: string): Promise<string[]> {
  const r = await lab.exec(ns, process.execPath, [
    '-e',
    `require('node:dns').promises.lookup(${JSON.stringify(name)}, { all: true }).then((a) => console.log(JSON.stringify(a.map((x) => x.address))), () => console.log('[]'))`,
  ]);
  return (JSON.parse(r.stdout.trim()) as string[]).sort();
}

test(
  'a node bootstraps through a DNS name with many addresses and joins the whole mesh',
  {
    skip: existsSync(dnsmasq) ? false : `${dnsmasq} missing: apt-get install -y dnsmasq-base`,
  },
  async () => {
    const k = lab.subnetIndex;
    assert.deepEqual(await resolveIn(lab.node('n3').ns), [`198.18.${k}.77`, lab.node('n2').ipv4].sort());
    mesh.start('n1');
    mesh.start('n2');
    await mesh.waitConverged(['n1', 'n2'], 30_000);
    mesh.start('n3');
    await mesh.waitConverged(['n1', 'n2', 'n3'], 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${mesh.logs()}\n${server.log().slice(-2000)}`);
    });
    // The name was asked for, and n3 reaches n1 (never named in DNS) through the mesh.
    assert.match(server.log(), new RegExp(`query\\[A\\] ${name.replace(/\./g, '\\.')}`));
    const r = await ping(lab, lab.node('n3').ns, mesh.overlay4('n1'), { count: 2 });
    assert.equal(r.received, 2, r.output);
  },
);
