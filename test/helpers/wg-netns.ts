// Namespaces, veth and a wireguard-go instance for the interop test. Every name carries the tp1- prefix;
// cleanup removes only what these helpers created, and ends wireguard-go by its PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, timeout: 15_000, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export function which(bin: string): boolean {
  return tryRun('sh', ['-c', `command -v ${bin}`]);
}

export function netnsExists(name: string): boolean {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .some((l) => l.split(' ')[0] === name);
}

export function deleteNetns(name: string): void {
  if (netnsExists(name)) tryRun('ip', ['netns', 'del', name]);
}

/** Two namespaces joined by a veth pair with one IPv4 address each. */
export function makeVethPair(
  a: { ns: string; dev: string; cidr: string },
  b: { ns: string; dev: string; cidr: string },
) {
  for (const side of [a, b]) {
    deleteNetns(side.ns);
    run('ip', ['netns', 'add', side.ns]);
    run('ip', ['-n', side.ns, 'link', 'set', 'lo', 'up']);
  }
  run('ip', ['link', 'add', a.dev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns]);
  for (const side of [a, b]) {
    run('ip', ['-n', side.ns, 'addr', 'add', side.cidr, 'dev', side.dev]);
    run('ip', ['-n', side.ns, 'link', 'set', side.dev, 'up']);
  }
}

export interface WireGuardGo {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logs: string[];
  stop(): Promise<void>;
}

/** Starts `wireguard-go <ifname>` in the foreground inside `ns`, and waits until the interface exists. */
export async function startWireGuardGo(ns: string, ifname: string): Promise<WireGuardGo> {
  // `ip netns exec` execs the command in place, so the child's PID is wireguard-go's.
  const proc = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', ifname], {
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'verbose' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  proc.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const wg: WireGuardGo = {
    proc,
    pid: proc.pid ?? -1,
    logs,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
      process.kill(proc.pid, 'SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3000).unref());
      if ((await Promise.race([exited, timer])) === 'timeout' && proc.exitCode === null)
        process.kill(proc.pid, 'SIGKILL');
    },
  };
  for (let i = 0; i < 50; i++) {
    if (tryRun('ip', ['-n', ns, 'link', 'show', ifname])) return wg;
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await wg.stop();
  throw new Error(`wireguard-go did not create ${ifname}: ${logs.join('')}`);
}

/** `wg setconf` from a temporary file that is removed again (it holds a private key). */
export function wgSetconf(ns: string, ifname: string, conf: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'tp1-wg-'));
  try {
    const file = join(dir, 'wg.conf');
    writeFileSync(file, conf, { mode: 0o600 });
    run('ip', ['netns', 'exec', ns, 'wg', 'setconf', ifname, file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
