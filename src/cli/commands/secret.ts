// `tunmesh secret generate`: a cluster shared secret.
import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { withExamples } from '../common.js';
import { writeSecretFile } from '../secret-file.js';

/** 32 random bytes (256 bits of entropy) as base64url: 43 characters. */
export function generateClusterSecret(): string {
  return randomBytes(32).toString('base64url');
}

function generateCommand(): Command {
  const cmd = new Command('generate')
    .description('print a new random cluster secret (256 bits, base64url), or write it to a file with mode 0600')
    .option('--out <file>', 'write the secret to this file (mode 0600) instead of printing it')
    .option('--force', 'replace an existing --out file')
    .action(async (opts: { out?: string; force?: boolean }) => {
      const secret = generateClusterSecret();
      if (opts.out === undefined) {
        process.stdout.write(`${secret}\n`);
        return;
      }
      const file = resolve(opts.out);
      await writeSecretFile(file, `${secret}\n`, { replace: opts.force === true });
      process.stdout.write(`wrote a new cluster secret to ${file} (mode 0600)\n`);
    });
  return withExamples(cmd, [
    'tunmesh secret generate --out /etc/tunmesh/cluster.secret',
    'tunmesh secret generate | kubectl create secret generic tunmesh --from-file=cluster.secret=/dev/stdin',
  ]);
}

export function secretCommand(): Command {
  const cmd = new Command('secret').description('the cluster shared secret').addCommand(generateCommand());
  return withExamples(cmd, ['tunmesh secret generate --out /etc/tunmesh/cluster.secret']);
}
