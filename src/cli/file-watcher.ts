/**
 * Watches a set of files for `--watch`: one fs.watch per directory (a watch on the file itself would follow the old
 * inode when an editor saves by writing a temporary file and renaming it over the original), events debounced, and
 * a change confirmed by the file's identity (inode, size, modification time) so that an event without a change (an
 * editor's swap file, a save of the same bytes' metadata elsewhere in the folder) reloads nothing.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Quiet time after the last event before the files are looked at: one save is often several events. */
export const WATCH_DEBOUNCE_MS = 100;

/** What identifies one version of a file; undefined while it does not exist. */
function signature(file: string): string | undefined {
  try {
    const stats = statSync(file, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
  } catch {
    return undefined;
  }
}

export class FileWatcher {
  /** Watched file → its last seen signature. */
  private readonly files = new Map<string, string | undefined>();
  /** Directory → its watcher and the names in it that are watched. */
  private readonly directories = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  private readonly candidates = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: (changed: string[]) => void) {}

  /** Watches these files too. */
  add(files: Iterable<string>): void {
    for (const file of files) {
      if (this.files.has(file)) continue;
      this.files.set(file, signature(file));
      const directory = dirname(file);
      let entry = this.directories.get(directory);
      if (!entry) {
        const watcher = this.watchDirectory(directory);
        if (!watcher) continue;
        entry = { watcher, names: new Set() };
        this.directories.set(directory, entry);
      }
      entry.names.add(basename(file));
    }
  }

  /** Watches exactly these files (a new version of the app may no longer load some). */
  replace(files: Iterable<string>): void {
    const wanted = new Set(files);
    for (const file of [...this.files.keys()]) {
      if (wanted.has(file)) continue;
      this.files.delete(file);
      const directory = dirname(file);
      const entry = this.directories.get(directory);
      entry?.names.delete(basename(file));
      if (entry && entry.names.size === 0) {
        entry.watcher.close();
        this.directories.delete(directory);
      }
    }
    this.add(wanted);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const { watcher } of this.directories.values()) watcher.close();
    this.directories.clear();
    this.files.clear();
  }

  private watchDirectory(directory: string): FSWatcher | undefined {
    try {
      // Not persistent: watching never keeps the supervisor alive on its own.
      const watcher = watch(directory, { persistent: false }, (_event, name) => this.noticed(directory, name));
      // A directory that goes away (or a watch the system revokes) ends that watch, not the server.
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch {
      return undefined;
    }
  }

  private noticed(directory: string, name: string | Buffer | null): void {
    const entry = this.directories.get(directory);
    if (!entry) return;
    if (name === null) {
      // Some systems do not say which entry changed: look at every watched file of the folder.
      for (const watched of entry.names) this.candidates.add(join(directory, watched));
    } else if (entry.names.has(String(name))) {
      this.candidates.add(join(directory, String(name)));
    } else {
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.settle(), WATCH_DEBOUNCE_MS);
    this.timer.unref();
  }

  private settle(): void {
    this.timer = undefined;
    const changed: string[] = [];
    for (const file of this.candidates) {
      if (!this.files.has(file)) continue;
      const now = signature(file);
      // A file missing for a moment (saved by delete-then-write) is judged once it is back.
      if (now === undefined || now === this.files.get(file)) continue;
      this.files.set(file, now);
      changed.push(file);
    }
    this.candidates.clear();
    if (changed.length > 0) this.onChange(changed);
  }
}
