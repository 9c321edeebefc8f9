// A tunmesh mesh on a netns lab: secrets, certificate and configs made with the real CLI (the built
// dist/, as an operator would run it), one daemon per lab node, status read through the CLI.
//
//   const lab = await Lab.create('t2m-', { nodes: 3 });
//   const mesh = await Mesh.create(lab, { bootstrap: { n2: ['n1'], n3: ['n2'] } });
//   mesh.start('n1'); ...; await mesh.waitConverged();
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { waitFor, type Lab, type LabProcess } from './netns.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');
/** Node flags of the shipped daemon: a 1 MB young generation keeps RSS low (docs/BENCHMARKS.md). */
export const daemonNodeFlags = ['--max-semi-space-size=1'];

/**
 * The engine mesh tests run on: TUNMESH_TEST_ENGINE=native|js, else the config default (native). A test's
 * patch may still override it.
 */
export function testEngine(): 'native' | 'js' {
  return process.env.TUNMESH_TEST_ENGINE === 'js' ? 'js' : 'native';
}

export interface MeshOptions {
  /** Node name -> names of nodes whose API it bootstraps from. */
  readonly bootstrap?: Readonly<Record<string, readonly string[]>>;
  /** Changes a node's config (the parsed output of `config init`) before it is written. */
  readonly patch?: (node: string, config: Record<string, Record<string, unknown>>) => void;
  /** Drop privileges to this uid/gid (default 65534, nobody); null keeps root; 'init' keeps what config init wrote. */
  readonly runAs?: number | null | 'init';
  readonly apiPort?: number;
  readonly udpPort?: number;
}

export interface PeerRow {
  name: string;
  state: string;
  kind: string;
  addresses: string[];
  endpoint: string | null;
  lastHandshake: string | null;
  rxBytes: number;
  txBytes: number;
  method: string;
}
export interface Status {
  node: { name: string; publicKey: string; addresses: string[]; endpoints: string[]; apiUrl: string };
  peers: PeerRow[];
}

