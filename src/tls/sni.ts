/**
 * Server-name matching for SNI (RFC 6066 §3) with wildcards per RFC 6125 §6.4.3: "*" stands for exactly one whole
 * left-most label, so "*.example.test" matches "a.example.test" but neither "example.test" nor "a.b.example.test".
 */

/** Lower-case, strip one trailing dot (an absolute name), reject anything that is not a plausible DNS name. */
export function normalizeServerName(name: string): string | undefined {
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.length === 0 || n.length > 253) return undefined;
  if (!/^[a-z0-9*_-]+(\.[a-z0-9_-]+)*$/.test(n)) return undefined;
  return n;
}

/** Validates a configured SNI pattern ("example.test", "*.example.test"); returns the normalized form or an error text. */
export function validateSniPattern(pattern: string): { name: string } | { error: string } {
  if (pattern.includes('*') && !/^\*\.[^*]+$/.test(pattern.trim())) {
    return { error: `"${pattern}": a wildcard must be the whole left-most label, as in *.example.test` };
  }
  const n = normalizeServerName(pattern);
  if (n === undefined) return { error: `"${pattern}" is not a DNS name` };
  if (n.includes('*')) {
    // Only a full left-most label may be a wildcard, and not directly under a top-level label (RFC 6125 §7.2).
    if (!n.startsWith('*.') || n.indexOf('*', 1) !== -1) return { error: `"${pattern}": a wildcard must be the whole left-most label, as in *.example.test` };
    if (n.split('.').length < 3) return { error: `"${pattern}": a wildcard needs at least two labels after it, as in *.example.test` };
  }
  return { name: n };
}

export class SniTable<T> {
  private readonly exact = new Map<string, T>();
  private readonly wildcard = new Map<string, T>();

  constructor(entries: Iterable<[string, T]> = []) {
    for (const [name, value] of entries) this.set(name, value);
  }

  set(pattern: string, value: T): void {
    const checked = validateSniPattern(pattern);
    if ('error' in checked) throw new Error(checked.error);
    if (checked.name.startsWith('*.')) this.wildcard.set(checked.name.slice(2), value);
    else this.exact.set(checked.name, value);
  }

  get size(): number {
    return this.exact.size + this.wildcard.size;
  }

  /** Exact name first, then a one-label wildcard; undefined means "use the default certificate". */
  lookup(serverName: string): T | undefined {
    const n = normalizeServerName(serverName);
    if (n === undefined || n.includes('*')) return undefined;
    const exact = this.exact.get(n);
    if (exact !== undefined) return exact;
    const dot = n.indexOf('.');
    if (dot <= 0) return undefined;
    return this.wildcard.get(n.slice(dot + 1));
  }
}
