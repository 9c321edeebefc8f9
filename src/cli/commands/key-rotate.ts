// `tunmesh keys rotate`: a new static key for a RUNNING node, without a restart. The new key is written
// to node.privateKeyFile first (atomically, mode 0600), so whatever happens next a restart uses it; then
// it is handed to the daemon over the TLS API, which cannot re-read root's key file after its privilege
// drop. The request is signed with the cluster secret and carries the node's operator token, which
// every node's cluster secret alone does not give. Peers get the new record at once and re-handshake.
import { Command } from 'commander';
import { TunmeshError, type ErrorCode } from '../../base/errors.js';
import { configPathFromEnv, loadConfig } from '../../config/load.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../crypto/keys.js';
import { readOperatorToken } from '../../daemon/reload.js';
import { UsageError, withExamples } from '../common.js';
import { writeSecretFile } from '../secret-file.js';
import { askNode, nodeOptions, type NodeTarget } from '../node-client.js';

export interface RotateReply {
  readonly ok: boolean;
  readonly publicKey?: string;
  readonly previousPublicKey?: string;
  readonly liveMembers?: number;
  /** Static peers (wireguard.staticPeers): they still name the old key until their config changes. */
  readonly staticPeers?: string[];
  readonly code?: string;
  readonly error?: string;
  readonly hint?: string;
}

export function renderRotate(r: RotateReply, file: string): string {
  if (!r.ok) return `not rotated: ${r.error ?? 'unknown reason'}\n`;
  const out =
    `rotated live: public key ${r.publicKey} (was ${r.previousPublicKey}); ` +
    `announced to ${r.liveMembers ?? 0} live member(s); the new key is in ${file}\n`;
  if (!r.staticPeers?.length) return out;
  return (
    out +
    `warning: static peers ${r.staticPeers.join(', ')} know this node by its old key and cannot handshake ` +
    `until their config names ${r.publicKey}\n`
  );
}

/** The node's refusal as the CLI reports it: its code (AUTH_FAILED or KEY_ROTATION_REFUSED), reason, hint. */
export function refusal(r: RotateReply, note: string): TunmeshError {
  const code: ErrorCode = r.code === 'AUTH_FAILED' ? 'AUTH_FAILED' : 'KEY_ROTATION_REFUSED';
  return new TunmeshError(code, `not rotated live: ${r.error ?? 'the node refused'}`, {
    hint: `${r.hint ? `${r.hint}. ` : ''}${note}`,
  });
}

export function rotateCommand(): Command {
  const cmd = nodeOptions(
    new Command('rotate').description(
      "replace a running node's WireGuard key live: write a new one to node.privateKeyFile (0600), then swap it in without a restart (needs control.operatorTokenFile)",
    ),
  )
    .option('--json', 'print the result as JSON')
    .action(async (opts: NodeTarget & { json?: boolean }) => {
      const configPath = opts.config ?? configPathFromEnv();
      const config = await loadConfig(configPath);
      if (!config.control.operatorTokenFile)
        throw new UsageError(
          'a live key rotation needs the operator token, and this config has no control.operatorTokenFile',
          'set it (`tunmesh secret generate --out FILE`) and `tunmesh reload`; or rotate offline: `tunmesh keys generate --out KEYFILE --force`, then restart',
        );
      const token = await readOperatorToken(config.control.operatorTokenFile);
      const target = { ...opts, config: configPath };
      // Would the node accept a rotation (running, this token, an engine that swaps)? Nothing is written
      // when it would not: an offline rotation is `keys generate --force` and a restart.
      const check = (await askNode(target, {
        method: 'POST',
        path: '/v1/key/rotate',
        body: { check: true, operatorToken: token.expose() },
      }).catch((e: unknown) => {
        // Refused before the route (a wrong operator token, rate limited, ...): nothing written either.
        if (!(e instanceof TunmeshError)) throw e;
        throw new TunmeshError(e.code, `not rotated live: ${e.message}`, {
          hint: `${e.hint ? `${e.hint}. ` : ''}nothing was written; the node keeps its key`,
        });
      })) as RotateReply;
      if (!check.ok) throw refusal(check, 'nothing was written; the node keeps its key');

      const key = generatePrivateKey();
      const newPublic = encodeKey(publicKeyOf(key));
      const file = config.node.privateKeyFile;
      await writeSecretFile(file, `${encodeKey(key)}\n`, { replace: true }).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(
          `cannot write the new key to ${file} (${e.code ?? e.message}); nothing changed`,
          'run as the user that owns the key file (usually root), with write access to its directory',
        );
      });
      const written = `${file} already holds a new key (public ${newPublic}): a restart uses it, or rotate again`;
      let r: RotateReply;
      try {
        r = (await askNode(target, {
          method: 'POST',
          path: '/v1/key/rotate',
          body: { privateKey: encodeKey(key), operatorToken: token.expose() },
        })) as RotateReply;
      } catch (e) {
        if (!(e instanceof TunmeshError)) throw e;
        throw new TunmeshError(e.code, `not rotated live: ${e.message}`, {
          hint: `${e.hint ? `${e.hint}. ` : ''}${written}`,
        });
      } finally {
        key.fill(0);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else if (r.ok) process.stdout.write(renderRotate(r, file));
      if (!r.ok) throw refusal(r, written);
    });
  return withExamples(cmd, ['tunmesh keys rotate -c /etc/tunmesh/config.yaml', 'tunmesh keys rotate --json']);
}
