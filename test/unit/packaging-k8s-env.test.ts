// Do the workloads really configure a node? The test plays kubelet for one pod (of the StatefulSet, and of
// the pool-addressed Deployment and Job examples): resolves the sidecar's
// env (fieldRef + $(VAR) expansion, as Kubernetes does), lays out its volume mounts under a temporary
// root (ConfigMap subPath, Secret items with their modes, the emptyDir the init container writes), runs
// the init container's command, and then loads the config and runs `tunmesh config check` with that
// environment. So the TUNMESH_* override mapping, the ConfigMap's paths, the mounts and the Secret's
// key names must all agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { readSecrets } from '../../src/config/secrets.js';
import { configTree, type SettingInfo } from '../../src/config/introspect.js';
import { cleanEnv, makeConfigFixture, runCli } from '../helpers/config-fixture.js';

const repo = resolve(import.meta.dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const loadAll = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(join(repo, 'deploy/k8s', file), 'utf8')).map((d) => d.toJS() as Doc);
const load = (file: string, kind: string): Doc => loadAll(file).find((d) => d.kind === kind)!;
const sts = load('statefulset.yaml', 'StatefulSet');
const deployment = load('examples/deployment-pool.yaml', 'Deployment');
const job = load('examples/job.yaml', 'Job');
const configMap = load('configmap.yaml', 'ConfigMap');
const secrets = new Map(loadAll('secret.yaml').map((d) => [d.metadata.name as string, d]));

interface Workload {
  readonly pod: Doc;
  readonly sidecar: Doc;
  readonly init: Doc;
}
function workload(w: Doc): Workload {
  const pod = w.spec.template.spec as Doc;
  const init = pod.initContainers as Doc[];
  return { pod, sidecar: init.find((c) => c.name === 'tunmesh')!, init: init.find((c) => c.name === 'wireguard-key')! };
}
const stsPod = workload(sts);

/** What the downward API gives a pod (pod IP from the test underlay range); `ordinal` for a StatefulSet. */
function fieldValues(name: string, ordinal: number): Record<string, string> {
  return {
    'metadata.name': name,
    'metadata.namespace': sts.metadata.namespace,
    "metadata.labels['apps.kubernetes.io/pod-index']": String(ordinal),
    'status.podIP': `198.18.0.${10 + ordinal}`,
  };
}

/** The container's environment as the kubelet builds it: in order, $(VAR) expanding earlier variables. */
function containerEnv(container: Doc, fields: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env as Doc[]) {
    if (e.valueFrom) {
      const path = e.valueFrom.fieldRef?.fieldPath as string | undefined;
      assert.ok(
        path !== undefined && path in fields,
        `${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`,
      );
      env[e.name] = fields[path]!;
    } else {
      env[e.name] = String(e.value).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) =>
        m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
      );
    }
  }
  return env;
}

/** Calls `visit` for every file setting present in config data (the same settings loadConfig checks). */
function forEachFileSetting(
  data: Doc,
  visit: (holder: Doc, key: string, path: string) => void,
  settings: readonly SettingInfo[] = configTree(),
): void {
  for (const s of settings) {
    const v = data?.[s.key];
    if (s.meta.file && typeof v === 'string') visit(data, s.key, s.path);
    else if (s.kind === 'object' && s.children && v && typeof v === 'object') forEachFileSetting(v, visit, s.children);
    else if (s.kind === 'array' && s.children && Array.isArray(v))
      for (const el of v) forEachFileSetting(el as Doc, visit, s.children);
  }
}

interface PodRoot {
  readonly root: string;
  readonly configPath: string;
  readonly env: Record<string, string>;
}

/**
 * Lays out pod `ordinal`'s sidecar filesystem under `root` from the manifests, with the fixture's real
 * secret, certificate and key as the Secret's values, and runs the init container's command.
 */
