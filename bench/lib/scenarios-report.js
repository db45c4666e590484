// The report of bench/scenarios.js: scenarios.md, the size chart (bench/lib/chart.js) and the soak's
// RSS/throughput line chart.
import { barChart } from './chart.js';
import { fmt, fmtRatio } from './stats.js';

const MiB = 2 ** 20;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sqlCell = (q) => (q ? `${fmt(q.select, 1)} S + ${fmt(q.write, 1)} W + ${fmt(q.other, 1)} O` : '–');

export function renderMarkdown({ CONFIG, SERVERS, ROUTES, meta, results }) {
  const L = [];
  L.push('# How the cost grows with the work', '');
  L.push(
    `${meta.date} · commit \`${meta.commit}\` · Node ${meta.node} · ${meta.cpu} · ${meta.pinning} · whole run ${meta.runtime}` +
      `${CONFIG.quick ? ' · **--quick** (smoke run: one short round, figures are rough)' : ''}.`,
    '',
  );
  L.push(
    `Each figure is the median over ${CONFIG.rounds} round(s) (scenario 2: ${CONFIG.rowsRounds}) of ${CONFIG.duration} s with ${CONFIG.connections} autocannon connections` +
      `, after a warm-up of ${CONFIG.warmup} requests per route (from the ${CONFIG.connections} clients at once) at each server start; the server runs alone on its CPU, the load generator on another. ` +
      `"CPU µs/req" is the server process's CPU time (all its threads) per request: steadier on a shared machine than req/s. ` +
      `Ratios are taken round by round (the two runs compared ran back to back), then the median.`,
    '',
  );
  if (meta.failures.length > 0) {
    L.push('**Correctness checks FAILED** (the run exits non-zero):', '');
    for (const f of meta.failures) L.push(`- ${f}`);
    L.push('');
  } else {
    L.push(
      'Correctness checks: all passed (every response 2xx; no lost /write; the same SQL statements per request for the big session as for the small one and on the full table as on the empty one; soak: one row per 2xx response).',
      '',
    );
  }

  // ---- summary
  const summary = summaryLines({ CONFIG, SERVERS, results });
  if (summary.length > 0) {
    L.push('## Summary', '');
    for (const line of summary) L.push(`- ${line}`);
    L.push('');
  }

  // ---- 1
  const size = results.size;
  if (size) {
    L.push(`## 1. A ${fmt(CONFIG.pad)}-character session next to the small one`, '');
    L.push(
      `Each server starts twice per round: once as usual (the session holds \`counter\`), once with \`BENCH_PAD=${CONFIG.pad}\`, where /write also stores a ${fmt(CONFIG.pad)}-character \`pad\` ` +
        `(hex digits) in the session, so every /read decodes and every /write encodes (and signs, compresses, stores) about 10 KB. ` +
        `Each of the ${CONFIG.connections} connections has its own session, created by a first /write. "big ÷ small" below 1× for req/s and above 1× for CPU is what the bigger session costs. ` +
        'Bare Nest keeps no session at all (its counter is a variable), so its ratios show how far two identical runs differ here. ' +
        '"Stored session_data": the longest `session_data` in the table after the 10 KB run (ours and Django compress it with zlib when that is shorter, as Django does; the limit server writes it uncompressed).',
      '',
    );
    const ids = Object.keys(size).filter((id) => size[id].ratio);
    if (ids.length > 0) {
      L.push('| server | route | small: req/s | 10 KB: req/s | big ÷ small req/s | small: CPU µs/req | 10 KB: CPU µs/req | big ÷ small CPU | stored session_data (10 KB run) |');
      L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const id of ids) {
        const r = size[id];
        for (const route of Object.keys(ROUTES)) {
          const s = r.small.summary[route];
          const b = r.big.summary[route];
          L.push(
            `| ${route === 'read' ? SERVERS[id].label : ''} | ${ROUTES[route].label} | ${fmt(s.rps)} | ${fmt(b.rps)} | ${fmtRatio(r.ratio[route].rps)} | ${fmt(s.cpuUs)} | ${fmt(b.cpuUs)} | ${fmtRatio(r.ratio[route].cpuUs)} | ${route === 'read' ? (Number.isFinite(r.big.storedBytes) ? `${fmt(r.big.storedBytes)} bytes` : '–') : ''} |`,
          );
        }
      }
      L.push(
        '',
        'req/s depends on what else the machine runs (a round where another process took the CPU shows as a dip); the CPU µs per request, and its ratio, are the steadier figures. ' +
          'A /write that stores 10 KB also writes several pages to the WAL, so the sqlite servers checkpoint (and fsync) more often.',
        '',
      );
      const withSql = ids.filter((id) => size[id].small.sql && Object.values(size[id].small.sql).some((q) => q.select + q.write + q.other > 0));
      if (withSql.length > 0) {
        L.push(`SQL statements per request (${CONFIG.countRequests} sequential requests; S = SELECT, W = INSERT/UPDATE/DELETE, O = other), small → 10 KB (checked: must not differ; Django's "other" statements excepted: its threads open their connections on whichever request comes first):`, '');
        L.push('| server | /read | /write |', '|---|---|---|');
        for (const id of withSql) {
          const r = size[id];
          L.push(`| ${SERVERS[id].label} | ${Object.keys(ROUTES).map((k) => `${sqlCell(r.small.sql[k])} → ${sqlCell(r.big.sql[k])}`).join(' | ')} |`);
        }
        L.push('');
      }
      if (meta.charts.includes('scenarios-size.svg')) L.push('![requests per CPU-second, small and 10 KB sessions](scenarios-size.svg)', '');
    }
    const out = Object.keys(size).filter((id) => size[id].leftOut || size[id].failed);
    for (const id of out) L.push(`- ${SERVERS[id].label}: ${size[id].leftOut ? `left out: ${size[id].leftOut}` : `failed: ${size[id].failed}`}`);
    if (out.length) L.push('');
  }

  // ---- 2
  const rows = results.rows;
  if (rows) {
    L.push(`## 2. /read with ${fmt(CONFIG.rows)} live rows in django_session next to an empty table`, '');
    L.push(
      `The full table: \`${rows.seed.file}\`, made by the package's migration then filled with ${fmt(rows.seed.rows)} unexpired rows in Django's format (random-looking 32-character keys, ` +
        `a real signed session from \`SessionCodec\`, \`expire_date\` as Django's UTC text spread over 2090–2099) with one prepared INSERT in one transaction ` +
        `(${rows.seed.seeded ? `seeded in ${fmt(rows.seed.seconds, 1)} s this run` : 'cached from an earlier run'}; ${fmt(rows.seed.bytes / 1e6)} MB). ` +
        `The empty table: a fresh file per start. Each server creates its ${CONFIG.connections} sessions in that table (a /write each), then /read is measured; afterwards the ` +
        `run's own rows are deleted from the seeded file (checked: exactly ${CONFIG.connections}, and ${fmt(rows.seed.rows)} + ${CONFIG.connections} rows were there). ` +
        'With the primary-key index, a lookup among a million rows costs a few more B-tree levels than among ten: the ratio should stay close to 1×.',
      '',
    );
    if (rows.seed.plan?.plan) {
      L.push(`sqlite's plan for the db engine's /read statement on the seeded table (\`EXPLAIN QUERY PLAN\`): ${rows.seed.plan.plan.map((p) => `\`${p}\``).join('; ')}.`, '', '```sql', `${rows.seed.plan.sql};`, '```', '');
    }
    if (rows.postgres) {
      L.push(
        `PostgreSQL ${rows.postgres.version}: the same on a database of the bench's own (\`djs_scenarios_1m\`, rows from \`generate_series\` with md5 keys; ${rows.postgres.seeded ? `seeded in ${fmt(rows.postgres.seconds, 1)} s` : 'cached'}) next to \`djs_scenarios_empty\`.`,
        '',
      );
    }
    const keys = Object.keys(rows.servers).filter((k) => rows.servers[k].ratio);
    if (keys.length > 0) {
      L.push(`| server | empty: req/s | ${fmt(CONFIG.rows)} rows: req/s | full ÷ empty req/s | empty: CPU µs/req | ${fmt(CONFIG.rows)} rows: CPU µs/req | full ÷ empty CPU | p99 ms empty → full | SQL per /read |`);
      L.push('|---|---:|---:|---:|---:|---:|---:|---|---|');
      for (const k of keys) {
        const r = rows.servers[k];
        const id = k.replace(/@pg$/, '');
        L.push(
          `| ${k.endsWith('@pg') ? SERVERS[id].pgLabel : SERVERS[id].label} | ${fmt(r.empty.summary.rps)} | ${fmt(r.full.summary.rps)} | ${fmtRatio(r.ratio.rps)} | ${fmt(r.empty.summary.cpuUs)} | ${fmt(r.full.summary.cpuUs)} | ${fmtRatio(r.ratio.cpuUs)} | ${fmt(r.empty.summary.p99)} → ${fmt(r.full.summary.p99)} | ${sqlCell(r.full.sql)} |`,
        );
      }
      L.push('');
    }
    for (const [k, r] of Object.entries(rows.servers)) {
      if (r.leftOut || r.failed) L.push(`- ${k.endsWith('@pg') ? SERVERS[k.replace(/@pg$/, '')].pgLabel : SERVERS[k].label}: ${r.leftOut ? `left out: ${r.leftOut}` : `failed: ${r.failed}`}`);
    }
    L.push('');
  }

  // ---- 3
  const soak = results.soak;
  if (soak) {
    L.push(`## 3. Soak: ${fmt(CONFIG.soakSeconds)} s of new sessions at full rate`, '');
    L.push(
      `POST /write without a cookie from ${CONFIG.connections} keep-alive clients in a closed loop (each sends its next request when the last is answered, and every request sent is answered before the run ends, so the count of 2xx is exact): ` +
        `every request creates a session, i.e. an INSERT, so the table grows all along. Every ${CONFIG.soakSampleMs / 1000} s the server reports its RSS and its event-loop delay over the interval (\`monitorEventLoopDelay\`). ` +
        `RSS saws up and down by tens of MiB as V8 grows its heap and collects it, so growth is judged on the floor: after a ${CONFIG.soakWarmupS} s warm-up, the lowest RSS of the second half of the samples vs that of the first half; ` +
        'a floor that rises more than max(8 MiB, 5 %) with a rising least-squares slope is flagged as a possible leak. ' +
        "Node's `monitorEventLoopDelay` counts its own timer period (its resolution: 10 ms in bench/server.js as written) in each figure, so a p50 at the resolution means no measurable delay. " +
        'Checked: every response 2xx and as many rows in django_session as 2xx responses.',
      '',
    );
    for (const [id, r] of Object.entries(soak)) {
      if (r.failed) {
        L.push(`**${SERVERS[id].label}**: failed: ${r.failed}`, '');
        continue;
      }
      const a = r.analysis;
      L.push(`### ${SERVERS[id].label}`, '');
      L.push(
        `${fmt(r.ok)} sessions created in ${fmt(r.wallMs / 1000, 1)} s (${fmt(r.ok / (r.wallMs / 1000))} req/s; ${fmt(a.rpsFirst)} req/s in the first interval, ${fmt(a.rpsLast)} in the last), ` +
          `${r.non2xx + r.errors === 0 ? 'all 2xx' : `**${r.non2xx} non-2xx, ${r.errors} errors**`}; ${fmt(r.rows)} rows in the table ${r.rows === r.ok ? '(= the 2xx responses: no lost write)' : '(**≠ the 2xx responses**)'}.`,
        '',
      );
      L.push(
        `RSS ${fmt(a.rssStart / MiB, 1)} MiB idle → ${fmt(a.rssAtWarmup / MiB, 1)} MiB at ${a.warmupS} s → ${fmt(a.rssEnd / MiB, 1)} MiB at the end (max ${fmt(a.rssMax / MiB, 1)}). ` +
          `After the warm-up: RSS floor ${fmt(a.rssFloorFirst / MiB, 1)} MiB in the first half, ${fmt(a.rssFloorLast / MiB, 1)} MiB in the second; median of the first three samples ${fmt(a.rssFirstMedian / MiB, 1)} MiB, of the last three ${fmt(a.rssLastMedian / MiB, 1)} MiB. ` +
          `Event-loop delay: worst interval p99 ${fmt(a.loopDelayP99Max, 1)} ms, worst single delay ${fmt(a.loopDelayMax, 1)} ms.`,
        '',
      );
      L.push(a.possibleLeak ? `**${a.verdict}.** Not a failure of the run, but worth a heap snapshot.` : `Verdict: ${a.verdict}.`, '');
      L.push('| t (s) | RSS (MiB) | loop delay p50 / p99 / max (ms) | req/s | CPU µs/req | server CPU (share of a core) | sessions so far |');
      L.push('|---:|---:|---|---:|---:|---:|---:|');
      for (const s of r.samples) {
        if (s.end) continue;
        L.push(
          `| ${fmt(s.t)} | ${fmt(s.rss / MiB, 1)}${s.rssFrom === 'proc' ? '*' : ''} | ${s.loopDelay ? `${fmt(s.loopDelay.p50, 1)} / ${fmt(s.loopDelay.p99, 1)} / ${fmt(s.loopDelay.max, 1)}` : '–'} | ${s.t ? fmt(s.rps) : '(idle)'} | ${s.t ? fmt(s.cpuUs) : ''} | ${s.t ? `${fmt(s.cpuShare * 100)} %` : ''} | ${fmt(s.ok)} |`,
        );
      }
      L.push('');
      if (r.samples.some((s) => s.rssFrom === 'proc')) L.push('\\* RSS read from /proc/<pid>/status (this server.js does not report it).', '');
    }
    if (meta.charts.includes('scenarios-soak.svg')) L.push('![soak: RSS and req/s over time](scenarios-soak.svg)', '');
  }

  if (meta.notes.length > 0) {
    L.push('## Notes', '');
    for (const n of meta.notes) L.push(`- ${n}`);
    L.push('');
  }
  L.push(`Run time per scenario: ${Object.entries(meta.timing).map(([k, v]) => `${k} ${fmt(v)} s`).join(', ')}.`, '');
  L.push('## Reproduce', '', '```sh', 'npm run build', 'node bench/scenarios.js            # about 5 minutes; bench/results/scenarios.md', 'node bench/scenarios.js --quick    # under a minute; bench/.tmp/results-quick/scenarios.md', 'node bench/scenarios.js --help', '```', '');
  return L.join('\n');
}

