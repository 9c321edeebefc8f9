// The Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards, v1.29+) rules
// that tunmesh's manifests touch, as a checker: which level (privileged < baseline < restricted) a pod spec
// meets, and why not a stricter one. Not every rule: no AppArmor, SELinux, /proc mount type, sysctls or
// Windows; the test asserts the manifests set none of those fields, so the omitted rules cannot apply.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

export type Level = 'privileged' | 'baseline' | 'restricted';

/** Capabilities baseline allows a container to add (everything else needs privileged). */
export const baselineCapabilities = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Volume types restricted allows. */
const restrictedVolumes = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** Fields of the pod or container security contexts whose rules this checker does not implement. */
export const unimplementedFields = ['appArmorProfile', 'seLinuxOptions', 'procMount', 'sysctls', 'windowsOptions'];

export interface Finding {
  /** The lowest level that admits this. */
  readonly level: Exclude<Level, 'restricted'>;
  readonly where: string;
  readonly rule: string;
}

const allContainers = (pod: Doc): Doc[] => [
  ...((pod.initContainers as Doc[] | undefined) ?? []),
  ...((pod.containers as Doc[] | undefined) ?? []),
  ...((pod.ephemeralContainers as Doc[] | undefined) ?? []),
];

/** Everything in `pod` that baseline or restricted forbids. */
export function podSecurityFindings(pod: Doc): Finding[] {
  const out: Finding[] = [];
  const psc = (pod.securityContext as Doc | undefined) ?? {};
  const add = (level: Finding['level'], where: string, rule: string): void => void out.push({ level, where, rule });

  // baseline
  for (const ns of ['hostNetwork', 'hostPID', 'hostIPC'])
    if (pod[ns] === true) add('privileged', 'pod', `${ns}: true (host namespaces)`);
  for (const v of (pod.volumes as Doc[] | undefined) ?? [])
    if (v.hostPath) add('privileged', `volume ${v.name}`, 'hostPath volume');
  if (psc.seccompProfile?.type === 'Unconfined') add('privileged', 'pod', 'seccompProfile Unconfined');
  for (const c of allContainers(pod)) {
    const sc = (c.securityContext as Doc | undefined) ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged === true) add('privileged', where, 'privileged: true');
    for (const cap of (sc.capabilities?.add as string[] | undefined) ?? [])
      if (!baselineCapabilities.has(cap)) add('privileged', where, `adds capability ${cap}`);
    for (const p of (c.ports as Doc[] | undefined) ?? [])
      if (p.hostPort) add('privileged', where, `hostPort ${p.hostPort}`);
    if (sc.seccompProfile?.type === 'Unconfined') add('privileged', where, 'seccompProfile Unconfined');
  }

  // restricted
  for (const v of (pod.volumes as Doc[] | undefined) ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type && type !== 'hostPath' && !restrictedVolumes.has(type))
      add('baseline', `volume ${v.name}`, `volume type ${type}`);
  }
  for (const c of allContainers(pod)) {
    const sc = (c.securityContext as Doc | undefined) ?? {};
    const where = `container ${c.name}`;
    if (sc.allowPrivilegeEscalation !== false) add('baseline', where, 'allowPrivilegeEscalation is not false');
    const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (nonRoot !== true) add('baseline', where, 'runAsNonRoot is not true');
    const uid = sc.runAsUser ?? psc.runAsUser;
    if (uid === 0) add('baseline', where, 'runAsUser: 0');
    const seccomp = (sc.seccompProfile?.type ?? psc.seccompProfile?.type) as string | undefined;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      add('baseline', where, 'seccompProfile is not RuntimeDefault or Localhost');
    const caps = (sc.capabilities as Doc | undefined) ?? {};
    if (!((caps.drop as string[] | undefined) ?? []).includes('ALL')) add('baseline', where, 'does not drop ALL');
    for (const cap of (caps.add as string[] | undefined) ?? [])
      if (cap !== 'NET_BIND_SERVICE') add('baseline', where, `adds capability ${cap}`);
  }
  return out;
}

/** The strictest level `pod` meets. */
export function podSecurityLevel(pod: Doc): Level {
  const findings = podSecurityFindings(pod);
  if (findings.some((f) => f.level === 'privileged')) return 'privileged';
  if (findings.length > 0) return 'baseline';
  return 'restricted';
}

const order: readonly Level[] = ['restricted', 'baseline', 'privileged'];

/** Does a namespace enforcing `enforced` admit a pod of `level`? */
export function admits(enforced: Level, level: Level): boolean {
  return order.indexOf(level) <= order.indexOf(enforced);
}
