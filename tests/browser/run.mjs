// Real-browser tests of /dashboard and /explorer: Debian's Chromium driven by playwright-core
// against a running server with seeded data (tests/api/browser.rs starts both).
//
//   BASE_URL=http://127.0.0.1:8080 [ARTIFACTS_DIR=dir] [API_TOKEN=t] [UPDATE_SCREENSHOTS=1] [ONLY=explorer] node run.mjs
//
// The server should run with ALERT_SLOW_QUERY_MEAN_MS=0 (any measured query fires "Slow
// Database Queries") and METRICS_SAMPLE_INTERVAL_SECONDS=1 (history rows within seconds).
// Screenshots go to ARTIFACTS_DIR; with UPDATE_SCREENSHOTS=1 also to docs/screenshots/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
const TOKEN = process.env.API_TOKEN || '';
const ARTIFACTS_DIR = process.env.ARTIFACTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'domainflow-browser-'));
const DOCS_DIR = path.resolve(here, '../../docs/screenshots');
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** `dashboard` or `explorer` runs only that page's tests (while working on one). */
const ONLY = process.env.ONLY || '';
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };

if (!BASE_URL) {
  console.error('BASE_URL is required, e.g. BASE_URL=http://127.0.0.1:8080 node run.mjs');
  process.exit(2);
}
fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });

// ---- the API, called directly (the oracle the pages are checked against) --------------------

async function api(query, variables = {}) {
  const response = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`API error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const PAGE_IDS = `query Ids($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $orderBy: GeneratedDomainOrder) {
  campaign(id: $id) { generatedDomains(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
    totalCount pageInfo { endCursor } nodes { databaseId } } } }`;

const DNS_IDS = `query DnsIds($id: ID!, $first: Int, $last: Int, $orderBy: DnsValidationResultOrder, $filter: DnsValidationResultFilter) {
  campaign(id: $id) { dnsValidationResults(first: $first, last: $last, orderBy: $orderBy, filter: $filter) {
    totalCount nodes { databaseId } } } }`;

/** Some traffic of every kind the dashboard shows: pages of each connection, metrics reads. */
async function sendTraffic(campaigns, rounds = 10) {
  const requests = [];
  for (let i = 0; i < rounds; i += 1) {
    requests.push(api('{ campaigns(first: 10) { totalCount nodes { id name } } }'));
    for (const c of campaigns) {
      requests.push(api(`query($id: ID!) { campaign(id: $id) {
        generatedDomains(first: 20) { totalCount nodes { domainName } }
        dnsValidationResults(first: 20) { totalCount nodes { domainName } }
        httpKeywordResults(first: 20) { totalCount nodes { domainName } } } }`, { id: c.id }));
    }
  }
  await Promise.all(requests);
  return requests.length;
}

/**
 * Steady traffic (a page request every 150 ms) until the returned function is called. The
 * slow-query alert judges the last completed sampling interval, so a single burst can fall
 * between two dashboard readings; steady traffic fills every interval, as on a busy server.
 */
function steadyTraffic(campaigns) {
  let running = true;
  const loop = (async () => {
    let i = 0;
    while (running) {
      const c = campaigns[i % campaigns.length];
      i += 1;
      await api(`query($id: ID!) { campaign(id: $id) { generatedDomains(first: 10) { nodes { domainName } }
        dnsValidationResults(first: 10) { nodes { domainName } } } }`, { id: c.id }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

// ---- test plumbing ------------------------------------------------------------------------

const problems = [];
let passed = 0;

function watch(page, name, { socketMayFail = false, unauthorizedExpected = false } = {}) {
  page.on('pageerror', (err) => problems.push(`${name}: uncaught ${err.message}`));
  page.on('console', (msg) => {
    // CSP violations and script errors show up here; the pages must cause none.
    const text = msg.text();
    // A failed resource load (a missing asset) counts too, but for the 401s of the token test.
    const expected = (socketMayFail && /^WebSocket connection to .* failed/.test(text))
      || (unauthorizedExpected && /status of 401/.test(text));
    if (msg.type() === 'error' && !expected) {
      problems.push(`${name}: console error: ${text}`);
    }
  });
}

async function step(name, page, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    console.log(`not ok - ${name}`);
    if (page) {
      const file = path.join(ARTIFACTS_DIR, `failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`  screenshot: ${file}`);
      console.log(`  url: ${page.url()}`);
    }
    throw err;
  }
}

async function screenshot(page, name, viewport, { docs = false } = {}) {
  await page.setViewportSize(viewport);
  await page.waitForTimeout(400); // charts resize on the next frame
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`  screenshot: ${file}`);
  if (docs && UPDATE_SCREENSHOTS) {
    fs.mkdirSync(DOCS_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_DIR, `${name}.png`));
    console.log(`  updated docs/screenshots/${name}.png`);
  }
}

