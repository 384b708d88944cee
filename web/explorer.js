// /explorer: page through a campaign's rows with the Relay cursors (first/after,
// last/before). Every piece of state lives in the URL query string, so a reload or a
// bookmark shows the same page and Back/Forward walk the pages. Nothing here is O(position):
// a page is one request whatever its depth; the position is carried along, not counted.

import {
  ApiError, authHeaders, el, errorFromBody, fmtBytes, fmtInt, fmtTime, gql, initChrome, showError,
} from './common.js';

const $ = (id) => document.getElementById(id);

const PAGE_SIZES = [25, 50, 100, 250, 1000];

/** The three connections, as data: ordering fields, filters, columns, the export name. */
const CONNECTIONS = {
  generatedDomains: {
    label: 'Generated domains',
    campaignType: 'DOMAIN_GENERATION',
    exportName: 'GENERATED_DOMAINS',
    orderType: 'GeneratedDomainOrder',
    filterType: null,
    orders: [['OFFSET_INDEX', 'Offset index'], ['CREATED_AT', 'Created at'], ['DOMAIN_NAME', 'Domain name']],
    filters: [],
    fields: 'databaseId offsetIndex domainName tld sourceKeyword sourcePattern generatedAt createdAt',
    columns: [
      { label: 'Offset', key: 'offsetIndex', num: true, render: fmtInt },
      { label: 'Domain', key: 'domainName', mono: true },
      { label: 'TLD', key: 'tld' },
      { label: 'Keyword', key: 'sourceKeyword' },
      { label: 'Pattern', key: 'sourcePattern', mono: true },
      { label: 'Generated', key: 'generatedAt', render: fmtTime },
    ],
  },
  dnsValidationResults: {
    label: 'DNS results',
    campaignType: 'DNS_VALIDATION',
    exportName: 'DNS_VALIDATION_RESULTS',
    orderType: 'DnsValidationResultOrder',
    filterType: 'DnsValidationResultFilter',
    orders: [['CREATED_AT', 'Created at'], ['DOMAIN_NAME', 'Domain name']],
    filters: ['validationStatus', 'businessStatus'],
    fields: 'databaseId domainName validationStatus businessStatus dnsRecords attempts lastCheckedAt createdAt',
    columns: [
      { label: 'Domain', key: 'domainName', mono: true },
      { label: 'Validation', key: 'validationStatus', pill: true },
      { label: 'Business', key: 'businessStatus', pill: true },
      { label: 'DNS records', key: 'dnsRecords', json: true },
      { label: 'Attempts', key: 'attempts', num: true, render: fmtInt },
      { label: 'Last checked', key: 'lastCheckedAt', render: fmtTime },
      { label: 'Created', key: 'createdAt', render: fmtTime },
    ],
  },
  httpKeywordResults: {
    label: 'HTTP results',
    campaignType: 'HTTP_KEYWORD_VALIDATION',
    exportName: 'HTTP_KEYWORD_RESULTS',
    orderType: 'HttpKeywordResultOrder',
    filterType: 'HttpKeywordResultFilter',
    orders: [['CREATED_AT', 'Created at'], ['DOMAIN_NAME', 'Domain name']],
    filters: ['validationStatus'],
    fields: 'databaseId domainName validationStatus httpStatusCode pageTitle foundKeywords attempts lastCheckedAt createdAt',
    columns: [
      { label: 'Domain', key: 'domainName', mono: true },
      { label: 'Validation', key: 'validationStatus', pill: true },
      { label: 'HTTP', key: 'httpStatusCode', num: true },
      { label: 'Title', key: 'pageTitle', wrap: true },
      { label: 'Keywords', key: 'foundKeywords', json: true },
      { label: 'Attempts', key: 'attempts', num: true, render: fmtInt },
      { label: 'Last checked', key: 'lastCheckedAt', render: fmtTime },
    ],
  },
};

const CONNECTION_OF_TYPE = Object.fromEntries(Object.entries(CONNECTIONS).map(([k, c]) => [c.campaignType, k]));

const TYPE_LABEL = {
  DOMAIN_GENERATION: 'domain generation',
  DNS_VALIDATION: 'DNS validation',
  HTTP_KEYWORD_VALIDATION: 'HTTP keywords',
};

