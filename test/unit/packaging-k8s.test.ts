// deploy/k8s/*.yaml against the Kubernetes API schemas, offline, in two ways:
// - kubernetes-models' validate(): the OpenAPI schema of each kind (types, enums, required fields, formats);
// - a TypeScript type check of each manifest as an object literal typed with kubernetes-models' interfaces:
//   excess-property checks catch misspelled fields, which the OpenAPI schemas allow (no
//   additionalProperties: false) but the API server rejects (strict field validation) or silently drops
//   (e.g. a misspelled readOnlyRootFilesystem would quietly leave the root filesystem writable).
// The PodMonitor (a Prometheus Operator CRD, not in kubernetes-models) is checked by hand against the
// fields of its CRD. Then the invariants the deployment relies on: the native-sidecar shape, probes on
// unauthenticated routes the control API really serves, the Pod Security level of each workload (a checker
// of the rules in test/helpers/pod-security.ts), and NetworkPolicy/PodMonitor/PDB consistent with the
// ports and files of the config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { liveRoute } from '../../src/control/routes/live.js';
import { healthRoute } from '../../src/control/routes/health.js';
import { parseHostPort } from '../../src/config/net.js';
import {
  admits,
  podSecurityFindings,
  podSecurityLevel,
  unimplementedFields,
  type Level,
} from '../helpers/pod-security.js';

const repo = resolve(import.meta.dirname, '../..');
const k8sDir = join(repo, 'deploy/k8s');
const dirs = [k8sDir, join(k8sDir, 'examples')];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
interface Manifest {
  readonly file: string;
  readonly doc: Doc;
}

interface Kind {
  /** kubernetes-models class: its constructor + validate() checks the OpenAPI schema. */
  readonly model: new (data: never) => { validate(): void };
  /** Module and interface for the type check. */
  readonly module: string;
  readonly iface: string;
}

const kinds: Record<string, Kind> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace', iface: 'INamespace' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', iface: 'ISecret' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', iface: 'IConfigMap' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', iface: 'IService' },
  'apps/v1/StatefulSet': {
    model: StatefulSet,
    module: 'kubernetes-models/apps/v1/StatefulSet',
    iface: 'IStatefulSet',
  },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', iface: 'IDeployment' },
  'batch/v1/Job': { model: Job, module: 'kubernetes-models/batch/v1/Job', iface: 'IJob' },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: NetworkPolicy,
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    iface: 'INetworkPolicy',
  },
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget,
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    iface: 'IPodDisruptionBudget',
  },
};

const kustomizationFile = 'kustomization.yaml';

/** Custom resources: no model in kubernetes-models, checked by hand (below). */
const podMonitorKind = 'monitoring.coreos.com/v1/PodMonitor';

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const dir of dirs)
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.yaml') || name === kustomizationFile) continue;
      const file = relative(k8sDir, join(dir, name));
      for (const d of parseAllDocuments(readFileSync(join(dir, name), 'utf8'))) {
        assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
        const doc = d.toJS() as Doc | null;
        if (doc) out.push({ file, doc });
      }
    }
  return out;
}

const kindKey = (doc: Doc): string => `${doc.apiVersion}/${doc.kind}`;

// The PodMonitor's fields, from the monitoring.coreos.com/v1 CRD (prometheus-operator v0.75): unknown
// fields are rejected, as the API server's strict field validation would; the types of the ones used here
// are checked.
const podMonitorFields = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name', 'namespace', 'labels', 'annotations'],
  spec: [
    'attachMetadata',
    'jobLabel',
    'keepDroppedTargets',
    'labelLimit',
    'labelNameLengthLimit',
    'labelValueLengthLimit',
    'namespaceSelector',
    'podMetricsEndpoints',
    'podTargetLabels',
    'sampleLimit',
    'scrapeClass',
    'scrapeProtocols',
    'selector',
    'targetLimit',
  ],
  endpoint: [
    'authorization',
    'basicAuth',
    'bearerTokenSecret',
    'enableHttp2',
    'filterRunning',
    'followRedirects',
    'honorLabels',
    'honorTimestamps',
    'interval',
    'metricRelabelings',
    'oauth2',
    'params',
    'path',
    'port',
    'portNumber',
    'proxyUrl',
    'relabelings',
    'scheme',
    'scrapeTimeout',
    'targetPort',
    'tlsConfig',
    'trackTimestampsStaleness',
  ],
  authorization: ['type', 'credentials'],
  secretKeySelector: ['name', 'key', 'optional'],
  selector: ['matchLabels', 'matchExpressions'],
};
const promDuration = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

