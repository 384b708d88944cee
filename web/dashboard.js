// /dashboard: live server health. First the persisted history (metrics.history: the
// sampler's rows) so the charts are not empty after a restart, then a snapshot every 2 s
// from the `metricsUpdated` subscription over WebSocket (graphql-transport-ws), falling back
// to polling POST /graphql when the socket fails. Charts are uPlot (vendored, no CDN).

import {
  ApiError, el, errorFromBody, fmtBytes, fmtDuration, fmtInt, fmtMs, fmtPercent, getToken, gql, initChrome, showError,
} from './common.js';

const INTERVAL_SECONDS = 2;
/** Most points a chart keeps (older ones drop off the left). */
const MAX_POINTS = 900;
/** Most persisted per-query-type rows kept for the latency chart. */
const MAX_LATENCY_ROWS = 4000;

// The selection of one snapshot; the subscription and the polling query use the same one.
const LIVE_FIELDS = `
  startedAt uptimeSeconds intervalEnd
  pool { configuredMax open idle inUse peakInUse utilizationPercent waits acquireTimeouts connectionErrors }
  queries { queryType count errors meanMs p50Ms p95Ms p99Ms maxMs }
  memory { rssBytes peakRssBytes growthPercent samples { at rssBytes } }
  requests { total errors inFlight }
  alerts { code name severity firing value threshold message }
  recommendations { code message evidence setting }`;

const QUERY_ROW = 'databaseId queryType intervalSeconds count meanMs p50Ms p95Ms p99Ms recordedAt';

const INITIAL_QUERY = `query DashboardInitial {
  metrics {
    ${LIVE_FIELDS}
    history {
      queryHistory(last: 600) { nodes { ${QUERY_ROW} } }
      poolHistory(last: 120) { nodes { databaseId utilizationPercent activeConnections maxConnections recordedAt } }
    }
  }
}`;

const POLL_QUERY = `query DashboardPoll { metrics { ${LIVE_FIELDS} } }`;

const NEW_HISTORY_QUERY = `query DashboardHistory($from: DateTime) {
  metrics { history { queryHistory(last: 200, filter: {from: $from}) { nodes { ${QUERY_ROW} } } } }
}`;

const SUBSCRIPTION = `subscription DashboardLive($interval: Int!) {
  metricsUpdated(intervalSeconds: $interval) { ${LIVE_FIELDS} }
}`;

const PALETTE = ['#2f6fe4', '#e0811b', '#d6453d', '#16a06a', '#8b5cf6', '#d9468f', '#0e9bb5', '#7a9a1d', '#a0671f', '#5f6b7a'];

const $ = (id) => document.getElementById(id);

// ---- state ------------------------------------------------------------------------------

const state = {
  /** time (s) → utilization % */
  pool: new Map(),
  /** time (s) → HTTP requests/s */
  rps: new Map(),
  /** time (s) → RSS bytes */
  memory: new Map(),
  /** databaseId → persisted query row */
  latencyRows: new Map(),
  /** latest `requests` reading with its server time, for req/s */
  lastRequests: null,
  lastIntervalEnd: undefined,
  lastRecordedAt: null,
  historyFetch: null,
  generation: 0,
};

function trim(map, max = MAX_POINTS) {
  if (map.size <= max) return;
  const keys = [...map.keys()].sort((a, b) => a - b);
  for (const key of keys.slice(0, map.size - max)) map.delete(key);
}

const seconds = (iso) => Date.parse(iso) / 1000;

