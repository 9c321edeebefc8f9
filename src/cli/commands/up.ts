// `tunmesh up`: bring a node up on a systemd machine in one command, as `wg-quick up` and `tailscale up`
// do. It writes the node's config (composed by config init's code), its WireGuard key, the cluster secret,
// an operator token and the TLS files under <config-dir>/<name>/ (secrets mode 0600, through the one secret
// writer), the unit <unit-dir>/tunmesh@<name>.service, then `systemctl daemon-reload` and
// `systemctl enable --now`. Every input is checked before anything is written.
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { minClusterSecretLength } from '../../config/secrets.js';
import { collect, intOption, UsageError, withExamples } from '../common.js';
import { readJoinFile, type JoinFile } from '../join-file.js';
import { checkDir, checkNodeName, nodeLayout, renderUnit, systemctl, type NodeLayout } from '../node-install.js';
import { writeSecretFile } from '../secret-file.js';
import { composeNodeConfig, ensureNodeKey } from './config-init.js';
import { generateClusterSecret } from './secret.js';

interface UpOptions {
  name: string;
  join?: string;
  secretFile?: string;
  bootstrap?: string[];
  cert?: string;
  key?: string;
  ca?: string;
  address?: string[];
  ipv4Pool?: string;
  listen: string;
  apiListen: string;
  apiAdvertise?: string;
  wgAdvertise?: string[];
  uid?: number;
  gid?: number;
  configDir: string;
  unitDir: string;
  start: boolean;
  force?: boolean;
}

interface Tls {
  cert: string;
  key: string;
  ca?: string;
}

async function readInput(file: string, flag: string, maxBytes = 64 * 1024): Promise<string> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${flag} ${file} is not a regular file`);
    if (st.size > maxBytes) throw new UsageError(`${flag} ${file} is larger than ${maxBytes / 1024} KiB`);
    return await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${flag} ${file} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : 'cannot be read'}`,
    );
  }
}

/** The mesh's secret, bootstrap list and TLS files, from --join or from the separate flags. */
async function meshInputs(o: UpOptions): Promise<{ secret: string; bootstrap: string[]; tls?: Tls }> {
  if (o.join !== undefined) {
    for (const [flag, v] of [
      ['--secret-file', o.secretFile],
      ['--cert', o.cert],
      ['--key', o.key],
      ['--ca', o.ca],
    ] as const)
      if (v !== undefined) throw new UsageError(`--join and ${flag} exclude each other: the join file holds both`);
    const j: JoinFile = await readJoinFile(resolve(o.join));
    return { secret: j.clusterSecret.trim(), bootstrap: [...j.bootstrap, ...(o.bootstrap ?? [])], tls: j.tls };
  }
  if (o.secretFile === undefined)
    throw new UsageError(
      'the cluster secret is missing: pass --secret-file FILE or --join FILE',
      'on a node of the mesh, `tunmesh join-file create --out FILE` writes a join file; `tunmesh secret generate --out FILE` makes a secret for a new mesh',
    );
  const secret = (await readInput(resolve(o.secretFile), '--secret-file')).trim();
  if (secret.length < minClusterSecretLength)
    throw new UsageError(
      `--secret-file ${o.secretFile} must hold at least ${minClusterSecretLength} characters after trimming whitespace`,
      'create one with `tunmesh secret generate --out FILE`',
    );
  if ((o.cert === undefined) !== (o.key === undefined))
    throw new UsageError('--cert and --key go together: the control API’s certificate and its private key');
  const bootstrap = o.bootstrap ?? [];
  if (o.cert === undefined) {
    if (o.ca !== undefined) throw new UsageError('--ca needs --cert and --key (a certificate the CA signed)');
    if (bootstrap.length > 0)
      throw new UsageError(
        'joining a mesh (--bootstrap) needs the mesh’s TLS certificate: pass --cert and --key (and --ca if it has one), or --join FILE',
        'a node trusts the API certificate of its own config (or control.tls.caFile); a new self-signed one would be refused',
      );
    return { secret, bootstrap };
  }
  return {
    secret,
    bootstrap,
    tls: {
      cert: await readInput(resolve(o.cert), '--cert'),
      key: await readInput(resolve(o.key!), '--key'),
      ...(o.ca !== undefined ? { ca: await readInput(resolve(o.ca), '--ca', 1024 * 1024) } : {}),
    },
  };
}

