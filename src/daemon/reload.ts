// Applying a changed config to a running daemon (`tunmesh reload`, SIGHUP) without dropping tunnels.
//
// Live settings (applied at once, sessions kept):
//   logging.level                      the logger's level
//   wireguard.staticPeers              peers added, changed (upsert keeps sessions of an unchanged key) or removed
//   wireguard.persistentKeepaliveSec   re-applied to every mesh and static peer
//   control.operatorTokenFile          re-read (old sessions end); control.dashboard on/off
//   cluster.routePolicy                every member's advertised routes decided again; peers re-installed
// Every other changed setting (node identity and addresses, TUN, listen addresses and ports, TLS files,
// the cluster secret, bootstrap URLs, membership timings, the data-plane engine, process ids) needs a
// restart: it is reported as such and the running value stays in force.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../base/log.js';
import { Secret } from '../base/secret.js';
import { TunmeshError } from '../base/errors.js';
import { readFile as readText } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { applyEnvOverrides, ConfigError, parseYaml, validateConfigData, type Config } from '../config/index.js';
import { readPrivateKeyFile } from '../config/secrets.js';
import type { DataPlaneEngine } from '../dataplane/engine.js';
import type { NodeRecord } from '../membership/record.js';
import type { EndpointGuard } from './loop-guard.js';
import { effectiveKeepaliveSec } from './nat.js';
import { specFromRecord, specsFromStaticPeers } from './peers.js';

/** Dotted setting paths that reload live; a prefix covers everything under it. */
export const liveSettings = [
  'logging.level',
  'wireguard.staticPeers',
  'wireguard.persistentKeepaliveSec',
  'control.operatorTokenFile',
  'control.dashboard',
  'cluster.routePolicy',
] as const;

export interface ReloadResult {
  /** Changed settings now in force. */
  readonly applied: string[];
  /** Changed settings that keep their running value until the daemon restarts. */
  readonly restartRequired: string[];
  /** Live settings that could not be applied (what went wrong and what to do). */
  readonly errors: string[];
}

/** Flattens a config to dotted paths; arrays are one value. */
function flatten(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

/** Changed setting paths between two configs, split into live and restart-needing ones. */
export function planReload(current: Config, next: Config): { live: string[]; restart: string[] } {
  const a = flatten(current);
  const b = flatten(next);
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  const isLive = (k: string) => liveSettings.some((l) => k === l || k.startsWith(`${l}.`));
  return { live: changed.filter(isLive), restart: changed.filter((k) => !isLive(k)) };
}

/**
 * Loads the config file for a reload. Unlike loadConfig it does not require the files the config names
 * to be readable: after the privilege drop the daemon may not read root's 0600 files, and only the files
 * of live settings (operator token, pre-shared keys) are read again, each reporting its own error.
 */
export async function loadConfigForReload(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readText(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      'CONFIG_UNREADABLE',
      [{ path: file, rule: `cannot be read (${(e as NodeJS.ErrnoException).code})` }],
      {
        file,
        hint: 'the daemon re-reads the file it was started with; keep it readable by the daemon user',
      },
    );
  }
  const yaml = parseYaml(text);
  if (!yaml.ok) throw new ConfigError('CONFIG_INVALID', yaml.issues, { file });
  const overridden = applyEnvOverrides(yaml.data ?? {}, env);
  const result = validateConfigData(overridden.data, { baseDir: dirname(file), checkFiles: false });
  const issues = [...overridden.issues, ...(result.ok ? [] : result.issues)];
  if (issues.length || !result.ok) throw new ConfigError('CONFIG_INVALID', issues, { file });
  return result.config;
}

/** A config error for the reload answer: ConfigError messages already list every issue, one a line. */
export function describeConfigError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Reads the operator token file: at least 32 characters after trimming. */
export function readOperatorToken(file: string): Promise<Secret<string>> {
  return readTokenFile(file, 'control.operatorTokenFile');
}

/** Reads a token file (operator, metrics): at least 32 characters after trimming; errors name `key`. */
export async function readTokenFile(file: string, key: string): Promise<Secret<string>> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TunmeshError('CONFIG_UNREADABLE', `${key}: ${file} cannot be read (${code})`, {
      hint: 'create it with `tunmesh secret generate --out FILE`, readable by the daemon user',
    });
  }
  if (text.length < 32)
    throw new TunmeshError('CONFIG_INVALID', `${key}: the token in ${file} is too short`, {
      hint: 'use at least 32 characters; `tunmesh secret generate --out FILE` makes one',
    });
  return new Secret(text);
}