// ---- charts -----------------------------------------------------------------------------

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function shortNumber(v) {
  if (v === null || v === undefined) return '';
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

/** One uPlot chart in `container`; recreated when its series change or the colour scheme flips. */
class Chart {
  constructor(container, { format, axisFormat, min = 0, minMax = 1, axisSize = 56 }) {
    this.container = container;
    this.axisSize = axisSize;
    this.format = format;
    this.axisFormat = axisFormat || shortNumber;
    this.min = min;
    this.minMax = minMax;
    this.plot = null;
    this.seriesKey = '';
    this.lastData = null;
    this.lastSeries = null;
    new ResizeObserver(() => this.resize()).observe(container);
  }

  size() {
    return { width: Math.max(200, this.container.clientWidth), height: 220 };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  build(series) {
    if (this.plot) this.plot.destroy();
    const muted = cssVar('--muted') || '#666';
    const grid = cssVar('--grid') || 'rgba(0,0,0,0.1)';
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const minMax = this.minMax;
    const opts = {
      ...this.size(),
      scales: {
        x: { time: true },
        y: { range: (u, lo, hi) => [this.min, Math.max(minMax, (hi || 0) * 1.1)] },
      },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: 'Time', value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 2,
          // Only explicit nulls (see align) break a line; undefined is spanned.
          spanGaps: false,
          value: (u, v) => (v == null ? '–' : this.format(v)),
        })),
      ],
      axes: [
        { ...axis, space: 70 },
        { ...axis, size: this.axisSize, values: (u, vals) => vals.map((v) => this.axisFormat(v)) },
      ],
    };
    this.plot = new window.uPlot(opts, [[], ...series.map(() => [])], this.container);
  }

  /** `series`: [{label, color?}], `data`: [xs, ys1, ys2, ...] aligned, xs ascending. */
  update(series, data) {
    this.lastSeries = series;
    this.lastData = data;
    const key = series.map((s) => s.label).join('\u0000');
    if (!this.plot || key !== this.seriesKey) {
      this.seriesKey = key;
      this.build(series);
    }
    this.plot.setData(data);
    let points = 0;
    for (const ys of data.slice(1)) for (const y of ys) if (y !== null && y !== undefined) points += 1;
    this.container.dataset.points = String(points);
  }

  rebuild() {
    if (!this.lastSeries) return;
    this.seriesKey = '';
    this.update(this.lastSeries, this.lastData);
  }
}

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Aligns `[Map(time → value)]` onto one ascending time axis (uPlot's data shape). A time a
 * series has no value at is `undefined` (uPlot draws the line through it); where a series'
 * own points lie more than `gapSeconds` apart (the server was down, or that query type did not
 * run) an explicit `null` breaks its line.
 */
function align(seriesMaps, gapSeconds = null) {
  const times = new Set();
  // Per series: the [from, to] spans its line must not cross.
  const holes = seriesMaps.map(() => []);
  seriesMaps.forEach((map, i) => {
    const own = [...map.keys()].sort((a, b) => a - b);
    own.forEach((t, k) => {
      times.add(t);
      if (k === 0) return;
      const step = t - own[k - 1];
      // Without a given limit: a step 3 × longer than its neighbours (history rows a minute
      // apart, then live points seconds apart, fit together; a restart's hole does not).
      const around = Math.max(k > 1 ? own[k - 1] - own[k - 2] : 0, k + 1 < own.length ? own[k + 1] - t : 0);
      const limit = gapSeconds || Math.max(5, 3 * around);
      if (step > limit) {
        holes[i].push([own[k - 1], t]);
        times.add(own[k - 1] + step / 2);
      }
    });
  });
  const xs = [...times].sort((a, b) => a - b);
  return [
    xs,
    ...seriesMaps.map((map, i) => {
      let h = 0;
      const spans = holes[i];
      return xs.map((t) => {
        if (map.has(t)) return map.get(t);
        while (h < spans.length && spans[h][1] <= t) h += 1;
        // Inside a hole: null breaks the line (spanGaps is off); elsewhere undefined is spanned.
        return h < spans.length && spans[h][0] < t ? null : undefined;
      });
    }),
  ];
}

let charts = null;

function makeCharts() {
  charts = {
    pool: new Chart($('chart-pool'), { format: fmtPercent, axisFormat: (v) => `${+v.toFixed(1)}`, minMax: 10 }),
    latency: new Chart($('chart-latency'), { format: fmtMs, minMax: 0.1 }),
    rps: new Chart($('chart-rps'), { format: (v) => `${v.toFixed(2)}/s`, minMax: 1 }),
    memory: new Chart($('chart-memory'), { format: fmtBytes, axisFormat: (v) => fmtBytes(v).replace('.0 ', ' '), minMax: 1, axisSize: 80 }),
  };
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    for (const chart of Object.values(charts)) chart.rebuild();
  });
}

