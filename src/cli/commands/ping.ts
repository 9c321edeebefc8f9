// `tunmesh ping NODE`: round trips through the mesh, measured by the local daemon: UDP echo probes from
// its overlay address to the node's, through WireGuard both ways (see daemon/rtt.ts).
import { Command } from 'commander';
import { net } from '../../base/constants.js';
import { TunmeshError } from '../../base/errors.js';
import { intOption, withExamples } from '../common.js';
import { askNode, nodeOptions, type NodeTarget } from '../node-client.js';

export interface PingReply {
  readonly node: string;
  readonly address: string | null;
  readonly method: string;
  readonly sent: number;
  readonly received: number;
  readonly rttMs: readonly (number | null)[];
  readonly minMs: number | null;
  readonly avgMs: number | null;
  readonly maxMs: number | null;
}

export function renderPing(r: PingReply): string {
  const lines = r.rttMs.map((ms, i) =>
    ms === null ? `seq=${i + 1} timeout` : `seq=${i + 1} time=${ms.toFixed(3)} ms`,
  );
  const loss = r.sent === 0 ? 0 : Math.round(((r.sent - r.received) / r.sent) * 100);
  const tail =
    r.avgMs === null
      ? ''
      : `\nrtt min/avg/max = ${r.minMs!.toFixed(3)}/${r.avgMs.toFixed(3)}/${r.maxMs!.toFixed(3)} ms`;
  return `PING ${r.node} (${r.address ?? '?'}) through the mesh, method ${r.method}\n${lines.join('\n')}\n${r.sent} sent, ${r.received} received, ${loss}% loss${tail}\n`;
}

export function pingCommand(): Command {
  const cmd = nodeOptions(
    new Command('ping')
      .description('measure round-trip time through the mesh from this node to NODE (name or overlay address)')
      .argument('<node>', 'peer name or overlay address'),
  )
    .option('-n, --count <n>', 'probes to send', intOption(1, 100), 3)
    .option('--timeout <ms>', 'wait this long for each reply', intOption(50, 10_000), 1000)
    .option('--json', 'print the result as JSON')
    .action(async (node: string, opts: NodeTarget & { count: number; timeout: number; json?: boolean }) => {
      const r = (await askNode(opts, {
        method: 'POST',
        path: '/v1/ping',
        body: { node, count: opts.count, timeoutMs: opts.timeout },
        timeoutMs: opts.count * opts.timeout + 2000,
      }).catch((e: unknown) => {
        if (e instanceof TunmeshError && e.code === 'NOT_FOUND')
          throw new TunmeshError('NOT_FOUND', `the node does not know a peer ${node}`, {
            hint: '`tunmesh peers` lists the peers it knows, by name and overlay address',
          });
        throw e;
      })) as PingReply;
      process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : renderPing(r));
      if (r.received === 0)
        throw new TunmeshError('PEER_UNREACHABLE', `no reply from ${r.node} through the mesh`, {
          hint: `\`tunmesh peers\` shows its state and last handshake; a node that is down answers no probe (UDP port ${net.rttEchoPort} on its overlay address must get through)`,
        });
    });
  return withExamples(cmd, ['tunmesh ping node-b', 'tunmesh ping 198.19.0.2 -n 10', 'tunmesh ping node-b --json']);
}
