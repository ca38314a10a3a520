/**
 * Telling a permission problem from a missing file, and describing who the server runs as, so that an unreadable
 * root or file gets a message naming the fix instead of a silent 404.
 */
import { access, constants } from 'node:fs';
import { userInfo } from 'node:os';

export function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/** "user www-data (uid 33)": whether a file is readable depends on who the server runs as. */
export function processUser(): string {
  const uid = process.getuid?.();
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = undefined; // a uid without a passwd entry (common in containers)
  }
  if (uid === undefined) return `user ${name ?? '(unknown)'}`;
  return name === undefined ? `uid ${uid}` : `user ${name} (uid ${uid})`;
}

/** Whether this process may search (traverse) a directory. */
export function searchable(directory: string): Promise<boolean> {
  return new Promise((resolve) => access(directory, constants.X_OK, (error) => resolve(!error)));
}
