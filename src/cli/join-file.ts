// The join file: what a new node needs to join a mesh (bootstrap URLs, the cluster secret, the control
// API's TLS certificate and key, and the CA bundle when the mesh has one), in one JSON file of mode 0600.
// `tunmesh join-file create` writes it on an existing node; `tunmesh up --join FILE` reads it. The nodes of
// a mesh share one TLS certificate unless control.tls.caFile is set (the certificate is the trust anchor),
// so the key travels with it; the cluster secret in the same file already admits the holder to the mesh.
// A join file is hostile input like any other: every field is checked, errors name the field and never
// quote a secret.
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { parseHttpsUrl } from '../config/net.js';
import { minClusterSecretLength } from '../config/secrets.js';
import { UsageError } from './common.js';

export const joinFileFormat = 'tunmesh-join/1';
const maxJoinFileBytes = 256 * 1024;

const pem = (label: string) =>
  z
    .string()
    .max(64 * 1024, { message: 'must be at most 64 KiB' })
    .refine((s) => s.includes(`-----BEGIN ${label}`), { message: `must be PEM text (-----BEGIN ${label}...)` });

const joinSchema = z
  .object({
    format: z.literal(joinFileFormat, { errorMap: () => ({ message: `must be "${joinFileFormat}"` }) }),
    bootstrap: z
      .array(
        z
          .string()
          .max(2048)
          .refine((u) => parseHttpsUrl(u) !== undefined, { message: 'must be an https URL with a host and a port' }),
      )
      .min(1, { message: 'must list at least one https URL' })
      .max(64),
    clusterSecret: z
      .string()
      .max(4096)
      .refine((s) => s.trim().length >= minClusterSecretLength, {
        message: `must hold at least ${minClusterSecretLength} characters after trimming whitespace`,
      }),
    tls: z.object({ cert: pem('CERTIFICATE'), key: pem(''), ca: pem('CERTIFICATE').optional() }).strict(),
  })
  .strict();

export type JoinFile = z.infer<typeof joinSchema>;

export function serializeJoinFile(j: JoinFile): string {
  return `${JSON.stringify(j, null, 2)}\n`;
}

/** Reads and checks a join file; UsageError naming the file and the field otherwise. */
export async function readJoinFile(file: string): Promise<JoinFile> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`join file ${file} is not a regular file`);
    if (st.size > maxJoinFileBytes) throw new UsageError(`join file ${file} is larger than 256 KiB`);
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `join file ${file} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : 'cannot be read'}`,
      'create one on a node of the mesh with `tunmesh join-file create --out FILE`',
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`join file ${file} is not JSON`, 'create it with `tunmesh join-file create --out FILE`');
  }
  const r = joinSchema.safeParse(data);
  if (!r.success) {
    // Paths and rules only: the values may be secrets.
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new UsageError(
      `join file ${file} is not valid:\n${lines.join('\n')}`,
      'create it again with `tunmesh join-file create --out FILE`',
    );
  }
  return r.data;
}
