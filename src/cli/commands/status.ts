// `tunmesh status`: asks the node that a config describes, over its authenticated API, for itself and
// its peers.
import { Command } from 'commander';
import type { StatusReport } from '../../daemon/status.js';
import { withExamples } from '../common.js';
import { askNode, nodeOptions } from '../node-client.js';
import { refusedText, renderPeers } from '../peer-table.js';

export async function fetchStatus(configPath: string | undefined, url?: string): Promise<StatusReport> {
  return (await askNode({ config: configPath, url }, { method: 'GET', path: '/v1/status' })) as StatusReport;
}

export function renderStatus(s: StatusReport, nowMs = Date.now()): string {
  const n = s.node;
  const head = [
    `node ${n.name}  ${n.addresses.join(' ')}  engine ${n.engine ?? '-'}  up ${n.uptimeSec}s`,
    `  public key ${n.publicKey ?? '-'}`,
    `  endpoints ${n.endpoints.join(' ') || '-'}  api ${n.apiUrl ?? '-'}${n.reach === 'outbound' ? '  reach outbound (behind NAT)' : ''}`,
    ...(n.routePolicyGrants === undefined
      ? []
      : [`  route policy ${n.routePolicyGrants === null ? 'not set' : `${n.routePolicyGrants} grants`}`]),
    ...(n.refusedRoutes ?? []).map((r) => `  own route refused by this policy: ${refusedText(r)}`),
  ];
  // Pairs that cannot have a path (both behind NAT) are said plainly under the table.
  const notes = s.peers.flatMap((p) => (p.note ? [`  ${p.name}: ${p.note}`] : []));
  return `${head.join('\n')}\n\n${renderPeers(s.peers, nowMs)}${notes.length ? `\n${notes.join('\n')}\n` : ''}`;
}

export function statusCommand(): Command {
  const cmd = nodeOptions(
    new Command('status').description("show this node and its peers, asked from the node's own control API"),
  )
    .option('--json', 'print the raw status as JSON')
    .action(async (opts: { config?: string; url?: string; json?: boolean }) => {
      const s = await fetchStatus(opts.config, opts.url);
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
    });
  return withExamples(cmd, ['tunmesh status -c /etc/tunmesh/config.yaml', 'tunmesh status --json | jq .peers']);
}