const CAMPAIGNS_QUERY = `query ExplorerCampaigns {
  campaigns(first: 100) {
    totalCount
    nodes {
      id name campaignType status
      generatedDomains(first: 0) { totalCount }
      dnsValidationResults(first: 0) { totalCount }
      httpKeywordResults(first: 0) { totalCount }
    }
  }
}`;

const ONE_CAMPAIGN_QUERY = `query ExplorerCampaign($id: ID!) {
  campaign(id: $id) {
    id name campaignType status
    generatedDomains(first: 0) { totalCount }
    dnsValidationResults(first: 0) { totalCount }
    httpKeywordResults(first: 0) { totalCount }
  }
}`;

function pageQuery(connName) {
  const c = CONNECTIONS[connName];
  const filterVar = c.filterType ? `, $filter: ${c.filterType}` : '';
  const filterArg = c.filterType ? ', filter: $filter' : '';
  return `query ExplorerPage($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $orderBy: ${c.orderType}${filterVar}) {
  campaign(id: $id) {
    id
    page: ${connName}(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy${filterArg}) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { ${c.fields} } }
    }
  }
}`;
}

// ---- URL state --------------------------------------------------------------------------

/**
 * Everything the page shows, as read from / written to the query string:
 * campaign, conn, order, dir, vs, bs (NULL = not classified), n, after | before | end=1, pos.
 */
function readUrl() {
  const q = new URLSearchParams(location.search);
  const conn = CONNECTIONS[q.get('conn')] ? q.get('conn') : null;
  const n = Number(q.get('n'));
  const pos = Number(q.get('pos'));
  return {
    campaign: q.get('campaign') || '',
    conn,
    order: q.get('order') || '',
    dir: q.get('dir') === 'DESC' ? 'DESC' : 'ASC',
    vs: q.get('vs') || '',
    bs: q.get('bs') || '',
    n: PAGE_SIZES.includes(n) ? n : 50,
    after: q.get('after') || '',
    before: q.get('before') || '',
    end: q.get('end') === '1',
    pos: Number.isInteger(pos) && pos > 0 ? pos : null,
  };
}

function toSearch(s) {
  const q = new URLSearchParams();
  if (s.campaign) q.set('campaign', s.campaign);
  if (s.conn) q.set('conn', s.conn);
  if (s.order) q.set('order', s.order);
  q.set('dir', s.dir);
  if (s.vs) q.set('vs', s.vs);
  if (s.bs) q.set('bs', s.bs);
  q.set('n', String(s.n));
  if (s.after) q.set('after', s.after);
  else if (s.before) q.set('before', s.before);
  else if (s.end) q.set('end', '1');
  if (s.pos) q.set('pos', String(s.pos));
  return `?${q.toString()}`;
}

