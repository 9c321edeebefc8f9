// `tunmesh down`: undo `tunmesh up`. It stops and disables the unit, removes it, and with --purge removes the
// node's files, exactly the ones `up` writes: a file someone else put in the node's directory stays, and so
// does the directory then.
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { UsageError, withExamples } from '../common.js';
import { checkDir, checkNodeName, nodeLayout, systemctl } from '../node-install.js';

interface DownOptions {
  name: string;
  configDir: string;
  unitDir: string;
  stop: boolean;
  purge?: boolean;
}

async function removeEmptyDir(dir: string): Promise<void> {
  await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT' && e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
  });
}

async function down(o: DownOptions): Promise<void> {
  checkNodeName(o.name);
  const at = nodeLayout(checkDir('--config-dir', o.configDir), checkDir('--unit-dir', o.unitDir), o.name);
  const files = [at.config, at.clusterSecret, at.nodeKey, at.operatorToken, at.cert, at.key, at.ca];
  if (!existsSync(at.unit) && !(o.purge && files.some((f) => existsSync(f))))
    throw new UsageError(
      `no node ${o.name}: ${at.unit} does not exist${o.purge ? ` and ${at.dir} holds none of its files` : ''}`,
      'check --name, --unit-dir and --config-dir (the ones `tunmesh up` was given)',
    );
  if (o.stop && existsSync(at.unit)) systemctl(['disable', '--now', at.unitName], at.unitName);
  await rm(at.unit, { force: true });
  if (o.stop) systemctl(['daemon-reload'], at.unitName);
  process.stdout.write(`removed ${at.unit}\n`);
  if (!o.purge) return;
  for (const f of files) await rm(f, { force: true });
  await removeEmptyDir(at.tlsDir);
  await removeEmptyDir(at.dir);
  process.stdout.write(`removed the config and secrets of ${o.name} from ${at.dir}\n`);
}

export function downCommand(): Command {
  const cmd = new Command('down')
    .description('stop and remove a node `tunmesh up` made; --purge also deletes its config, key and secrets')
    .requiredOption('--name <name>', 'node name given to `tunmesh up`')
    .option('--config-dir <dir>', 'as given to `tunmesh up`', '/etc/tunmesh')
    .option('--unit-dir <dir>', 'as given to `tunmesh up`', '/etc/systemd/system')
    .option('--no-stop', 'do not call systemctl (the unit is not running: image builds, tests)')
    .option('--purge', 'also delete the node’s config, WireGuard key, cluster secret, operator token and TLS files')
    .action(down);
  return withExamples(cmd, ['tunmesh down --name a', 'tunmesh down --name a --purge']);
}
