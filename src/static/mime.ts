/**
 * Content types from the maintained mime-db database (not a hand-written table).
 * The extension map is built once, at first use, with the same source preference as the `mime-types`
 * package: an IANA registration beats Apache's list, which beats nginx's, so `.js` is `text/javascript`
 * (RFC 9239) rather than the legacy `application/javascript`.
 */
import { createRequire } from 'node:module';

interface MimeEntry {
  source?: 'iana' | 'apache' | 'nginx';
  charset?: string;
  compressible?: boolean;
  extensions?: string[];
}

const SOURCE_RANK: Record<string, number> = { iana: 3, apache: 2, nginx: 1 };

interface MimeTables {
  byExtension: Map<string, string>;
  entries: Record<string, MimeEntry>;
}

let tables: MimeTables | undefined;

function loadTables(): MimeTables {
  if (tables) return tables;
  const require = createRequire(import.meta.url);
  const entries = require('mime-db/db.json') as Record<string, MimeEntry>;
  const byExtension = new Map<string, string>();
  for (const [type, entry] of Object.entries(entries)) {
    for (const extension of entry.extensions ?? []) {
      const existing = byExtension.get(extension);
      if (existing !== undefined) {
        const existingRank = SOURCE_RANK[entries[existing]?.source ?? ''] ?? 0;
        const newRank = SOURCE_RANK[entry.source ?? ''] ?? 0;
        // Keep the better-sourced type; on a tie prefer a non-`application/` type (text/x beats application/x).
        if (existingRank > newRank) continue;
        if (existingRank === newRank && !existing.startsWith('application/')) continue;
      }
      byExtension.set(extension, type);
    }
  }
  tables = { byExtension, entries };
  return tables;
}

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The bare media type for a file name, by its last extension; application/octet-stream when unknown. */
export function mediaTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0 || dot === fileName.length - 1) return DEFAULT_CONTENT_TYPE;
  const extension = fileName.slice(dot + 1).toLowerCase();
  return loadTables().byExtension.get(extension) ?? DEFAULT_CONTENT_TYPE;
}

/** Whether the type is textual enough to carry `charset=utf-8`: text/*, JavaScript, JSON and its +json kin. */
function wantsCharset(mediaType: string): boolean {
  if (mediaType.startsWith('text/')) return true;
  if (mediaType.endsWith('+json') || mediaType.endsWith('/json')) return true;
  return loadTables().entries[mediaType]?.charset?.toUpperCase() === 'UTF-8';
}

/** The Content-Type header value for a file name: the media type, plus `; charset=utf-8` for text types. */
export function contentTypeFor(fileName: string): string {
  const mediaType = mediaTypeFor(fileName);
  // Memoised per media type: the set is bounded by mime-db (unknown extensions all map to the default type).
  let value = contentTypeByMediaType.get(mediaType);
  if (value === undefined) {
    value = wantsCharset(mediaType) ? `${mediaType}; charset=utf-8` : mediaType;
    contentTypeByMediaType.set(mediaType, value);
  }
  return value;
}

const contentTypeByMediaType = new Map<string, string>();
const compressibleByContentType = new Map<string, boolean>();

/** Whether compressing this type pays off (mime-db's `compressible`, or any text/*). */
export function isCompressible(mediaType: string): boolean {
  let known = compressibleByContentType.get(mediaType);
  if (known === undefined) {
    known = computeCompressible(mediaType);
    // Only values contentTypeFor produced are memoised (bounded by mime-db), never arbitrary caller input.
    if (contentTypeByMediaType.get(mediaType.split(';', 1)[0]!) === mediaType) {
      compressibleByContentType.set(mediaType, known);
    }
  }
  return known;
}

function computeCompressible(mediaType: string): boolean {
  const bare = mediaType.split(';', 1)[0]!.trim().toLowerCase();
  if (bare.startsWith('text/')) return true;
  // mime-db marks octet-stream compressible, but unknown bytes are as likely archives or media: not worth the CPU.
  if (bare === DEFAULT_CONTENT_TYPE) return false;
  if (bare.endsWith('+json') || bare.endsWith('+xml')) return true;
  return loadTables().entries[bare]?.compressible === true;
}