async function layOutPod(
  root: string,
  ordinal: number,
  values: Record<string, string>,
  { pod, sidecar, init }: Workload = stsPod,
  name = `${sts.metadata.name}-${ordinal}`,
): Promise<PodRoot> {
  const volumes = new Map((pod.volumes as Doc[]).map((v) => [v.name as string, v]));
  const inRoot = (p: string): string => join(root, p);
  for (const m of sidecar.volumeMounts as Doc[]) {
    const vol = volumes.get(m.name)!;
    assert.ok(vol, `volume ${m.name}`);
    if (vol.configMap) {
      assert.equal(vol.configMap.name, configMap.metadata.name);
      assert.ok(m.subPath in configMap.data, `ConfigMap key ${m.subPath}`);
      await mkdir(dirname(inRoot(m.mountPath)), { recursive: true });
      await writeFile(inRoot(m.mountPath), configMap.data[m.subPath]);
    } else if (vol.secret) {
      const from = secrets.get(vol.secret.secretName as string);
      assert.ok(from, `Secret ${vol.secret.secretName} is in secret.yaml`);
      await mkdir(inRoot(m.mountPath), { recursive: true });
      for (const item of vol.secret.items as Doc[]) {
        assert.ok(item.key in from.stringData, `Secret key ${item.key} is in secret.yaml`);
        assert.ok(item.key in values, `test has a value for Secret key ${item.key}`);
        const file = join(inRoot(m.mountPath), item.path);
        await writeFile(file, values[item.key]!);
        await chmod(file, item.mode ?? vol.secret.defaultMode ?? 0o644);
      }
    } else if (vol.emptyDir) {
      await mkdir(inRoot(m.mountPath), { recursive: true });
    }
  }
  // The init container writes the WireGuard key into the shared emptyDir.
  const initMounts = new Set((init.volumeMounts as Doc[]).map((m) => `${m.name}:${m.mountPath}`));
  for (const m of sidecar.volumeMounts as Doc[])
    if (volumes.get(m.name)?.emptyDir && m.name === 'run')
      assert.ok(initMounts.has(`${m.name}:${m.mountPath}`), 'init container mounts the key volume at the same path');
  const args = (init.args as string[]).map((a) => (a.startsWith('/') ? inRoot(a) : a));
  const keyGen = await runCli(args, { env: cleanEnv() });
  assert.equal(keyGen.code, 0, keyGen.stderr);

  const env = containerEnv(sidecar, fieldValues(name, ordinal));
  // The config's absolute paths must point into the mounts: rewrite them into the root. A path outside
  // every mount would then name a file that does not exist, and the check would fail.
  const configPath = env.TUNMESH_CONFIG!;
  assert.ok(configPath, 'TUNMESH_CONFIG is set');
  const data = parse(await readFile(inRoot(configPath), 'utf8')) as Doc;
  const mounts = (sidecar.volumeMounts as Doc[]).map((m) => m.mountPath as string);
  forEachFileSetting(data, (holder, key, path) => {
    const value = holder[key] as string;
    assert.ok(value.startsWith('/'), `${path} is absolute in the ConfigMap`);
    assert.ok(
      mounts.some((mp) => value === mp || value.startsWith(`${mp}/`)),
      `${path} (${value}) lies under a volume mount`,
    );
    holder[key] = inRoot(value);
  });
  await writeFile(inRoot(configPath), stringify(data));
  return { root, configPath: inRoot(configPath), env };
}

/** Real values for every Secret key the workloads mount. */
async function secretValues(dir: string, clusterSecret: string): Promise<Record<string, string>> {
  return {
    'cluster.secret': clusterSecret,
    'operator.token': 'operator-token-of-the-test-0123456789abcdef',
    'metrics.token': 'metrics-token-of-the-test-0123456789abcdef',
    'tls.crt': await readFile(join(dir, 'tls/cert.pem'), 'utf8'),
    'tls.key': await readFile(join(dir, 'tls/key.pem'), 'utf8'),
  };
}