export function runCliHost(args: readonly string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((res, rej) =>
    execFile(process.execPath, [cliPath, ...args], { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? rej(new Error(`tunmesh ${args.join(' ')}: ${stderr || err.message}`)) : res(stdout),
    ),
  );
}

export class Mesh {
  readonly procs = new Map<string, LabProcess>();

  private constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly opts: MeshOptions,
  ) {}

  static async create(lab: Lab, opts: MeshOptions = {}): Promise<Mesh> {
    if (!existsSync(cliPath)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const dir = await mkdtemp(join(tmpdir(), `tunmesh-${lab.prefix}`));
    await chmod(dir, 0o755);
    const mesh = new Mesh(lab, dir, opts);
    await writeFile(join(dir, 'cluster.secret'), await runCliHost(['secret', 'generate']), { mode: 0o600 });
    // Operator commands (status, peers, ping, reload, ...) need the operator token besides the secret.
    await writeFile(mesh.operatorTokenFile, await runCliHost(['secret', 'generate']), { mode: 0o600 });
    await runCliHost(['cert', 'generate', '--out-dir', dir, '--cn', 'tunmesh-test']);
    for (const n of lab.nodes) await mesh.writeConfig(n.name);
    return mesh;
  }

  get apiPort(): number {
    return this.opts.apiPort ?? 4567;
  }
  get udpPort(): number {
    return this.opts.udpPort ?? 51820;
  }

  /** Overlay addresses of a lab node: 198.19.<k>.<i> and fd00:19:<k>::<i>. */
  overlay4(node: string): string {
    return `198.19.${this.lab.subnetIndex}.${this.lab.node(node).index}`;
  }
  overlay6(node: string): string {
    return `fd00:19:${this.lab.subnetIndex}::${this.lab.node(node).index}`;
  }
  apiUrl(node: string): string {
    return `https://${this.lab.node(node).ipv4}:${this.apiPort}`;
  }
  get operatorTokenFile(): string {
    return join(this.dir, 'operator.token');
  }
  configFile(node: string): string {
    return join(this.dir, `${node}.yaml`);
  }

  async writeConfig(node: string): Promise<void> {
    const n = this.lab.node(node);
    const boot = (this.opts.bootstrap?.[node] ?? []).flatMap((b) => ['--bootstrap', this.apiUrl(b)]);
    const yaml = await runCliHost([
      'config',
      'init',
      '--name',
      node,
      '--address',
      `${this.overlay4(node)}/24`,
      '--address',
      `${this.overlay6(node)}/64`,
      '--listen',
      `${n.ipv4}:${this.udpPort}`,
      '--api-listen',
      `${n.ipv4}:${this.apiPort}`,
      ...boot,
      '--secret-file',
      join(this.dir, 'cluster.secret'),
      '--cert',
      join(this.dir, 'cert.pem'),
      '--key',
      join(this.dir, 'key.pem'),
    ]);
    const config = parse(yaml) as Record<string, Record<string, unknown>>;
    const runAs = this.opts.runAs === undefined ? 65534 : this.opts.runAs;
    if (runAs === null) delete config.process;
    else if (runAs !== 'init') config.process = { uid: runAs, gid: runAs };
    config.control = { ...config.control, operatorTokenFile: this.operatorTokenFile };
    // Without TUNMESH_TEST_ENGINE the config keeps its default, so the default itself is what runs.
    if (process.env.TUNMESH_TEST_ENGINE) config.dataplane = { ...config.dataplane, engine: testEngine() };
    this.opts.patch?.(node, config);
    await writeFile(this.configFile(node), stringify(config));
  }

  start(node: string, env: Record<string, string> = {}): LabProcess {
    // The node flags the shipped executable runs with (bin/tunmesh.js, the image's entrypoint).
    const p = this.lab.spawn(
      this.lab.node(node).ns,
      process.execPath,
      [...daemonNodeFlags, cliPath, 'run', '-c', this.configFile(node)],
      {
        env,
        logFile: `${node}-${Date.now()}.log`,
      },
    );
    this.procs.set(node, p);
    return p;
  }

  proc(node: string): LabProcess {
    const p = this.procs.get(node);
    if (!p) throw new Error(`node ${node} was not started`);
    return p;
  }

  async status(node: string): Promise<Status> {
    const r = await this.lab.exec(this.lab.node(node).ns, process.execPath, [
      cliPath,
      'status',
      '--json',
      '-c',
      this.configFile(node),
    ]);
    return JSON.parse(r.stdout) as Status;
  }

  /**
   * The node's Prometheus text, fetched from inside its namespace (the API is not reachable from outside),
   * with the operator token as the bearer /metrics needs on the API port.
   */
  async metricsText(node: string): Promise<string> {
    const script = `const token = require('node:fs').readFileSync(process.argv[2], 'utf8').trim();
    require('node:https').get(process.argv[1] + '/metrics', { rejectUnauthorized: false, headers: { authorization: 'Bearer ' + token } }, (r) => {
      let s = ''; r.on('data', (d) => (s += d)).on('end', () => process.stdout.write(s));
    }).on('error', (e) => { console.error(e.message); process.exit(1); });`;
    return (
      await this.lab.exec(this.lab.node(node).ns, process.execPath, [
        '-e',
        script,
        this.apiUrl(node),
        this.operatorTokenFile,
      ])
    ).stdout;
  }

  async alivePeers(node: string): Promise<string[]> {
    const s = await this.status(node);
    return s.peers.filter((p) => p.state === 'alive').map((p) => p.name);
  }

  /** Every node in `nodes` sees every other one alive; a timeout carries the daemons' logs. */
  async waitConverged(nodes: readonly string[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        for (const n of nodes) {
          const alive = new Set(await this.alivePeers(n));
          if (!nodes.every((m) => m === n || alive.has(m))) return false;
        }
        return true;
      },
      { what: `mesh ${nodes.join(',')} to converge`, timeoutMs, intervalMs: 250 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.logs()}`);
    });
  }

  logs(): string {
    return [...this.procs].map(([n, p]) => `--- ${n} (pid ${p.pid})\n${p.log().slice(-4000)}`).join('\n');
  }

  async stopAll(): Promise<void> {
    for (const p of this.procs.values()) p.kill('SIGTERM');
    await Promise.all([...this.procs.values()].map((p) => p.waitExit(10_000).catch(() => p.kill('SIGKILL'))));
  }

  async cleanup(): Promise<void> {
    await this.stopAll().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