function podMonitorErrors(doc: Doc): string[] {
  const errors: string[] = [];
  const fields = (what: string, obj: unknown, allowed: readonly string[]): void => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      return void errors.push(`${what}: not an object`);
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) errors.push(`${what}: unknown field "${k}"`);
  };
  const str = (what: string, v: unknown): void => {
    if (typeof v !== 'string' || v === '') errors.push(`${what}: must be a non-empty string`);
  };
  fields('PodMonitor', doc, podMonitorFields.top);
  fields('metadata', doc.metadata, podMonitorFields.metadata);
  str('metadata.name', doc.metadata?.name);
  fields('spec', doc.spec, podMonitorFields.spec);
  fields('spec.selector', doc.spec?.selector, podMonitorFields.selector);
  const labels = doc.spec?.selector?.matchLabels as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(labels ?? {})) str(`spec.selector.matchLabels.${k}`, v);
  const eps = doc.spec?.podMetricsEndpoints as unknown;
  if (!Array.isArray(eps) || eps.length === 0) errors.push('spec.podMetricsEndpoints: must be a non-empty list');
  ((Array.isArray(eps) ? eps : []) as Doc[]).forEach((ep, i) => {
    const at = `spec.podMetricsEndpoints[${i}]`;
    fields(at, ep, podMonitorFields.endpoint);
    if (ep.port !== undefined) str(`${at}.port`, ep.port);
    if (ep.path !== undefined) str(`${at}.path`, ep.path);
    if (ep.scheme !== undefined && !['http', 'https'].includes(ep.scheme as string))
      errors.push(`${at}.scheme: must be http or https`);
    for (const d of ['interval', 'scrapeTimeout'])
      if (ep[d] !== undefined && !promDuration.test(String(ep[d]))) errors.push(`${at}.${d}: not a duration`);
    if (ep.authorization !== undefined) {
      fields(`${at}.authorization`, ep.authorization, podMonitorFields.authorization);
      fields(`${at}.authorization.credentials`, ep.authorization.credentials, podMonitorFields.secretKeySelector);
      str(`${at}.authorization.credentials.name`, ep.authorization.credentials?.name);
      str(`${at}.authorization.credentials.key`, ep.authorization.credentials?.key);
    }
  });
  return errors;
}

/** Schema errors of every manifest, by kubernetes-models' validate() (by hand for the PodMonitor). */
function schemaErrors(manifests: readonly Manifest[]): string[] {
  const errors: string[] = [];
  for (const { file, doc } of manifests) {
    if (kindKey(doc) === podMonitorKind) {
      errors.push(...podMonitorErrors(doc).map((e) => `${file} (PodMonitor): ${e}`));
      continue;
    }
    const kind = kinds[kindKey(doc)];
    if (!kind) {
      errors.push(`${file}: no schema for ${kindKey(doc)} (add it to the test's kinds)`);
      continue;
    }
    try {
      new kind.model(doc as never).validate();
    } catch (e) {
      errors.push(`${file} (${doc.kind}): ${(e as Error).message}`);
    }
  }
  return errors;
}

