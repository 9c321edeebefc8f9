// `tunmesh keys generate|public|rotate`: WireGuard keys, interchangeable with `wg genkey` / `wg pubkey`,
// and the live rotation of a running node's key.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { decodeKey, encodeKey, generatePrivateKey, publicKeyOf } from '../../crypto/keys.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { readPrivateKeyFile } from '../../config/secrets.js';
import { UsageError, withExamples } from '../common.js';
import { writeSecretFile } from '../secret-file.js';
import { rotateCommand } from './key-rotate.js';

function generateCommand(): Command {
  const cmd = new Command('generate')
    .description('print a new WireGuard private key (base64, like `wg genkey`), or write it to a file with mode 0600')
    .option('--out <file>', 'write the key to this file (mode 0600) and print its public key')
    .option('--force', 'replace an existing --out file')
    .action(async (opts: { out?: string; force?: boolean }) => {
      const key = generatePrivateKey();
      if (opts.out === undefined) {
        process.stdout.write(`${encodeKey(key)}\n`);
        return;
      }
      const file = resolve(opts.out);
      await writeSecretFile(file, `${encodeKey(key)}\n`, { replace: opts.force === true });
      process.stdout.write(
        `wrote a new private key to ${file} (mode 0600); public key: ${encodeKey(publicKeyOf(key))}\n`,
      );
    });
  return withExamples(cmd, [
    'tunmesh keys generate --out /etc/tunmesh/node.key',
    'tunmesh keys generate | tee node.key | tunmesh keys public --stdin',
  ]);
}

function publicCommand(): Command {
  const cmd = new Command('public')
    .description("print this node's WireGuard public key (base64, like `wg pubkey`)")
    .option(
      '-c, --config <file>',
      'config whose node.privateKeyFile to read (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)',
    )
    .option('--stdin', 'read a private key from standard input instead, like `wg pubkey`')
    .action(async (opts: { config?: string; stdin?: boolean }) => {
      let privateKey: Uint8Array;
      if (opts.stdin) {
        const key = decodeKey(await text(process.stdin));
        if (!key)
          throw new UsageError(
            'standard input is not a WireGuard private key',
            'give 32 bytes in base64, as `wg genkey` prints',
          );
        privateKey = key;
      } else {
        const config = await loadConfig(opts.config ?? configPathFromEnv());
        privateKey = (await readPrivateKeyFile(config.node.privateKeyFile)).expose();
      }
      process.stdout.write(`${encodeKey(publicKeyOf(privateKey))}\n`);
    });
  return withExamples(cmd, [
    'tunmesh keys public -c /etc/tunmesh/config.yaml',
    'wg genkey | tunmesh keys public --stdin',
  ]);
}

export function keysCommand(): Command {
  const cmd = new Command('keys')
    .alias('key')
    .description('WireGuard key pairs')
    .addCommand(generateCommand())
    .addCommand(publicCommand())
    .addCommand(rotateCommand());
  return withExamples(cmd, [
    'tunmesh keys generate --out /etc/tunmesh/node.key',
    'tunmesh keys public -c config.yaml',
    'tunmesh keys rotate -c /etc/tunmesh/config.yaml',
  ]);
}