/** One line per scenario: the CPU ratios (the steadier figure) and the soak's verdicts. */
function summaryLines({ CONFIG, SERVERS, results }) {
  const out = [];
  const size = results.size;
  if (size) {
    const ids = Object.keys(size).filter((id) => size[id].ratio);
    if (ids.length > 0) {
      out.push(
        `**${fmt(CONFIG.pad / 1024)} KB session** (CPU per request, 10 KB ÷ small, /read and /write): ` +
          ids.map((id) => `${SERVERS[id].label} ${fmtRatio(size[id].ratio.read.cpuUs)} and ${fmtRatio(size[id].ratio.write.cpuUs)}`).join('; ') +
          '.',
      );
    }
  }
  const rows = results.rows;
  if (rows) {
    const keys = Object.keys(rows.servers).filter((k) => rows.servers[k].ratio);
    if (keys.length > 0) {
      out.push(
        `**${fmt(CONFIG.rows)} live rows** (/read, full table ÷ empty: CPU per request, req/s): ` +
          keys
            .map((k) => {
              const id = k.replace(/@pg$/, '');
              return `${k.endsWith('@pg') ? SERVERS[id].pgLabel : SERVERS[id].label} ${fmtRatio(rows.servers[k].ratio.cpuUs)}, ${fmtRatio(rows.servers[k].ratio.rps)}`;
            })
            .join('; ') +
          '.',
      );
    }
  }
  const soak = results.soak;
  if (soak) {
    for (const [id, r] of Object.entries(soak)) {
      if (r.failed) out.push(`**Soak**, ${SERVERS[id].label}: failed: ${r.failed}.`);
      else {
        out.push(
          `**Soak** (${fmt(CONFIG.soakSeconds)} s, ${fmt(r.ok)} new sessions, ${fmt(r.ok / (r.wallMs / 1000))} req/s), ${SERVERS[id].label}: ` +
            `${r.analysis.possibleLeak ? `**${r.analysis.verdict}**` : r.analysis.verdict}; rows = 2xx responses: ${r.rows === r.ok ? 'yes' : '**no**'}.`,
        );
      }
    }
  }
  return out;
}

