// TLS material for the control API. Certificates and keys come as PEM (text or bytes) or as file paths.
// Clients trust the configured CA, or, without one, the cluster's shared certificate itself (a
// self-signed cert is its own trust anchor). Hostname checks are off by default: nodes are reached by
// IP:port and authenticated by the shared secret, not by names.
import { readFile } from 'node:fs/promises';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { TunmeshError } from '../base/errors.js';
import { Secret } from '../base/secret.js';

/** PEM text, PEM bytes, or a path to a PEM file (a string without "-----BEGIN"). */
export type PemInput = string | Uint8Array;

export interface TlsInput {
  readonly cert: PemInput;
  readonly key: PemInput | Secret<PemInput>;
  /** Trust anchor for peers; defaults to `cert`. */
  readonly ca?: PemInput;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Secret<Buffer>;
  readonly ca: Buffer;
}

export async function loadPem(input: PemInput, what: string): Promise<Buffer> {
  if (typeof input !== 'string') return Buffer.from(input);
  if (input.includes('-----BEGIN')) return Buffer.from(input, 'utf8');
  try {
    return await readFile(input);
  } catch (cause) {
    throw new TunmeshError('CONFIG_UNREADABLE', `cannot read the ${what} file ${input}`, { cause });
  }
}

export async function loadTls(input: TlsInput): Promise<TlsMaterial> {
  const key = input.key instanceof Secret ? input.key.expose() : input.key;
  const cert = await loadPem(input.cert, 'TLS certificate');
  return {
    cert,
    key: new Secret(await loadPem(key, 'TLS key')),
    ca: input.ca === undefined ? cert : await loadPem(input.ca, 'TLS CA'),
  };
}

/** Options for a client's TLS: verify the chain against `ca`; the hostname only when asked to. */
export function clientTlsOptions(ca: Buffer, checkHostname: boolean) {
  return {
    ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2' as const,
    checkServerIdentity: checkHostname
      ? checkServerIdentity
      : (_host: string, _cert: PeerCertificate): Error | undefined => undefined,
  };
}
