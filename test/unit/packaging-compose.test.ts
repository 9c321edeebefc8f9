// deploy/docker-compose.yml cannot run here (no container engine), so the test checks what running it
// relies on: app containers paired with sidecars by network_mode, the sidecars' capabilities, devices and
// health check, underlay addresses only in 198.18.0.0/16, and that the files deploy/compose/gen.sh writes
// are mounted exactly where the generated configs look for them inside the containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { configTree, type SettingInfo } from '../../src/config/introspect.js';
import { parseCidr } from '../../src/wire/ip.js';

const repo = resolve(import.meta.dirname, '../..');
const composeFile = join(repo, 'deploy/docker-compose.yml');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as Doc;
const services = compose.services as Record<string, Doc>;
const apps = Object.entries(services).filter(([, s]) => String(s.network_mode ?? '').startsWith('service:'));
const sidecars = Object.entries(services).filter(([, s]) => String(s.image ?? '').includes('tunmesh'));
/** Where the containers read the config (the image's TUNMESH_CONFIG). */
const containerConfig = '/etc/tunmesh/config.yaml';

function inPrefix(address: string, cidr: string): boolean {
  const a = parseCidr(`${address}/32`);
  const c = parseCidr(cidr);
  if (!a || !c || a.addr.length !== c.addr.length) return false;
  const bits = (b: Uint8Array): string => [...b].map((x) => x.toString(2).padStart(8, '0')).join('');
  return bits(a.addr).slice(0, c.prefixLength) === bits(c.addr).slice(0, c.prefixLength);
}

test('three app containers, each in the network namespace of its own tunmesh sidecar', () => {
  assert.equal(apps.length, 3);
  assert.equal(sidecars.length, 3);
  const used = new Set<string>();
  for (const [name, app] of apps) {
    const target = String(app.network_mode).slice('service:'.length);
    assert.ok(
      sidecars.some(([n]) => n === target),
      `${name} shares the namespace of sidecar ${target}`,
    );
    assert.ok(!used.has(target), `${target} serves one app`);
    used.add(target);
    assert.equal(app.networks, undefined, `${name} has no network of its own`);
    assert.equal(app.ports, undefined, `${name} publishes nothing (it shares the sidecar's namespace)`);
    assert.equal(app.depends_on?.[target]?.condition, 'service_healthy', `${name} starts once its sidecar is healthy`);
    assert.deepEqual(app.cap_drop, ['ALL'], name);
    assert.equal(app.cap_add, undefined, name);
  }
});