const rowIds = (page) => page.$$eval('#rows tbody tr[data-id]', (trs) => trs.map((tr) => tr.dataset.id));

async function waitLoaded(page) {
  await page.waitForFunction(() => document.body.dataset.loading === 'false');
}

// ---- the tests ----------------------------------------------------------------------------

async function tokenTests(context) {
  const page = await context.newPage();
  // Without a token the server answers 401: expected here, not a page problem.
  watch(page, 'token box', { socketMayFail: true, unauthorizedExpected: true });
  await step('without a token the pages say UNAUTHENTICATED; the token box fixes it', page, async () => {
    await page.goto('about:blank');
    await page.evaluate(() => {
      window.name = 'no-token';
    });
    await page.goto(`${BASE_URL}/explorer`);
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#error'), /UNAUTHENTICATED/);
    await page.goto(`${BASE_URL}/dashboard`);
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#error'), /UNAUTHENTICATED/);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type="submit"]');
    // The token goes in the WebSocket's connection_init payload: the dashboard goes live.
    await page.waitForFunction(() => document.getElementById('mode').dataset.mode === 'live', null, { timeout: 10000 });
    await page.waitForFunction(() => document.getElementById('error').hidden, null, { timeout: 5000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('domainflow.token')), TOKEN);
    await page.goto(`${BASE_URL}/explorer`);
    await waitLoaded(page);
    assert.equal(await page.isHidden('#error'), true, 'the explorer loads with the stored token');
    assert.ok((await rowIds(page)).length > 0);
  });
  await page.close();
}

async function dashboardTests(context, campaigns) {
  const page = await context.newPage();
  watch(page, 'dashboard');
  await page.setViewportSize(WIDE);

  await step('dashboard loads and goes live over the WebSocket subscription', page, async () => {
    await page.goto(`${BASE_URL}/dashboard`);
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1, null, { timeout: 15000 });
    await page.waitForFunction(() => document.getElementById('mode').dataset.mode === 'live', null, { timeout: 10000 });
    assert.match(await page.textContent('#mode'), /Live/);
  });

  await step('dashboard charts are not empty', page, async () => {
    await sendTraffic(campaigns, 3);
    await page.waitForFunction(
      () => ['chart-pool', 'chart-latency', 'chart-rps', 'chart-memory'].every(
        (id) => Number(document.getElementById(id).dataset.points) > 0 && document.querySelector(`#${id} canvas`),
      ),
      null,
      { timeout: 20000 },
    );
  });

  await step('dashboard updates within seconds of traffic', page, async () => {
    const count = () => page.$$eval('#queries tbody tr', (trs) => trs
      .filter((tr) => tr.querySelector('th'))
      .reduce((sum, tr) => sum + Number(tr.children[1].textContent.replace(/,/g, '')), 0));
    const before = await count();
    const updatesBefore = Number(await page.getAttribute('body', 'data-updates'));
    const started = Date.now();
    const sent = await sendTraffic(campaigns, 10);
    await page.waitForFunction(
      ([n]) => Number(document.body.dataset.updates) > n
        && Number(document.getElementById('stat-rps').textContent) > 0,
      [updatesBefore],
      { timeout: 8000 },
    );
    await page.waitForFunction(
      ([b]) => [...document.querySelectorAll('#queries tbody tr')]
        .filter((tr) => tr.querySelector('th'))
        .reduce((sum, tr) => sum + Number(tr.children[1].textContent.replace(/,/g, '')), 0) > b,
      [before],
      { timeout: 8000 },
    );
    console.log(`  ${sent} requests sent; the page showed them after ${Date.now() - started} ms; queries ${before} → ${await count()}`);
  });

  const stopTraffic = steadyTraffic(campaigns);
  await step('a firing alert is shown (slow queries, threshold 0 ms)', page, async () => {
    const alert = page.locator('.alert.firing[data-code="slow_queries"]');
    await alert.waitFor({ timeout: 15000 });
    const text = await alert.textContent();
    assert.match(text, /Firing/);
    assert.match(text, /Slow Database Queries/);
  });

  await step('dashboard screenshots', page, async () => {
    await page.waitForTimeout(2500);
    await screenshot(page, 'dashboard', WIDE, { docs: true });
    await screenshot(page, 'dashboard-narrow', NARROW);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'dashboard-dark', WIDE);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize(WIDE);
  });
  await stopTraffic();
  await page.close();

  const fallback = await context.newPage();
  watch(fallback, 'dashboard (no WebSocket)', { socketMayFail: true });
  await step('without the WebSocket the dashboard polls and says so', fallback, async () => {
    await fallback.routeWebSocket(/\/graphql\/ws/, (ws) => ws.close({ code: 1011, reason: 'blocked by the test' }));
    await fallback.goto(`${BASE_URL}/dashboard`);
    await fallback.waitForFunction(() => document.getElementById('mode').dataset.mode === 'polling', null, { timeout: 10000 });
    const before = Number(await fallback.getAttribute('body', 'data-updates'));
    await fallback.waitForFunction((n) => Number(document.body.dataset.updates) >= n + 2, before, { timeout: 8000 });
    assert.match(await fallback.textContent('#mode'), /Polling/);
  });
  await fallback.close();
}