/** Type errors of every manifest as a typed object literal, by the TypeScript compiler (in memory). */
function typeErrors(manifests: readonly Manifest[]): string[] {
  // A virtual file inside the repository, so that kubernetes-models resolves from node_modules.
  const fileName = join(repo, 'test/unit/__packaging_k8s_manifests__.ts');
  const spans: { start: number; end: number; label: string }[] = [];
  let source = '';
  manifests.forEach(({ doc }, i) => {
    const kind = kinds[kindKey(doc)];
    if (!kind) return;
    source += `import type { ${kind.iface} as T${i} } from '${kind.module}';\n`;
  });
  manifests.forEach(({ file, doc }, i) => {
    if (!kinds[kindKey(doc)]) return;
    const start = source.length;
    source += `export const m${i}: T${i} = ${JSON.stringify(doc, null, 1)};\n`;
    spans.push({ start, end: source.length, label: `${file} (${doc.kind})` });
  });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === fileName || d.file === undefined)
    .map((d) => {
      const at = d.start ?? -1;
      const label = spans.find((s) => at >= s.start && at < s.end)?.label ?? '(imports)';
      return `${label}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

function validate(manifests: readonly Manifest[]): string[] {
  return [...schemaErrors(manifests), ...typeErrors(manifests)];
}

const manifests = loadManifests();
const byKind = (kind: string): Doc[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const only = (kind: string): Doc => {
  const docs = byKind(kind);
  assert.equal(docs.length, 1, `exactly one ${kind}`);
  return docs[0]!;
};
const statefulSet = only('StatefulSet');
const workloads = [...byKind('StatefulSet'), ...byKind('Deployment'), ...byKind('Job')];
const podOf = (w: Doc): Doc => w.spec.template.spec as Doc;
const sidecarOf = (w: Doc): Doc | undefined =>
  ((podOf(w).initContainers as Doc[] | undefined) ?? []).find((c) => c.name === 'tunmesh');
const config = parseAllDocuments(only('ConfigMap').data['config.yaml'] as string)[0]!.toJS() as Doc;
const portOf = (listen: string): number => parseHostPort(listen)!.port;
const mesh = {
  api: portOf(config.control.listen as string),
  wireguard: portOf(config.wireguard.listen as string),
  metrics: portOf(config.control.metricsListen as string),
};

/** A deep copy of the manifests with `edit` applied to the documents of `kind`. */
function withEdit(kind: string, edit: (doc: Doc) => void): Manifest[] {
  return manifests.map((m) => {
    const doc = structuredClone(m.doc);
    if (doc.kind === kind) edit(doc);
    return { file: m.file, doc };
  });
}

test(
  'every manifest is valid against the Kubernetes schemas and types (the PodMonitor against its CRD)',
  { timeout: 60_000 },
  () => {
    for (const k of ['Namespace', 'Secret', 'ConfigMap', 'Service', 'StatefulSet', 'Deployment', 'Job'])
      assert.ok(byKind(k).length > 0, k);
    for (const k of ['PodDisruptionBudget', 'NetworkPolicy', 'PodMonitor']) assert.ok(byKind(k).length > 0, k);
    assert.deepEqual(validate(manifests), []);
  },
);

test('a misspelled field fails validation (type check), naming the field', { timeout: 60_000 }, () => {
  const broken = withEdit('StatefulSet', (sts) => {
    const sc = sts.spec.template.spec.initContainers.find((c: Doc) => c.name === 'tunmesh').securityContext;
    sc.readOnlyRootFileSystem = sc.readOnlyRootFilesystem;
    delete sc.readOnlyRootFilesystem;
  });
  const errors = validate(broken);
  assert.ok(
    errors.some((e) => e.includes('readOnlyRootFileSystem') && e.includes('statefulset.yaml')),
    errors.join('\n'),
  );
});

test('a wrong type fails validation by the OpenAPI schema alone', () => {
  const broken = withEdit('StatefulSet', (sts) => {
    sts.spec.replicas = 'three';
  });
  const errors = schemaErrors(broken);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /statefulset\.yaml.*replicas/s);
});

test('a missing required field fails validation by the OpenAPI schema', () => {
  const broken = withEdit('Job', (job) => {
    delete job.spec.template.spec.initContainers[1].name;
  });
  assert.match(schemaErrors(broken).join('\n'), /job\.yaml.*name/s);
});

test('the PodMonitor check rejects unknown fields, a bad scheme and a bad interval', () => {
  const pm = only('PodMonitor');
  assert.deepEqual(podMonitorErrors(pm), []);
  const bad = (edit: (d: Doc) => void): string => {
    const d = structuredClone(pm);
    edit(d);
    return podMonitorErrors(d).join('\n');
  };
  assert.match(
    bad((d) => (d.spec.podMetricEndpoints = d.spec.podMetricsEndpoints)),
    /spec: unknown field "podMetricEndpoints"/,
  );
  assert.match(
    bad((d) => (d.spec.podMetricsEndpoints[0].bearerToken = 'x')),
    /unknown field "bearerToken"/,
  );
  assert.match(
    bad((d) => (d.spec.podMetricsEndpoints[0].scheme = 'HTTPS')),
    /scheme/,
  );
  assert.match(
    bad((d) => (d.spec.podMetricsEndpoints[0].interval = '30')),
    /interval/,
  );
  assert.match(
    bad((d) => delete d.spec.podMetricsEndpoints[0].authorization.credentials.key),
    /credentials\.key/,
  );
});

test('each kustomization.yaml lists every manifest of its directory', () => {
  for (const dir of dirs) {
    const k = parseAllDocuments(readFileSync(join(dir, kustomizationFile), 'utf8'))[0]!.toJS() as Doc;
    assert.equal(k.kind, 'Kustomization');
    const prefix = relative(k8sDir, dir);
    const files = [...new Set(manifests.map((m) => m.file))]
      .filter((f) => (prefix ? f.startsWith(`${prefix}/`) : !f.includes('/')))
      .map((f) => (prefix ? f.slice(prefix.length + 1) : f))
      .sort();
    assert.deepEqual([...(k.resources as string[])].sort(), files, dir);
  }
});

test('everything lives in the one namespace', () => {
  const ns = only('Namespace');
  for (const { doc } of manifests) if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, ns.metadata.name);
});

test('the headless Service publishes not-ready pods and is the bootstrap name of the ConfigMap', () => {
  const svc = only('Service');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.equal(svc.spec.publishNotReadyAddresses, true);
  assert.deepEqual(svc.spec.selector, statefulSet.spec.selector.matchLabels);
  assert.equal(statefulSet.spec.serviceName, svc.metadata.name);
  const api = (svc.spec.ports as Doc[]).find((p) => p.port === mesh.api);
  assert.equal(api?.protocol, 'TCP');
  const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
  assert.deepEqual(config.cluster.bootstrap, [`https://${host}:${mesh.api}`]);
});

