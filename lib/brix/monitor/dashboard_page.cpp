// The dashboard page: static structure, CSS and the script that draws the heat map, node health,
// throughput, rules and events from dashboard_json() and refetches it. Plain DOM and SVG, no
// library: it must open with no network.
#include <brix/monitor/dashboard.hpp>

#include <brix/viz/html.hpp>
#include <brix/viz/palette.hpp>

#include <fmt/format.h>

namespace brix::monitor {

namespace {

constexpr std::string_view k_style = R"css(
.grid { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0; }
.status { font-size: 13px; color: #555; margin-bottom: 12px; }
.status.error { color: #b00020; font-weight: 600; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.badge.normal, .badge.ok, .badge.running { background: #e3f1e5; color: #1f6a2c; }
.badge.warning, .badge.stale, .badge.waiting { background: #fbf1cf; color: #7a5d00; }
.badge.abnormal, .badge.suspect, .badge.straggler, .badge.exited { background: #fbe0e3; color: #9b1c2c; }
#heatmap svg text { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; }
#events td.message { white-space: normal; max-width: 760px; }
.muted { color: #777; }
)css";

constexpr std::string_view k_body = R"html(
<div class="status" id="status">loading…</div>
<section id="overview"><h2>Job</h2><div class="figures" id="figures"></div></section>
<section id="heatmap-section"><h2>Step time per rank</h2>
<p class="note">Each cell is one rank's step (compute time where the rank reports it, as straggler scoring uses), coloured by its ratio to that step's median over all ranks; rows grouped by node. Ranks the monitor flags as stragglers and nodes it marks suspect are outlined in red.</p>
<div id="heatmap"></div></section>
<section id="throughput-section"><h2>Throughput</h2><div id="throughput"></div></section>
<section id="nodes-section"><h2>Node health</h2><div id="nodes"></div></section>
<section id="rules-section"><h2>Rules</h2><div id="rules"></div></section>
<section id="events-section"><h2>Events</h2><div id="events"></div></section>
)html";

constexpr std::string_view k_script = R"js(
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
const MAX_STEPS = 40;
const MAX_RANK_ROWS = 256;
const token = new URLSearchParams(location.search).get('token');
let data = JSON.parse(document.getElementById('initial-data').textContent);

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
function s(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v; else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
function seconds(x) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a < 1) return (x * 1000).toFixed(a < 0.01 ? 2 : 0) + ' ms';
  if (a < 120) return x.toFixed(a < 10 ? 2 : 1) + ' s';
  if (a < 7200) return (x / 60).toFixed(1) + ' min';
  return (x / 3600).toFixed(1) + ' h';
}
function number(x, digits) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  return x.toLocaleString('en-US', {maximumFractionDigits: digits === undefined ? 1 : digits});
}
function median(values) {
  if (!values.length) return null;
  const v = values.slice().sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
function clock(unix) { return new Date(unix * 1000).toLocaleTimeString('en-GB'); }
function badge(text, kind) { return h('span', {class: 'badge ' + kind, text}); }
function table(headings, rows, id) {
  const t = h('table', id ? {id} : {});
  t.append(h('tr', {}, ...headings.map(x => h('th', {class: x.num ? 'num' : '', text: x.text}))));
  for (const row of rows) t.append(row);
  return t;
}
function cell(content, cls) {
  const td = h('td', cls ? {class: cls} : {});
  td.append(content);
  return td;
}

// Heat map colours: neutral at or below the median, then yellow to dark red (ColorBrewer YlOrBr).
const STOPS = [[0.9, [232, 238, 246]], [1.0, [244, 246, 248]], [1.1, [254, 227, 145]], [1.25, [254, 153, 41]],
               [1.5, [217, 95, 14]], [2.0, [127, 39, 4]]];
function heatColour(ratio) {
  if (ratio <= STOPS[0][0]) return 'rgb(' + STOPS[0][1].join(',') + ')';
  for (let i = 1; i < STOPS.length; i++) {
    if (ratio <= STOPS[i][0]) {
      const [r0, c0] = STOPS[i - 1], [r1, c1] = STOPS[i];
      const t = (ratio - r0) / (r1 - r0);
      return 'rgb(' + c0.map((c, k) => Math.round(c + t * (c1[k] - c))).join(',') + ')';
    }
  }
  return 'rgb(' + STOPS[STOPS.length - 1][1].join(',') + ')';
}

function renderFigures(snap) {
  const job = snap.job;
  const states = {running: 0, stale: 0, exited: 0, waiting: 0};
  for (const r of snap.ranks) states[r.state] = (states[r.state] || 0) + 1;
  const stragglers = snap.ranks.filter(r => r.straggler);
  const suspects = snap.nodes.filter(n => n.suspect);
  const tp = data.throughput.length ? data.throughput[data.throughput.length - 1] : null;
  const figures = [
    [job.name, 'job'],
    [job.step < 0 ? '–' : number(job.step, 0), 'step (every running rank)'],
    [String(job.world_size), 'ranks'],
    [states.running + ' / ' + states.stale + ' / ' + states.exited, 'running / stale / exited'],
    [seconds(job.step_median_seconds), 'median step time'],
    [tp ? (tp[3] !== null ? number(tp[3], 0) + ' tok/s' : number(tp[2], 2) + ' steps/s') : '–', 'throughput'],
    [String(stragglers.length), 'stragglers'],
    [String(suspects.length), 'suspect nodes'],
  ];
  const box = document.getElementById('figures');
  box.replaceChildren(...figures.map(([v, label], i) =>
    h('div', {class: 'figure', id: 'figure-' + i}, h('b', {text: v}), h('span', {text: label}))));
}

function heatRows(snap, steps) {
  const ranks = snap.ranks.slice().sort((a, b) => a.node.localeCompare(b.node) || a.rank - b.rank);
  const medians = new Map();
  for (const step of steps) {
    const values = [];
    for (const r of ranks) for (const x of r.recent_steps || []) if (x[0] === step) values.push(x[2]);
    medians.set(step, median(values));
  }
  const ratioOf = (step, scored) => {
    const m = medians.get(step);
    return m ? scored / m : 1;
  };
  if (ranks.length <= MAX_RANK_ROWS) {
    return ranks.map(r => {
      const cells = new Map();
      for (const x of r.recent_steps || []) cells.set(x[0], {seconds: x[1], scored: x[2], ratio: ratioOf(x[0], x[2])});
      return {label: 'rank ' + r.rank, node: r.node, rank: r.rank, straggler: r.straggler,
              reason: r.straggler ? (r.straggler_reason === 'history' ? r.history_ratio : r.peer_ratio) : null,
              why: r.straggler_reason, cells};
    });
  }
  // Too many ranks for a row each: one row per node, each cell its slowest rank.
  const byNode = new Map();
  for (const r of ranks) {
    if (!byNode.has(r.node)) byNode.set(r.node, {label: r.node, node: r.node, rank: null, straggler: false, cells: new Map()});
    const row = byNode.get(r.node);
    row.straggler = row.straggler || r.straggler;
    for (const x of r.recent_steps || []) {
      const ratio = ratioOf(x[0], x[2]);
      const old = row.cells.get(x[0]);
      if (!old || ratio > old.ratio) row.cells.set(x[0], {seconds: x[1], scored: x[2], ratio, rank: r.rank});
    }
  }
  return [...byNode.values()];
}

function renderHeatmap(snap) {
  const box = document.getElementById('heatmap');
  const stepSet = new Set();
  for (const r of snap.ranks) for (const x of r.recent_steps || []) stepSet.add(x[0]);
  const steps = [...stepSet].sort((a, b) => a - b).slice(-MAX_STEPS);
  if (!steps.length) { box.replaceChildren(h('p', {class: 'muted', text: 'No steps reported yet.'})); return; }
  const rows = heatRows(snap, steps);
  const suspect = new Map(snap.nodes.map(n => [n.node, n]));
  const cellW = Math.max(9, Math.min(24, 640 / steps.length)); // the straggler label fits beside 640 px
  const rowH = rows.length > 64 ? 8 : (rows.length > 24 ? 14 : 20);
  const nodeGap = 8;
  const left = 230, top = 26;
  let y = top;
  const placed = [];
  let lastNode = null;
  for (const row of rows) {
    if (lastNode !== null && row.node !== lastNode) y += nodeGap;
    placed.push({row, y});
    lastNode = row.node;
    y += rowH + 1;
  }
  const gridW = cellW * steps.length;
  const width = left + gridW + 230;
  const height = y + 60;
  const svg = s('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'heatmap',
                        'aria-label': 'step time per rank over the last steps'});
  svg.append(s('text', {x: left, y: 14, 'font-size': 11, fill: '#555', text: 'step →'}));
  const every = Math.max(1, Math.ceil(steps.length / 12));
  steps.forEach((step, i) => {
    if (i % every === 0) svg.append(s('text', {x: left + i * cellW + cellW / 2, y: top - 4, 'font-size': 10,
                                               'text-anchor': 'middle', fill: '#444', text: String(step)}));
  });
  // Node labels beside their rows.
  const nodes = [];
  for (const p of placed) {
    const last = nodes[nodes.length - 1];
    if (last && last.node === p.row.node) last.bottom = p.y + rowH; else nodes.push({node: p.row.node, top: p.y, bottom: p.y + rowH});
  }
  for (const n of nodes) {
    const info = suspect.get(n.node);
    const bad = info && info.suspect;
    const g = s('g', {class: bad ? 'heat-node suspect' : 'heat-node', 'data-node': n.node});
    g.append(s('line', {x1: 96, y1: n.top, x2: 96, y2: n.bottom, stroke: bad ? '#cc3311' : '#999', 'stroke-width': 2}));
    g.append(s('text', {x: 90, y: (n.top + n.bottom) / 2 + 4, 'font-size': 12, 'text-anchor': 'end',
                        'font-weight': 'bold', fill: bad ? '#cc3311' : '#333', text: n.node + (bad ? ' (suspect)' : '')},
               bad ? s('title', {text: 'suspect: ' + info.suspect_reason}) : null));
    svg.append(g);
  }
  for (const {row, y: ry} of placed) {
    const g = s('g', {class: row.straggler ? 'heat-row straggler' : 'heat-row',
                      'data-rank': row.rank === null ? '' : String(row.rank), 'data-node': row.node});
    g.append(s('text', {x: left - 8, y: ry + rowH / 2 + 4, 'font-size': Math.min(12, rowH), 'text-anchor': 'end',
                        fill: row.straggler ? '#cc3311' : '#333', 'font-weight': row.straggler ? 'bold' : 'normal',
                        text: row.label}));
    steps.forEach((step, i) => {
      const c = row.cells.get(step);
      const x = left + i * cellW;
      const rect = s('rect', {x, y: ry, width: cellW - 1, height: rowH, class: 'heat-cell', 'data-step': step,
                              fill: c ? heatColour(c.ratio) : '#ffffff', stroke: c ? 'none' : '#e5e5e5'});
      if (c) {
        rect.setAttribute('data-ratio', c.ratio.toFixed(3));
        rect.append(s('title', {text: `${row.label}${c.rank !== undefined ? ' (rank ' + c.rank + ')' : ''}, step ${step}: ` +
                                      `${seconds(c.scored)} (${c.ratio.toFixed(2)}× the step's median; wall ${seconds(c.seconds)})`}));
      }
      g.append(rect);
    });
    if (row.straggler) {
      g.append(s('rect', {x: left - 1.5, y: ry - 1.5, width: gridW + 2, height: rowH + 3, fill: 'none',
                          stroke: '#cc3311', 'stroke-width': 2, class: 'straggler-outline'}));
      const why = row.reason ? ` ${row.reason.toFixed(2)}× ${row.why === 'history' ? 'its own history' : 'its peers'}` : '';
      g.append(s('text', {x: left + gridW + 8, y: ry + rowH / 2 + 4, 'font-size': 12, 'font-weight': 'bold',
                          fill: '#cc3311', class: 'straggler-mark', text: '◀ straggler' + why}));
    }
    svg.append(g);
  }
  // Legend: the colour scale.
  const ly = y + 18;
  const legendW = 300;
  const defs = s('defs');
  const gradient = s('linearGradient', {id: 'heat-gradient', x1: 0, x2: 1, y1: 0, y2: 0});
  for (const [ratio, rgb] of STOPS) gradient.append(s('stop', {offset: ((ratio - 0.9) / 1.1).toFixed(3), 'stop-color': 'rgb(' + rgb.join(',') + ')'}));
  defs.append(gradient);
  svg.append(defs);
  svg.append(s('rect', {x: left, y: ly, width: legendW, height: 12, fill: 'url(#heat-gradient)', stroke: '#999', 'stroke-width': 0.5}));
  for (const ratio of [1.0, 1.15, 1.5, 2.0]) { // 0.9 (the left end) would overprint 1.0
    const x = left + (ratio - 0.9) / 1.1 * legendW;
    svg.append(s('line', {x1: x, y1: ly + 12, x2: x, y2: ly + 16, stroke: '#555'}));
    svg.append(s('text', {x, y: ly + 27, 'font-size': 10, 'text-anchor': 'middle', fill: '#444', text: ratio.toFixed(2) + '×'}));
  }
  svg.append(s('text', {x: left + legendW + 10, y: ly + 10, 'font-size': 11, fill: '#444',
                        text: "step time ÷ the step's median over ranks"}));
  const note = rows.length && rows[0].rank === null
    ? h('p', {class: 'note', text: `${snap.ranks.length} ranks: one row per node, each cell its slowest rank.`}) : null;
  box.replaceChildren(...[note, svg].filter(x => x));
}

function renderThroughput(points, now) {
  const box = document.getElementById('throughput');
  if (points.length < 1) {
    box.replaceChildren(h('p', {class: 'muted', text: 'Throughput appears once the job has advanced between two refreshes.'}));
    return;
  }
  const tokens = points.some(p => p[3] !== null);
  const values = points.map(p => tokens ? (p[3] === null ? 0 : p[3]) : p[2]);
  const width = 760, height = 210, left = 70, right = 20, top = 12, bottom = 40;
  const t0 = Math.min(points[0][0], now - 60), t1 = Math.max(now, points[points.length - 1][0]);
  const vmax = Math.max(...values, 1e-9) * 1.1;
  const X = t => left + (t - t0) / Math.max(1e-9, t1 - t0) * (width - left - right);
  const Y = v => top + (1 - v / vmax) * (height - top - bottom);
  const svg = s('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'throughput-chart',
                        'aria-label': 'throughput over time'});
  for (let i = 0; i <= 4; i++) {
    const v = vmax * i / 4;
    svg.append(s('line', {x1: left, x2: width - right, y1: Y(v), y2: Y(v), stroke: '#e3e3e3'}));
    svg.append(s('text', {x: left - 6, y: Y(v) + 4, 'font-size': 10, 'text-anchor': 'end', fill: '#444', text: number(v, v < 10 ? 2 : 0)}));
  }
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (t1 - t0) * i / 5;
    svg.append(s('text', {x: X(t), y: height - bottom + 16, 'font-size': 10, 'text-anchor': 'middle', fill: '#444', text: clock(t)}));
  }
  svg.append(s('text', {x: 14, y: (top + height - bottom) / 2, 'font-size': 11, fill: '#333', 'text-anchor': 'middle',
                        transform: `rotate(-90 14 ${(top + height - bottom) / 2})`, text: tokens ? 'tokens/s' : 'steps/s'}));
  svg.append(s('polyline', {points: points.map((p, i) => X(p[0]) + ',' + Y(values[i])).join(' '), fill: 'none',
                            stroke: '#4477AA', 'stroke-width': 2}));
  points.forEach((p, i) => svg.append(s('circle', {cx: X(p[0]), cy: Y(values[i]), r: 2.5, fill: '#4477AA'},
    s('title', {text: `${clock(p[0])}: step ${p[1]}, ${number(p[2], 3)} steps/s` + (p[3] !== null ? `, ${number(p[3], 0)} tokens/s` : '')}))));
  box.replaceChildren(svg);
}

function renderNodes(snap) {
  const rows = snap.nodes.map(n => {
    const gpus = n.gpus || [];
    const util = gpus.map(g => g.utilization_percent).filter(x => x !== undefined);
    const temp = gpus.map(g => g.temperature_c).filter(x => x !== undefined);
    const xids = gpus.reduce((sum, g) => sum + (g.xid_count || 0), 0);
    const age = n.heartbeat_age_seconds;
    const state = n.suspect ? badge('suspect', 'suspect') : (age > 10 ? badge('silent', 'stale') : badge('ok', 'ok'));
    const tr = h('tr', {class: n.suspect ? 'node suspect' : 'node', 'data-node': n.node});
    tr.append(cell(n.node), cell(state), cell(seconds(age), 'num'),
              cell(n.gpu_available ? String(gpus.length) : 'unavailable', n.gpu_available ? 'num' : 'muted'),
              cell(util.length ? number(Math.min(...util), 0) + '–' + number(Math.max(...util), 0) + ' %' : '–', 'num'),
              cell(temp.length ? number(Math.max(...temp), 0) + ' °C' : '–', 'num'),
              cell(String(xids), 'num'),
              cell(n.suspect ? n.suspect_reason : (n.gpu_available ? '' : n.gpu_reason), 'muted'));
    return tr;
  });
  document.getElementById('nodes').replaceChildren(table(
    [{text: 'node'}, {text: 'state'}, {text: 'heartbeat age', num: true}, {text: 'GPUs', num: true},
     {text: 'GPU utilisation', num: true}, {text: 'hottest GPU', num: true}, {text: 'XIDs', num: true}, {text: 'note'}],
    rows, 'node-table'));
}

function renderRules(snap, now) {
  const order = {abnormal: 0, warning: 1, normal: 2};
  const rules = snap.rules.slice().sort((a, b) => order[a.state] - order[b.state] || a.rule.localeCompare(b.rule));
  const shown = rules.filter(r => r.state !== 'normal');
  const normal = rules.length - shown.length;
  const rows = shown.map(r => {
    const tr = h('tr', {class: 'rule ' + r.state, 'data-rule': r.rule});
    tr.append(cell(r.rule), cell(r.subject), cell(badge(r.state, r.state)), cell(number(r.value, 4), 'num'),
              cell(seconds(now - r.since) + ' ago', 'num'));
    return tr;
  });
  const box = document.getElementById('rules');
  const summary = h('p', {class: 'note', text: `${rules.length} rule states: ${shown.length} not normal, ${normal} normal.`});
  box.replaceChildren(summary, ...(rows.length ? [table([{text: 'rule'}, {text: 'subject'}, {text: 'state'},
    {text: 'value', num: true}, {text: 'since', num: true}], rows, 'rule-table')] : []));
}

function renderEvents(snap) {
  const events = snap.events.slice(-30).reverse();
  const rows = events.map(e => {
    const tr = h('tr', {class: 'event ' + e.type});
    const kind = e.type === 'straggler' ? (e.flagged ? 'straggler' : 'normal')
               : (['suspect', 'heartbeat_lost', 'exit', 'auth_refused'].includes(e.type) ? 'abnormal' : 'normal');
    tr.append(cell(clock(e.time)), cell(badge(e.type, kind)), cell(e.message, 'message'));
    return tr;
  });
  const counts = Object.entries(snap.event_counts).map(([k, v]) => `${k} ${v}`).join(', ');
  document.getElementById('events').replaceChildren(
    h('p', {class: 'note', text: counts ? 'Since monitoring started: ' + counts + '.' : 'No events yet.'}),
    ...(rows.length ? [table([{text: 'time'}, {text: 'type'}, {text: 'message'}], rows, 'event-table')] : []));
}

function render() {
  const snap = data.snapshot;
  renderFigures(snap);
  renderHeatmap(snap);
  renderThroughput(data.throughput, data.now);
  renderNodes(snap);
  renderRules(snap, data.now);
  renderEvents(snap);
}

function setStatus(text, error) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = error ? 'status error' : 'status';
}