// ---- rendering --------------------------------------------------------------------------

function latest(map) {
  let bestT = -Infinity;
  let best = null;
  for (const [t, v] of map) if (t > bestT) { bestT = t; best = v; }
  return best;
}

function renderPool(pool) {
  charts.pool.update([{ label: 'Utilization', color: PALETTE[0] }], align([state.pool]));
  $('chart-pool-summary').textContent = pool
    ? `Now ${fmtPercent(pool.utilizationPercent)}: ${pool.inUse} of ${pool.configuredMax} connections in use, ${pool.open} open, ${pool.idle} idle; peak ${pool.peakInUse}; ${fmtInt(pool.waits)} waits, ${fmtInt(pool.acquireTimeouts)} acquire timeouts.`
    : 'No pool figures yet.';
}

function queryTypes() {
  const types = new Set();
  for (const row of state.latencyRows.values()) types.add(row.queryType);
  return [...types].sort();
}

function renderTypeSelect(extraTypes = []) {
  const select = $('latency-type');
  const types = [...new Set([...queryTypes(), ...extraTypes])].sort();
  const existing = [...select.options].slice(1).map((o) => o.value);
  if (existing.join('\u0000') === types.join('\u0000')) return;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'All types (p95 each)'), ...types.map((t) => el('option', { value: t }, t)));
  select.value = types.includes(chosen) ? chosen : '';
}

function renderLatency() {
  const chosen = $('latency-type').value;
  const rows = [...state.latencyRows.values()];
  let series;
  let maps;
  if (chosen) {
    const mine = rows.filter((r) => r.queryType === chosen);
    series = [
      { label: 'p50', color: PALETTE[3] },
      { label: 'p95', color: PALETTE[1] },
      { label: 'p99', color: PALETTE[2] },
    ];
    maps = ['p50Ms', 'p95Ms', 'p99Ms'].map((f) => new Map(mine.map((r) => [seconds(r.recordedAt), r[f]])));
  } else {
    const types = queryTypes();
    series = types.map((t, i) => ({ label: `${t} p95`, color: PALETTE[i % PALETTE.length] }));
    maps = types.map((t) => new Map(rows.filter((r) => r.queryType === t).map((r) => [seconds(r.recordedAt), r.p95Ms])));
  }
  if (series.length === 0) {
    series = [{ label: 'p95', color: PALETTE[1] }];
    maps = [new Map()];
  }
  const interval = median(rows.map((r) => r.intervalSeconds).filter((v) => v > 0)) || 60;
  charts.latency.update(series, align(maps, 3 * interval));
  const newest = rows.reduce((a, r) => (a && a.recordedAt >= r.recordedAt ? a : r), null);
  $('chart-latency-summary').textContent = newest
    ? `${state.latencyRows.size} persisted intervals; the newest ended ${new Date(newest.recordedAt).toLocaleTimeString()}.`
    : 'No sampling interval persisted yet (METRICS_SAMPLE_INTERVAL_SECONDS); the table below is live.';
}

function renderRps() {
  // Database queries per second from the persisted rows: the sum of the counts of one
  // interval (all query types) over its length.
  const perInterval = new Map();
  for (const row of state.latencyRows.values()) {
    const t = seconds(row.recordedAt);
    const entry = perInterval.get(t) || { count: 0, seconds: row.intervalSeconds || 1 };
    entry.count += row.count;
    perInterval.set(t, entry);
  }
  const dbQps = new Map([...perInterval].map(([t, e]) => [t, e.count / Math.max(e.seconds, 0.001)]));
  charts.rps.update(
    [
      { label: 'HTTP req/s', color: PALETTE[0] },
      { label: 'DB queries/s', color: PALETTE[4] },
    ],
    align([state.rps, dbQps]),
  );
  const now = latest(state.rps);
  $('chart-rps-summary').textContent = now === null
    ? 'HTTP throughput appears after two readings.'
    : `Now ${now.toFixed(2)} HTTP requests per second.`;
}