test('native sidecar: an init container with restartPolicy Always, after the key, with a startup probe', () => {
  assert.equal(workloads.length, 3, 'StatefulSet, Deployment, Job');
  for (const w of workloads) {
    const pod = podOf(w);
    const init = pod.initContainers as Doc[];
    const at = `${w.kind} ${w.metadata.name}`;
    const i = init.findIndex((c) => c.name === 'tunmesh');
    assert.ok(i >= 0, `${at}: the sidecar is an init container`);
    assert.equal(init[i]!.restartPolicy, 'Always', `${at}: restartPolicy Always makes it a sidecar`);
    assert.ok(init[i]!.startupProbe?.httpGet, `${at}: the app waits for its startup probe`);
    const key = init.findIndex((c) => c.name === 'wireguard-key');
    assert.ok(key >= 0 && key < i, `${at}: the key is written before the daemon starts`);
    assert.equal(init[key]!.restartPolicy, undefined, `${at}: the key container runs to completion`);
    assert.ok(!(pod.containers as Doc[]).some((c) => c.name === 'tunmesh'), `${at}: no sidecar among containers`);
    assert.ok((pod.containers as Doc[]).length > 0, `${at}: an app container`);
  }
  const job = only('Job');
  assert.ok(['Never', 'OnFailure'].includes(podOf(job).restartPolicy as string), 'a Job pod may complete');
});

