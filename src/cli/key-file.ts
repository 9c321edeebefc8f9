// Replacing a private key file in place for `tunmesh keys rotate`: the new key goes to a temporary file
// in the same directory (mode 0600 from creation, flushed to disk), which is then renamed over the old
// one. A crash leaves either the old key or the new one, never a half-written file; a reader never sees
// a file with looser permissions. The old file's owner is kept when we may set it (running as root).
import { randomBytes } from 'node:crypto';
import { chown, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function replaceSecretFile(file: string, content: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const owner = await stat(file).then(
    (s) => ({ uid: s.uid, gid: s.gid }),
    () => undefined,
  );
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.chmod(0o600);
    if (owner && process.getuid?.() === 0) await chown(tmp, owner.uid, owner.gid);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename itself is durable once the directory is flushed.
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dir.close();
  }
}
