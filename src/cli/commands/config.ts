// `tunmesh config example|check|init`.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { dnsExposureWarnings } from '../../config/dns-exposure.js';
import { ConfigError, formatIssues } from '../../config/errors.js';
import { renderExample } from '../../config/example.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { routePolicyWarnings } from '../../config/policy-warnings.js';
import { readSecrets, secretFileWarnings } from '../../config/secrets.js';
import { withExamples } from '../common.js';
import { configInitCommand } from './config-init.js';

function exampleCommand(): Command {
  const cmd = new Command('example')
    .description('print an annotated example config with every setting, generated from the schema')
    .option('--all', 'write optional settings as active lines (defaults and sample values) instead of comments')
    .action((opts: { all?: boolean }) => {
      process.stdout.write(renderExample({ activeOptional: opts.all === true }));
    });
  return withExamples(cmd, [
    'tunmesh config example > /etc/tunmesh/config.yaml',
    'tunmesh config example --all | less',
  ]);
}

function checkCommand(): Command {
  const cmd = new Command('check')
    .description('validate a config file and the secret and key files it names; prints "ok" or every problem')
    .argument('[file]', 'config file (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .action(async (file: string | undefined) => {
      const path = resolve(file ?? configPathFromEnv());
      const config = await loadConfig(path);
      try {
        await readSecrets(config);
      } catch (e) {
        if (e instanceof ConfigError)
          throw new ConfigError(e.code as 'CONFIG_INVALID' | 'CONFIG_UNREADABLE', e.issues, {
            file: path,
            ...(e.hint ? { hint: e.hint } : {}),
          });
        throw e;
      }
      const warnings = [
        ...(await secretFileWarnings(config)),
        ...routePolicyWarnings(config),
        ...dnsExposureWarnings(config),
      ];
      if (warnings.length) process.stderr.write(formatIssues(warnings).replace(/^/gm, 'warning: ') + '\n');
      process.stdout.write('ok\n');
    });
  return withExamples(cmd, [
    'tunmesh config check /etc/tunmesh/config.yaml',
    'TUNMESH_CONFIG=./node-a.yaml tunmesh config check',
    'TUNMESH_TUN__MTU=1380 tunmesh config check node-a.yaml   # with an environment override',
  ]);
}

export function configCommand(): Command {
  const cmd = new Command('config')
    .description('write, check and explain the configuration file')
    .addCommand(exampleCommand())
    .addCommand(checkCommand())
    .addCommand(configInitCommand());
  return withExamples(cmd, [
    'tunmesh config example',
    'tunmesh config check node-a.yaml',
    'tunmesh config init --name a --address 198.19.0.1/16 --listen 0.0.0.0:51820 --api-listen 0.0.0.0:4567 \\\n' +
      '      --secret-file /etc/tunmesh/cluster.secret --cert /etc/tunmesh/tls/cert.pem --key /etc/tunmesh/tls/key.pem',
  ]);
}
