// `tunmesh status`: asks the node that a config describes, over its authenticated API, for itself and
// its peers.
import { Command } from 'commander';
import { ControlClient } from '../../control/client.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { readSecrets } from '../../config/secrets.js';
import type { StatusReport } from '../../daemon/status.js';
import { formatHostPort, isUnspecified, parseHostPort } from '../../config/net.js';
import type { Config } from '../../config/schema.js';
import { withExamples } from '../common.js';
import { formatTable, humanBytes, sinceText } from '../format.js';

/** The API URL to reach the local node: its listen address, or loopback when it listens on all. */
export function localApiUrl(config: Config): string {
  const l = parseHostPort(config.control.listen, { allowPortZero: true })!;
  if (isUnspecified(l.host))
    return `https://${formatHostPort({ host: l.family === 6 ? '::1' : '127.0.0.1', port: l.port })}`;
  return `https://${formatHostPort(l)}`;
}

export async function fetchStatus(configPath: string | undefined, url?: string): Promise<StatusReport> {
  const config = await loadConfig(configPath ?? configPathFromEnv());
  const client = await ControlClient.create({
    nodeId: 'cli',
    secret: (await readSecrets(config)).cluster,
    trust: config.control.tls.caFile ?? config.control.tls.certFile,
    checkHostname: config.control.tls.verifyHostname,
    timeoutMs: config.membership.requestTimeoutMs,
  });
  try {
    return (await client.status(url ?? localApiUrl(config), config.node.name)) as StatusReport;
  } finally {
    client.close();
  }
}

export function renderStatus(s: StatusReport, nowMs = Date.now()): string {
  const n = s.node;
  const head = [
    `node ${n.name}  ${n.addresses.join(' ')}  engine ${n.engine ?? '-'}  up ${n.uptimeSec}s`,
    `  public key ${n.publicKey ?? '-'}`,
    `  endpoints ${n.endpoints.join(' ') || '-'}  api ${n.apiUrl ?? '-'}`,
  ];
  if (s.peers.length === 0) return `${head.join('\n')}\n\nno peers yet\n`;
  const rows = s.peers.map((p) => [
    p.name,
    p.state,
    p.addresses.join(' '),
    p.method,
    p.endpoint ?? '-',
    sinceText(p.lastHandshake, nowMs),
    humanBytes(p.rxBytes),
    humanBytes(p.txBytes),
    p.rttMs === null || p.rttMs === undefined ? '-' : `${p.rttMs.toFixed(2)} ms`,
  ]);
  return `${head.join('\n')}\n\n${formatTable(['PEER', 'STATE', 'ADDRESSES', 'METHOD', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'RTT'], rows)}`;
}

export function statusCommand(): Command {
  const cmd = new Command('status')
    .description("show this node and its peers, asked from the node's own control API")
    .option('-c, --config <file>', 'config of the node to ask (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .option('--url <url>', 'API URL to ask instead of the one derived from the config')
    .option('--json', 'print the raw status as JSON')
    .action(async (opts: { config?: string; url?: string; json?: boolean }) => {
      const s = await fetchStatus(opts.config, opts.url);
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
    });
  return withExamples(cmd, ['tunmesh status -c /etc/tunmesh/config.yaml', 'tunmesh status --json | jq .peers']);
}