function renderMemory(memory) {
  charts.memory.update([{ label: 'RSS', color: PALETTE[6] }], align([state.memory]));
  $('chart-memory-summary').textContent = memory
    ? `RSS ${fmtBytes(memory.rssBytes)}, peak ${fmtBytes(memory.peakRssBytes)}; growth ${memory.growthPercent === null || memory.growthPercent === undefined ? 'not measurable yet' : fmtPercent(memory.growthPercent)}.`
    : '';
}

function renderQueries(queries) {
  const body = $('queries').tBodies[0];
  if (!queries.length) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No database query yet.')));
    return;
  }
  body.replaceChildren(
    ...queries.map((q) => el(
      'tr',
      {},
      el('th', { scope: 'row', class: 'mono' }, q.queryType),
      el('td', { class: 'num' }, fmtInt(q.count)),
      el('td', { class: 'num' }, fmtInt(q.errors)),
      el('td', { class: 'num' }, fmtMs(q.meanMs)),
      el('td', { class: 'num' }, fmtMs(q.p50Ms)),
      el('td', { class: 'num' }, fmtMs(q.p95Ms)),
      el('td', { class: 'num' }, fmtMs(q.p99Ms)),
      el('td', { class: 'num' }, fmtMs(q.maxMs)),
    )),
  );
}

function renderAlerts(alerts) {
  const firing = alerts.filter((a) => a.firing);
  $('alerts-count').textContent = firing.length ? `${firing.length} firing` : 'none firing';
  // Firing first (critical before warning), each with an icon and a word, not colour alone.
  const rank = (a) => (a.firing ? (a.severity === 'critical' ? 0 : 1) : 2);
  const sorted = [...alerts].sort((a, b) => rank(a) - rank(b));
  $('alerts').replaceChildren(
    ...sorted.map((a) => {
      const sev = a.severity === 'critical' ? 'critical' : 'warning';
      const icon = a.firing ? (sev === 'critical' ? '⛔' : '⚠') : '✓';
      const stateText = a.firing ? `Firing · ${sev}` : 'OK';
      const value = a.value === null || a.value === undefined ? 'not measured' : `${+a.value.toFixed(2)}`;
      return el(
        'li',
        { class: `alert ${a.firing ? 'firing' : 'ok'} ${sev}`, dataset: { code: a.code, firing: String(a.firing) } },
        el('span', { class: 'icon', 'aria-hidden': 'true' }, icon),
        el('div', { class: 'title' }, el('span', { class: 'state' }, stateText), el('span', {}, a.name)),
        el('div', { class: 'detail' }, `${a.message} (value ${value}, threshold ${a.threshold})`),
      );
    }),
  );
}

function renderRecommendations(recs) {
  if (!recs.length) {
    $('recs').replaceChildren(el('li', { class: 'muted' }, 'Nothing to change: no recommendation from the current measurements.'));
    return;
  }
  $('recs').replaceChildren(
    ...recs.map((r) => el(
      'li',
      { class: 'rec', dataset: { code: r.code } },
      el('div', { class: 'title' }, r.message),
      el('div', { class: 'evidence' }, 'Evidence: ', r.evidence),
      r.setting ? el('div', { class: 'setting' }, 'Setting: ', el('code', {}, r.setting)) : null,
      el('div', { class: 'setting muted' }, 'Code: ', el('code', {}, r.code)),
    )),
  );
}

