/**
 * File output for certificates and keys: atomic (temporary file + rename, so a crash never leaves half a key and a
 * reader never sees one) and private keys created with mode 0600 from the start (no window where they are readable).
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../common/errors.js';

export interface WriteOptions {
  /** File mode; 0o600 for private keys, 0o644 for certificates. */
  mode: number;
  /** Replace an existing file; without it an existing file is an error. */
  overwrite: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteOptions): Promise<void> {
  if (!options.overwrite && (await exists(path))) {
    throw new UsageError(`httpsd cert: ${path} already exists; pass --force to overwrite it, or choose another name with --cert-file/--key-file.`);
  }
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL: never follow a symlink planted at the temporary name; mode applies at creation.
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    // The umask may have narrowed the mode at creation; a key must be exactly 0600 regardless.
    await fs.chmod(temporary, options.mode);
    if (!options.overwrite) {
      // link() fails with EEXIST when another process created the file meanwhile: no silent overwrite race.
      try {
        await fs.link(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UsageError(`httpsd cert: ${path} already exists; pass --force to overwrite it.`);
        }
        // Filesystems without hard links (some network/FAT mounts): fall back to rename after the existence check above.
        if (['EPERM', 'ENOTSUP', 'EXDEV', 'ENOSYS'].includes((error as NodeJS.ErrnoException).code ?? '')) {
          await fs.rename(temporary, path);
          return;
        }
        throw error;
      }
      await fs.unlink(temporary);
    } else {
      await fs.rename(temporary, path);
    }
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.unlink(temporary).catch(() => {});
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`httpsd cert: cannot write ${path}: the folder ${dirname(path)} does not exist.`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new UsageError(`httpsd cert: cannot write ${path}: permission denied (${code}).`);
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a small text file, turning a missing/unreadable file into a UsageError that names it. */
export async function readTextFile(path: string, what: string, maxBytes = 1 << 20): Promise<string> {
  try {
    const stat = await fs.stat(path);
    if (!stat.isFile()) throw new UsageError(`httpsd cert: ${what} ${path} is not a regular file.`);
    if (stat.size > maxBytes) throw new UsageError(`httpsd cert: ${what} ${path} is larger than ${maxBytes} bytes; is it the right file?`);
    return await fs.readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`httpsd cert: cannot read ${what} ${path} (${code ?? String(error)}).`);
  }
}

/**
 * Runs `action` while holding a lock folder (mkdir is atomic on every filesystem, including NFS), so two processes
 * minting the same files at once cannot interleave their key and certificate writes. A lock older than `staleMs`
 * (a crashed holder) is broken; waiting is bounded.
 */
export async function withDirectoryLock<T>(lockPath: string, action: () => Promise<T>, options: { waitMs?: number; staleMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  const staleMs = options.staleMs ?? 30_000;
  for (;;) {
    try {
      await fs.mkdir(lockPath, { mode: 0o700 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await fs.stat(lockPath).then((stat) => Date.now() - stat.mtimeMs, () => 0);
      if (age > staleMs) {
        await fs.rmdir(lockPath).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new UsageError(`httpsd cert: ${lockPath} is held by another httpsd process; if none is running, delete that folder.`, 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    }
  }
  try {
    return await action();
  } finally {
    await fs.rmdir(lockPath).catch(() => {});
  }
}
