/**
 * Shared shape of command-line options, so each module (server, TLS, static, cert) declares its own flags
 * and the `httpsd` command assembles them into one parser, one --help, and HTTPSD_* environment variables.
 */
export interface CliOption {
  /** Long name without dashes, e.g. "http-port". Environment variable: HTTPSD_HTTP_PORT. */
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  /** Repeatable (collects an array). */
  multiple?: boolean;
  /** Placeholder in --help, e.g. "FILE". */
  valueName?: string;
  description: string;
  /** Default shown in --help. */
  defaultText?: string;
}

export type CliValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** The environment variable that stands for an option: --tls-min → HTTPSD_TLS_MIN. */
export function envNameFor(optionName: string): string {
  return 'HTTPSD_' + optionName.toUpperCase().replace(/-/g, '_');
}
