/**
 * Directory listings: a small, sortable HTML page (server-side sorting through `?sort=` and `?order=`, so it needs
 * no script), or JSON when the client prefers application/json. Every file name is HTML-escaped in text and
 * percent-encoded in links: a file called `<script>.txt` must render as text, never as markup.
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import { hasDotSegmentBelow, isInside } from './paths.js';

/** Entries listed per directory at most; a huge directory should not cost unbounded memory per request. */
export const MAX_LISTING_ENTRIES = 10_000;

export interface ListingEntry {
  name: string;
  type: 'file' | 'directory';
  size: number;
  modified: Date;
}

export interface Listing {
  entries: ListingEntry[];
  truncated: boolean;
}

/** Entries examined concurrently: enough to hide latency, few enough not to monopolise the thread pool. */
const STAT_BATCH = 32;

export async function readListing(realRoot: string, directory: string, allowDotfiles: boolean): Promise<Listing> {
  // opendir streams the names, so a directory of a million files costs no more than MAX_LISTING_ENTRIES of them.
  const candidates: Dirent[] = [];
  let truncated = false;
  const dir = await opendir(directory, { bufferSize: 128 });
  try {
    for await (const dirent of dir) {
      if (!allowDotfiles && dirent.name.startsWith('.')) continue;
      if (candidates.length === MAX_LISTING_ENTRIES) {
        truncated = true;
        break;
      }
      candidates.push(dirent);
    }
  } finally {
    await dir.close().catch(() => {}); // already closed when the iteration ran to the end
  }
  const entries: ListingEntry[] = [];
  for (let start = 0; start < candidates.length; start += STAT_BATCH) {
    const batch = await Promise.all(
      candidates.slice(start, start + STAT_BATCH).map(async (dirent): Promise<ListingEntry | undefined> => {
        const path = join(directory, dirent.name);
        try {
          if (dirent.isSymbolicLink()) {
            // Do not even show names of links that lead outside the root (they would 404 anyway).
            const target = await realpath(path);
            if (!isInside(realRoot, target)) return undefined;
            if (!allowDotfiles && hasDotSegmentBelow(realRoot, target)) return undefined;
          }
          const stats = await stat(path);
          if (!stats.isFile() && !stats.isDirectory()) return undefined; // sockets, FIFOs and devices are not served
          return {
            name: dirent.name,
            type: stats.isDirectory() ? 'directory' : 'file',
            size: stats.isDirectory() ? 0 : stats.size,
            modified: stats.mtime,
          };
        } catch {
          return undefined; // vanished or unreadable between readdir and stat: leave it out
        }
      }),
    );
    for (const entry of batch) if (entry) entries.push(entry);
  }
  return { entries, truncated };
}

export type SortKey = 'name' | 'size' | 'date';

export function sortEntries(entries: ListingEntry[], key: SortKey, descending: boolean): ListingEntry[] {
  const direction = descending ? -1 : 1;
  return [...entries].sort((a, b) => {
    // Directories first regardless of key, as every file browser does.
    if (a.type !== b.type) return a.type === 'directory' ? -1 : 1;
    let order = 0;
    if (key === 'size') order = a.size - b.size;
    else if (key === 'date') order = a.modified.getTime() - b.modified.getTime();
    if (order === 0) order = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    return order * direction;
  });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) =>
    char === '&' ? '&amp;' : char === '<' ? '&lt;' : char === '>' ? '&gt;' : char === '"' ? '&quot;' : '&#39;',
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function formatDate(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** `displayPath` is the decoded URL path of the directory ("/docs/"), shown as the title. */
export function renderListingHtml(
  displayPath: string,
  listing: Listing,
  key: SortKey,
  descending: boolean,
  isRoot: boolean,
): string {
  const sorted = sortEntries(listing.entries, key, descending);
  const header = (label: string, column: SortKey): string => {
    const nextDescending = column === key ? !descending : false;
    const arrow = column === key ? (descending ? ' ↓' : ' ↑') : '';
    const order = nextDescending ? 'desc' : 'asc';
    const title = `Sort by ${label.toLowerCase()}, ${nextDescending ? 'descending' : 'ascending'}`;
    return `<th><a href="?sort=${column}&amp;order=${order}" title="${title}">${label}${arrow}</a></th>`;
  };
  const rows: string[] = [];
  if (!isRoot) rows.push('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  for (const entry of sorted) {
    const suffix = entry.type === 'directory' ? '/' : '';
    // `./` prefix keeps a name like `javascript:x` or `a:b` from being read as a URL scheme.
    const href = './' + encodeURIComponent(entry.name) + suffix;
    rows.push(
      `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(entry.name + suffix)}</a></td>` +
        `<td data-bytes="${entry.size}">${entry.type === 'directory' ? '—' : formatSize(entry.size)}</td>` +
        `<td><time datetime="${entry.modified.toISOString()}">${formatDate(entry.modified)}</time></td></tr>`,
    );
  }
  const title = escapeHtml(`Index of ${displayPath}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.3rem;word-break:break-all}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e5e5e5}
th a{text-decoration:underline;text-underline-offset:.2em}
td:nth-child(2),th:nth-child(2){text-align:right;white-space:nowrap}
td:nth-child(3){white-space:nowrap;color:#666}
a{color:#0550ae;text-decoration:none}a:hover{text-decoration:underline}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}td,th{border-color:#333}a{color:#6cb6ff}}
</style>
</head>
<body>
<h1>${title}</h1>
<table>
<thead><tr>${header('Name', 'name')}${header('Size', 'size')}${header('Modified', 'date')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${listing.truncated ? `<p>Only the first ${MAX_LISTING_ENTRIES} entries are shown.</p>` : ''}
</body>
</html>
`;
}

export function renderListingJson(listing: Listing, key: SortKey, descending: boolean): string {
  return JSON.stringify({
    entries: sortEntries(listing.entries, key, descending).map((entry) => ({
      name: entry.name,
      type: entry.type,
      size: entry.size,
      modified: entry.modified.toISOString(),
    })),
    truncated: listing.truncated,
  });
}
