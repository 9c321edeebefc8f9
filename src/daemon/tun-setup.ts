// The optional parts of TUN setup: extra addresses, TCP MSS clamping (an nftables table of our own), and
// the operator's trusted up/down hook scripts. All of it runs before the privilege drop except the down
// hook, which runs as whatever user the daemon is by then (documented in docs/ADDRESSING.md).
import { execFile } from 'node:child_process';
import type { Logger } from '../base/log.js';
import type { Config } from '../config/index.js';
import type { NetConfig } from '../platform/ports.js';

const hookTimeoutMs = 30_000;

/** nftables table name for a TUN device: one table per device, re-created on every start. */
export function mssTableName(tun: string): string {
  return `tunmesh_${tun.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The nft script that clamps the MSS of TCP SYNs crossing the TUN to the route MTU. */
export function mssClampScript(tun: string): string {
  const t = mssTableName(tun);
  return [
    `table inet ${t}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    '  chain forward {',
    '    type filter hook forward priority mangle; policy accept;',
    `    oifname "${tun}" tcp flags syn / syn,rst tcp option maxseg size set rt mtu`,
    `    iifname "${tun}" tcp flags syn / syn,rst tcp option maxseg size set rt mtu`,
    '  }',
    '  chain output {',
    '    type route hook output priority mangle; policy accept;',
    `    oifname "${tun}" tcp flags syn / syn,rst tcp option maxseg size set rt mtu`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function run(file: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: hookTimeoutMs, env: o.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}

/** The environment a hook script sees (documented; no secrets in it). */
export function hookEnv(config: Config, phase: 'up' | 'down'): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    TUNMESH_PHASE: phase,
    TUNMESH_NODE: config.node.name,
    TUNMESH_TUN: config.tun.name,
    TUNMESH_MTU: String(config.tun.mtu),
    TUNMESH_ADDRESSES: [...config.node.addresses, ...config.tun.addresses].join(' '),
    TUNMESH_ROUTES: config.tun.routes.join(' '),
    TUNMESH_ADVERTISED_ROUTES: config.node.routes.join(' '),
  };
}

/** Extra addresses, MSS clamping and the up hook, after the TUN has its addresses and is up. */
export async function tunExtrasUp(config: Config, net: NetConfig, log: Logger): Promise<void> {
  const tun = config.tun.name;
  // With tun.existing the extra addresses were checked on the device instead (existing-tun.ts).
  if (!config.tun.existing) for (const a of config.tun.addresses) await net.addAddress(tun, a);
  if (config.tun.mssClamp) {
    await run('nft', ['-f', '-'], { input: mssClampScript(tun) });
    log.info({ table: mssTableName(tun) }, 'TCP MSS clamping installed');
  }
  if (config.tun.upScript) {
    await run(config.tun.upScript, [], { env: hookEnv(config, 'up') });
    log.info({ script: config.tun.upScript }, 'up hook ran');
  }
}

/** The down hook, when the daemon stops; failures are logged, never thrown. */
export async function tunExtrasDown(config: Config, log: Logger): Promise<void> {
  if (!config.tun.downScript) return;
  try {
    await run(config.tun.downScript, [], { env: hookEnv(config, 'down') });
    log.info({ script: config.tun.downScript }, 'down hook ran');
  } catch (e) {
    log.warn({ script: config.tun.downScript, err: (e as Error).message }, 'down hook failed');
  }
}