async function writeNode(
  at: NodeLayout,
  mesh: { secret: string; tls?: Tls },
  configYaml: string,
  unitText: string,
  unitDir: string,
  o: UpOptions,
): Promise<void> {
  const replace = { replace: o.force === true };
  // Readable directories: the daemon re-reads config.yaml on reload after its drop to process.uid; the
  // secrets in them are 0600 and read once, as root, before the drop.
  await mkdir(at.tlsDir, { recursive: true, mode: 0o755 });
  await writeSecretFile(at.clusterSecret, `${mesh.secret}\n`, replace);
  // The node's identity and the operator's token survive --force; so does a founding node's certificate,
  // which the nodes that joined trust. Everything else is rewritten.
  if (await ensureNodeKey(at.nodeKey))
    process.stderr.write(`note: wrote a new WireGuard private key to ${at.nodeKey}\n`);
  if (!existsSync(at.operatorToken)) await writeSecretFile(at.operatorToken, `${generateClusterSecret()}\n`);
  let tls = mesh.tls;
  if (tls === undefined && !(existsSync(at.cert) && existsSync(at.key))) {
    // A founding node: a certificate of its own, which the nodes that join later receive in the join file.
    const { generateSelfSignedCert } = await import('../../crypto/cert.js');
    const pair = await generateSelfSignedCert({ commonName: o.name, altNames: [], validDays: 3650 });
    tls = { cert: pair.certPem, key: pair.keyPem };
  }
  if (tls !== undefined) {
    await writeSecretFile(at.key, tls.key, replace);
    await writeFile(at.cert, tls.cert, { mode: 0o644 });
    if (tls.ca !== undefined) await writeFile(at.ca, tls.ca, { mode: 0o644 });
  }
  await writeFile(at.config, configYaml, { mode: 0o644 });
  await mkdir(unitDir, { recursive: true });
  await writeFile(at.unit, unitText, { mode: 0o644 });
}

async function up(o: UpOptions): Promise<void> {
  checkNodeName(o.name);
  const configDir = checkDir('--config-dir', o.configDir);
  const unitDir = checkDir('--unit-dir', o.unitDir);
  const at: NodeLayout = nodeLayout(configDir, unitDir, o.name);
  // The unit's ProtectHome= and PrivateTmp= hide these from the daemon it starts.
  const hidden = ['/home', '/root', '/run/user', '/tmp', '/var/tmp'].find(
    (d) => configDir === d || configDir.startsWith(`${d}/`),
  );
  if (o.start && hidden !== undefined)
    throw new UsageError(
      `--config-dir ${configDir} is under ${hidden}, which the unit's sandbox (ProtectHome, PrivateTmp) hides from the daemon`,
      'choose a directory under /etc, /srv or /var/lib, or pass --no-start',
    );
  const mesh = await meshInputs(o);
  // Validated in full (flags named in errors) before anything is written.
  const node = composeNodeConfig(
    {
      name: o.name,
      address: o.address ?? [],
      ...(o.ipv4Pool !== undefined ? { ipv4Pool: o.ipv4Pool } : {}),
      listen: o.listen,
      apiListen: o.apiListen,
      ...(o.apiAdvertise !== undefined ? { apiAdvertise: o.apiAdvertise } : {}),
      bootstrap: mesh.bootstrap,
      secretFile: at.clusterSecret,
      cert: at.cert,
      key: at.key,
      ...(mesh.tls?.ca !== undefined ? { ca: at.ca } : {}),
      operatorTokenFile: at.operatorToken,
      privateKeyFile: at.nodeKey,
      ...(o.wgAdvertise !== undefined ? { wgAdvertise: o.wgAdvertise } : {}),
      ...(o.uid !== undefined ? { uid: o.uid } : {}),
      ...(o.gid !== undefined ? { gid: o.gid } : {}),
    },
    configDir,
    'tunmesh up',
  );
  const unitText = renderUnit(at);
  const existing = [at.config, at.unit].filter((f) => existsSync(f));
  if (existing.length > 0 && !o.force)
    throw new UsageError(
      `node ${o.name} exists already (${existing.join(', ')})`,
      `pass --force to rewrite its config and unit (its key and operator token are kept), or \`tunmesh down --name ${o.name} --purge\` first`,
    );
  try {
    await writeNode(at, mesh, node.yaml, unitText, unitDir, o);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw new UsageError((e as Error).message, 'tunmesh up writes under --config-dir and --unit-dir: run it as root');
    throw e;
  }
  process.stdout.write(`wrote ${at.config} and the node's secrets under ${at.dir}; wrote ${at.unit}\n`);

  if (!o.start) {
    process.stdout.write(
      `not started (--no-start): systemctl daemon-reload && systemctl enable --now ${at.unitName}\n`,
    );
    return;
  }
  systemctl(['daemon-reload'], at.unitName);
  systemctl(['enable', '--now', at.unitName], at.unitName);
  process.stdout.write(
    `started ${at.unitName}; \`tunmesh status -c ${at.config}\` shows the mesh, \`journalctl -u ${at.unitName}\` its log\n`,
  );
}

