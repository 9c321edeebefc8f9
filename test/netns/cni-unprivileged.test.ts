// No privileges at all (issue 14): bin/tunmesh-cni, run exactly as a container runtime runs it (CNI_COMMAND,
// CNI_NETNS=/var/run/netns/<ns>, CNI_IFNAME, CNI_CONTAINERID, CNI_PATH in the environment, the conf on
// stdin, from the host namespace), creates the TUN in a node's namespace owned by uid 65532; a daemon with
// tun.existing started by setpriv as uid 65532 with no capability, an empty bounding set and no_new_privs
// joins a mesh of normal nodes and carries IPv4 + IPv6; CHECK passes (and fails on a different conf); DEL
// removes the device and is idempotent; VERSION answers; a malformed conf gets a CNI error; and without
// the device the daemon stops with an error naming tun.name and tun.existing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chown, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, type LabProcess } from '../helpers/netns.js';
import { Mesh, cliPath, daemonNodeFlags } from '../helpers/mesh.js';
import { allPairs, assertPings } from '../helpers/mesh-traffic.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const plugin = join(repoRoot, 'bin', 'tunmesh-cni');
const uid = 65532;
const dev = 'tm0';

let lab: Lab;
let mesh: Mesh;

interface CniRun {
  code: number;
  stdout: string;
  json: Record<string, unknown> | undefined;
}