test('sidecars: root with only NET_ADMIN, SETUID, SETGID; /dev/net/tun; no new privileges; health check', () => {
  const dockerfile = readFileSync(join(repo, 'deploy/Dockerfile'), 'utf8');
  assert.match(dockerfile, /^HEALTHCHECK .*\\\n\s+CMD \[/m, 'the image defines the health check test');
  for (const [name, s] of sidecars) {
    assert.deepEqual(s.cap_drop, ['ALL'], name);
    assert.deepEqual([...s.cap_add].sort(), ['NET_ADMIN', 'SETGID', 'SETUID'], name);
    assert.ok(s.privileged !== true, name);
    assert.ok((s.devices as string[]).includes('/dev/net/tun:/dev/net/tun'), name);
    assert.ok((s.security_opt as string[]).includes('no-new-privileges:true'), name);
    assert.equal(s.read_only, true, name);
    assert.equal(s.network_mode, undefined, name);
    assert.equal(s.environment?.TUNMESH_PROCESS__UID, '65532', `${name} drops to the tunmesh user`);
    // The compose health check keeps the image's test (no `test:`) and is not disabled.
    assert.ok(s.healthcheck, name);
    assert.equal(s.healthcheck.disable ?? false, false, name);
    assert.equal(s.healthcheck.test, undefined, `${name} inherits the image's HEALTHCHECK test`);
    assert.ok(s.healthcheck.interval && s.healthcheck.start_period, name);
  }
});

test('the underlay network uses only 198.18.0.0/16, with one static address per sidecar', () => {
  const networks = compose.networks as Record<string, Doc>;
  const subnets = new Map<string, string[]>();
  for (const [name, n] of Object.entries(networks)) {
    assert.equal(n.driver, 'bridge', name);
    assert.equal(n.external ?? false, false, name);
    const configs = n.ipam?.config as Doc[];
    assert.ok(configs?.length, `${name} has explicit subnets`);
    for (const c of configs) {
      const [base, len] = String(c.subnet).split('/');
      assert.ok(inPrefix(base!, '198.18.0.0/16') && Number(len) >= 16, `${name} subnet ${c.subnet}`);
      if (c.gateway) assert.ok(inPrefix(c.gateway, c.subnet), `${name} gateway ${c.gateway}`);
    }
    subnets.set(
      name,
      configs.map((c) => c.subnet),
    );
  }
  const addresses = new Set<string>();
  for (const [name, s] of sidecars) {
    const nets = Object.entries(s.networks as Record<string, Doc>);
    assert.ok(nets.length >= 1, name);
    for (const [net, cfg] of nets) {
      const ip = cfg?.ipv4_address as string;
      assert.ok(ip, `${name} has a static ipv4_address on ${net}`);
      assert.ok(
        subnets.get(net)?.some((sub) => inPrefix(ip, sub)),
        `${name} ${ip} inside ${net}`,
      );
      assert.ok(!addresses.has(ip), `${ip} unique`);
      addresses.add(ip);
    }
  }
});

function runGen(out: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = import.meta.resolve('tsx');
  const cli = `${process.execPath} --import ${tsx} ${join(repo, 'src/cli/main.ts')}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TUNMESH_')));
  return new Promise((done) => {
    execFile(
      'sh',
      [join(repo, 'deploy/compose/gen.sh'), out],
      { env: { ...env, TUNMESH: cli }, timeout: 90_000 },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function fileSettings(data: Doc, settings: readonly SettingInfo[] = configTree()): [string, string][] {
  const out: [string, string][] = [];
  for (const s of settings) {
    const v = data?.[s.key];
    if (s.meta.file && typeof v === 'string') out.push([s.path, v]);
    else if (s.kind === 'object' && s.children && v && typeof v === 'object') out.push(...fileSettings(v, s.children));
  }
  return out;
}

test(
  'gen.sh output: every file a config names is mounted where the config looks for it',
  { timeout: 120_000 },
  async () => {
    const out = await mkdtemp(join(tmpdir(), 'tp5-compose-'));
    try {
      const gen = await runGen(out);
      assert.equal(gen.code, 0, gen.stderr);
      // gen.sh writes where the compose file's sources are (deploy/compose/); map them into `out`.
      const hostPath = (source: string): string => {
        const rel = posix.relative('compose', posix.normalize(source));
        assert.ok(!rel.startsWith('..'), `${source} is under deploy/compose/`);
        return join(out, rel);
      };
      const topConfigs = compose.configs as Record<string, Doc>;
      const topSecrets = compose.secrets as Record<string, Doc>;
      for (const [name, s] of sidecars) {
        // Container path -> host file, for this service's configs and secrets.
        const mounted = new Map<string, string>();
        for (const c of s.configs as Doc[]) mounted.set(c.target, hostPath(topConfigs[c.source]!.file));
        for (const c of s.secrets as Doc[]) {
          assert.ok(posix.isAbsolute(c.target), `${name}: secret ${c.source} has an absolute target`);
          const file = hostPath(topSecrets[c.source]!.file);
          mounted.set(c.target, file);
          const mode = (await stat(file)).mode & 0o777;
          assert.equal(mode & 0o077, 0, `${name}: ${file} is private (mode ${mode.toString(8)})`);
        }
        const configFile = mounted.get(containerConfig);
        assert.ok(configFile, `${name} mounts a config at ${containerConfig}`);
        const config = parse(await readFile(configFile, 'utf8')) as Doc;
        const files = fileSettings(config);
        assert.ok(files.length >= 4, `${name}: key, secret, cert and key files`);
        for (const [setting, value] of files) {
          // Relative paths are relative to the config's directory, in the container and on the host alike.
          const inContainer = posix.resolve(posix.dirname(containerConfig), value);
          const onHost = resolve(dirname(configFile), value);
          assert.equal(mounted.get(inContainer), onHost, `${name}: ${setting} = ${value} is mounted at ${inContainer}`);
        }
        // The node advertises its compose address; the others bootstrap through the first sidecar.
        const ip = (Object.values(s.networks as Record<string, Doc>)[0] as Doc).ipv4_address as string;
        assert.equal(config.control.advertiseUrl, `https://${ip}:4567`, name);
        assert.deepEqual(config.wireguard.advertise, [`${ip}:51820`], name);
        for (const url of config.cluster.bootstrap as string[]) {
          const host = new URL(url).hostname;
          assert.ok(
            sidecars.some(
              ([n, o]) => n !== name && Object.values(o.networks as Record<string, Doc>)[0]!.ipv4_address === host,
            ),
            `${name}: bootstrap ${url} is another sidecar`,
          );
        }
      }
      // Running it again keeps the secrets (configs are rewritten).
      const secretBefore = await readFile(join(out, 'secrets/cluster.secret'), 'utf8');
      const again = await runGen(out);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await readFile(join(out, 'secrets/cluster.secret'), 'utf8'), secretBefore);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
