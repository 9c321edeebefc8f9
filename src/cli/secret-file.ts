// The one writer of secret files (keys generate, secret generate, cert generate's key.pem, config init's
// node key, keys rotate). The content goes to a temporary file in the same directory, created with mode
// 0600 (`wx`: never an existing file), chmod-ed against the umask and flushed, then renamed into place. So
// the secret is never in a file with looser permissions (an existing 0644 file is replaced, not rewritten),
// a crash leaves the old file or the new one and never half of one, and a symlink planted at the path is
// refused rather than written through. The old file's owner is kept when we may set it (running as root).
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './common.js';

export interface WriteSecretOptions {
  /** Replace an existing regular file (--force, keys rotate); without it an existing file is an error. */
  readonly replace?: boolean;
}

export async function writeSecretFile(file: string, content: string, opts: WriteSecretOptions = {}): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await lstat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (existing?.isSymbolicLink())
    throw new UsageError(
      `${file} is a symbolic link; refusing to write a secret through it`,
      'remove the link or give the path of the real file',
    );
  if (existing && !existing.isFile())
    throw new UsageError(`${file} exists and is not a regular file`, 'choose another path');
  if (existing && !opts.replace)
    throw new UsageError(`${file} exists already`, 'pass --force to replace it, or choose another path');

  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.chmod(0o600);
    if (existing && process.getuid?.() === 0) await fh.chown(existing.uid, existing.gid);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    if (existing) await rename(tmp, file);
    else await placeNew(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  // The rename itself is durable once the directory is flushed.
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await d.close();
  }
}

/** A new file only: link() fails when something appeared at `file` meanwhile, where rename would replace it. */
async function placeNew(tmp: string, file: string): Promise<void> {
  try {
    await link(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(`${file} exists already`, 'pass --force to replace it, or choose another path');
    // Filesystems without hard links: rename, which never follows a link planted at `file` either.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') await rename(tmp, file);
    else throw e;
  }
}
