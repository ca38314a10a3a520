/**
 * Errors shared by every layer (nothing here imports from the rest of httpsd).
 *
 * An error caused by what the user asked for (a bad flag, an unreadable key file, a mismatched certificate).
 * The CLI prints its message alone (no stack) and exits with `exitCode`. Messages name the file and the fix.
 */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UsageError';
    this.exitCode = exitCode;
  }
}
