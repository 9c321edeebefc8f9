// `tunmesh run`: the daemon, in the foreground. SIGTERM/SIGINT leave the mesh and remove the TUN device.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { createLogger } from '../../base/log.js';
import { dnsExposureWarnings } from '../../config/dns-exposure.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { readSecrets, secretFileWarnings } from '../../config/secrets.js';
import { Daemon } from '../../daemon/daemon.js';
import { linuxPlatform } from '../../daemon/linux-platform.js';
import { withExamples } from '../common.js';

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;
}

export function runCommand(): Command {
  const cmd = new Command('run')
    .description('run the tunmesh daemon in the foreground (as root for setup; it drops to process.uid/gid)')
    .option('-c, --config <file>', 'config file (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .action(async (opts: { config?: string }) => {
      const config = await loadConfig(opts.config ?? configPathFromEnv());
      const log = createLogger({ level: config.logging.level, name: config.node.name });
      for (const w of [...(await secretFileWarnings(config)), ...dnsExposureWarnings(config)])
        log.warn({ path: w.path }, w.rule);
      const secrets = await readSecrets(config);
      const daemon = await Daemon.start({
        config,
        secrets,
        platform: linuxPlatform(log),
        log,
        version: packageVersion(),
        configPath: opts.config ?? configPathFromEnv(),
      });
      // SIGHUP: apply the config file's live settings, as `tunmesh reload` does.
      const onHup = (): void =>
        void daemon.reload().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'reload failed'));
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: NodeJS.Signals): void => {
          process.off('SIGHUP', onHup);
          log.info({ signal }, 'shutting down');
          // A second signal while draining means "now".
          process.once(signal, () => process.exit(1));
          void daemon.stop().finally(resolve);
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      });
    });
  return withExamples(cmd, [
    'tunmesh run -c /etc/tunmesh/config.yaml',
    'TUNMESH_CONFIG=/etc/tunmesh/config.yaml TUNMESH_LOGGING__LEVEL=debug tunmesh run',
  ]);
}