function renderStats(m, rps) {
  $('stat-rps').textContent = rps === null ? '–' : rps.toFixed(1);
  $('stat-inflight').textContent = m.requests ? fmtInt(m.requests.inFlight) : '–';
  $('stat-pool').replaceChildren(`${m.pool.inUse} `, el('small', {}, `/ ${m.pool.configuredMax}`));
  $('stat-rss').textContent = fmtBytes(m.memory.rssBytes);
  $('stat-errors').replaceChildren(
    m.requests ? fmtInt(m.requests.errors) : '–',
    m.requests ? el('small', {}, ` of ${fmtInt(m.requests.total)}`) : '',
  );
  $('stat-uptime').textContent = fmtDuration(m.uptimeSeconds);
}

// ---- data -------------------------------------------------------------------------------

function addLatencyRows(rows) {
  for (const row of rows) state.latencyRows.set(row.databaseId, row);
  if (state.latencyRows.size > MAX_LATENCY_ROWS) {
    const sorted = [...state.latencyRows.values()].sort((a, b) => a.databaseId - b.databaseId);
    for (const row of sorted.slice(0, state.latencyRows.size - MAX_LATENCY_ROWS)) state.latencyRows.delete(row.databaseId);
  }
  for (const row of rows) {
    if (!state.lastRecordedAt || row.recordedAt > state.lastRecordedAt) state.lastRecordedAt = row.recordedAt;
  }
}

/** A new sampling interval ended: fetch the rows it persisted (only the new ones). */
async function fetchNewHistory() {
  if (state.historyFetch) return;
  const generation = state.generation;
  state.historyFetch = gql(NEW_HISTORY_QUERY, { from: state.lastRecordedAt })
    .then((data) => {
      if (generation !== state.generation) return;
      addLatencyRows(data.metrics.history.queryHistory.nodes);
      renderTypeSelect();
      renderLatency();
      renderRps();
    })
    .catch((err) => showError($('error'), err))
    .finally(() => {
      state.historyFetch = null;
    });
}

