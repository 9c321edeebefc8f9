// How the operator commands reach a node: the API URL a config implies, and one signed request to it whose
// failures say what to check next. Every such command is an operator action: the request carries the
// proof of the operator token that control.operatorTokenFile of the config names (control/operator-auth.ts).
import type { Command } from 'commander';
import { TunmeshError } from '../base/errors.js';
import { ControlClient, type ControlRequest } from '../control/client.js';
import { configPathFromEnv, loadConfig } from '../config/load.js';
import { readSecrets } from '../config/secrets.js';
import { formatHostPort, isUnspecified, parseHostPort } from '../config/net.js';
import type { Config } from '../config/schema.js';
import { readOperatorToken } from '../daemon/reload.js';
import { UsageError } from './common.js';

/** The API URL to reach the local node: its listen address, or loopback when it listens on all. */
export function localApiUrl(config: Config): string {
  const l = parseHostPort(config.control.listen, { allowPortZero: true })!;
  if (isUnspecified(l.host))
    return `https://${formatHostPort({ host: l.family === 6 ? '::1' : '127.0.0.1', port: l.port })}`;
  return `https://${formatHostPort(l)}`;
}

export interface NodeTarget {
  readonly config?: string;
  readonly url?: string;
}

/** One signed request to the node a config describes; failures say what to check next. */
export async function askNode(t: NodeTarget, r: Omit<ControlRequest, 'to'>): Promise<unknown> {
  const configPath = t.config ?? configPathFromEnv();
  const config = await loadConfig(configPath);
  if (!config.control.operatorTokenFile)
    throw new UsageError(
      `operator commands need the operator token, and ${configPath} has no control.operatorTokenFile`,
      'create one (`tunmesh secret generate --out FILE`), name it in control.operatorTokenFile of the node and of this config, and restart the node (or send it SIGHUP)',
    );
  const operatorToken = await readOperatorToken(config.control.operatorTokenFile);
  const client = await ControlClient.create({
    nodeId: 'cli',
    secret: (await readSecrets(config)).cluster,
    trust: config.control.tls.caFile ?? config.control.tls.certFile,
    checkHostname: config.control.tls.verifyHostname,
    timeoutMs: Math.max(config.membership.requestTimeoutMs, r.timeoutMs ?? 0),
  });
  const url = t.url ?? localApiUrl(config);
  try {
    return (await client.request(url, { ...r, to: config.node.name, operatorToken })).body;
  } catch (e) {
    if (!(e instanceof TunmeshError)) throw e;
    const hint = /OPERATOR_TOKEN_REQUIRED/.test(e.message)
      ? `the node at ${url} has no control.operatorTokenFile; set it to the same token file and restart it (or send it SIGHUP)`
      : /OPERATOR_AUTH_FAILED/.test(e.message)
        ? `the node at ${url} has another operator token than control.operatorTokenFile of this config`
        : /RATE_LIMITED/.test(e.message)
          ? 'too many wrong operator tokens from here: wait a minute, then use the right token file'
          : e.code === 'AUTH_FAILED'
            ? `use the config of the node at ${url} (same cluster secret, node.name ${config.node.name}) and check both clocks`
            : e.code === 'NOT_FOUND'
              ? 'the daemon at that address is older than this CLI; upgrade it'
              : `is the daemon running (\`tunmesh run -c FILE\`) and listening on ${url}? pass --url to ask another address`;
    throw new TunmeshError(e.code, e.message, { hint, cause: e });
  } finally {
    client.close();
  }
}

export function nodeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config of the node to ask (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .option('--url <url>', 'API URL to ask instead of the one derived from the config');
}