async function refresh() {
  try {
    const response = await fetch('api/snapshot' + (token ? '?token=' + encodeURIComponent(token) : ''), {cache: 'no-store'});
    if (!response.ok) throw new Error(response.status + ': ' + (await response.text()).trim());
    data = await response.json();
    render();
    setStatus(`live · refreshed ${clock(data.now)} · snapshot ${seconds(data.now - data.snapshot.job.time)} old · every ${REFRESH_MS / 1000} s`);
  } catch (error) {
    setStatus(`cannot refresh (${error.message}); showing the data of ${clock(data.now)}`, true);
  }
}

render();
setStatus(`snapshot of ${clock(data.snapshot.job.time)} · refreshing every ${REFRESH_MS / 1000} s`);
setInterval(refresh, REFRESH_MS);
)js";

/// JSON inside <script>: "</" would end the element early; "<\/" is the same JSON string.
std::string script_safe(std::string json) {
  for (std::size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 2)) {
    json.replace(at, 2, "<\\/");
  }
  return json;
}

} // namespace

std::string dashboard_page(const nlohmann::ordered_json& initial, double refresh_seconds) {
  viz::Page page;
  const auto& job = initial.at("snapshot").at("job");
  page.title = fmt::format("brix monitor: {}", job.value("name", std::string("job")));
  page.subtitle = "Live from the job's monitor; this page refreshes itself.";
  page.style = std::string(k_style);
  page.body = fmt::format("<script type=\"application/json\" id=\"initial-data\">{}</script>\n{}",
                          script_safe(initial.dump()), k_body);
  page.script = fmt::format("const REFRESH_MS = {};\n{}", static_cast<long>(refresh_seconds * 1000), k_script);
  return viz::html_document(page);
}

} // namespace brix::monitor
