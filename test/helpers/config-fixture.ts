// A valid tunmesh config on disk (secret, WireGuard key, TLS cert) for tests, and a way to run the CLI.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateSelfSignedCert } from '../../src/crypto/cert.js';
import { encodeKey, generatePrivateKey } from '../../src/crypto/keys.js';

export interface ConfigFixture {
  readonly dir: string;
  /** Path of the config file. */
  readonly file: string;
  /** Content of the cluster secret file and the private key file, to assert they never leak. */
  readonly secret: string;
  readonly privateKey: string;
  /** The YAML data written (relative file paths). */
  readonly data: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Rewrites the config file (from data, or raw text). */
  write(content?: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeConfigFixture(opts: { name?: string; prefix?: string } = {}): Promise<ConfigFixture> {
  const dir = await mkdtemp(join(tmpdir(), opts.prefix ?? 'tunmesh-config-'));
  const secret = `cluster-secret-${encodeKey(generatePrivateKey()).slice(0, 40)}`;
  const privateKey = encodeKey(generatePrivateKey());
  await writeFile(join(dir, 'cluster.secret'), `${secret}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'node.key'), `${privateKey}\n`, { mode: 0o600 });
  await mkdir(join(dir, 'tls'));
  const { certPem, keyPem } = await generateSelfSignedCert({ commonName: '127.0.0.1', validDays: 2 });
  await writeFile(join(dir, 'tls', 'cert.pem'), certPem);
  await writeFile(join(dir, 'tls', 'key.pem'), keyPem, { mode: 0o600 });
  const data = {
    node: { name: opts.name ?? 'a', addresses: ['198.19.0.1/16', 'fd00:19::1/64'], privateKeyFile: 'node.key' },
    control: { listen: '127.0.0.1:0', tls: { certFile: 'tls/cert.pem', keyFile: 'tls/key.pem' } },
    cluster: { secretFile: 'cluster.secret', bootstrap: [] },
  };
  const file = join(dir, 'config.yaml');
  const fixture: ConfigFixture = {
    dir,
    file,
    secret,
    privateKey,
    data,
    write: (content) => writeFile(file, content ?? stringify(fixture.data)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await fixture.write();
  return fixture;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const mainTs = new URL('../../src/cli/main.ts', import.meta.url).pathname;
// Resolved here so the CLI can run from any working directory.
const tsx = import.meta.resolve('tsx');

/** Runs `tunmesh ARGS` as `node --import tsx src/cli/main.ts ARGS` (bounded by a timeout). */
export function runCli(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', tsx, mainTs, ...args],
      { env: opts.env ?? cleanEnv(), cwd: opts.cwd, timeout: 30_000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

/** process.env without TUNMESH_* variables, so the caller's environment cannot change results. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TUNMESH_')));
  return { ...env, ...extra };
}

/** Runs `fns` at most `limit` at a time (the test machine has 2 cores). */
export async function pool<T>(fns: readonly (() => Promise<T>)[], limit = 2): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, worker));
  return out;
}