test('probes point at unauthenticated GET routes the control API serves, on its port, over HTTPS', () => {
  const served = [liveRoute(), healthRoute({ health: async () => ({ ok: true }) as never })];
  const open = new Map(served.filter((r) => !r.auth && r.method === 'GET').map((r) => [r.path, r]));
  assert.deepEqual([...open.keys()].sort(), ['/health', '/live']);
  for (const w of workloads) {
    const sc = sidecarOf(w)!;
    const api = (sc.ports as Doc[]).find((p) => p.containerPort === mesh.api);
    assert.ok(api, 'the sidecar declares the API port');
    const probe = (name: string): Doc => sc[name].httpGet as Doc;
    for (const name of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const p = probe(name);
      assert.ok(open.has(p.path as string), `${w.kind} ${name}: ${p.path} is served without credentials`);
      assert.equal(p.scheme, 'HTTPS', name);
      assert.ok(p.port === api.name || p.port === mesh.api, name);
    }
    // The app starts when the node has joined; liveness must not need peers (a restart would not find any).
    assert.equal(probe('startupProbe').path, '/health');
    assert.equal(probe('readinessProbe').path, '/health');
    assert.equal(probe('livenessProbe').path, '/live');
    const s = sc.startupProbe as Doc;
    assert.ok((s.periodSeconds ?? 10) * (s.failureThreshold ?? 3) >= 60, 'a minute or more to join');
    assert.ok(sc.resources?.requests?.cpu && sc.resources?.limits?.memory);
  }
});

test('the sidecar runs with the minimal security context; every other container with none', () => {
  for (const w of workloads) {
    const pod = podOf(w);
    const sc = sidecarOf(w)!.securityContext as Doc;
    assert.equal(sc.runAsUser, 0, 'root for setup only');
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.privileged ?? false, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), ['NET_ADMIN', 'SETGID', 'SETUID']);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(pod.hostNetwork ?? false, false, 'the sidecar lives in the pod network namespace');
    assert.equal(pod.automountServiceAccountToken, false);
    for (const c of [...(pod.containers as Doc[]), ...(pod.initContainers as Doc[])]) {
      if (c.name === 'tunmesh') continue;
      assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], c.name);
      assert.equal(c.securityContext?.capabilities?.add, undefined, c.name);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
    }
  }
});

test('/dev/net/tun: a hostPath CharDevice, or a device plugin resource and no hostPath', () => {
  const seen = new Set<string>();
  for (const w of workloads) {
    const pod = podOf(w);
    const sc = sidecarOf(w)!;
    const mount = (sc.volumeMounts as Doc[]).find((m) => m.mountPath === '/dev/net/tun');
    const plugin = Object.keys((sc.resources?.limits as Doc | undefined) ?? {}).filter((r) => r.includes('/'));
    if (mount) {
      const vol = (pod.volumes as Doc[]).find((v) => v.name === mount.name);
      assert.deepEqual(vol?.hostPath, { path: '/dev/net/tun', type: 'CharDevice' });
      assert.deepEqual(plugin, [], w.kind);
      seen.add('hostPath');
    } else {
      assert.deepEqual(plugin, ['squat.ai/tun'], `${w.kind}: the device comes from the device plugin`);
      assert.equal(sc.resources.limits['squat.ai/tun'], '1');
      assert.ok(!(pod.volumes as Doc[]).some((v) => v.hostPath), `${w.kind}: no hostPath at all`);
      seen.add('plugin');
    }
  }
  assert.deepEqual([...seen].sort(), ['hostPath', 'plugin'], 'both variants are shown');
});

const levelOf = (w: Doc): Level => podSecurityLevel(podOf(w));
/** The pod without tunmesh's containers: what the app alone would need. */
function appOnly(w: Doc): Doc {
  const pod = structuredClone(podOf(w));
  pod.initContainers = (pod.initContainers as Doc[]).filter((c) => !['tunmesh', 'wireguard-key'].includes(c.name));
  pod.volumes = (pod.volumes as Doc[]).filter((v) => !v.hostPath);
  return pod;
}