async function explorerTests(context, campaigns) {
  const generation = campaigns
    .filter((c) => c.campaignType === 'DOMAIN_GENERATION')
    .sort((a, b) => b.generatedDomains.totalCount - a.generatedDomains.totalCount)[0];
  assert.ok(generation, 'a seeded domain-generation campaign');
  const dns = campaigns.find((c) => c.campaignType === 'DNS_VALIDATION');
  const n = 25;
  const total = generation.generatedDomains.totalCount;
  assert.ok(total > 5 * n, `the campaign has several pages (${total} rows)`);

  // The oracle: the first five pages of OFFSET_INDEX ASC, page size 25, straight from the API.
  const expected = [];
  let after = null;
  for (let i = 0; i < 5; i += 1) {
    const data = await api(PAGE_IDS, { id: generation.id, first: n, after, orderBy: { field: 'OFFSET_INDEX', direction: 'ASC' } });
    const conn = data.campaign.generatedDomains;
    expected.push(conn.nodes.map((x) => x.databaseId));
    after = conn.pageInfo.endCursor;
  }

  const page = await context.newPage();
  watch(page, 'explorer');
  await page.setViewportSize(WIDE);

  const expectPage = async (index, label) => {
    await waitLoaded(page);
    assert.deepEqual(await rowIds(page), expected[index], `${label}: rows of page ${index + 1}`);
    const position = await page.textContent('#position');
    assert.ok(
      position.includes(`Rows ${(index * n + 1).toLocaleString('en-US')}–${((index + 1) * n).toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`),
      `${label}: position text "${position}"`,
    );
    assert.match(await page.textContent('#timing'), /page took \d+(\.\d)? ms/);
  };

  await step('explorer shows the first page of the chosen campaign', page, async () => {
    // A hand-written link: no position, no cursor (the page fills in the rest).
    await page.goto(`${BASE_URL}/explorer?campaign=${encodeURIComponent(generation.id)}&n=${n}`);
    await expectPage(0, 'first page');
    assert.equal(await page.isDisabled('#prev'), true, 'no previous page on the first page');
  });

  await step('explorer pages forward three times (first/after)', page, async () => {
    for (let i = 1; i <= 3; i += 1) {
      await page.click('#next');
      await page.waitForFunction((want) => new URLSearchParams(location.search).get('pos') === String(want), i * n + 1);
      await expectPage(i, `next #${i}`);
    }
  });

  await step('browser Back twice shows the right pages', page, async () => {
    await page.goBack();
    await page.waitForFunction((want) => new URLSearchParams(location.search).get('pos') === String(want), 2 * n + 1);
    await expectPage(2, 'back #1');
    await page.goBack();
    await page.waitForFunction((want) => new URLSearchParams(location.search).get('pos') === String(want), n + 1);
    await expectPage(1, 'back #2');
  });

  let bookmark = '';
  await step('a bookmarked URL reloads the same page', page, async () => {
    bookmark = page.url();
    await page.reload();
    await expectPage(1, 'reload');
    const other = await context.newPage();
    watch(other, 'explorer (bookmark)');
    await other.goto(bookmark);
    await other.waitForFunction(() => document.body.dataset.loading === 'false');
    assert.deepEqual(await rowIds(other), expected[1], 'bookmark in a new tab: rows of page 2');
    await other.close();
  });

  await step('Previous (last/before) goes back one page', page, async () => {
    await page.click('#next');
    await expectPage(2, 'next');
    await page.click('#prev');
    await page.waitForFunction(() => new URLSearchParams(location.search).has('before'));
    await expectPage(1, 'previous');
  });

  await step('Last shows the last rows and First the first', page, async () => {
    const last = await api(PAGE_IDS, { id: generation.id, last: n, orderBy: { field: 'OFFSET_INDEX', direction: 'ASC' } });
    await page.click('#last');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('end') === '1');
    await waitLoaded(page);
    assert.deepEqual(await rowIds(page), last.campaign.generatedDomains.nodes.map((x) => x.databaseId));
    assert.match(await page.textContent('#position'), new RegExp(`of ${total.toLocaleString('en-US')}`));
    assert.equal(await page.isDisabled('#next'), true, 'no next page on the last page');
    await page.click('#first');
    await expectPage(0, 'first');
  });

  if (dns) {
    await step('a DNS campaign with an ordering and the "not classified" filter', page, async () => {
      const filterState = { businessStatus: null };
      const data = await api(DNS_IDS, { id: dns.id, first: 50, orderBy: { field: 'DOMAIN_NAME', direction: 'DESC' }, filter: filterState });
      const want = data.campaign.dnsValidationResults;
      await page.selectOption('#campaign', dns.id);
      await waitLoaded(page);
      await page.selectOption('#page-size', '50');
      await waitLoaded(page);
      await page.selectOption('#order', 'DOMAIN_NAME');
      await waitLoaded(page);
      await page.selectOption('#direction', 'DESC');
      await waitLoaded(page);
      await page.selectOption('#business-status', 'NULL');
      await page.waitForFunction(() => new URLSearchParams(location.search).get('bs') === 'NULL');
      await waitLoaded(page);
      assert.deepEqual(await rowIds(page), want.nodes.map((x) => x.databaseId));
      assert.match(await page.textContent('#position'), new RegExp(`of ${want.totalCount.toLocaleString('en-US')}`));
    });
  }

  await step('an invalid cursor in the URL shows a clear message', page, async () => {
    const url = new URL(bookmark);
    url.searchParams.set('after', `${url.searchParams.get('after') || 'djE6'}tampered`);
    await page.goto(url.toString());
    await waitLoaded(page);
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    const text = await error.textContent();
    assert.match(text, /INVALID_CURSOR/);
    assert.match(text, /first page/i);
    await screenshot(page, 'explorer-invalid-cursor', WIDE);
    await page.click('#error a');
    await expectPage(0, 'after the first-page link');
    assert.equal(await error.isHidden(), true, 'the message goes away');
  });

  const probe = await fetch(`${BASE_URL}/export?campaign=${encodeURIComponent(generation.id)}&connection=GENERATED_DOMAINS&format=csv`, {
    method: 'GET',
    headers: TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {},
  });
  await probe.body?.cancel();
  if (probe.status === 404) {
    console.log('# SKIP export: the server has no /export endpoint');
  } else {
    await step('Export streams every row as CSV with progress', page, async () => {
      await page.selectOption('#export-format', 'csv');
      const download = page.waitForEvent('download', { timeout: 30000 });
      await page.click('#export');
      await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('export-status').dataset.state), null, { timeout: 30000 });
      assert.equal(await page.getAttribute('#export-status', 'data-state'), 'done', await page.textContent('#error'));
      assert.equal(Number(await page.getAttribute('#export-status', 'data-rows')), total);
      const file = await download;
      const saved = path.join(ARTIFACTS_DIR, file.suggestedFilename());
      await file.saveAs(saved);
      const lines = fs.readFileSync(saved, 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, total + 1, 'header + one line per row');
    });
  }

  await step('explorer screenshots', page, async () => {
    await page.goto(`${BASE_URL}/explorer?campaign=${encodeURIComponent(generation.id)}&n=25`);
    await waitLoaded(page);
    await page.click('#next');
    await waitLoaded(page);
    await page.click('#next');
    await waitLoaded(page);
    await screenshot(page, 'explorer', WIDE, { docs: true });
    await screenshot(page, 'explorer-narrow', NARROW);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'explorer-dark', WIDE);
    await page.emulateMedia({ colorScheme: 'light' });
  });
  await page.close();
}

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'domainflow-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: WIDE,
    acceptDownloads: true,
  });
  if (TOKEN) {
    // Every tab starts with the token in its session storage, as if typed into the token box,
    // except a tab named "no-token" (the test of the box itself).
    await context.addInitScript((token) => {
      try {
        if (window.name !== 'no-token') sessionStorage.setItem('domainflow.token', token);
      } catch {
        // about:blank has no storage.
      }
    }, TOKEN);
  }
  const started = Date.now();
  try {
    const { campaigns } = await api(`{ campaigns(first: 100) { nodes { id name campaignType
      generatedDomains(first: 0) { totalCount } dnsValidationResults(first: 0) { totalCount } } } }`);
    if (TOKEN) await tokenTests(context);
    if (ONLY !== 'explorer') await dashboardTests(context, campaigns.nodes);
    if (ONLY !== 'dashboard') await explorerTests(context, campaigns.nodes);
    assert.deepEqual(problems, [], 'no script error, CSP violation or uncaught exception in the pages');
    console.log(`# ${passed} passed in ${((Date.now() - started) / 1000).toFixed(1)} s; artefacts in ${ARTIFACTS_DIR}`);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`FAILED: ${err && err.stack ? err.stack : err}`);
  if (problems.length) console.error(`page problems:\n  ${problems.join('\n  ')}`);
  process.exit(1);
});