/** One plugin run from the host namespace, with the environment a runtime gives it (and PATH). */
function cni(command: string, conf: unknown, env: Record<string, string> = {}): Promise<CniRun> {
  const ns = lab.node('n3').ns;
  return new Promise((res, rej) => {
    const child = execFile(
      plugin,
      [],
      {
        timeout: 30_000,
        env: {
          PATH: `${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
          CNI_COMMAND: command,
          CNI_CONTAINERID: 'c0ffee',
          CNI_NETNS: `/var/run/netns/${ns}`,
          CNI_IFNAME: 'eth0',
          CNI_PATH: '/opt/cni/bin',
          ...env,
        },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return rej(new Error(`${command}: ${err.message} ${stderr}`));
        const code = err ? Number(err.code) : 0;
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        res({ code, stdout, json });
      },
    );
    child.stdin?.end(typeof conf === 'string' ? conf : JSON.stringify(conf));
  });
}

function conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const sandbox = `/var/run/netns/${lab.node('n3').ns}`;
  return {
    cniVersion: '1.0.0',
    name: 'tunmesh',
    type: 'tunmesh-cni',
    uid,
    gid: uid,
    mtu: 1420,
    ifName: dev,
    addresses: [`${mesh.overlay4('n3')}/24`, `${mesh.overlay6('n3')}/64`],
    routes: ['198.19.250.0/24'],
    // What an earlier plugin of the chain reported for the pod's primary interface.
    prevResult: {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox }],
      ips: [{ address: `${lab.node('n3').ipv4}/24`, interface: 0 }],
    },
    ...extra,
  };
}

/** The daemon of n3 as a restricted pod would run it: uid 65532, nothing inheritable, empty bounding set. */
function startUnprivileged(): LabProcess {
  const p = lab.spawn(
    lab.node('n3').ns,
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      process.execPath,
      ...daemonNodeFlags,
      cliPath,
      'run',
      '-c',
      mesh.configFile('n3'),
    ],
    { logFile: `n3-unpriv-${Date.now()}.log` },
  );
  mesh.procs.set('n3', p);
  return p;
}

async function chownTree(path: string): Promise<void> {
  await chown(path, uid, uid);
  for (const e of await readdir(path, { withFileTypes: true }))
    if (e.isDirectory()) await chownTree(join(path, e.name));
    else await chown(join(path, e.name), uid, uid);
}

before(async () => {
  lab = await Lab.create('tsmlcni-', { nodes: 3 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1', 'n2'] },
    patch: (node, c) => {
      if (node === 'n3') c.tun = { ...c.tun, name: dev, existing: true, routes: ['198.19.250.0/24'] };
    },
  });
  // The unprivileged daemon reads its secrets as uid 65532; root-started nodes read them either way.
  await chownTree(mesh.dir);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

test('VERSION answers the supported versions', async () => {
  const r = await cni('VERSION', { cniVersion: '1.0.0' });
  assert.equal(r.code, 0, r.stdout);
  assert.deepEqual(r.json, { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
});

test('malformed confs get CNI error JSON with the spec code, and nothing is created', async () => {
  const cases: [unknown, number, RegExp][] = [
    ['{not json', 6, /not JSON/],
    [conf({ cniVersion: '9.9.9' }), 1, /cniVersion "9\.9\.9"/],
    [conf({ mtu: 'big' }), 7, /^mtu /],
    [conf({ addresses: ['198.19.1.1'] }), 7, /^addresses\.0 /],
    [conf({ owner: 0 }), 2, /"owner"/],
  ];
  for (const [c, code, msg] of cases) {
    const r = await cni('ADD', c);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json?.code, code, r.stdout);
    assert.match(String(r.json?.msg), msg);
    assert.equal(typeof r.json?.cniVersion, 'string');
  }
  const env = await cni('ADD', conf(), { CNI_NETNS: '' });
  assert.equal(env.json?.code, 4, env.stdout);
  assert.match(String(env.json?.msg), /CNI_NETNS/);
  const link = await lab.exec(lab.node('n3').ns, 'ip', ['link', 'show', dev], { allowFailure: true });
  assert.notEqual(link.code, 0, 'no device after refused ADDs');
});

test('the daemon with tun.existing and no device stops with an error naming tun.name and tun.existing', async () => {
  const p = startUnprivileged();
  const exit = await p.waitExit(30_000);
  assert.notEqual(exit.code, 0);
  assert.match(p.log(), /tun\.existing is true but there is no device "tm0" \(tun\.name\)/);
  assert.match(p.log(), /ip tuntap add dev tm0 mode tun user UID/);
  mesh.procs.delete('n3');
});

test('ADD, then an unprivileged daemon joins the mesh and carries IPv4 + IPv6; CHECK; DEL', async (t) => {
  const added = await cni('ADD', conf());
  assert.equal(added.code, 0, added.stdout);
  const sandbox = `/var/run/netns/${lab.node('n3').ns}`;
  assert.deepEqual(added.json?.interfaces, [
    { name: 'eth0', sandbox },
    { name: dev, sandbox },
  ]);
  assert.deepEqual(added.json?.ips, [
    { address: `${lab.node('n3').ipv4}/24`, interface: 0 },
    { address: `${mesh.overlay4('n3')}/24`, interface: 1 },
    { address: `${mesh.overlay6('n3')}/64`, interface: 1 },
  ]);
  assert.deepEqual(added.json?.routes, [{ dst: '198.19.250.0/24' }]);
  const detail = (await lab.exec(lab.node('n3').ns, 'ip', ['-d', 'link', 'show', dev])).stdout;
  assert.match(detail, /tun type tun/);
  assert.match(detail, new RegExp(`user ${uid}|user \\S+ group`), detail);

  mesh.start('n1');
  mesh.start('n2');
  const p = startUnprivileged();
  await mesh.waitConverged(['n1', 'n2', 'n3'], 45_000);
  await assertPings(lab, mesh, allPairs(['n1', 'n2', 'n3']), { v6: true });

  // Every thread of the daemon: uid 65532, no effective or bounding capability, no_new_privs.
  const tasks = readdirSync(`/proc/${p.pid}/task`);
  for (const tid of tasks) {
    const s = readFileSync(`/proc/${p.pid}/task/${tid}/status`, 'utf8');
    const f = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)?.[1]?.trim() ?? '';
    assert.equal(f('Uid').split(/\s+/).join(' '), '65532 65532 65532 65532', `thread ${tid} Uid`);
    assert.equal(f('CapEff'), '0000000000000000', `thread ${tid} CapEff`);
    assert.equal(f('CapPrm'), '0000000000000000', `thread ${tid} CapPrm`);
    assert.equal(f('CapBnd'), '0000000000000000', `thread ${tid} CapBnd`);
    assert.equal(f('NoNewPrivs'), '1', `thread ${tid} NoNewPrivs`);
  }
  assert.match(p.log(), /attached to the existing TUN device/);
  assert.match(p.log(), /"noNewPrivs":true[^\n]*started unprivileged: nothing to drop/);
  t.diagnostic(`unprivileged daemon pid ${p.pid}: ${tasks.length} threads, CapEff/CapBnd 0, NoNewPrivs 1`);

  const checked = await cni('CHECK', { ...conf(), prevResult: added.json });
  assert.equal(checked.code, 0, checked.stdout);
  assert.equal(checked.stdout, '');
  const wrong = await cni('CHECK', { ...conf({ mtu: 1400 }), prevResult: added.json });
  assert.equal(wrong.code, 1);
  assert.equal(wrong.json?.code, 101, wrong.stdout);
  assert.match(String(wrong.json?.msg), /has MTU 1420, not 1400/);
  const owner = await cni('CHECK', { ...conf({ uid: 1000 }), prevResult: added.json });
  assert.equal(owner.json?.code, 101, owner.stdout);
  assert.match(String(owner.json?.msg), /is owned by user 65532, not 1000/);

  p.kill('SIGTERM');
  await p.waitExit(15_000);
  mesh.procs.delete('n3');
  const deleted = await cni('DEL', conf());
  assert.equal(deleted.code, 0, deleted.stdout);
  const link = await lab.exec(lab.node('n3').ns, 'ip', ['link', 'show', dev], { allowFailure: true });
  assert.notEqual(link.code, 0, 'the device is gone after DEL');
  const again = await cni('DEL', conf());
  assert.equal(again.code, 0, `DEL of a missing device: ${again.stdout}`);
  const gone = await cni('CHECK', conf());
  assert.equal(gone.json?.code, 101, gone.stdout);
});