test('Pod Security level of each variant, and the namespace admits every one', () => {
  const byName = Object.fromEntries(workloads.map((w) => [w.kind, w]));
  const reasons = (w: Doc): string[] =>
    podSecurityFindings(podOf(w))
      .filter((f) => f.level === 'privileged')
      .map((f) => `${f.where}: ${f.rule}`)
      .sort();
  // hostPath and NET_ADMIN: privileged.
  assert.equal(levelOf(byName.StatefulSet!), 'privileged');
  assert.deepEqual(reasons(byName.StatefulSet!), [
    'container tunmesh: adds capability NET_ADMIN',
    'volume dev-net-tun: hostPath volume',
  ]);
  assert.equal(levelOf(byName.Job!), 'privileged');
  // The device plugin removes the hostPath, but NET_ADMIN is outside baseline: still privileged.
  assert.equal(levelOf(byName.Deployment!), 'privileged');
  assert.deepEqual(reasons(byName.Deployment!), ['container tunmesh: adds capability NET_ADMIN']);
  // Everything else in the pods meets restricted: tunmesh's containers are the only exception.
  for (const w of workloads) assert.equal(podSecurityLevel(appOnly(w)), 'restricted', `${w.kind} without tunmesh`);
  const enforced = only('Namespace').metadata.labels['pod-security.kubernetes.io/enforce'] as Level;
  for (const w of workloads) assert.ok(admits(enforced, levelOf(w)), `${w.kind} is admitted by ${enforced}`);
  // Fields whose rules the checker does not implement are not used, so no rule is missed.
  const text = JSON.stringify(workloads);
  for (const f of unimplementedFields) assert.ok(!text.includes(`"${f}"`), f);
});

test('the Pod Security checker: each rule it relies on changes the level', () => {
  const restricted: Doc = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    volumes: [{ name: 'v', emptyDir: {} }],
  };
  assert.equal(podSecurityLevel(restricted), 'restricted');
  const level = (edit: (p: Doc) => void): Level => {
    const p = structuredClone(restricted);
    edit(p);
    return podSecurityLevel(p);
  };
  const c = (p: Doc): Doc => p.containers[0].securityContext as Doc;
  assert.equal(
    level((p) => p.volumes.push({ name: 'h', hostPath: { path: '/dev/net/tun' } })),
    'privileged',
  );
  assert.equal(
    level((p) => (c(p).privileged = true)),
    'privileged',
  );
  assert.equal(
    level((p) => (c(p).capabilities.add = ['NET_ADMIN'])),
    'privileged',
  );
  assert.equal(
    level((p) => (c(p).capabilities.add = ['SETUID'])),
    'baseline',
  );
  assert.equal(
    level((p) => (c(p).capabilities.add = ['NET_BIND_SERVICE'])),
    'restricted',
  );
  assert.equal(
    level((p) => (c(p).capabilities.drop = [])),
    'baseline',
  );
  assert.equal(
    level((p) => delete p.securityContext.runAsNonRoot),
    'baseline',
  );
  assert.equal(
    level((p) => (c(p).runAsNonRoot = false)),
    'baseline',
  );
  assert.equal(
    level((p) => (c(p).runAsUser = 0)),
    'baseline',
  );
  assert.equal(
    level((p) => delete p.securityContext.seccompProfile),
    'baseline',
  );
  assert.equal(
    level((p) => (c(p).seccompProfile = { type: 'Unconfined' })),
    'privileged',
  );
  assert.equal(
    level((p) => delete c(p).allowPrivilegeEscalation),
    'baseline',
  );
  assert.equal(
    level((p) => (p.hostNetwork = true)),
    'privileged',
  );
  assert.equal(
    level((p) => p.volumes.push({ name: 'n', nfs: { server: 's', path: '/' } })),
    'baseline',
  );
  assert.ok(admits('privileged', 'baseline') && admits('baseline', 'restricted') && !admits('baseline', 'privileged'));
});

test('selectors: each PodDisruptionBudget and workload selects its own pods; the replicated ones have a PDB', () => {
  const pdbs = byKind('PodDisruptionBudget');
  const selects = (sel: Record<string, string>, labels: Record<string, string>): boolean =>
    Object.entries(sel).every(([k, v]) => labels[k] === v);
  for (const w of workloads) {
    const labels = w.spec.template.metadata.labels as Record<string, string>;
    if (w.spec.selector) assert.ok(selects(w.spec.selector.matchLabels, labels), w.kind);
    const mine = pdbs.filter((p) => selects(p.spec.selector.matchLabels, labels));
    if (w.kind === 'Job') assert.equal(mine.length, 0);
    else {
      assert.equal(mine.length, 1, `${w.kind} has one PodDisruptionBudget`);
      assert.equal(mine[0]!.spec.maxUnavailable, 1);
      for (const other of workloads)
        if (other !== w) assert.ok(!selects(mine[0]!.spec.selector.matchLabels, other.spec.template.metadata.labels));
    }
  }
  assert.equal(statefulSet.spec.podManagementPolicy, 'Parallel', 'pod 0 cannot become ready alone');
});

