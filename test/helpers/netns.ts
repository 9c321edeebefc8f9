// The network-namespace lab every netns test builds on.
//
//   const lab = await Lab.create('t2-', { nodes: 3 });
//
// makes namespaces t2-n1..t2-n3, each with `eth0` plugged into bridge `br0` in namespace t2-br, addresses
// 198.18.<k>.<i>/24 and fd00:18:<k>::<i>/64 (k derived from the prefix), loopback up, no default route.
// Nothing is created in the host namespace. Children started with lab.spawn/lab.exec are tracked by PID;
// lab.destroy() ends them and deletes every namespace, and runs by itself on exit, SIGINT and SIGTERM.
// Lab.create first removes what a crashed earlier run with the same prefix left behind.
//
// Naming: a prefix is lowercase letters/digits/dashes ending in '-', and a namespace belongs to the lab
// of prefix P iff its name is P followed by letters and digits only — so 't2-' never touches 't2-x-n1'.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LabOptions {
  /** Namespaces <prefix>n1..nN on the bridge (default 2; at most 250). */
  nodes?: number;
  /** Overrides the third octet k of the underlay (1..250); default derived from the prefix. */
  subnetIndex?: number;
  /** Where spawned processes write their logs (default artifacts/lab/<prefix>). */
  logDir?: string;
}

export interface LabNode {
  /** Short name: 'n1'. */
  name: string;
  /** Namespace: '<prefix>n1'. */
  ns: string;
  index: number;
  ipv4: string;
  ipv6: string;
  /** The underlay interface inside the node namespace. */
  ifname: 'eth0';
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  cwd?: string;
  /** Resolve with the exit code instead of rejecting when the command fails. */
  allowFailure?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  /** Log file for stdout+stderr: absolute, or relative to the lab's log dir (default: derived name). */
  logFile?: string;
  cwd?: string;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the error message: "node n2 to list 3 peers". */
  what: string;
}

/**
 * Polls `fn` until it returns something other than undefined/null/false and returns that. Errors thrown
 * by `fn` count as "not yet"; the last one is quoted if time runs out.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitForOptions,
): Promise<Exclude<Awaited<T>, undefined | null | false>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as Exclude<Awaited<T>, undefined | null | false>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${last}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const prefixPattern = /^[a-z0-9][a-z0-9-]*-$/;
const shortNamePattern = /^[a-z0-9]{1,10}$/;

/** FNV-1a of the prefix folded into 1..250: the third octet of the lab's underlay. */
export function subnetIndexOf(prefix: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < prefix.length; i++) h = Math.imul(h ^ prefix.charCodeAt(i), 0x01000193) >>> 0;
  return (h % 250) + 1;
}

function ip(args: string[], input?: string): void {
  execFileSync('ip', args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000, input });
}

function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 15_000 });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.length > 0);
}

function pidsIn(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 15_000 });
    return out
      .split('\n')
      .map((s) => Number.parseInt(s, 10))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

function belongsTo(prefix: string, ns: string): boolean {
  return ns.startsWith(prefix) && /^[a-z0-9]+$/.test(ns.slice(prefix.length));
}

/** Kills every process inside the namespaces and deletes them (synchronous: usable in 'exit'). */
function removeNamespaces(names: Iterable<string>): void {
  const list = [...names];
  for (const ns of list) {
    for (const pid of pidsIn(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const ns of list) {
    try {
      ip(['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
}

const liveLabs = new Set<Lab>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of [...liveLabs]) lab.destroySync();
  });
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      for (const lab of [...liveLabs]) lab.destroySync();
      process.exit(code);
    });
  }
}

