// R43: start and stop a daemon 100 times in one process (real TUN, UDP, TLS server, membership):
// afterwards the process holds the same open fds and active handles as after the first cycle, and no
// TUN device is left in the namespace (the kernel selftest's "created were also destroyed").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

let lab: Lab;
let mesh: Mesh;

before(async () => {
  lab = await Lab.create('tp8c-', { nodes: 1 });
  mesh = await Mesh.create(lab, { runAs: null });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

const cycles = Number(process.env.TUNMESH_R43_CYCLES ?? 100);

// The child runs inside the namespace; it imports the sources through tsx.
const child = `
import { readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const root = process.argv[1];
const { loadConfig } = await import(root + '/src/config/load.ts');
const { readSecrets } = await import(root + '/src/config/secrets.ts');
const { Daemon } = await import(root + '/src/daemon/daemon.ts');
const { linuxPlatform } = await import(root + '/src/daemon/linux-platform.ts');
const { silentLogger } = await import(root + '/src/base/log.ts');
const config = await loadConfig(process.argv[2]);
const secrets = await readSecrets(config);
const log = silentLogger();
const cycles = Number(process.argv[3]);
const fdList = () => readdirSync('/proc/self/fd').map((f) => { try { return readlinkSync('/proc/self/fd/' + f); } catch { return '?'; } });
const fds = () => fdList().length;
const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').sort().join(',');
const tuns = () => execFileSync('ip', ['-o', 'link', 'show', 'type', 'tun'], { encoding: 'utf8' }).trim().split('\\n').filter(Boolean).length;
const cycle = async () => {
  const d = await Daemon.start({ config, secrets, platform: linuxPlatform(log), log, version: 'test', dropPrivileges: false });
  await d.stop();
};
// Native objects release their fds when collected; collect before each measurement.
const settle = async () => { for (let k = 0; k < 3; k++) { global.gc(); await new Promise((r) => setTimeout(r, 100)); } };
await cycle(); // warm-up: lazily loaded modules and pools
await settle();
const before = { fds: fds(), handles: handles(), tuns: tuns() };
const fdsBefore = fdList();
const started = performance.now();
let maxTuns = 0;
for (let i = 0; i < cycles; i++) {
  const d = await Daemon.start({ config, secrets, platform: linuxPlatform(log), log, version: 'test', dropPrivileges: false });
  if (i === 0) maxTuns = tuns();
  await d.stop();
}
await settle();
const afterAll = { fds: fds(), handles: handles(), tuns: tuns() };
const leaked = fdList().filter((x) => { const i = fdsBefore.indexOf(x); if (i >= 0) { fdsBefore.splice(i, 1); return false; } return true; });
console.log(JSON.stringify({ leaked: leaked.slice(0, 5), cycles, seconds: (performance.now() - started) / 1000, before, after: afterAll, tunsWhileRunning: maxTuns, rssMiB: process.memoryUsage().rss / 2 ** 20 }));
process.exit(0);
`;

test(`R43: ${cycles} start/stop cycles in one process leak no fd, handle or TUN device`, async () => {
  const r = await lab.exec(
    lab.node('n1').ns,
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      child,
      process.cwd(),
      mesh.configFile('n1'),
      String(cycles),
    ],
    { timeoutMs: 300_000 },
  );
  const line = r.stdout.trim().split('\n').at(-1)!;
  const s = JSON.parse(line) as {
    seconds: number;
    before: { fds: number; handles: string; tuns: number };
    after: { fds: number; handles: string; tuns: number };
    tunsWhileRunning: number;
  };
  console.log(`# R43 ${line}`);
  assert.equal(s.tunsWhileRunning, 1, 'the daemon had its TUN device while running (the check can fail)');
  assert.equal(s.after.tuns, 0, 'no TUN device left');
  assert.equal(s.before.tuns, 0);
  assert.equal(s.after.fds, s.before.fds, 'fd count unchanged');
  assert.equal(s.after.handles, s.before.handles, 'active handles unchanged');
});
