// `tunmesh peers`: the node's peers table (or JSON), asked from the node's own control API. Also holds
// the shared "ask the local node" helper of the operator commands (peers, ping, reload).
import { Command } from 'commander';
import { TunmeshError } from '../../base/errors.js';
import { ControlClient, type ControlRequest } from '../../control/client.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { readSecrets } from '../../config/secrets.js';
import type { PeerStatusRow } from '../../daemon/status.js';
import { withExamples } from '../common.js';
import { formatTable, humanBytes, sinceText } from '../format.js';
import { localApiUrl } from './status.js';

export interface NodeTarget {
  readonly config?: string;
  readonly url?: string;
}

/** One signed request to the node a config describes; failures say what to check next. */
export async function askNode(t: NodeTarget, r: Omit<ControlRequest, 'to'>): Promise<unknown> {
  const config = await loadConfig(t.config ?? configPathFromEnv());
  const client = await ControlClient.create({
    nodeId: 'cli',
    secret: (await readSecrets(config)).cluster,
    trust: config.control.tls.caFile ?? config.control.tls.certFile,
    checkHostname: config.control.tls.verifyHostname,
    timeoutMs: Math.max(config.membership.requestTimeoutMs, r.timeoutMs ?? 0),
  });
  const url = t.url ?? localApiUrl(config);
  try {
    return (await client.request(url, { ...r, to: config.node.name })).body;
  } catch (e) {
    if (!(e instanceof TunmeshError)) throw e;
    const hint =
      e.code === 'AUTH_FAILED'
        ? `use the config of the node at ${url} (same cluster secret, node.name ${config.node.name}) and check both clocks`
        : e.code === 'NOT_FOUND'
          ? 'the daemon at that address is older than this CLI; upgrade it'
          : `is the daemon running (\`tunmesh run -c FILE\`) and listening on ${url}? pass --url to ask another address`;
    throw new TunmeshError(e.code, e.message, { hint, cause: e });
  } finally {
    client.close();
  }
}

export function renderPeers(peers: readonly PeerStatusRow[], nowMs = Date.now()): string {
  if (peers.length === 0) return 'no peers yet\n';
  const rows = peers.map((p) => [
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
  return formatTable(['PEER', 'STATE', 'ADDRESSES', 'METHOD', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'RTT'], rows);
}

export function nodeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config of the node to ask (default: $TUNMESH_CONFIG or /etc/tunmesh/config.yaml)')
    .option('--url <url>', 'API URL to ask instead of the one derived from the config');
}

export function peersCommand(): Command {
  const cmd = nodeOptions(new Command('peers').description("list this node's peers (mesh members and static peers)"))
    .option('--json', 'print the rows as JSON')
    .action(async (opts: NodeTarget & { json?: boolean }) => {
      const peers = (await askNode(opts, { method: 'GET', path: '/v1/peers' })) as PeerStatusRow[];
      process.stdout.write(opts.json ? `${JSON.stringify(peers, null, 2)}\n` : renderPeers(peers));
    });
  return withExamples(cmd, [
    'tunmesh peers -c /etc/tunmesh/config.yaml',
    'tunmesh peers --json | jq -r \'.[] | select(.state=="alive") | .name\'',
  ]);
}