/** A child started in a lab namespace; stdout and stderr go to `logFile`. */
export class LabProcess {
  readonly pid: number;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    private readonly child: ChildProcess,
    readonly ns: string,
    readonly description: string,
    readonly logFile: string,
  ) {
    if (child.pid === undefined) throw new Error(`could not start ${description} in ${ns}`);
    this.pid = child.pid;
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      });
      child.once('error', () => {
        this.exitInfo ??= { code: null, signal: null };
        resolveExit(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitCode(): number | null | undefined {
    return this.exitInfo?.code;
  }

  /** Signals the child's process group (the child and whatever it started). False if it was gone. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (!this.running) return false;
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      try {
        process.kill(this.pid, signal);
        return true;
      } catch {
        return false;
      }
    }
  }

  /** Resolves when the child exits; rejects after timeoutMs (the child keeps running). */
  waitExit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!Number.isFinite(timeoutMs)) return this.exited;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${this.description} in ${this.ns} (pid ${this.pid}) still running after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
  }

  /** The lines the child has written so far (without the log's header line). */
  lines(): string[] {
    return this.log().split('\n').slice(1);
  }

  /** Everything the child has written so far. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

export class Lab {
  readonly nodes: LabNode[] = [];
  readonly bridgeNs: string;
  readonly logDir: string;
  private readonly namespaces = new Set<string>();
  private readonly children = new Set<LabProcess>();
  private readonly linkNames = new Map<string, Set<string>>();
  private spawnCount = 0;
  private destroyed = false;

  private constructor(
    readonly prefix: string,
    readonly subnetIndex: number,
    logDir: string,
  ) {
    this.bridgeNs = `${prefix}br`;
    this.logDir = logDir;
  }

  /** Builds the lab; on any failure removes what it made and rethrows. */
  static async create(prefix: string, opts: LabOptions = {}): Promise<Lab> {
    if (!prefixPattern.test(prefix)) throw new Error(`lab prefix "${prefix}" must match ${prefixPattern}`);
    if (process.getuid?.() !== 0) throw new Error('the netns lab needs root (ip netns)');
    const nodes = opts.nodes ?? 2;
    if (!Number.isInteger(nodes) || nodes < 0 || nodes > 250) throw new Error(`nodes must be 0..250, not ${nodes}`);
    const k = opts.subnetIndex ?? subnetIndexOf(prefix);
    Lab.cleanupStale(prefix);
    const logDir = opts.logDir ?? join(repoRoot, 'artifacts', 'lab', prefix.slice(0, -1));
    mkdirSync(logDir, { recursive: true });
    const lab = new Lab(prefix, k, logDir);
    installExitHandlers();
    liveLabs.add(lab);
    try {
      lab.makeNamespace(lab.bridgeNs);
      ip(['-n', lab.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
      ip(['-n', lab.bridgeNs, 'link', 'set', 'br0', 'up']);
      for (let i = 1; i <= nodes; i++) lab.attachNode(i);
    } catch (err) {
      lab.destroySync();
      throw err;
    }
    return lab;
  }

  /** Removes namespaces of this prefix left by an earlier run, and the processes inside them. */
  static cleanupStale(prefix: string): void {
    removeNamespaces(listNamespaces().filter((ns) => belongsTo(prefix, ns)));
  }

  /** The full namespace name for 'n1', 'br', a custom short name, or an already full name. */
  ns(name: string): string {
    if (this.namespaces.has(name)) return name;
    const full = `${this.prefix}${name}`;
    if (this.namespaces.has(full)) return full;
    throw new Error(`lab ${this.prefix}: no namespace "${name}"`);
  }

  node(nameOrIndex: string | number): LabNode {
    const n =
      typeof nameOrIndex === 'number'
        ? this.nodes.find((x) => x.index === nameOrIndex)
        : this.nodes.find((x) => x.name === nameOrIndex || x.ns === nameOrIndex);
    if (!n) throw new Error(`lab ${this.prefix}: no node ${nameOrIndex}`);
    return n;
  }

  /** Adds one more node on the bridge (next free index). */
  async addNode(): Promise<LabNode> {
    const index = Math.max(0, ...this.nodes.map((n) => n.index)) + 1;
    if (index > 250) throw new Error('a lab holds at most 250 nodes');
    return this.attachNode(index);
  }

  /** A bare namespace (loopback up) for custom topologies, e.g. a NAT router: addNamespace('r1'). */
  async addNamespace(name: string): Promise<string> {
    if (!shortNamePattern.test(name)) throw new Error(`namespace name "${name}" must match ${shortNamePattern}`);
    const full = `${this.prefix}${name}`;
    if (this.namespaces.has(full)) throw new Error(`namespace ${full} exists`);
    this.makeNamespace(full);
    return full;
  }

  /**
   * A veth pair between two namespaces, addresses optional (IPv4 or IPv6 CIDR, e.g. '198.18.200.1/24').
   * Interfaces are named 'to-<other>' unless given. Both ends are up.
   */
  async link(
    a: string,
    b: string,
    cidrA?: string,
    cidrB?: string,
    opts: { ifA?: string; ifB?: string; mtu?: number } = {},
  ): Promise<{ ifA: string; ifB: string }> {
    const nsA = this.ns(a);
    const nsB = this.ns(b);
    const ifA = opts.ifA ?? this.freeLinkName(nsA, `to-${nsB.slice(this.prefix.length)}`);
    const ifB = opts.ifB ?? this.freeLinkName(nsB, `to-${nsA.slice(this.prefix.length)}`);
    ip(['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    this.linkNames.get(nsA)?.add(ifA);
    this.linkNames.get(nsB)?.add(ifB);
    for (const [ns, ifname, cidr] of [
      [nsA, ifA, cidrA],
      [nsB, ifB, cidrB],
    ] as const) {
      if (opts.mtu) ip(['-n', ns, 'link', 'set', ifname, 'mtu', String(opts.mtu)]);
      if (cidr) ip(['-n', ns, 'addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : [])]);
      ip(['-n', ns, 'link', 'set', ifname, 'up']);
    }
    return { ifA, ifB };
  }

  /** Runs a command in a namespace and collects its output; rejects on failure unless allowFailure. */
  exec(ns: string, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const full = this.ns(ns);
    const description = [cmd, ...args].join(' ');
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const child = spawn('ip', ['netns', 'exec', full, cmd, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd ?? repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const proc = this.track(child, full, description, '');
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    return new Promise((resolveExec, reject) => {
      let spawnError: Error | undefined;
      child.once('error', (e) => (spawnError = e));
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const result: ExecResult = {
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          code,
          signal,
        };
        if (spawnError) return reject(new Error(`${full}: cannot run ${description}: ${spawnError.message}`));
        if (timedOut) {
          const tail = (result.stdout + result.stderr).trim().slice(-2000);
          return reject(new Error(`${full}: ${description} timed out after ${timeoutMs} ms; output: ${tail}`));
        }
        if (code !== 0 && !opts.allowFailure) {
          const tail = (result.stderr || result.stdout).trim().slice(-2000);
          return reject(new Error(`${full}: ${description} failed (exit ${code ?? signal}): ${tail}`));
        }
        resolveExec(result);
      });
    });
  }

  /** Starts a long-running command in a namespace; output goes to a log file; tracked until destroy. */
  spawn(ns: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): LabProcess {
    const full = this.ns(ns);
    const description = [cmd, ...args].join(' ');
    const n = ++this.spawnCount;
    const name = opts.logFile ?? `${full}-${basename(cmd)}-${n}.log`;
    const logFile = isAbsolute(name) ? name : join(this.logDir, name);
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'w');
    const header = `${full}: ${description}`.replace(/\s+/g, ' ').slice(0, 300);
    writeSync(fd, `# ${new Date().toISOString()} ${header}\n`);
    try {
      // detached: its own process group, so kill() reaches whatever it starts as well.
      const child = spawn('ip', ['netns', 'exec', full, cmd, ...args], {
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd ?? repoRoot,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
      return this.track(child, full, description, logFile);
    } finally {
      closeSync(fd);
    }
  }

  /** Tracked children still running. */
  running(): LabProcess[] {
    return [...this.children].filter((c) => c.running);
  }

  /** Namespaces this lab made (full names). */
  namespaceNames(): string[] {
    return [...this.namespaces];
  }

  /** Ends every tracked child (SIGTERM, then SIGKILL after graceMs) and deletes every namespace. */
  async destroy(graceMs = 2000): Promise<void> {
    if (this.destroyed) return;
    const alive = this.running();
    for (const c of alive) c.kill('SIGTERM');
    await Promise.all(alive.map((c) => c.waitExit(graceMs).catch(() => c.kill('SIGKILL'))));
    await Promise.all(alive.map((c) => c.waitExit(graceMs).catch(() => undefined)));
    this.destroySync();
  }

  /** Synchronous teardown for exit and signal handlers: SIGKILL children, delete namespaces. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveLabs.delete(this);
    for (const c of this.running()) c.kill('SIGKILL');
    removeNamespaces(this.namespaces);
    this.namespaces.clear();
  }

  private track(child: ChildProcess, ns: string, description: string, logFile: string): LabProcess {
    if (this.destroyed) {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      throw new Error(`lab ${this.prefix} is destroyed`);
    }
    const proc = new LabProcess(child, ns, description, logFile);
    this.children.add(proc);
    void proc.waitExit(Infinity).then(
      () => this.children.delete(proc),
      () => undefined,
    );
    return proc;
  }

  private makeNamespace(full: string): void {
    ip(['netns', 'add', full]);
    this.namespaces.add(full);
    this.linkNames.set(full, new Set());
    // No DAD: addresses are usable at once, and tests never collide by construction.
    execFileSync(
      'ip',
      ['netns', 'exec', full, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'],
      { stdio: 'pipe', timeout: 15_000 },
    );
    ip(['-n', full, 'link', 'set', 'lo', 'up']);
  }

  private attachNode(index: number): LabNode {
    const name = `n${index}`;
    const ns = `${this.prefix}${name}`;
    const node: LabNode = {
      name,
      ns,
      index,
      ipv4: `198.18.${this.subnetIndex}.${index}`,
      ipv6: `fd00:18:${this.subnetIndex}::${index}`,
      ifname: 'eth0',
    };
    this.makeNamespace(ns);
    ip(['-n', this.bridgeNs, 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', this.bridgeNs, 'link', 'set', name, 'master', 'br0', 'up']);
    ip(
      ['-n', ns, '-batch', '-'],
      [
        `addr add ${node.ipv4}/24 brd + dev eth0`,
        `addr add ${node.ipv6}/64 dev eth0 nodad`,
        'link set eth0 up',
        '',
      ].join('\n'),
    );
    this.linkNames.get(ns)?.add('eth0');
    this.nodes.push(node);
    return node;
  }

  private freeLinkName(ns: string, base: string): string {
    const used = this.linkNames.get(ns) ?? new Set<string>();
    const stem = base.slice(0, 13);
    if (!used.has(stem)) return stem;
    for (let i = 2; i < 100; i++) if (!used.has(`${stem.slice(0, 12)}${i}`)) return `${stem.slice(0, 12)}${i}`;
    throw new Error(`no free interface name in ${ns}`);
  }
}
