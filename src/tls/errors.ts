import { UsageError } from '../common/errors.js';

/** A TLS setting or file the server cannot use. The message names the file (or flag) and the fix. */
export class TlsConfigError extends UsageError {
  constructor(message: string, exitCode = 2) {
    super(message, exitCode);
    this.name = 'TlsConfigError';
  }
}
