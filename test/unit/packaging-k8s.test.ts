// deploy/k8s/*.yaml against the Kubernetes API schemas, offline, in two ways:
// - kubernetes-models' validate(): the OpenAPI schema of each kind (types, enums, required fields, formats);
// - a TypeScript type check of each manifest as an object literal typed with kubernetes-models' interfaces:
//   excess-property checks catch misspelled fields, which the OpenAPI schemas allow (no
//   additionalProperties: false) but the API server rejects (strict field validation) or silently drops
//   (e.g. a misspelled readOnlyRootFilesystem would quietly leave the root filesystem writable).
// Then the invariants the deployment relies on (capabilities, probes, headless Service, selectors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const repo = resolve(import.meta.dirname, '../..');
const k8sDir = join(repo, 'deploy/k8s');

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
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget,
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    iface: 'IPodDisruptionBudget',
  },
};

const kustomizationFile = 'kustomization.yaml';

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(k8sDir).sort()) {
    if (!file.endsWith('.yaml') || file === kustomizationFile) continue;
    for (const d of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'))) {
      assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Doc | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

const kindKey = (doc: Doc): string => `${doc.apiVersion}/${doc.kind}`;

/** Schema errors of every manifest, by kubernetes-models' validate(). */
function schemaErrors(manifests: readonly Manifest[]): string[] {
  const errors: string[] = [];
  for (const { file, doc } of manifests) {
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
const podSpec = statefulSet.spec.template.spec as Doc;
const sidecar = (podSpec.containers as Doc[]).find((c) => c.name === 'tunmesh')!;

/** A deep copy of the manifests with `edit` applied to the StatefulSet. */
function withStatefulSetEdit(edit: (sts: Doc) => void): Manifest[] {
  return manifests.map((m) => {
    const doc = structuredClone(m.doc);
    if (doc.kind === 'StatefulSet') edit(doc);
    return { file: m.file, doc };
  });
}

test('every manifest is valid against the Kubernetes schemas and types', { timeout: 60_000 }, () => {
  assert.ok(manifests.length >= 6, 'Namespace, Secret, ConfigMap, Service, StatefulSet, PDB');
  assert.deepEqual(validate(manifests), []);
});

test('a misspelled field fails validation (type check), naming the field', { timeout: 60_000 }, () => {
  const broken = withStatefulSetEdit((sts) => {
    const sc = sts.spec.template.spec.containers.find((c: Doc) => c.name === 'tunmesh').securityContext;
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
  const broken = withStatefulSetEdit((sts) => {
    sts.spec.replicas = 'three';
  });
  const errors = schemaErrors(broken);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /statefulset\.yaml.*replicas/s);
});

test('a missing required field fails validation by the OpenAPI schema', () => {
  const broken = withStatefulSetEdit((sts) => {
    delete sts.spec.template.spec.containers[1].name;
  });
  assert.match(schemaErrors(broken).join('\n'), /name/);
});

test('kustomization.yaml lists every manifest', () => {
  const k = parseAllDocuments(readFileSync(join(k8sDir, kustomizationFile), 'utf8'))[0]!.toJS() as Doc;
  assert.equal(k.kind, 'Kustomization');
  const files = [...new Set(manifests.map((m) => m.file))].sort();
  assert.deepEqual([...(k.resources as string[])].sort(), files);
});

test('everything lives in the one namespace, and the namespace admits NET_ADMIN and hostPath', () => {
  const ns = only('Namespace');
  for (const { doc } of manifests) if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, ns.metadata.name);
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
});

test('the headless Service publishes not-ready pods and is the bootstrap name of the ConfigMap', () => {
  const svc = only('Service');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.equal(svc.spec.publishNotReadyAddresses, true);
  assert.deepEqual(svc.spec.selector, statefulSet.spec.selector.matchLabels);
  assert.equal(statefulSet.spec.serviceName, svc.metadata.name);
  const api = (svc.spec.ports as Doc[]).find((p) => p.port === 4567);
  assert.equal(api?.protocol, 'TCP');
  const config = parseAllDocuments(only('ConfigMap').data['config.yaml'] as string)[0]!.toJS() as Doc;
  const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
  assert.deepEqual(config.cluster.bootstrap, [`https://${host}:4567`]);
});

test('selectors match the pod labels (StatefulSet and PodDisruptionBudget)', () => {
  const labels = statefulSet.spec.template.metadata.labels as Record<string, string>;
  const pdb = only('PodDisruptionBudget');
  for (const sel of [statefulSet.spec.selector.matchLabels, pdb.spec.selector.matchLabels] as Record<string, string>[])
    for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `selector ${k}=${v}`);
  assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable !== undefined);
  assert.equal(statefulSet.spec.podManagementPolicy, 'Parallel', 'pod 0 cannot become ready alone');
});

test('the sidecar runs with the minimal security context', () => {
  const sc = sidecar.securityContext as Doc;
  assert.equal(sc.runAsUser, 0, 'root for setup only');
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.privileged ?? false, false);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  assert.deepEqual([...sc.capabilities.add].sort(), ['NET_ADMIN', 'SETGID', 'SETUID']);
  const seccomp = sc.seccompProfile ?? podSpec.securityContext?.seccompProfile;
  assert.equal(seccomp?.type, 'RuntimeDefault');
  assert.equal(podSpec.hostNetwork ?? false, false, 'the sidecar lives in the pod network namespace');
  assert.equal(podSpec.automountServiceAccountToken, false);
  // Every other container gets no capability at all.
  for (const c of [...(podSpec.containers as Doc[]), ...((podSpec.initContainers as Doc[]) ?? [])]) {
    if (c === sidecar) continue;
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], c.name);
    assert.equal(c.securityContext?.capabilities?.add, undefined, c.name);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
  }
});

test('/dev/net/tun comes from a hostPath CharDevice mounted at the same path', () => {
  const mount = (sidecar.volumeMounts as Doc[]).find((m) => m.mountPath === '/dev/net/tun');
  assert.ok(mount, 'sidecar mounts /dev/net/tun');
  const vol = (podSpec.volumes as Doc[]).find((v) => v.name === mount.name);
  assert.deepEqual(vol?.hostPath, { path: '/dev/net/tun', type: 'CharDevice' });
});

test('probes: readiness on /health over HTTPS, liveness on an endpoint that does not need peers', () => {
  const api = (sidecar.ports as Doc[]).find((p) => p.containerPort === 4567);
  assert.ok(api);
  const ready = sidecar.readinessProbe.httpGet as Doc;
  assert.deepEqual([ready.path, ready.scheme], ['/health', 'HTTPS']);
  assert.ok(ready.port === api.name || ready.port === 4567);
  const live = sidecar.livenessProbe.httpGet as Doc;
  assert.deepEqual([live.path, live.scheme], ['/live', 'HTTPS']);
  assert.ok(live.port === api.name || live.port === 4567);
  assert.ok(sidecar.resources?.requests?.cpu && sidecar.resources?.limits?.memory);
});