export function upCommand(): Command {
  const cmd = new Command('up')
    .description('write a node (config, key, secrets, TLS) and its systemd unit, then start it')
    .requiredOption('--name <name>', 'node name (DNS label, unique in the mesh); also the unit instance tunmesh@NAME')
    .option('--join <file>', 'join file from `tunmesh join-file create` (bootstrap URLs, cluster secret, TLS)')
    .option('--secret-file <file>', 'file holding the cluster secret (instead of --join)')
    .option('--bootstrap <url>', 'https URL of a node of the mesh (repeatable; none = found a new mesh)', collect)
    .option(
      '--cert <file>',
      'the mesh’s control API certificate (PEM), with --secret-file; none = a new self-signed one',
    )
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--ca <file>', 'CA bundle (PEM) that verifies the other nodes, when the mesh has one')
    .option('--address <cidr>', 'overlay address with mesh prefix, e.g. 198.19.0.5/16 (repeat for IPv6)', collect)
    .option('--ipv4-pool <cidr>', 'pick the IPv4 address from this pool instead (node.ipv4Pool)')
    .option('--listen <host:port>', 'WireGuard UDP listen address', '0.0.0.0:51820')
    .option('--api-listen <host:port>', 'control API listen address', '0.0.0.0:4567')
    .option('--api-advertise <url>', 'https URL other nodes use to reach this node’s API')
    .option('--wg-advertise <host:port>', 'UDP endpoint announced to peers (repeatable)', collect)
    .option('--uid <n>', 'user id the daemon drops to after setup (default 65532)', intOption(1, 4_294_967_294))
    .option('--gid <n>', 'group id the daemon drops to after setup (default 65532)', intOption(1, 4_294_967_294))
    .option('--config-dir <dir>', 'the node goes to <dir>/<name>/', '/etc/tunmesh')
    .option('--unit-dir <dir>', 'where tunmesh@<name>.service goes', '/etc/systemd/system')
    .option('--no-start', 'write the files only (image builds, tests); do not call systemctl')
    .option(
      '--force',
      'rewrite an existing node’s config, secrets and unit (its key, operator token and own certificate are kept)',
    )
    .action(up);
  return withExamples(cmd, [
    'tunmesh up --name a --address 198.19.0.1/16 --api-advertise https://198.18.0.1:4567 --secret-file cluster.secret',
    'tunmesh join-file create --out mesh.join        # on node a',
    'tunmesh up --name b --address 198.19.0.2/16 --api-advertise https://198.18.0.2:4567 --join mesh.join',
    'tunmesh up --name c --ipv4-pool 198.19.0.0/16 --join mesh.join --no-start --config-dir /srv/image/etc/tunmesh',
  ]);
}
