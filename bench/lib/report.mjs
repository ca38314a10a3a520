// Turns per-round measurements into medians, ratios, target checks, a markdown table and an SVG bar chart.

export function median(values) {
  const sorted = values.filter((value) => typeof value === 'number' && Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** rows[scenarioId][serverName] = { median, min, max, cpu, perCpu, rounds, ratio, errors } */
export function summarize(results, scenarios, peers) {
  const summary = {};
  for (const scenario of scenarios) {
    const row = {};
    for (const peer of peers) {
      const rounds = results.filter((entry) => entry.scenario === scenario.id && entry.server === peer.name);
      if (rounds.length === 0) continue;
      const good = rounds.filter((entry) => typeof entry.value === 'number');
      const values = good.map((entry) => entry.value);
      row[peer.name] = {
        median: median(values),
        min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null,
        cpu: median(good.map((entry) => entry.cpu)),
        perCpu: median(good.map((entry) => entry.perCpu)),
        failed: rounds.reduce((sum, entry) => sum + (entry.failed ?? 0), 0),
        errors: rounds.filter((entry) => entry.error).map((entry) => entry.error),
        notes: [...new Set(rounds.filter((entry) => entry.note).map((entry) => entry.note))],
        rounds: rounds.length,
        skipped: rounds.find((entry) => entry.skipped)?.skipped,
      };
    }
    const base = row[scenario.baseline]?.median;
    for (const cell of Object.values(row)) {
      cell.ratio = base && cell.median !== null ? cell.median / base : null;
    }
    summary[scenario.id] = row;
  }
  return summary;
}

/** A target: `server`'s median in `scenario` against `against`'s, at least (or at most, lowerIsBetter) `ratio`. */
const goal = (text, scenario, server, against, ratio, extra = {}) => ({ text, scenario, server, against, ratio, ...extra });

/** The issues' targets, each a comparison of two medians of the same run. */
export const targets = [
  goal('h2 hello: httpsd FastResponse >= 2.0x node:http2 stream API', 'h2-hello', 'httpsd-fast', 'node-http2-stream', 2.0),
  goal('h2 hello: httpsd global Response >= 1.0x node:http2 compat API', 'h2-hello', 'httpsd-global', 'node-http2-compat', 1.0),
  goal('h1 hello: httpsd FastResponse >= 1.5x node:https', 'h1-hello', 'httpsd-fast', 'node-https', 1.5),
  goal('h1 hello: httpsd global Response >= 1.0x node:https', 'h1-hello', 'httpsd-global', 'node-https', 1.0),
  goal('h2 hello: httpsd global Response >= 2.0x node:http2 stream API', 'h2-hello', 'httpsd-global', 'node-http2-stream', 2.0),
  goal('1 MiB download: httpsd >= 0.9x node:http2 MB/s', 'download-1m', 'httpsd-fast', 'node-http2-stream', 0.9),
  goal('idle h2 connection memory: httpsd <= 0.7x node:http2', 'idle-memory', 'httpsd-fast', 'node-http2-stream', 0.7, { lowerIsBetter: true }),
  goal('static file, 1 KiB: httpsd >= 1.0x nginx', 'static-small', 'httpsd-fast', 'nginx', 1.0),
  goal('static file, 1 MiB: httpsd >= 1.0x nginx', 'static-1m', 'httpsd-fast', 'nginx', 1.0),
  goal('10 MiB upload: httpsd >= 1.2x node:http2 stream API', 'upload-10m', 'httpsd-fast', 'node-http2-stream', 1.2),
  goal('new TLS connections (ECDSA): httpsd >= 1.0x node:http2 stream API', 'handshake-ecdsa', 'httpsd-fast', 'node-http2-stream', 1.0),
  goal('h3 hello: httpsd >= 1.5x Caddy', 'h3-hello', 'httpsd-fast', 'caddy', 1.5),
  goal('1 MiB over h3: httpsd >= 1.0x Caddy', 'h3-download-1m', 'httpsd-fast', 'caddy', 1.0),
  // Reported without a goal: httpsd's h3 against its own h2 with the same concurrency (different load generators).
  goal('h3 hello against httpsd\'s own h2 hello', 'h3-hello', 'httpsd-fast', 'httpsd-fast', undefined, { againstScenario: 'h2-hello' }),
  goal('1 MiB over h3 against httpsd\'s own h2 (1 MiB download)', 'h3-download-1m', 'httpsd-fast', 'httpsd-fast', undefined,
    { againstScenario: 'download-1m' }),
  goal('WebSocket echo, 20 B: httpsd >= 1.3x the ws package', 'ws-echo-20', 'httpsd-fast', 'ws-node', 1.3),
  goal('WebSocket echo, 4 KiB: httpsd >= 1.3x the ws package', 'ws-echo-4k', 'httpsd-fast', 'ws-node', 1.3),
  goal('WebSocket broadcast: httpsd publish() >= 2x the ws package send() loop', 'ws-broadcast', 'httpsd-fast', 'ws-node', 2.0),
];

/**
 * Each target compares two medians of the same run: a server against another in the same scenario, or (with
 * againstScenario) against a cell of another scenario. A target without a ratio is reported, never met or missed.
 */
export function checkTargets(summary) {
  return targets.map((target) => {
    const mineCell = summary[target.scenario]?.[target.server];
    const theirsCell = summary[target.againstScenario ?? target.scenario]?.[target.against];
    const mine = mineCell?.median;
    const theirs = theirsCell?.median;
    if (mine == null || theirs == null || theirs === 0) return { ...target, status: 'not measured', measured: null };
    const measured = mine / theirs;
    // The same comparison per CPU-second of each server: steadier than throughput when other work shares the CPUs.
    const perCpu = mineCell.perCpu && theirsCell.perCpu ? mineCell.perCpu / theirsCell.perCpu : null;
    if (target.ratio === undefined) return { ...target, status: 'reported', measured, perCpu };
    const met = target.lowerIsBetter ? measured <= target.ratio : measured >= target.ratio;
    return { ...target, status: met ? 'met' : 'missed', measured, perCpu };
  });
}

function formatNumber(value, unit) {
  if (value == null || !Number.isFinite(value)) return '–';
  if (unit === 'KiB/conn') return value.toFixed(1);
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  return value.toFixed(1);
}

export function markdownTable(summary, scenarios, peers) {
  const lines = [
    '| Scenario | Server | Result (median) | min–max | vs baseline | server CPU s | per CPU-s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const scenario of scenarios) {
    const row = summary[scenario.id];
    if (!row) continue;
    for (const peer of peers) {
      const cell = row[peer.name];
      if (!cell) continue;
      const title = `${scenario.title}`;
      // Servers a scenario does not compare would only fill the table with n/a rows.
      if (cell.skipped === 'not in this comparison') continue;
      if (cell.skipped) {
        lines.push(`| ${title} | ${peer.label} | n/a: ${cell.skipped} | | | | |`);
        continue;
      }
      if (cell.median == null) {
        lines.push(`| ${title} | ${peer.label} | failed: ${(cell.errors[0] ?? 'no result').replace(/\|/g, '/').slice(0, 120)} | | | | |`);
        continue;
      }
      const isBaseline = peer.name === scenario.baseline;
      const ratio = cell.ratio == null ? '–' : `${cell.ratio.toFixed(2)}×${isBaseline ? ' (base)' : ''}`;
      const perCpu = cell.perCpu == null ? '–' : formatNumber(cell.perCpu, 'req/s');
      const failures = cell.failed > 0 && scenario.id !== 'idle-memory' ? ` (${cell.failed} failed)` : '';
      const notes = cell.notes?.length ? `; ${cell.notes.join('; ').replace(/\|/g, '/')}` : '';
      lines.push(`| ${title} | ${peer.label} | ${formatNumber(cell.median, scenario.unit)} ${scenario.unit}${failures}${notes} | `
        + `${formatNumber(cell.min, scenario.unit)}–${formatNumber(cell.max, scenario.unit)} | ${ratio} | `
        + `${cell.cpu == null ? '–' : cell.cpu.toFixed(2)} | ${perCpu} |`);
    }
  }
  return lines.join('\n');
}

export function targetLines(checks) {
  return checks.map((check) => {
    const mark = { met: 'met', missed: 'MISSED', reported: 'measured' }[check.status] ?? 'not measured';
    const perCpu = check.perCpu == null ? '' : `; per CPU-second ${check.perCpu.toFixed(2)}×`;
    const measured = check.measured == null ? '' : ` (measured ${check.measured.toFixed(2)}×${perCpu})`;
    return `- ${mark}: ${check.text}${measured}`;
  }).join('\n');
}

function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[char]);
}

