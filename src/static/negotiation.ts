/**
 * Proactive content negotiation (RFC 9110 §12): Accept-Encoding and Accept with quality values.
 */

/** Parses a comma-separated list of `token;q=value` into a map of lower-cased token → q (0..1). */
export function parseQualityList(header: string | null, maxItems = 64): Map<string, number> {
  const result = new Map<string, number>();
  if (!header) return result;
  const items = header.split(',');
  // Bounded: a header with thousands of items is not a real client and should not cost us work.
  for (const item of items.slice(0, maxItems)) {
    const [rawToken, ...params] = item.split(';');
    const token = rawToken!.trim().toLowerCase();
    if (token === '') continue;
    let quality = 1;
    for (const param of params) {
      const [key, value] = param.split('=', 2).map((part) => part.trim());
      if (key?.toLowerCase() === 'q' && value !== undefined) {
        // RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); anything else is invalid → 0.
        quality = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : 0;
      }
    }
    // The first occurrence wins if a client repeats a coding.
    if (!result.has(token)) result.set(token, quality);
  }
  return result;
}

export type ContentCoding = 'br' | 'zstd' | 'gzip';

/** Server preference among equally acceptable codings: smallest output first. */
const CODING_PREFERENCE: readonly ContentCoding[] = ['br', 'zstd', 'gzip'];

/**
 * Picks the content coding to send among `available`, or 'identity'.
 * RFC 9110 §12.5.3: a coding with q=0 is not acceptable; `*` covers codings not listed; identity is acceptable
 * unless excluded. Highest q wins; ties go to the server's preference; identity wins only when the client ranks it
 * strictly higher than every available coding.
 */
export function chooseEncoding(acceptEncoding: string | null, available: readonly ContentCoding[]): ContentCoding | 'identity' {
  if (!acceptEncoding || available.length === 0) return 'identity';
  const qualities = parseQualityList(acceptEncoding);
  const wildcard = qualities.get('*');
  const qualityOf = (coding: string): number => {
    const explicit = qualities.get(coding) ?? (coding === 'gzip' ? qualities.get('x-gzip') : undefined);
    return explicit ?? wildcard ?? 0;
  };
  let best: ContentCoding | undefined;
  let bestQuality = 0;
  for (const coding of CODING_PREFERENCE) {
    if (!available.includes(coding)) continue;
    const quality = qualityOf(coding);
    if (quality > bestQuality) {
      best = coding;
      bestQuality = quality;
    }
  }
  if (best === undefined) return 'identity';
  const identityQuality = qualities.get('identity');
  if (identityQuality !== undefined && identityQuality > bestQuality) return 'identity';
  return best;
}

/** Whether the client prefers application/json over text/html (for directory listings). */
export function prefersJson(accept: string | null): boolean {
  if (!accept) return false;
  const qualities = parseQualityList(accept);
  const json = qualities.get('application/json') ?? 0;
  if (json === 0) return false;
  const html = qualities.get('text/html') ?? qualities.get('text/*') ?? qualities.get('*/*') ?? 0;
  return json > html || (json === html && !qualities.has('text/html'));
}

/** Whether the client would take an HTML page (for SPA fallback on unknown paths). */
export function acceptsHtml(accept: string | null): boolean {
  if (!accept) return false;
  const qualities = parseQualityList(accept);
  return (qualities.get('text/html') ?? 0) > 0;
}