export interface ReloadTarget {
  readonly log: Logger;
  readonly engine: DataPlaneEngine | undefined;
  readonly families: ReadonlySet<4 | 6>;
  /** Refuses endpoints routed into our own tunnel (default: one built from the config, uncounted). */
  readonly endpointGuard?: EndpointGuard | undefined;
  /** Records of the mesh members that have data-plane peers. */
  memberRecords(): readonly NodeRecord[];
  /** New operator token (undefined = none) and dashboard switch. */
  setDashboard(token: Secret<string> | undefined, enabled: boolean): void;
  /** The advertised routes of member `id` this node installs (daemon/advertised-routes.ts); none if absent. */
  acceptedRoutes?(id: string): readonly string[];
  /** Puts a new cluster.routePolicy in force (undefined = none); absent: the policy needs a restart. */
  setRoutePolicy?(grants: Config['cluster']['routePolicy']): void;
}

/**
 * Applies the live part of `next`. Returns the config now in force: `current` with the live settings
 * taken from `next` (restart-needing settings keep their running values, so status stays truthful).
 */
export async function applyReload(
  current: Config,
  next: Config,
  t: ReloadTarget,
): Promise<{ config: Config; result: ReloadResult }> {
  const plan = planReload(current, next);
  const errors: string[] = [];
  const applied: string[] = [];
  let config: Config = current;
  const touched = (prefix: string) => plan.live.some((k) => k === prefix || k.startsWith(`${prefix}.`));

  if (touched('logging.level')) {
    const from = t.log.level;
    t.log.level = next.logging.level;
    // Written at the new level, so it appears exactly when the new level lets debug lines through.
    t.log.debug({ from, to: next.logging.level }, 'log level changed');
    config = { ...config, logging: { ...config.logging, level: next.logging.level } };
    applied.push('logging.level');
  }

  const peersChanged = touched('wireguard.staticPeers');
  const keepaliveChanged = touched('wireguard.persistentKeepaliveSec');
  if (peersChanged || keepaliveChanged) {
    const psks = new Map<string, Secret<Uint8Array>>();
    let pskFailed = false;
    for (const p of next.wireguard.staticPeers) {
      if (!p.presharedKeyFile) continue;
      try {
        psks.set(p.name, await readPrivateKeyFile(p.presharedKeyFile, `wireguard.staticPeers[${p.name}]`));
      } catch (e) {
        pskFailed = true;
        errors.push(`${(e as Error).message}: static peers were not changed (fix the file, or restart)`);
      }
    }
    if (!pskFailed) {
      const nextWg = {
        ...config.wireguard,
        staticPeers: next.wireguard.staticPeers,
        persistentKeepaliveSec: next.wireguard.persistentKeepaliveSec,
      };
      config = { ...config, wireguard: nextWg };
      const keep = new Set(nextWg.staticPeers.map((p) => p.publicKey));
      for (const p of current.wireguard.staticPeers) if (!keep.has(p.publicKey)) t.engine?.removePeer(p.publicKey);
      for (const spec of specsFromStaticPeers(config, psks, t.endpointGuard)) t.engine?.upsertPeer(spec);
      if (keepaliveChanged)
        for (const r of t.memberRecords()) {
          // Behind a NAT an unset (0) keepalive still means natKeepaliveSec, as at start.
          const routes = t.acceptedRoutes?.(r.id) ?? [];
          const spec = specFromRecord(r, routes, t.families, effectiveKeepaliveSec(config), t.endpointGuard);
          if (spec) t.engine?.upsertPeer(spec);
        }
      applied.push(...plan.live.filter((k) => k.startsWith('wireguard.')));
    }
  }

  const dashboardTouched = touched('control.operatorTokenFile') || touched('control.dashboard');
  if (dashboardTouched || next.control.operatorTokenFile) {
    // The token file is re-read on every reload, so replacing its content is a live change too; when
    // the file is unreadable and its setting did not change, the running token simply stays.
    let token: Secret<string> | undefined;
    let ok = true;
    if (next.control.operatorTokenFile) {
      try {
        token = await readOperatorToken(next.control.operatorTokenFile);
      } catch (e) {
        ok = false;
        if (dashboardTouched) errors.push(`${(e as Error).message}; the previous token stays in force`);
        else t.log.debug({ err: (e as Error).message }, 'operator token not re-read');
      }
    }
    if (ok) {
      t.setDashboard(token, next.control.dashboard);
      config = {
        ...config,
        control: {
          ...config.control,
          operatorTokenFile: next.control.operatorTokenFile,
          dashboard: next.control.dashboard,
        },
      };
      applied.push(...plan.live.filter((k) => k.startsWith('control.')));
    }
  }

  if (touched('cluster.routePolicy')) {
    if (t.setRoutePolicy) {
      t.setRoutePolicy(next.cluster.routePolicy);
      config = { ...config, cluster: { ...config.cluster, routePolicy: next.cluster.routePolicy } };
      applied.push('cluster.routePolicy');
    } else plan.restart.push('cluster.routePolicy');
  }
  return { config, result: { applied, restartRequired: plan.restart, errors } };
}
