// Drops root after setup. Everything that needs privilege (TUN creation, addresses, routes, binding)
// happens before; afterwards the daemon only reads and writes fds it already holds, so it keeps no
// capability at all: setuid() from root to a non-zero uid clears the permitted and effective sets.
import { readFileSync } from 'node:fs';
import { TunmeshError } from '../base/errors.js';
import type { Logger } from '../base/log.js';

export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly capEff: string;
  readonly capPrm: string;
}

export function currentIdentity(): ProcessIdentity {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '';
  return {
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    capEff: field('CapEff'),
    capPrm: field('CapPrm'),
  };
}

export function dropPrivileges(target: { uid?: number | undefined; gid?: number | undefined }, log: Logger): void {
  if (target.uid === undefined && target.gid === undefined) {
    if (process.getuid?.() === 0)
      log.warn('running as root: set process.uid/process.gid to drop privileges after setup');
    return;
  }
  if (process.getuid?.() !== 0) {
    log.info({ uid: process.getuid?.() }, 'not root; privilege drop not needed');
    return;
  }
  const gid = target.gid ?? target.uid!;
  const uid = target.uid ?? target.gid!;
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
  if (id.uid !== uid || id.gid !== gid || !/^0+$/.test(id.capEff)) {
    throw new TunmeshError('PRIVILEGE_DROP_FAILED', `privilege drop incomplete (uid ${id.uid}, CapEff ${id.capEff})`);
  }
  log.info({ uid, gid, capEff: id.capEff }, 'dropped privileges');
}
