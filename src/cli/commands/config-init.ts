// `tunmesh config init`: a minimal valid config for one node from flags (the flags are a contract).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { encodeKey, generatePrivateKey } from '../../crypto/keys.js';
import { ConfigError, type ConfigIssue } from '../../config/errors.js';
import { validateConfigData } from '../../config/load.js';
import { collect, intOption, withExamples } from '../common.js';
import { writeSecretFile } from '../secret-file.js';

/** The settings `config init` and `tunmesh up` take from flags (the one place a node config is composed). */
export interface InitOptions {
  name: string;
  address: string[];
  ipv4Pool?: string;
  listen: string;
  apiListen: string;
  apiAdvertise?: string;
  bootstrap?: string[];
  secretFile: string;
  cert: string;
  key: string;
  ca?: string;
  operatorTokenFile?: string;
  privateKeyFile?: string;
  wgAdvertise?: string[];
  uid?: number;
  gid?: number;
}

/** The user the written config drops to (the image's tunmesh user; distroless calls it nonroot). */
export const defaultProcessId = 65532;

/** Which flag set which setting, so errors name the flag the user typed. */
const flagOf: [string, string][] = [
  ['node.name', '--name'],
  ['node.addresses', '--address'],
  ['node.ipv4Pool', '--ipv4-pool'],
  ['node.privateKeyFile', '--private-key-file'],
  ['wireguard.listen', '--listen'],
  ['wireguard.advertise', '--wg-advertise'],
  ['control.listen', '--api-listen'],
  ['control.advertiseUrl', '--api-advertise'],
  ['control.tls.certFile', '--cert'],
  ['control.tls.keyFile', '--key'],
  ['control.tls.caFile', '--ca'],
  ['cluster.secretFile', '--secret-file'],
  ['cluster.bootstrap', '--bootstrap'],
  ['process.uid', '--uid'],
  ['process.gid', '--gid'],
];

function withFlag(issue: ConfigIssue): ConfigIssue {
  const hit = flagOf.find(([p]) => issue.path === p || issue.path.startsWith(`${p}[`));
  return hit ? { path: `${hit[1]} (${issue.path})`, rule: issue.rule } : issue;
}