/** Requests per CPU-second for each server, small and 10 KB, /read and /write; big ÷ small above the 10 KB bars. */
export function sizeChart({ CONFIG, SERVERS, ROUTES, meta, results }) {
  const size = results.size;
  const ids = Object.keys(size).filter((id) => size[id].ratio);
  const groups = [];
  for (const route of Object.keys(ROUTES)) {
    for (const which of ['small', 'big']) {
      groups.push({
        label: `${ROUTES[route].label}, ${which === 'small' ? 'small session' : `${fmt(CONFIG.pad / 1024)} KB session`}`,
        bars: ids.map((id) => ({
          server: SERVERS[id].color,
          label: SERVERS[id].label,
          value: 1e6 / size[id][which].summary[route].cpuUs,
          note: which === 'big' ? fmtRatio(1 / size[id].ratio[route].cpuUs) : undefined,
        })),
      });
    }
  }
  return barChart({
    title: 'Cost of a 10 KB session',
    subtitle: `requests per CPU-second of the server (1,000,000 ÷ CPU µs per request), median of ${CONFIG.rounds} round(s) × ${CONFIG.duration} s · ${CONFIG.connections} connections · Node ${meta.node} · ${meta.date.slice(0, 10)}`,
    yLabel: 'requests per CPU-second',
    routes: groups,
    footnote: 'above the 10 KB bars: small-session CPU ÷ 10 KB CPU (1× = the size costs nothing)',
  });
}

