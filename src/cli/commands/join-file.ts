// `tunmesh join-file create`: on a node of the mesh, write the join file `tunmesh up --join` reads.
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { parseHttpsUrl } from '../../config/net.js';
import { collect, UsageError, withExamples } from '../common.js';
import { joinFileFormat, serializeJoinFile } from '../join-file.js';
import { writeSecretFile } from '../secret-file.js';

interface CreateOptions {
  config?: string;
  out: string;
  bootstrap?: string[];
  force?: boolean;
}

async function create(opts: CreateOptions): Promise<void> {
  const config = await loadConfig(opts.config ?? configPathFromEnv());
  for (const url of opts.bootstrap ?? [])
    if (parseHttpsUrl(url) === undefined)
      throw new UsageError(`--bootstrap ${url} is not an https URL with a host and a port`);
  // This node first (its API is surely up), then the nodes it joins through itself.
  const bootstrap = opts.bootstrap?.length
    ? opts.bootstrap
    : [...new Set([config.control.advertiseUrl, ...config.cluster.bootstrap].filter((u) => u !== ''))];
  if (bootstrap.length === 0)
    throw new UsageError(
      'this node has no control.advertiseUrl and no cluster.bootstrap: there is no URL a new node could join through',
      'pass --bootstrap https://HOST:PORT (repeatable) with the URL of this node’s control API as others reach it',
    );
  const tls = config.control.tls;
  const text = serializeJoinFile({
    format: joinFileFormat,
    bootstrap,
    clusterSecret: (await readFile(config.cluster.secretFile, 'utf8')).trim(),
    tls: {
      cert: await readFile(tls.certFile, 'utf8'),
      key: await readFile(tls.keyFile, 'utf8'),
      ...(tls.caFile !== undefined ? { ca: await readFile(tls.caFile, 'utf8') } : {}),
    },
  });
  const out = resolve(opts.out);
  await writeSecretFile(out, text, { replace: opts.force === true });
  process.stdout.write(
    `wrote ${out} (mode 0600): bootstrap ${bootstrap.join(' ')}, the cluster secret and the TLS certificate and key.\n` +
      'It admits its holder to the mesh: copy it over a trusted channel and delete it after `tunmesh up --join`.\n',
  );
}

function createCommand(): Command {
  const cmd = new Command('create')
    .description('write a join file (mode 0600) for `tunmesh up --join FILE`: bootstrap URLs, cluster secret, TLS')
    .option('-c, --config <file>', 'this node’s config (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .requiredOption('--out <file>', 'the join file to write')
    .option(
      '--bootstrap <url>',
      'https URL a new node joins through (repeatable; default: this node’s advertised URL and its bootstrap list)',
      collect,
    )
    .option('--force', 'replace an existing --out file')
    .action(create);
  return withExamples(cmd, [
    'tunmesh join-file create -c /etc/tunmesh/a/config.yaml --out a.join',
    'tunmesh join-file create --out mesh.join --bootstrap https://198.18.0.1:4567',
  ]);
}

export function joinFileCommand(): Command {
  const cmd = new Command('join-file')
    .description('join files: everything `tunmesh up --join` needs to join this mesh')
    .addCommand(createCommand());
  return withExamples(cmd, ['tunmesh join-file create --out mesh.join']);
}