test('NetworkPolicy: API and WireGuard ports between mesh members, the metrics port from monitoring only', () => {
  const np = only('NetworkPolicy');
  const sel = np.spec.podSelector.matchLabels as Record<string, string>;
  for (const w of workloads)
    for (const [k, v] of Object.entries(sel))
      assert.equal(w.spec.template.metadata.labels[k], v, `${w.kind} is selected`);
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  const rules = np.spec.ingress as Doc[];
  const ports = (r: Doc): string[] => (r.ports as Doc[]).map((p) => `${p.protocol}/${p.port}`).sort();
  const members = rules.filter((r) => r.from.every((f: Doc) => f.podSelector && !f.namespaceSelector));
  assert.equal(members.length, 1);
  assert.deepEqual(members[0]!.from[0].podSelector.matchLabels, sel, 'from the mesh members themselves');
  assert.deepEqual(ports(members[0]!), [`TCP/${mesh.api}`, `UDP/${mesh.wireguard}`]);
  const monitoring = rules.filter((r) => r !== members[0]);
  assert.equal(monitoring.length, 1, 'no other ingress');
  assert.deepEqual(monitoring[0]!.from, [
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
  ]);
  assert.deepEqual(ports(monitoring[0]!), [`TCP/${mesh.metrics}`]);
  // The container ports match the config.
  for (const w of workloads) {
    const declared = (sidecarOf(w)!.ports as Doc[]).map((p) => `${p.name}:${p.protocol}/${p.containerPort}`).sort();
    assert.deepEqual(declared, [
      `api:TCP/${mesh.api}`,
      `metrics:TCP/${mesh.metrics}`,
      `wireguard:UDP/${mesh.wireguard}`,
    ]);
  }
});

test('PodMonitor: scrapes the metrics port of every mesh pod with the token the sidecar reads', () => {
  const pm = only('PodMonitor');
  for (const w of workloads)
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels as Record<string, string>))
      assert.equal(w.spec.template.metadata.labels[k], v, `${w.kind} is scraped`);
  const [ep] = pm.spec.podMetricsEndpoints as Doc[];
  assert.equal(ep!.port, 'metrics');
  assert.equal(ep!.path, '/metrics');
  assert.equal(ep!.scheme, 'http', 'control.metricsListen is plain HTTP');
  assert.equal(ep!.authorization.type, 'Bearer');
  const { name, key } = ep!.authorization.credentials as { name: string; key: string };
  const secret = byKind('Secret').find((s) => s.metadata.name === name);
  assert.ok(secret?.stringData?.[key], `Secret ${name} has ${key}`);
  assert.deepEqual(Object.keys(secret.stringData as Doc), [key], 'Prometheus reads a Secret with the token alone');
  // Each sidecar mounts that key at control.metricsTokenFile.
  for (const w of workloads) {
    const pod = podOf(w);
    const vol = (pod.volumes as Doc[]).find((v) => v.secret?.secretName === name);
    assert.ok(vol, `${w.kind} mounts Secret ${name}`);
    const item = (vol.secret.items as Doc[]).find((i) => i.key === key);
    const mount = (sidecarOf(w)!.volumeMounts as Doc[]).find((m) => m.name === vol.name);
    assert.equal(`${mount?.mountPath}/${item?.path}`, config.control.metricsTokenFile, w.kind);
  }
});

test('MTU: the ConfigMap leaves room for WireGuard over IPv6 on a VXLAN/Geneve pod network (1450)', () => {
  const overhead = 40 + 8 + 32; // outer IPv6 + UDP + WireGuard data header and tag
  assert.equal(config.tun.mtu, 1450 - overhead);
});
