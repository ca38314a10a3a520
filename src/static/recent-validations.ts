/**
 * Request paths whose checks passed moments ago, so a hot small file is answered from memory without realpath or
 * stat: those two thread-pool round trips are most of the cost of a cached hit.
 *
 * The staleness bound is FRESHNESS_MS: within it, a file changed on disk or a symlink re-pointed after the last
 * check is not noticed yet, and the bytes of the version validated then are served. Those bytes were read from a
 * regular file inside the root after every path check, so the bound delays updates but never lets a symlink lead
 * outside the root (nothing is ever read through a path that was not checked). Each request path keeps its own
 * validation time: another path reaching the same file does not extend it.
 */
import type { Stats } from 'node:fs';

/** How long a passed check is trusted, in milliseconds. */
export const FRESHNESS_MS = 1000;

interface Validation {
  realPath: string;
  stats: Stats;
  at: number;
}

export class RecentValidations {
  readonly #validations = new Map<string, Validation>();

  constructor(readonly maxEntries: number) {}

  /** The canonical path and stats validated for `requestPath` at most FRESHNESS_MS before `now`, and when. */
  get(requestPath: string, now: number): { realPath: string; stats: Stats; at: number } | undefined {
    const validation = this.#validations.get(requestPath);
    if (validation === undefined) return undefined;
    if (now - validation.at > FRESHNESS_MS || now < validation.at) {
      this.#validations.delete(requestPath);
      return undefined;
    }
    return validation;
  }

  /** Records that `requestPath` led, through every check, to `realPath` whose stat was `stats`, at `now`. */
  record(requestPath: string, realPath: string, stats: Stats, now: number): void {
    this.#validations.delete(requestPath);
    this.#validations.set(requestPath, { realPath, stats, at: now });
    // Insertion order is age: the oldest validations go first, and they are the stalest anyway.
    while (this.#validations.size > this.maxEntries) this.#validations.delete(this.#validations.keys().next().value!);
  }
}
