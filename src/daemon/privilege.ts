// Drops root after setup. Everything that needs privilege (TUN creation, addresses, routes, binding)
// happens before; afterwards the daemon only reads and writes fds it already holds, so it keeps no
// capability at all: setuid() from root to a non-zero uid clears the permitted and effective sets.
//
// Before the setuid, every thread also gets no_new_privs (no execve can gain privileges again: setuid
// binaries and file capabilities are inert) and an empty capability bounding set. Both are per-thread and
// Node's threads exist by now, so the native addon sets them in each one (native/src/harden.cc); emptying
// the bounding set needs CAP_SETPCAP, so it comes first, while we still hold it. Without CAP_SETPCAP (a
// container started with cap_drop ALL) the bounding set is already the container's short list and stays;
// no_new_privs still keeps an exec from using it. Afterwards /proc/self/task/*/status is checked.
import { readdirSync, readFileSync } from 'node:fs';
import { TunmeshError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { loadNative } from '../platform/linux/native.js';

const capSetpcap = 8n;

export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly capEff: string;
  readonly capPrm: string;
}

/** What /proc says about one thread (task) of a process. */
export interface TaskState {
  readonly tid: string;
  readonly uid: string;
  readonly capEff: string;
  readonly capBnd: string;
  readonly noNewPrivs: string;
}

const fieldOf = (status: string, name: string): string =>
  new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '';

export function currentIdentity(): ProcessIdentity {
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    capEff: fieldOf(status, 'CapEff'),
    capPrm: fieldOf(status, 'CapPrm'),
  };
}

/** Every thread of process `pid` (default: this one); threads that exit while being read are skipped. */
export function taskStates(pid: number | 'self' = 'self'): TaskState[] {
  const out: TaskState[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    out.push({
      tid,
      uid: fieldOf(status, 'Uid'),
      capEff: fieldOf(status, 'CapEff'),
      capBnd: fieldOf(status, 'CapBnd'),
      noNewPrivs: fieldOf(status, 'NoNewPrivs'),
    });
  }
  return out;
}

const zero = (hex: string) => /^0+$/.test(hex);

/** no_new_privs (and an empty bounding set when we may) in every thread; false when the addon is missing. */
function hardenThreads(log: Logger): { bounding: boolean } | undefined {
  let addon;
  try {
    addon = loadNative();
  } catch {
    log.warn('native addon unavailable: no_new_privs and the capability bounding set are left unchanged');
    return undefined;
  }
  const bounding = ((BigInt(`0x${currentIdentity().capEff || '0'}`) >> capSetpcap) & 1n) === 1n;
  const r = addon.hardenThreads(bounding);
  if (r.unsupported) {
    log.warn('this build cannot reach every thread (not glibc): no_new_privs and the bounding set are left unchanged');
    return undefined;
  }
  if (r.error !== undefined || r.failed > 0)
    throw new TunmeshError(
      'PRIVILEGE_DROP_FAILED',
      `could not set no_new_privs${bounding ? ' and empty the capability bounding set' : ''} in every thread ` +
        `(${r.failed} of ${r.threads} did not answer${r.error ? `; ${r.error}` : ''})`,
    );
  // Started with an empty bounding set already (setpriv, a restricted pod), there is nothing to say.
  if (!bounding && !zero(fieldOf(readFileSync('/proc/self/status', 'utf8'), 'CapBnd') || '0'))
    log.info(
      'no CAP_SETPCAP: the capability bounding set stays as the runtime set it; no_new_privs keeps exec from using it',
    );
  return { bounding };
}

/**
 * Started without root (tun.existing under setpriv, a restricted pod): there is nothing to drop, but
 * no_new_privs still goes on every thread (it needs no privilege), and capabilities held anyway (ambient or
 * file capabilities) are reported, since the setup that needed them is over.
 */
function alreadyUnprivileged(log: Logger): void {
  const hardened = hardenThreads(log);
  const id = currentIdentity();
  if (!zero(id.capEff) || !zero(id.capPrm))
    log.warn(
      { uid: id.uid, capEff: id.capEff, capPrm: id.capPrm },
      'not root but holding capabilities: start the daemon without them (it needs none after setup)',
    );
  log.info(
    {
      uid: id.uid,
      gid: id.gid,
      capEff: id.capEff,
      noNewPrivs: hardened !== undefined,
      capBnd: taskStates()[0]?.capBnd,
    },
    'started unprivileged: nothing to drop',
  );
}

export function dropPrivileges(target: { uid?: number | undefined; gid?: number | undefined }, log: Logger): void {
  if (process.getuid?.() !== 0) return alreadyUnprivileged(log);
  if (target.uid === undefined && target.gid === undefined) {
    log.warn('running as root: set process.uid/process.gid to drop privileges after setup');
    return;
  }
  const gid = target.gid ?? target.uid!;
  const uid = target.uid ?? target.gid!;
  const hardened = hardenThreads(log);
  try {
    // Order matters: groups and gid first, while we still may change them.
    process.setgroups?.([gid]);
    process.setgid?.(gid);
    process.setuid?.(uid);
  } catch (cause) {
    throw new TunmeshError('PRIVILEGE_DROP_FAILED', `could not drop to uid ${uid} gid ${gid}`, {
      cause,
      hint: 'the drop needs CAP_SETUID and CAP_SETGID besides CAP_NET_ADMIN (in a container: --cap-add SETUID --cap-add SETGID)',
    });
  }
  const id = currentIdentity();
  if (id.uid !== uid || id.gid !== gid || !zero(id.capEff)) {
    throw new TunmeshError('PRIVILEGE_DROP_FAILED', `privilege drop incomplete (uid ${id.uid}, CapEff ${id.capEff})`);
  }
  const tasks = taskStates();
  const loose = tasks.filter(
    (t) =>
      !zero(t.capEff) ||
      (hardened !== undefined && t.noNewPrivs !== '1') ||
      (hardened?.bounding === true && !zero(t.capBnd)),
  );
  if (loose.length > 0) {
    const t = loose[0]!;
    throw new TunmeshError(
      'PRIVILEGE_DROP_FAILED',
      `privilege drop incomplete in ${loose.length} of ${tasks.length} threads ` +
        `(thread ${t.tid}: CapEff ${t.capEff}, CapBnd ${t.capBnd}, NoNewPrivs ${t.noNewPrivs})`,
    );
  }
  log.info(
    {
      uid,
      gid,
      capEff: id.capEff,
      threads: tasks.length,
      noNewPrivs: hardened !== undefined,
      capBnd: tasks[0]?.capBnd,
    },
    'dropped privileges',
  );
}
