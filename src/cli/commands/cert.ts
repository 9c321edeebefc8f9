// `tunmesh cert generate`: a self-signed certificate for the control API.
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { collect, intOption, UsageError, withExamples } from '../common.js';
import { writeSecretFile } from '../secret-file.js';

interface GenerateOptions {
  outDir: string;
  cn: string;
  days: number;
  san?: string[];
  force?: boolean;
}

async function generate(opts: GenerateOptions): Promise<void> {
  const dir = resolve(opts.outDir);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (!opts.force)
    for (const f of [certFile, keyFile])
      if (existsSync(f))
        throw new UsageError(`${f} exists already`, 'pass --force to replace it, or choose another --out-dir');
  // Loaded on use: @peculiar/x509 is the heaviest import of the CLI.
  const { generateSelfSignedCert } = await import('../../crypto/cert.js');
  const { certPem, keyPem } = await generateSelfSignedCert({
    commonName: opts.cn,
    altNames: opts.san ?? [],
    validDays: opts.days,
  });
  await mkdir(dir, { recursive: true });
  await writeSecretFile(keyFile, keyPem, { replace: opts.force === true });
  await writeFile(certFile, certPem, { mode: 0o644 });
  process.stdout.write(`wrote ${certFile} and ${keyFile} (CN ${opts.cn}, valid ${opts.days} days)\n`);
}

function generateCommand(): Command {
  const cmd = new Command('generate')
    .description('write a self-signed ECDSA P-256 certificate (cert.pem) and key (key.pem, mode 0600)')
    .requiredOption('--out-dir <dir>', 'directory for cert.pem and key.pem (created if missing)')
    .option('--cn <name>', 'common name; also a SAN (an IP SAN when it is an IP address)', 'tunmesh')
    .option('--days <n>', 'validity in days', intOption(1, 36500), 3650)
    .option('--san <name>', 'additional DNS name or IP address SAN (repeatable)', collect)
    .option('--force', 'replace existing files')
    .action(generate);
  return withExamples(cmd, [
    'tunmesh cert generate --out-dir /etc/tunmesh/tls',
    'tunmesh cert generate --out-dir ./tls --cn 198.18.0.1 --days 365',
    'tunmesh cert generate --out-dir ./tls --cn tunmesh --san tunmesh.default.svc --san 198.18.0.2',
  ]);
}

export function certCommand(): Command {
  const cmd = new Command('cert').description('TLS certificates for the control API').addCommand(generateCommand());
  return withExamples(cmd, ['tunmesh cert generate --out-dir /etc/tunmesh/tls']);
}