test('the StatefulSet env and mounts make a valid config for every pod', { timeout: 60_000 }, async () => {
  const fx = await makeConfigFixture({ prefix: 'tp5-k8s-' });
  try {
    const values = await secretValues(fx.dir, fx.secret);
    const replicas = sts.spec.replicas as number;
    const svc = `tunmesh-peers.${sts.metadata.namespace}.svc.cluster.local`;
    const seen = new Set<string>();
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const p = await layOutPod(join(fx.dir, `pod-${ordinal}`), ordinal, values);
      const config = await loadConfig(p.configPath, p.env);
      const podIp = `198.18.0.${10 + ordinal}`;
      assert.equal(config.node.name, `${sts.metadata.name}-${ordinal}`);
      assert.deepEqual(config.node.addresses, [`198.19.${ordinal}.1/16`]);
      assert.equal(config.control.advertiseUrl, `https://${podIp}:4567`);
      assert.deepEqual(config.wireguard.advertise, [`${podIp}:51820`]);
      assert.deepEqual(config.cluster.bootstrap, [`https://${svc}:4567`]);
      assert.deepEqual(config.process, { uid: 65532, gid: 65532 });
      assert.equal(config.control.metricsListen, '0.0.0.0:9567');
      assert.ok(config.control.operatorTokenFile && config.control.metricsTokenFile);
      for (const a of config.node.addresses) {
        assert.ok(!seen.has(a), `address ${a} is unique`);
        seen.add(a);
      }
      // Every secret file readable and valid (what the daemon reads before it drops privileges).
      await readSecrets(config);
    }
  } finally {
    await fx.cleanup();
  }
});

test('`tunmesh config check` accepts the pod environment and mounts; a bad override is rejected', async () => {
  const fx = await makeConfigFixture({ prefix: 'tp5-k8s-' });
  try {
    const values = await secretValues(fx.dir, fx.secret);
    const p = await layOutPod(join(fx.dir, 'pod-2'), 2, values);
    const ok = await runCli(['config', 'check', p.configPath], { env: cleanEnv(p.env) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'ok\n');
    assert.doesNotMatch(ok.stderr, /warning/, 'Secret file modes raise no warning');
    // The same check fails when the ordinal does not make an address (e.g. no pod-index label).
    const bad = await runCli(['config', 'check', p.configPath], {
      env: cleanEnv({ ...p.env, TUNMESH_NODE__ADDRESSES: '198.19.$(POD_INDEX).1/16' }),
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /node\.addresses.*TUNMESH_NODE__ADDRESSES/s);
  } finally {
    await fx.cleanup();
  }
});

test("secret.yaml's placeholders make the daemon refuse to start", async () => {
  const fx = await makeConfigFixture({ prefix: 'tp5-k8s-' });
  try {
    const placeholders = Object.assign({}, ...[...secrets.values()].map((d) => d.stringData)) as Record<string, string>;
    const p = await layOutPod(join(fx.dir, 'pod-0'), 0, placeholders);
    const config = await loadConfig(p.configPath, p.env);
    await assert.rejects(readSecrets(config), /cluster\.secretFile/);
  } finally {
    await fx.cleanup();
  }
});

test('the Deployment and Job take their address from the pool, outside the StatefulSet addresses', async () => {
  const fx = await makeConfigFixture({ prefix: 'tp5-k8s-' });
  try {
    const values = await secretValues(fx.dir, fx.secret);
    for (const [w, name] of [
      [deployment, 'tunmesh-pool-7d9f8c6b5-x2x4z'],
      [job, 'tunmesh-job-q8r2n'],
    ] as const) {
      const p = await layOutPod(join(fx.dir, name), 5, values, workload(w), name);
      const config = await loadConfig(p.configPath, p.env);
      assert.equal(config.node.name, name);
      assert.deepEqual(config.node.addresses, [], 'no static address: the pool decides');
      assert.equal(config.node.ipv4Pool, '198.19.128.0/17');
      // The pool's /17 is routed by the address; the rest of the mesh (the StatefulSet) by tun.routes.
      assert.deepEqual(config.tun.routes, ['198.19.0.0/16']);
      assert.equal(config.tun.mtu, 1370);
      await readSecrets(config);
      const check = await runCli(['config', 'check', p.configPath], { env: cleanEnv(p.env) });
      assert.equal(check.code, 0, check.stderr);
      assert.doesNotMatch(check.stderr, /warning/, 'no route-policy warning: cluster.routePolicy is set');
    }
  } finally {
    await fx.cleanup();
  }
});
