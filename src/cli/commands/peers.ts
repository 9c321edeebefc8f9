// `tunmesh peers`: the node's peers table (or JSON), asked from the node's own control API.
import { Command } from 'commander';
import type { PeerStatusRow } from '../../daemon/status.js';
import { withExamples } from '../common.js';
import { askNode, nodeOptions, type NodeTarget } from '../node-client.js';
import { renderPeers } from '../peer-table.js';

export { renderPeers };

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