/** A composed, validated node config: its data, its YAML text and the key file it names. */
export interface NodeConfig {
  readonly data: Record<string, unknown>;
  readonly yaml: string;
  readonly privateKeyFile: string;
  readonly secretFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Composes and validates the config (paths absolute, against `cwd`); errors name the flags. */
export function composeNodeConfig(opts: InitOptions, cwd: string, writtenBy: string): NodeConfig {
  const secretFile = resolve(cwd, opts.secretFile);
  const privateKeyFile = resolve(cwd, opts.privateKeyFile ?? join(dirname(secretFile), `${opts.name}.key`));
  const certFile = resolve(cwd, opts.cert);
  const keyFile = resolve(cwd, opts.key);
  const data = {
    node: {
      name: opts.name,
      addresses: opts.address,
      ...(opts.ipv4Pool !== undefined ? { ipv4Pool: opts.ipv4Pool } : {}),
      privateKeyFile,
    },
    wireguard: { listen: opts.listen, ...(opts.wgAdvertise?.length ? { advertise: opts.wgAdvertise } : {}) },
    control: {
      listen: opts.apiListen,
      ...(opts.apiAdvertise !== undefined ? { advertiseUrl: opts.apiAdvertise } : {}),
      tls: { certFile, keyFile, ...(opts.ca !== undefined ? { caFile: resolve(cwd, opts.ca) } : {}) },
      ...(opts.operatorTokenFile !== undefined ? { operatorTokenFile: resolve(cwd, opts.operatorTokenFile) } : {}),
    },
    cluster: { secretFile, bootstrap: opts.bootstrap ?? [] },
    // Root is for setup only: the daemon drops to this user once the TUN device and sockets exist.
    process: {
      uid: opts.uid ?? opts.gid ?? defaultProcessId,
      gid: opts.gid ?? opts.uid ?? defaultProcessId,
    },
  };
  const result = validateConfigData(data, { baseDir: cwd, checkFiles: false });
  if (!result.ok)
    throw new ConfigError('CONFIG_INVALID', result.issues.map(withFlag), {
      hint: `fix the flags above; \`${writtenBy} --help\` shows their formats`,
    });
  const yaml =
    `# tunmesh config for node ${opts.name}, written by \`${writtenBy}\`.\n` +
    '# `tunmesh config example` lists every setting; `tunmesh config check FILE` validates this file.\n' +
    stringify(data);
  return { data, yaml, privateKeyFile, secretFile, certFile, keyFile };
}

/** Writes a new WireGuard private key (0600) unless the file exists; true when it wrote one. */
export async function ensureNodeKey(privateKeyFile: string): Promise<boolean> {
  if (existsSync(privateKeyFile)) return false;
  await writeSecretFile(privateKeyFile, `${encodeKey(generatePrivateKey())}\n`);
  return true;
}

async function init(opts: InitOptions): Promise<void> {
  const node = composeNodeConfig(opts, process.cwd(), 'tunmesh config init');
  if (await ensureNodeKey(node.privateKeyFile))
    process.stderr.write(`note: wrote a new WireGuard private key to ${node.privateKeyFile} (mode 0600)\n`);
  const missing: [string, string][] = [
    [node.secretFile, `tunmesh secret generate --out ${node.secretFile}`],
    [node.certFile, `tunmesh cert generate --out-dir ${dirname(node.certFile)}`],
    [node.keyFile, `tunmesh cert generate --out-dir ${dirname(node.keyFile)}`],
  ];
  for (const [file, fix] of missing)
    if (!existsSync(file)) process.stderr.write(`note: ${file} does not exist yet; create it with: ${fix}\n`);
  process.stdout.write(node.yaml);
}

export function configInitCommand(): Command {
  const cmd = new Command('init')
    .description('print a minimal valid config for one node (absolute paths); creates its private key file if missing')
    .requiredOption('--name <name>', 'node name (DNS label, unique in the mesh)')
    .requiredOption(
      '--address <cidr>',
      'overlay address with mesh prefix, e.g. 198.19.0.1/16 (repeat for IPv6)',
      collect,
    )
    .requiredOption('--listen <host:port>', 'WireGuard UDP listen address, e.g. 0.0.0.0:51820')
    .requiredOption('--api-listen <host:port>', 'control API listen address, e.g. 0.0.0.0:4567')
    .option('--api-advertise <url>', 'https URL other nodes use to reach this node’s API')
    .option('--bootstrap <url>', 'https URL of an existing node (repeatable)', collect)
    .requiredOption('--secret-file <file>', 'file holding the cluster secret')
    .requiredOption('--cert <file>', 'TLS certificate (PEM) of the control API')
    .requiredOption('--key <file>', 'TLS private key (PEM) of the control API')
    .option('--private-key-file <file>', 'WireGuard private key file (default: <dir of --secret-file>/<name>.key)')
    .option('--wg-advertise <host:port>', 'UDP endpoint announced to peers (repeatable)', collect)
    .option(
      '--uid <n>',
      `user id the daemon drops to after setup (process.uid; default ${defaultProcessId}, or --gid)`,
      intOption(1, 4_294_967_294),
    )
    .option(
      '--gid <n>',
      `group id the daemon drops to after setup (process.gid; default ${defaultProcessId}, or --uid)`,
      intOption(1, 4_294_967_294),
    )
    .action(init);
  return withExamples(cmd, [
    'tunmesh config init --name a --address 198.19.0.1/16 --address fd00:19::1/64 \\\n' +
      '      --listen 0.0.0.0:51820 --api-listen 0.0.0.0:4567 --api-advertise https://198.18.0.1:4567 \\\n' +
      '      --secret-file /etc/tunmesh/cluster.secret --cert /etc/tunmesh/tls/cert.pem --key /etc/tunmesh/tls/key.pem \\\n' +
      '      > /etc/tunmesh/config.yaml',
    'tunmesh config init --name b --address 198.19.0.2/16 --listen 0.0.0.0:51820 --api-listen 198.18.0.2:4567 \\\n' +
      '      --bootstrap https://198.18.0.1:4567 --secret-file cluster.secret --cert cert.pem --key key.pem > b.yaml',
  ]);
}