/** Applies one snapshot (initial, polled or pushed). */
function applySnapshot(m, source) {
  const now = seconds(m.startedAt) + m.uptimeSeconds;
  state.pool.set(now, m.pool.utilizationPercent);
  trim(state.pool);

  let rps = null;
  if (m.requests) {
    const prev = state.lastRequests;
    if (prev && now > prev.at && m.requests.total >= prev.total && prev.startedAt === m.startedAt) {
      rps = (m.requests.total - prev.total) / (now - prev.at);
      state.rps.set(now, rps);
      trim(state.rps);
    }
    state.lastRequests = { at: now, total: m.requests.total, startedAt: m.startedAt };
  }

  const samples = (m.memory && m.memory.samples) || [];
  for (const s of samples) if (s.rssBytes !== null && s.rssBytes !== undefined) state.memory.set(seconds(s.at), s.rssBytes);
  if (!samples.length && m.memory.rssBytes !== null) state.memory.set(now, m.memory.rssBytes);
  trim(state.memory);

  if (state.lastIntervalEnd !== undefined && m.intervalEnd && m.intervalEnd !== state.lastIntervalEnd) fetchNewHistory();
  state.lastIntervalEnd = m.intervalEnd;

  renderTypeSelect(m.queries.map((q) => q.queryType));
  renderPool(m.pool);
  renderLatency();
  renderRps();
  renderMemory(m.memory);
  renderQueries(m.queries);
  renderAlerts(m.alerts);
  renderRecommendations(m.recommendations);
  renderStats(m, rps === null ? latest(state.rps) : rps);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()} (${source})`;
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

async function loadInitial() {
  const generation = state.generation;
  const data = await gql(INITIAL_QUERY);
  if (generation !== state.generation) return;
  const m = data.metrics;
  for (const row of m.history.poolHistory.nodes) state.pool.set(seconds(row.recordedAt), row.utilizationPercent);
  addLatencyRows(m.history.queryHistory.nodes);
  state.lastIntervalEnd = m.intervalEnd;
  applySnapshot(m, 'history + snapshot');
}

// ---- live updates: graphql-transport-ws with polling as the fallback ---------------------

function setMode(kind, text) {
  const badge = $('mode');
  badge.className = `badge ${kind}`;
  badge.dataset.mode = kind;
  $('mode-text').textContent = text;
}

/**
 * The graphql-transport-ws protocol (as the `graphql-ws` library speaks it), written out:
 * connection_init (with the token) → connection_ack → subscribe → next… ; ping → pong.
 */
class Live {
  constructor() {
    this.ws = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.ackTimer = null;
    this.retryDelay = 5000;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    this.stopPolling();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000, 'page restarted');
    }
  }

  connect() {
    if (this.stopped || !('WebSocket' in window)) {
      this.fallback('WebSocket unavailable');
      return;
    }
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;
    let ws;
    try {
      ws = new WebSocket(url, 'graphql-transport-ws');
    } catch {
      this.fallback('WebSocket refused');
      return;
    }
    this.ws = ws;
    if (!this.pollTimer) setMode('', 'Connecting…');
    ws.onopen = () => {
      const token = getToken();
      ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} }));
      this.ackTimer = setTimeout(() => ws.close(4408, 'Connection initialisation timeout'), 5000);
    };
    ws.onmessage = (event) => this.onMessage(ws, event);
    ws.onclose = (event) => {
      clearTimeout(this.ackTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === 4401 || event.code === 4403) {
        // The server refused connection_init; its reason says why (no or bad token, scope).
        const reason = event.reason || 'The live connection was refused.';
        const code = event.code === 4401 || /authenticat|token/i.test(reason) ? 'UNAUTHENTICATED' : 'FORBIDDEN';
        showError($('error'), new ApiError(reason, code, event.code));
      }
      this.fallback(event.reason || `socket closed (${event.code})`);
    };
  }

  onMessage(ws, event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      ws.close(4400, 'Invalid message');
      return;
    }
    switch (msg.type) {
      case 'connection_ack':
        clearTimeout(this.ackTimer);
        ws.send(JSON.stringify({ id: 'metrics', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { interval: INTERVAL_SECONDS } } }));
        this.stopPolling();
        this.retryDelay = 5000;
        setMode('live', `Live · WebSocket every ${INTERVAL_SECONDS} s`);
        break;
      case 'next': {
        const payload = msg.payload || {};
        if (payload.errors && payload.errors.length) {
          showError($('error'), errorFromBody(payload, 200));
        } else {
          showError($('error'), null);
        }
        if (payload.data && payload.data.metricsUpdated) applySnapshot(payload.data.metricsUpdated, 'live');
        break;
      }
      case 'error':
        showError($('error'), errorFromBody({ errors: msg.payload }, 200));
        ws.close(1000, 'subscription error');
        break;
      case 'complete':
        ws.close(1000, 'subscription complete');
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        break;
      default:
        break;
    }
  }

  /** Polls every 2 s and tries the socket again later (5 s, doubling to 60 s). */
  fallback(reason) {
    if (this.stopped) return;
    if (!this.pollTimer) {
      const poll = async () => {
        const generation = state.generation;
        try {
          const data = await gql(POLL_QUERY);
          if (generation !== state.generation || !this.pollTimer) return;
          showError($('error'), null);
          applySnapshot(data.metrics, 'polling');
        } catch (err) {
          showError($('error'), err);
        }
      };
      this.pollTimer = setInterval(poll, INTERVAL_SECONDS * 1000);
      poll();
    }
    setMode('polling', `Polling every ${INTERVAL_SECONDS} s (live updates unavailable: ${reason})`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 60000);
  }

  stopPolling() {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

// ---- start ------------------------------------------------------------------------------

const live = new Live();

async function start() {
  state.generation += 1;
  live.stop();
  state.pool.clear();
  state.rps.clear();
  state.memory.clear();
  state.latencyRows.clear();
  state.lastRequests = null;
  state.lastIntervalEnd = undefined;
  state.lastRecordedAt = null;
  showError($('error'), null);
  try {
    await loadInitial();
  } catch (err) {
    showError($('error'), err);
  }
  live.start();
}

function main() {
  makeCharts();
  $('latency-type').addEventListener('change', renderLatency);
  initChrome(start);
  start();
}

main();
