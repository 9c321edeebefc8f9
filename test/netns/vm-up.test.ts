// VMs (issue 14): nodes written by `tunmesh up --no-start` form a mesh. The first node founds it from a
// cluster secret, `tunmesh join-file create` hands the mesh to the second, and each daemon runs with
// exactly the ExecStart command of the unit `up` wrote (there is no systemd PID 1 here to start it). They
// join each other, carry traffic through the tunnel, drop to uid 65532, and `tunmesh down --purge` cleans up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cliPath } from '../helpers/mesh.js';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';

let lab: Lab;
let dir: string;
const procs: LabProcess[] = [];

const cli = async (args: string[], ns = lab.node('n1').ns): Promise<string> => {
  const r = await lab.exec(ns, process.execPath, [cliPath, ...args], { allowFailure: true });
  assert.equal(r.code, 0, `tunmesh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

before(async () => {
  lab = await Lab.create('tsvm-', { nodes: 2 });
  dir = await mkdtemp(join(tmpdir(), 'tunmesh-vm-up-'));
  await chmod(dir, 0o755);
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.waitExit(10_000).catch(() => p.kill('SIGKILL'))));
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('two nodes from `tunmesh up` (secret, then join file) run their units’ ExecStart and form a mesh', async () => {
  const where = ['--config-dir', join(dir, 'etc'), '--unit-dir', join(dir, 'units'), '--no-start'];
  const [n1, n2] = [lab.node('n1'), lab.node('n2')];
  const overlay = (i: number) => `198.19.${lab.subnetIndex}.${i}`;
  const node = (n: typeof n1) => [
    '--name',
    n.name,
    '--address',
    `${overlay(n.index)}/24`,
    '--address',
    `fd00:19:${lab.subnetIndex}::${n.index}/64`,
    '--listen',
    `${n.ipv4}:51820`,
    '--api-listen',
    `${n.ipv4}:4567`,
  ];
  await writeFile(join(dir, 'cluster.secret'), await cli(['secret', 'generate']), { mode: 0o600 });
  await cli(['up', ...node(n1), '--secret-file', join(dir, 'cluster.secret'), ...where]);
  await cli(['join-file', 'create', '-c', join(dir, 'etc/n1/config.yaml'), '--out', join(dir, 'mesh.join')]);
  await cli(['up', ...node(n2), '--join', join(dir, 'mesh.join'), ...where]);

  for (const n of [n1, n2]) {
    const unit = await readFile(join(dir, 'units', `tunmesh@${n.name}.service`), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
    procs.push(lab.spawn(n.ns, exec[0]!, exec.slice(1), { logFile: `${n.name}-${Date.now()}.log` }));
  }
  const status = async (n: typeof n1) =>
    JSON.parse(await cli(['status', '--json', '-c', join(dir, 'etc', n.name, 'config.yaml')], n.ns)) as {
      peers: { name: string; state: string }[];
    };
  const logs = () => procs.map((p) => p.log().slice(-3000)).join('\n---\n');
  await waitFor(
    async () => {
      for (const [a, b] of [
        [n1, n2],
        [n2, n1],
      ] as const)
        if (!(await status(a)).peers.some((p) => p.name === b.name && p.state === 'alive')) return false;
      return true;
    },
    { what: 'the two nodes to see each other alive', timeoutMs: 40_000, intervalMs: 300 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs()}`);
  });
  // Traffic through the tunnel: tunmesh ping probes the peer's overlay address.
  assert.match(await cli(['ping', '-c', join(dir, 'etc/n2/config.yaml'), 'n1'], n2.ns), /3 received/);
  for (const p of procs) {
    const uid = /^Uid:\s*(\d+)/m.exec(await readFile(`/proc/${p.pid}/status`, 'utf8'))?.[1];
    assert.equal(uid, '65532', 'the daemon dropped to the uid `up` wrote');
  }
  assert.deepEqual(parse(await readFile(join(dir, 'etc/n2/config.yaml'), 'utf8')).cluster.bootstrap, [
    `https://${n1.ipv4}:4567`,
  ]);

  for (const p of procs) p.kill('SIGTERM');
  for (const n of [n1, n2]) await cli(['down', '--name', n.name, '--purge', '--no-stop', ...where.slice(0, 4)]);
  assert.deepEqual(await readdir(join(dir, 'units')), []);
  assert.deepEqual(await readdir(join(dir, 'etc')), []);
});
