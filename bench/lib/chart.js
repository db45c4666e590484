// A dependency-free SVG bar chart: one bar group per route, one bar per server measured on it.

const COLORS = {
  bare: '#9aa0a6',
  'express-session': '#e8710a',
  ours: '#1a73e8',
  variant: '#34a853',
  // our other engines: shades apart from the db engine's blue
  'ours-cache': '#d93025',
  'ours-cached-db': '#a142f4',
  'ours-signed-cookies': '#188038',
  'ours-file': '#795548',
  'ours-better-sqlite3': '#4285f4',
  'ours-integrations': '#8ab4f8',
  // the hand-written limits: light shades of their store's colour
  limit: '#aecbfa',
  'limit-better-sqlite3': '#c6dafc',
  'limit-redis': '#f6aea9',
  'limit-signed-cookies': '#a8dab5',
  django: '#0c4b33',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value) {
  if (!(value > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

/**
 * @param {{ title: string, subtitle: string, footnote?: string, yLabel?: string, routes: {label: string, bars: {server: string, label: string, value: number, note?: string}[]}[] }} data
 */
export function barChart({ title, subtitle, footnote, yLabel, routes }) {
  const nBars = Math.max(...routes.map((r) => r.bars.length));
  // One legend entry per server, in order of first appearance (not every server runs every route).
  const legend = [];
  for (const route of routes) for (const bar of route.bars) if (!legend.some((b) => b.label === bar.label)) legend.push(bar);
  // Wide enough for bars of ~44 px (room for "12,345" above each) when there are many servers.
  // ... and for the subtitle and the footnote (about 6.4 px a character at 12 px).
  const width = Math.max(860, Math.ceil(90 + routes.length * ((nBars * 44) / 0.8)), Math.ceil(100 + (subtitle?.length ?? 0) * 6.4), Math.ceil(60 + (footnote?.length ?? 0) * 6.4));
  // The legend wraps: one more line per ~width of labels.
  const legendLines = [[]];
  {
    let x = 70;
    for (const bar of legend) {
      const w = 28 + bar.label.length * 6.6;
      if (x + w > width - 20 && legendLines.at(-1).length > 0) {
        legendLines.push([]);
        x = 70;
      }
      legendLines.at(-1).push(bar);
      x += w;
    }
  }
  const height = 440 + (legendLines.length - 1) * 18;
  const left = 70;
  const right = 20;
  const top = 70;
  const bottom = 90 + (legendLines.length - 1) * 18;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxValue = niceMax(Math.max(...routes.flatMap((r) => r.bars.map((b) => b.value)).filter(Number.isFinite)));
  const y = (v) => top + plotH - (v / maxValue) * plotH;
  const groupW = plotW / routes.length;
  const barW = Math.min(56, (groupW * 0.8) / nBars);
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="26" font-size="17" font-weight="600" fill="#202124">${esc(title)}</text>`,
    `<text x="${left}" y="46" fill="#5f6368">${esc(subtitle)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (maxValue / 5) * i;
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${i === 0 ? '#5f6368' : '#e0e0e0'}"/>`,
      `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#5f6368">${Math.round(v).toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#5f6368">${esc(yLabel ?? 'requests/s (median of rounds)')}</text>`,
  );
  routes.forEach((route, g) => {
    const gx = left + groupW * g + (groupW - barW * route.bars.length) / 2;
    route.bars.forEach((bar, b) => {
      const x = gx + b * barW;
      const v = Number.isFinite(bar.value) ? bar.value : 0;
      out.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[bar.server] ?? '#666'}"><title>${esc(`${route.label} · ${bar.label}: ${Math.round(v)} ${yLabel ?? 'req/s'}`)}</title></rect>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(y(v) - 5).toFixed(1)}" text-anchor="middle" font-size="11" fill="#202124">${Math.round(v).toLocaleString('en-US')}</text>`,
      );
      if (bar.note) {
        out.push(
          `<text x="${(x + barW / 2).toFixed(1)}" y="${(y(v) - 19).toFixed(1)}" text-anchor="middle" font-size="11" font-weight="600" fill="${COLORS[bar.server] ?? '#666'}">${esc(bar.note)}</text>`,
        );
      }
    });
    out.push(
      `<text x="${(left + groupW * g + groupW / 2).toFixed(1)}" y="${top + plotH + 20}" text-anchor="middle" font-size="13" fill="#202124">${esc(route.label)}</text>`,
    );
  });
  // legend
  legendLines.forEach((line, i) => {
    let lx = left;
    const ly = height - 30 - (legendLines.length - 1 - i) * 18;
    for (const bar of line) {
      out.push(
        `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[bar.server] ?? '#666'}"/>`,
        `<text x="${lx + 18}" y="${ly}" fill="#202124">${esc(bar.label)}</text>`,
      );
      lx += 28 + bar.label.length * 6.6;
    }
  });
  out.push(
    `<text x="${width - right}" y="${height - 12}" text-anchor="end" fill="#5f6368">${esc(footnote ?? 'above our bars: req/s ratio to express-session (same rounds)')}</text>`,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