/** RSS (MiB, left axis) and req/s (right axis) over the soak, one pair of lines per server. */
export function soakChart({ CONFIG, SERVERS, meta, results }) {
  const runs = Object.entries(results.soak).filter(([, r]) => r.samples);
  const width = 860;
  const height = 380;
  const left = 70;
  const right = 70;
  const top = 60;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = runs.flatMap(([, r]) => r.samples.filter((s) => !s.end));
  const tMax = Math.max(CONFIG.soakSeconds, ...all.map((s) => s.t));
  const niceUp = (v) => {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  };
  const rssMax = niceUp(Math.max(...all.map((s) => s.rss / MiB)) * 1.1);
  const rpsMax = niceUp(Math.max(...all.filter((s) => s.t > 0).map((s) => s.rps)) * 1.1);
  const x = (t) => left + (t / tMax) * plotW;
  const yRss = (v) => top + plotH - (v / rssMax) * plotH;
  const yRps = (v) => top + plotH - (v / rpsMax) * plotH;
  const colors = ['#1a73e8', '#34a853'];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    `<text x="${left}" y="24" font-size="17" font-weight="600" fill="#202124">Soak: a new session per request for ${fmt(CONFIG.soakSeconds)} s</text>`,
    `<text x="${left}" y="44" fill="#5f6368">${esc(`server RSS (solid, left axis) and req/s (dashed, right axis), sampled every ${CONFIG.soakSampleMs / 1000} s · ${CONFIG.connections} connections · Node ${meta.node} · ${meta.date.slice(0, 10)}`)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = top + plotH - (plotH / 5) * i;
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="${i === 0 ? '#5f6368' : '#e0e0e0'}"/>`,
      `<text x="${left - 8}" y="${y + 4}" text-anchor="end" fill="#5f6368">${fmt((rssMax / 5) * i)}</text>`,
      `<text x="${width - right + 8}" y="${y + 4}" fill="#5f6368">${fmt((rpsMax / 5) * i)}</text>`,
    );
  }
  for (let i = 0; i <= 6; i++) {
    const t = (tMax / 6) * i;
    out.push(`<text x="${x(t)}" y="${top + plotH + 18}" text-anchor="middle" fill="#5f6368">${fmt(t)} s</text>`);
  }
  out.push(
    `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#5f6368">RSS (MiB)</text>`,
    `<text transform="translate(${width - 14} ${top + plotH / 2}) rotate(90)" text-anchor="middle" fill="#5f6368">req/s</text>`,
  );
  if (CONFIG.soakWarmupS < tMax) {
    out.push(
      `<line x1="${x(CONFIG.soakWarmupS)}" x2="${x(CONFIG.soakWarmupS)}" y1="${top}" y2="${top + plotH}" stroke="#bdc1c6" stroke-dasharray="2 3"/>`,
      `<text x="${x(CONFIG.soakWarmupS) + 4}" y="${top + 12}" fill="#5f6368">end of warm-up</text>`,
    );
  }
  runs.forEach(([id, r], i) => {
    const c = colors[i % colors.length];
    const pts = r.samples.filter((s) => !s.end);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((s) => `${x(s.t).toFixed(1)},${yRss(s.rss / MiB).toFixed(1)}`).join(' ')}"/>`);
    const rp = pts.filter((s) => s.t > 0);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" stroke-dasharray="5 4" points="${rp.map((s) => `${x(s.t).toFixed(1)},${yRps(s.rps).toFixed(1)}`).join(' ')}"/>`);
    const ly = height - 24;
    const lx = left + i * 300;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${c}"/>`,
      `<text x="${lx + 18}" y="${ly}" fill="#202124">${esc(`${SERVERS[id].label}: ${r.analysis.possibleLeak ? 'possible leak' : 'no growth beyond noise'}`)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