/** Hand-written SVG: one panel per scenario, one horizontal bar per server, httpsd highlighted. */
export function svgChart(summary, scenarios, peers, subtitle) {
  const width = 920;
  const labelWidth = 190;
  const barArea = width - labelWidth - 120;
  const barHeight = 16;
  const gap = 4;
  const panels = [];
  let y = 84;
  const colors = { httpsd: '#1f6feb', node: '#6e7781', peer: '#b08800' };
  const legend = [['httpsd', colors.httpsd], ['Node.js built-in servers', colors.node], ['other servers', colors.peer]]
    .map(([text, color], index) => `<rect x="${10 + index * 200}" y="50" width="12" height="12" fill="${color}" rx="2"/>`
      + `<text x="${28 + index * 200}" y="60" class="label">${escapeXml(text)}</text>`).join('\n');
  for (const scenario of scenarios) {
    const row = summary[scenario.id];
    if (!row) continue;
    const cells = peers.map((peer) => ({ peer, cell: row[peer.name] })).filter(({ cell }) => cell && cell.median != null);
    if (cells.length === 0) continue;
    const max = Math.max(...cells.map(({ cell }) => cell.max ?? cell.median));
    const parts = [];
    const better = scenario.lowerIsBetter ? 'lower is better' : 'higher is better';
    parts.push(`<text x="10" y="${y}" class="title">${escapeXml(`${scenario.title} — ${scenario.unit}, ${better}`)}</text>`);
    y += 8;
    for (const { peer, cell } of cells) {
      const barWidth = max > 0 ? Math.max(1, (cell.median / max) * barArea) : 1;
      const color = colors[peer.family] ?? colors.peer;
      const ratio = cell.ratio == null ? '' : ` (${cell.ratio.toFixed(2)}×)`;
      parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 4}" class="label" text-anchor="end">${escapeXml(peer.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${barWidth.toFixed(1)}" height="${barHeight}" fill="${color}" rx="2"/>`);
      let labelX = labelWidth + barWidth + 6;
      if (cell.min != null && cell.max != null && max > 0 && cell.max > cell.min) {
        const x1 = labelWidth + (cell.min / max) * barArea;
        const x2 = labelWidth + (cell.max / max) * barArea;
        const mid = y + barHeight / 2;
        parts.push(`<path d="M${x1.toFixed(1)} ${mid}H${x2.toFixed(1)}M${x1.toFixed(1)} ${mid - 4}V${mid + 4}M${x2.toFixed(1)} ${mid - 4}V${mid + 4}" class="range"/>`);
        // The label goes after the whisker so the two never overlap.
        labelX = Math.max(labelX, x2 + 6);
      }
      parts.push(`<text x="${labelX.toFixed(1)}" y="${y + barHeight - 4}" class="value">${escapeXml(formatNumber(cell.median, scenario.unit) + ratio)}</text>`);
      y += barHeight + gap;
    }
    y += 26;
    panels.push(parts.join('\n'));
  }
  const height = y;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.title { font-size: 14px; font-weight: 600; fill: #1f2328; }
.label { font-size: 12px; fill: #1f2328; }
.value { font-size: 11px; fill: #57606a; }
.range { stroke: #1f2328; stroke-width: 1; opacity: 0.55; fill: none; }
.head { font-size: 16px; font-weight: 700; fill: #1f2328; }
.sub { font-size: 11px; fill: #57606a; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="22" class="head">httpsd benchmark: median of rounds, whiskers show min–max, ratio to the scenario's baseline</text>
<text x="10" y="38" class="sub">${escapeXml(subtitle)}</text>
${legend}
${panels.join('\n')}
</svg>
`;
}

/** Scenario × server matrix of medians (and ratios): the table to read first. */
export function matrixTable(summary, scenarios, peers) {
  const shown = peers.filter((peer) => scenarios.some((scenario) => summary[scenario.id]?.[peer.name]?.median != null));
  const lines = [
    `| Scenario (unit) | ${shown.map((peer) => peer.label).join(' | ')} |`,
    `| --- | ${shown.map(() => '---:').join(' | ')} |`,
  ];
  for (const scenario of scenarios) {
    const row = summary[scenario.id];
    if (!row || !shown.some((peer) => row[peer.name]?.median != null)) continue;
    const cells = shown.map((peer) => {
      const cell = row[peer.name];
      if (!cell || cell.skipped) return 'n/a';
      if (cell.median == null) return 'failed';
      const ratio = cell.ratio == null || peer.name === scenario.baseline ? '' : ` (${cell.ratio.toFixed(2)}×)`;
      const value = formatNumber(cell.median, scenario.unit);
      return peer.name === scenario.baseline ? `**${value}**` : `${value}${ratio}`;
    });
    lines.push(`| ${scenario.title} (${scenario.unit}) | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