function go(next, { push = true } = {}) {
  const url = `${location.pathname}${toSearch(next)}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  load();
}

/** The state with its page cursors cleared: the first page of the same view. */
function firstPageOf(s) {
  return { ...s, after: '', before: '', end: false, pos: 1 };
}

// ---- campaigns --------------------------------------------------------------------------

const campaigns = new Map();

function campaignRows(c) {
  const conn = CONNECTION_OF_TYPE[c.campaignType];
  return conn && c[conn] ? c[conn].totalCount : 0;
}

function campaignOption(c) {
  return el('option', { value: c.id }, `${c.name} — ${TYPE_LABEL[c.campaignType] || c.campaignType} — ${fmtInt(campaignRows(c))} rows`);
}

async function loadCampaigns() {
  const data = await gql(CAMPAIGNS_QUERY);
  const select = $('campaign');
  campaigns.clear();
  for (const c of data.campaigns.nodes) campaigns.set(c.id, c);
  const options = data.campaigns.nodes.map(campaignOption);
  if (options.length === 0) options.push(el('option', { value: '' }, 'No campaigns yet'));
  if (data.campaigns.totalCount > data.campaigns.nodes.length) {
    options.push(el('option', { value: '', disabled: true }, `… ${fmtInt(data.campaigns.totalCount - data.campaigns.nodes.length)} more (open one by its id in the URL)`));
  }
  select.replaceChildren(...options);
}

/** A campaign named by the URL but not in the first 100: fetch it alone (a bookmark still works). */
async function ensureCampaign(id) {
  if (!id || campaigns.has(id)) return campaigns.get(id) || null;
  const data = await gql(ONE_CAMPAIGN_QUERY, { id });
  if (!data.campaign) return null;
  campaigns.set(id, data.campaign);
  $('campaign').prepend(campaignOption(data.campaign));
  return data.campaign;
}

// ---- form <-> state ---------------------------------------------------------------------

function syncForm(s) {
  $('campaign').value = s.campaign;
  const campaign = campaigns.get(s.campaign);
  for (const option of $('connection').options) {
    option.disabled = Boolean(campaign) && CONNECTIONS[option.value].campaignType !== campaign.campaignType;
  }
  $('connection').value = s.conn;
  const c = CONNECTIONS[s.conn];
  const order = $('order');
  order.replaceChildren(...c.orders.map(([value, label]) => el('option', { value }, label)));
  order.value = s.order;
  $('direction').value = s.dir;
  $('validation-status').disabled = !c.filters.includes('validationStatus');
  $('business-status').disabled = !c.filters.includes('businessStatus');
  $('validation-status').value = c.filters.includes('validationStatus') ? s.vs : '';
  $('business-status').value = c.filters.includes('businessStatus') ? s.bs : '';
  $('page-size').value = String(s.n);
}

/** Fills in what the URL left out or got wrong (unknown campaign type, order, filter). */
function normalize(s) {
  const out = { ...s };
  if (!out.campaign && campaigns.size) out.campaign = campaigns.keys().next().value;
  const campaign = campaigns.get(out.campaign);
  if (campaign && CONNECTION_OF_TYPE[campaign.campaignType]) out.conn = CONNECTION_OF_TYPE[campaign.campaignType];
  if (!out.conn) out.conn = 'generatedDomains';
  const c = CONNECTIONS[out.conn];
  if (!c.orders.some(([f]) => f === out.order)) out.order = c.orders[0][0];
  if (!c.filters.includes('validationStatus')) out.vs = '';
  if (!c.filters.includes('businessStatus')) out.bs = '';
  return out;
}

function fromForm(current) {
  return {
    ...current,
    campaign: $('campaign').value,
    conn: $('connection').value,
    order: $('order').value,
    dir: $('direction').value,
    vs: $('validation-status').value,
    bs: $('business-status').value,
    n: Number($('page-size').value),
  };
}

// ---- loading a page ---------------------------------------------------------------------

let current = null;
/** What the page on screen is: state, rows, pageInfo, total, position. */
let shown = null;
let inflight = null;

function variables(s) {
  const c = CONNECTIONS[s.conn];
  const vars = { id: s.campaign, orderBy: { field: s.order, direction: s.dir } };
  if (s.after) Object.assign(vars, { first: s.n, after: s.after });
  else if (s.before) Object.assign(vars, { last: s.n, before: s.before });
  else if (s.end) vars.last = s.n;
  else vars.first = s.n;
  if (c.filterType) {
    const filter = {};
    if (s.vs) filter.validationStatus = s.vs;
    // An explicit null asks for rows not classified (IS NULL); absent means any.
    if (s.bs) filter.businessStatus = s.bs === 'NULL' ? null : s.bs;
    vars.filter = filter;
  }
  return vars;
}

/** Where the page starts (1-based), when knowable without counting. */
function positionOf(s, rows, total) {
  if (s.end) return Math.max(1, total - rows.length + 1);
  if (s.pos) return s.pos;
  if (!s.after && !s.before) return 1;
  const unfiltered = !s.vs && !s.bs;
  if (s.conn === 'generatedDomains' && s.order === 'OFFSET_INDEX' && s.dir === 'ASC' && unfiltered && rows.length) {
    return rows[0].offsetIndex + 1;
  }
  return null;
}

function setBusy(busy) {
  document.body.dataset.loading = busy ? 'true' : 'false';
  $('main').setAttribute('aria-busy', busy ? 'true' : 'false');
}

function renderHead(c) {
  $('rows').tHead.rows[0].replaceChildren(
    el('th', { scope: 'col', class: 'num' }, '#'),
    ...c.columns.map((col) => el('th', { scope: 'col', class: col.num ? 'num' : null }, col.label)),
  );
}

function cell(col, node) {
  const value = node[col.key];
  if (value === null || value === undefined) return el('td', { class: col.num ? 'num muted' : 'muted' }, '—');
  if (col.pill) return el('td', {}, el('span', { class: `pill ${value}` }, String(value).toLowerCase().replace(/_/g, ' ')));
  if (col.json) {
    const text = JSON.stringify(value);
    return el('td', { class: 'json', title: text.length > 80 ? text.slice(0, 2000) : null }, text);
  }
  const text = col.render ? col.render(value) : String(value);
  return el('td', { class: [col.num ? 'num' : '', col.mono ? 'mono' : '', col.wrap ? 'wrap' : ''].join(' ').trim() || null }, text);
}

function renderRows(c, nodes, pos) {
  renderHead(c);
  const body = $('rows').tBodies[0];
  if (nodes.length === 0) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: c.columns.length + 1, class: 'empty' }, 'No rows on this page.')));
    return;
  }
  body.replaceChildren(...nodes.map((node, i) => el(
    'tr',
    { dataset: { id: node.databaseId } },
    el('td', { class: 'num muted' }, pos ? fmtInt(pos + i) : ''),
    ...c.columns.map((col) => cell(col, node)),
  )));
}

function renderPosition(s, count, total, pos, ms) {
  const position = $('position');
  if (total === 0) position.textContent = 'No rows match.';
  else if (count === 0) position.textContent = `No rows on this page (${fmtInt(total)} in all)`;
  else if (pos) {
    let text = `Rows ${fmtInt(pos)}–${fmtInt(pos + count - 1)} of ${fmtInt(total)}`;
    if ((pos - 1) % s.n === 0) text += ` · page ${fmtInt((pos - 1) / s.n + 1)} of ${fmtInt(Math.ceil(total / s.n))}`;
    position.textContent = text;
  } else {
    position.textContent = `${fmtInt(count)} rows of ${fmtInt(total)} (position not known for this link)`;
  }
  position.dataset.start = pos ? String(pos) : '';
  position.dataset.total = String(total);
  $('timing').textContent = ms === null ? '' : `· page took ${ms.toFixed(1)} ms`;
}

function setButtons(pageInfo, s) {
  const atStart = !s.after && !s.before && !s.end;
  $('first').disabled = !pageInfo ? atStart : !pageInfo.hasPreviousPage && atStart;
  $('prev').disabled = !pageInfo || !pageInfo.hasPreviousPage || !pageInfo.startCursor;
  $('next').disabled = !pageInfo || !pageInfo.hasNextPage || !pageInfo.endCursor;
  $('last').disabled = !pageInfo || !pageInfo.hasNextPage;
}

function firstPageLink(s, text) {
  const link = el('a', { href: `${location.pathname}${toSearch(firstPageOf(s))}` }, text);
  link.addEventListener('click', (event) => {
    event.preventDefault();
    go(firstPageOf(s));
  });
  return link;
}

async function load() {
  let s = readUrl();
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  setBusy(true);
  try {
    await ensureCampaign(s.campaign);
  } catch (err) {
    if (controller.signal.aborted) return;
    showError($('error'), err, el('div', {}, el('a', { href: location.pathname }, 'Start again with the first campaign')));
  }
  const normal = normalize(s);
  if (toSearch(normal) !== toSearch(s)) {
    s = normal;
    history.replaceState(null, '', `${location.pathname}${toSearch(s)}`);
  }
  current = s;
  syncForm(s);
  const c = CONNECTIONS[s.conn];
  if (!s.campaign) {
    setBusy(false);
    renderHead(c);
    $('rows').tBodies[0].replaceChildren(el('tr', {}, el('td', { colspan: c.columns.length + 1, class: 'empty' }, 'No campaign to show.')));
    setButtons(null, s);
    return;
  }
  const started = performance.now();
  try {
    const data = await gql(pageQuery(s.conn), variables(s), { signal: controller.signal });
    const ms = performance.now() - started;
    if (inflight !== controller) return;
    if (!data.campaign) {
      throw new ApiError('No campaign has this id.', 'NOT_FOUND', 200);
    }
    const page = data.campaign.page;
    const nodes = page.edges.map((e) => e.node);
    const pos = positionOf(s, nodes, page.totalCount);
    showError($('error'), null);
    renderRows(c, nodes, pos);
    renderPosition(s, nodes.length, page.totalCount, pos, ms);
    setButtons(page.pageInfo, s);
    // Keep the position in the URL too, so a bookmark restores "rows x–y".
    if (pos && !s.end && s.pos !== pos) {
      current = { ...s, pos };
      history.replaceState(null, '', `${location.pathname}${toSearch(current)}`);
    }
    shown = { state: current, nodes, pageInfo: page.pageInfo, total: page.totalCount, pos };
    $('rows-caption').textContent = `${c.label} of ${campaigns.get(s.campaign)?.name || 'the campaign'}`;
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    if (inflight !== controller) return;
    shown = null;
    const extra = [];
    if (err.code === 'INVALID_CURSOR') {
      extra.push(el('div', {}, 'The link’s page cursor does not belong to this campaign, ordering and filter (or was altered). ', firstPageLink(s, 'Go to the first page')));
    } else if (s.after || s.before || s.end) {
      extra.push(el('div', {}, firstPageLink(s, 'Go to the first page')));
    }
    showError($('error'), err, ...extra);
    renderHead(c);
    $('rows').tBodies[0].replaceChildren(el('tr', {}, el('td', { colspan: c.columns.length + 1, class: 'empty' }, 'No rows to show: see the error above.')));
    $('position').textContent = '–';
    $('position').dataset.start = '';
    $('timing').textContent = '';
    setButtons(null, s);
  } finally {
    if (inflight === controller) {
      inflight = null;
      setBusy(false);
    }
  }
}

// ---- navigation ---------------------------------------------------------------------------

function navigate(kind) {
  if (!current) return;
  const s = current;
  const info = shown && shown.state === s ? shown : null;
  if (kind === 'first') go(firstPageOf(s));
  else if (kind === 'last') go({ ...s, after: '', before: '', end: true, pos: null });
  else if (kind === 'next' && info && info.pageInfo.endCursor) {
    go({ ...s, after: info.pageInfo.endCursor, before: '', end: false, pos: info.pos ? info.pos + info.nodes.length : null });
  } else if (kind === 'prev' && info && info.pageInfo.startCursor) {
    go({ ...s, after: '', before: info.pageInfo.startCursor, end: false, pos: info.pos ? Math.max(1, info.pos - s.n) : null });
  }
}

function onFormChange(event) {
  if (!current) return;
  const next = fromForm(current);
  if (event.target.id === 'campaign') {
    const campaign = campaigns.get(next.campaign);
    next.conn = campaign ? CONNECTION_OF_TYPE[campaign.campaignType] : next.conn;
    next.order = '';
    next.vs = '';
    next.bs = '';
  }
  if (event.target.id === 'connection') next.order = '';
  if (event.target.id === 'page-size') {
    // A cursor does not depend on the page size: a page reached forwards stays where it starts.
    if (current.after) go({ ...next, before: '', end: false });
    else if (current.end) go({ ...next, pos: null });
    else go(firstPageOf(next));
    return;
  }
  go(normalize(firstPageOf(next)));
}

// ---- export -------------------------------------------------------------------------------

let exportController = null;
let exportUrl = null;

function exportHref(s, format) {
  const q = new URLSearchParams({
    campaign: s.campaign,
    connection: CONNECTIONS[s.conn].exportName,
    format,
    orderBy: s.order,
    direction: s.dir,
  });
  if (s.vs) q.set('validationStatus', s.vs);
  if (s.bs) q.set('businessStatus', s.bs);
  return `/export?${q.toString()}`;
}

function exportStatus(text, stateName) {
  const status = $('export-status');
  status.textContent = text;
  status.dataset.state = stateName;
}

async function runExport() {
  if (!current || !current.campaign || exportController) return;
  const s = current;
  const format = $('export-format').value;
  const controller = new AbortController();
  exportController = controller;
  const progress = $('export-progress');
  const link = $('export-link');
  link.hidden = true;
  if (exportUrl) URL.revokeObjectURL(exportUrl);
  exportUrl = null;
  $('export').disabled = true;
  $('export-cancel').hidden = false;
  progress.hidden = false;
  progress.removeAttribute('value');
  exportStatus('Starting export…', 'running');
  // Received bytes move into Blobs every few MiB: the browser keeps Blob data out of the
  // page's heap (and on disk when large), so a multi-million-row export does not sit in memory.
  const parts = [];
  let pending = [];
  let pendingBytes = 0;
  let bytes = 0;
  let newlines = 0;
  try {
    const response = await fetch(exportHref(s, format), { headers: authHeaders(), signal: controller.signal });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        // Not JSON: the status says enough.
      }
      throw errorFromBody(body, response.status);
    }
    const total = Number(response.headers.get('X-Total-Count'));
    const known = Number.isFinite(total) && response.headers.has('X-Total-Count');
    if (known) progress.max = Math.max(total, 1);
    const reader = response.body.getReader();
    let lastPaint = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending.push(value);
      pendingBytes += value.byteLength;
      if (pendingBytes >= 8 * 1024 * 1024) {
        parts.push(new Blob(pending));
        pending = [];
        pendingBytes = 0;
      }
      bytes += value.byteLength;
      for (let i = 0; i < value.length; i += 1) if (value[i] === 10) newlines += 1;
      const rows = format === 'csv' ? Math.max(0, newlines - 1) : newlines;
      const now = performance.now();
      if (now - lastPaint > 150) {
        lastPaint = now;
        if (known) progress.value = Math.min(rows, total);
        exportStatus(`${fmtInt(rows)}${known ? ` of ${fmtInt(total)}` : ''} rows · ${fmtBytes(bytes)}`, 'running');
      }
    }
    const rows = format === 'csv' ? Math.max(0, newlines - 1) : newlines;
    if (known) progress.value = total;
    const type = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
    parts.push(new Blob(pending));
    exportUrl = URL.createObjectURL(new Blob(parts, { type }));
    const name = (campaigns.get(s.campaign)?.name || 'campaign').replace(/[^A-Za-z0-9._-]+/g, '_');
    link.href = exportUrl;
    link.download = `${name}-${CONNECTIONS[s.conn].exportName.toLowerCase()}.${format}`;
    link.textContent = `Save ${link.download}`;
    link.hidden = false;
    $('export-status').dataset.rows = String(rows);
    exportStatus(`Done: ${fmtInt(rows)} rows, ${fmtBytes(bytes)}.`, 'done');
    $('export-status').dataset.rows = String(rows);
    link.click();
  } catch (err) {
    if (err && err.name === 'AbortError') {
      exportStatus(`Export cancelled after ${fmtBytes(bytes)}.`, 'cancelled');
    } else {
      exportStatus('Export failed.', 'failed');
      showError($('error'), err);
    }
  } finally {
    exportController = null;
    $('export').disabled = false;
    $('export-cancel').hidden = true;
    progress.hidden = true;
  }
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  showError($('error'), null);
  try {
    await loadCampaigns();
  } catch (err) {
    showError($('error'), err);
    $('campaign').replaceChildren(el('option', { value: '' }, 'Campaigns could not be loaded'));
  }
  await load();
}

function main() {
  initChrome(start);
  $('controls').addEventListener('change', onFormChange);
  $('controls').addEventListener('submit', (event) => event.preventDefault());
  $('first').addEventListener('click', () => navigate('first'));
  $('prev').addEventListener('click', () => navigate('prev'));
  $('next').addEventListener('click', () => navigate('next'));
  $('last').addEventListener('click', () => navigate('last'));
  $('export').addEventListener('click', runExport);
  $('export-cancel').addEventListener('click', () => exportController && exportController.abort());
  window.addEventListener('popstate', () => load());
  start();
}

main();
