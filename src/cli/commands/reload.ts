// `tunmesh reload`: the daemon re-reads its config file and applies the settings that reload live,
// keeping every tunnel; it says which changed settings need a restart. Same as `kill -HUP <pid>`.
import { Command } from 'commander';
import { liveSettings } from '../../daemon/reload.js';
import { UsageError, withExamples } from '../common.js';
import { askNode, nodeOptions, type NodeTarget } from '../node-client.js';

export interface ReloadReply {
  readonly ok: boolean;
  readonly applied?: string[];
  readonly restartRequired?: string[];
  readonly errors?: string[];
  readonly error?: string;
  readonly hint?: string;
}

export function renderReload(r: ReloadReply): string {
  const out: string[] = [];
  if (r.error) out.push(`not reloaded: ${r.error}`);
  if (r.applied) out.push(r.applied.length ? `applied live: ${r.applied.join(', ')}` : 'no live setting changed');
  if (r.restartRequired?.length)
    out.push(`changed but needs a restart (still running with the old value): ${r.restartRequired.join(', ')}`);
  for (const e of r.errors ?? []) out.push(`failed: ${e}`);
  return `${out.join('\n')}\n`;
}

export function reloadCommand(): Command {
  const cmd = nodeOptions(
    new Command('reload').description(
      `apply config file changes to the running node without dropping tunnels (live: ${liveSettings.join(', ')})`,
    ),
  )
    .option('--json', 'print the result as JSON')
    .action(async (opts: NodeTarget & { json?: boolean }) => {
      const r = (await askNode(opts, { method: 'POST', path: '/v1/reload', body: {} })) as ReloadReply;
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else if (!r.error) process.stdout.write(renderReload(r));
      if (!r.ok && !r.error)
        throw new UsageError(
          'some live settings were not applied',
          'fix what the failed: lines say, then reload again',
        );
      if (!r.ok) throw new UsageError(`not reloaded: ${r.error}`, r.hint);
    });
  return withExamples(cmd, [
    'tunmesh reload -c /etc/tunmesh/config.yaml',
    'tunmesh reload --json',
    'kill -HUP "$TUNMESH_PID"   # the same, by signal to the `tunmesh run` process',
  ]);
}
