// Reading the secret files a config names. Errors say which setting and what is wrong with the file,
// never what the file contains.
import { stat, readFile } from 'node:fs/promises';
import { Secret } from '../base/secret.js';
import { decodeKey } from '../crypto/keys.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Config } from './schema.js';

export const minClusterSecretLength = 32;
/** The operator token guards the dashboard and key rotation: as long as the cluster secret at least. */
export const minOperatorTokenLength = 32;
const maxSecretFileBytes = 64 * 1024;
const keyRule = 'must hold a key: 32 bytes in base64 (44 characters ending in "="), as `wg genkey` writes it';

export interface Secrets {
  readonly cluster: Secret<string>;
  readonly privateKey: Secret<Uint8Array>;
  /** Static peer name -> its pre-shared key, for peers that have presharedKeyFile. */
  readonly staticPeerPsks: Map<string, Secret<Uint8Array>>;
}

type Read<T> = { ok: true; value: T } | { ok: false; issue: ConfigIssue };

async function readSecretText(file: string, path: string): Promise<Read<string>> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { ok: false, issue: { path, rule: `${file} is not a regular file` } };
    if (st.size > maxSecretFileBytes)
      return { ok: false, issue: { path, rule: `${file} is larger than 64 KiB; it should hold only the secret` } };
    return { ok: true, value: (await readFile(file, 'utf8')).trim() };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : code;
    return { ok: false, issue: { path, rule: `file ${file} ${why ?? 'cannot be read'}` } };
  }
}

async function readKey(file: string, path: string): Promise<Read<Secret<Uint8Array>>> {
  const text = await readSecretText(file, path);
  if (!text.ok) return text;
  const key = decodeKey(text.value);
  if (!key) return { ok: false, issue: { path, rule: `${file} ${keyRule}` } };
  return { ok: true, value: new Secret(key) };
}

function fail(issues: readonly ConfigIssue[]): never {
  const unreadable = issues.every((i) => / (does not exist|is not readable|cannot be read)/.test(i.rule));
  throw new ConfigError(unreadable ? 'CONFIG_UNREADABLE' : 'CONFIG_INVALID', issues, {
    hint: 'create secrets with `tunmesh secret generate --out FILE` and keys with `tunmesh keys generate --out FILE`',
  });
}

/** The node's WireGuard private key from `file`; throws ConfigError naming `path`. */
export async function readPrivateKeyFile(file: string, path = 'node.privateKeyFile'): Promise<Secret<Uint8Array>> {
  const r = await readKey(file, path);
  if (!r.ok) fail([r.issue]);
  return r.value;
}

/** Reads and checks every secret the config names; throws one ConfigError listing every problem. */
export async function readSecrets(config: Config): Promise<Secrets> {
  const issues: ConfigIssue[] = [];
  const cluster = await readSecretText(config.cluster.secretFile, 'cluster.secretFile');
  if (!cluster.ok) issues.push(cluster.issue);
  else if (cluster.value.length < minClusterSecretLength)
    issues.push({
      path: 'cluster.secretFile',
      rule: `the secret in ${config.cluster.secretFile} is too short: it must be at least ${minClusterSecretLength} characters after trimming whitespace`,
    });
  // Tokens are read by the daemon itself (the operator token again on reload); here only checked, so
  // `config check` and the start refuse an unreadable or short token with the key named.
  const tokens: [string, string | undefined][] = [
    ['control.operatorTokenFile', config.control.operatorTokenFile],
    ['control.metricsTokenFile', config.control.metricsTokenFile],
  ];
  for (const [key, file] of tokens) {
    if (file === undefined) continue;
    const token = await readSecretText(file, key);
    if (!token.ok) issues.push(token.issue);
    else if (token.value.length < minOperatorTokenLength)
      issues.push({
        path: key,
        rule: `the token in ${file} is too short: it must be at least ${minOperatorTokenLength} characters after trimming whitespace`,
      });
  }
  const privateKey = await readKey(config.node.privateKeyFile, 'node.privateKeyFile');
  if (!privateKey.ok) issues.push(privateKey.issue);
  const staticPeerPsks = new Map<string, Secret<Uint8Array>>();
  for (const [i, peer] of config.wireguard.staticPeers.entries()) {
    if (peer.presharedKeyFile === undefined) continue;
    const psk = await readKey(peer.presharedKeyFile, `wireguard.staticPeers[${i}].presharedKeyFile`);
    if (psk.ok) staticPeerPsks.set(peer.name, psk.value);
    else issues.push(psk.issue);
  }
  if (issues.length || !cluster.ok || !privateKey.ok) fail(issues);
  return { cluster: new Secret(cluster.value), privateKey: privateKey.value, staticPeerPsks };
}

/** Secret files that other users can read: worth a warning, not a failure (the directory may protect them). */
export async function secretFileWarnings(config: Config): Promise<ConfigIssue[]> {
  const files: [string, string][] = [
    ['cluster.secretFile', config.cluster.secretFile],
    ['node.privateKeyFile', config.node.privateKeyFile],
    ['control.tls.keyFile', config.control.tls.keyFile],
    ...(config.control.operatorTokenFile
      ? [['control.operatorTokenFile', config.control.operatorTokenFile] as [string, string]]
      : []),
    ...(config.control.metricsTokenFile
      ? [['control.metricsTokenFile', config.control.metricsTokenFile] as [string, string]]
      : []),
    ...config.wireguard.staticPeers.flatMap((p, i): [string, string][] =>
      p.presharedKeyFile ? [[`wireguard.staticPeers[${i}].presharedKeyFile`, p.presharedKeyFile]] : [],
    ),
  ];
  const out: ConfigIssue[] = [];
  for (const [path, file] of files) {
    try {
      const mode = (await stat(file)).mode & 0o777;
      if (mode & 0o077)
        out.push({
          path,
          rule: `${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`,
        });
    } catch {
      // Missing files are reported by validation.
    }
  }
  return out;
}
