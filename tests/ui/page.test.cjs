// The web page in a real headless Chromium (Debian's), driven by Playwright's library, against
// `scripts/dev` on the simulator's demo data; run by scripts/test-ui, which sets the UI_*
// variables. Every page runs under its real Content-Security-Policy (a violation fails the
// test), except the accessibility pass, which injects axe-core with bypassCSP.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { chromium } = require('playwright-core');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/test-ui)`);
  return value;
};
const URL_ = env('UI_URL');
const API = env('UI_API');
// The development identity provider over HTTPS (its self-signed certificate is accepted by each
// browser context with ignoreHTTPSErrors, as a developer accepts it once in a real browser).
const IDP = env('UI_IDP');
const CUSTOMER = env('UI_CUSTOMER_TID');
const OPERATOR = env('UI_OPERATOR_TID');
const OTHER = env('UI_OTHER_TID');
const SHOTS = env('UI_SCREENSHOTS');
const SIZES = [[1440, 900], [390, 844]];
const VIEWS = ['overview', 'recommendations', 'anomalies', 'ingestion'];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  fs.mkdirSync(SHOTS, { recursive: true });
});
after(async () => browser && browser.close());

function sql(query) {
  return execFileSync('psql', [env('UI_DATABASE_URL'), '-tAc', query], { encoding: 'utf8' }).trim();
}

/**
 * A new tab that fails the test on a CSP violation or an uncaught error. It remembers the
 * bearer token of the page's last API call (`page.token`), to ask the API the same questions.
 */
async function newPage(options = {}) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 }, acceptDownloads: true, ignoreHTTPSErrors: true, ...options,
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth && r.url().startsWith(API)) page.token = auth.replace(/^Bearer /, '');
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) page.problems.push(m.text());
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  return page;
}

/**
 * Signs in through the page's button (MSAL's redirect, authorization code with PKCE) and the
 * development identity provider's form at its Entra-shaped authorize endpoint.
 */
async function signIn(page, { tid, role, name = 'UI test' }) {
  await page.goto(URL_);
  await page.click('#sign-in');
  await page.waitForURL(`${IDP}/*/oauth2/v2.0/authorize**`);
  page.authorizeUrl = new URL(page.url());
  await page.fill('#tid', tid);
  await page.selectOption('#role', role);
  await page.fill('#name', name);
  await page.click('#sign-in');
  await page.waitForSelector('#nav:not([hidden])');
  await page.waitForSelector('#view-overview');
}

async function view(page, name) {
  await page.evaluate((n) => { location.hash = `#/${n}`; }, name);
  await page.waitForSelector(`#view-${name}`);
  await page.waitForFunction(() => !document.querySelector('main [role=status].state'));
}

async function apiGet(page, p) {
  assert.ok(page.token, 'the page has called the API with a token');
  const response = await fetch(`${API}/${p}`, { headers: { Authorization: `Bearer ${page.token}` } });
  assert.equal(response.status, 200, `${p}: ${response.status}`);
  return response.json();
}

const kpiValue = (page, id) => page.$eval(`#${id} .value`, (e) => Number(e.dataset.value));
const close = (a, b) => assert.ok(Math.abs(a - b) < 0.005, `${a} != ${b}`);

test('the page is served with a strict policy, hashed immutable assets and a no-cache HTML', async () => {
  const html = await fetch(URL_);
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  const csp = html.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const body = await html.text();
  const asset = body.match(/assets\/([0-9a-f]{16})\/app\.js/);
  assert.ok(asset, 'the page names its assets by hash');
  const js = await fetch(new URL(asset[0], URL_));
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal((await fetch(new URL('assets/0000000000000000/app.js', URL_))).status, 404);
});

test('a reader of a tenant sees KPIs equal to the API figures and a drawn chart', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Reader' });
  await page.waitForSelector('#kpi-untagged .value[data-value]');
  const today = new Date().toISOString().slice(0, 10);
  const mtd = await apiGet(page, `costs/summary?from=${today.slice(0, 8)}01&to=${today}`);
  close(await kpiValue(page, 'kpi-mtd-actual'), mtd.total_cost);
  close(await kpiValue(page, 'kpi-mtd-amortized'), mtd.total_amortized_cost);
  const shown = await page.$eval('#kpi-mtd-amortized .value', (e) => e.textContent);
  const expected = await page.evaluate(([v, c]) => new Intl.NumberFormat(undefined,
    { style: 'currency', currency: c, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v), [mtd.total_amortized_cost, mtd.currency]);
  assert.equal(shown, expected, 'formatted in the billing currency');
  const savings = await apiGet(page, 'recommendations/summary');
  const open = savings.open.filter((s) => s.currency === mtd.currency).reduce((n, s) => n + Number(s.monthly_savings), 0);
  close(await kpiValue(page, 'kpi-open-savings'), open);
  assert.ok(open > 0, 'the demo has open savings');
  const forecast = await fetch(`${API}/costs/forecast?history_days=0`, { headers: { Authorization: `Bearer ${page.token}` } });
  if (forecast.status === 200) {
    close(await kpiValue(page, 'kpi-forecast'), (await forecast.json()).month_end.total);
  } else {
    assert.equal(forecast.status, 404, 'the forecast is there or not deployed');
    assert.equal(await page.$eval('#kpi-forecast .value', (e) => e.textContent), 'Not available');
  }
  const line = await page.$('svg.trend path.actual-line');
  assert.ok(line, 'the trend line is drawn');
  const points = Number(await line.getAttribute('data-points'));
  assert.ok(points >= 20, `${points} days drawn`);
  assert.equal((await line.getAttribute('d')).split('L').length, points);
  const box = await line.boundingBox();
  assert.ok(box.width > 300 && box.height > 10, `line box ${JSON.stringify(box)}`);
  assert.ok((await page.$$('#top-services .bars li')).length > 0, 'top services listed');
  // Top resource groups: the API's grouping (summed on the server), largest amortized first.
  await page.waitForSelector('#top-groups .bars li');
  const grouped = await apiGet(page, `costs/summary?from=${today.slice(0, 8)}01&to=${today}&group_by=resource_group`);
  const expectedGroups = grouped.by_resource_group.filter((g) => g.currency === mtd.currency && g.amortized_cost > 0)
    .sort((a, b) => b.amortized_cost - a.amortized_cost).slice(0, 8);
  const shownGroups = await page.$$eval('#top-groups .bars li', (items) => items.map((li) => ({
    name: li.querySelector('.name').textContent, value: Number(li.querySelector('.amount').dataset.value) })));
  assert.deepEqual(shownGroups.map((g) => g.name), expectedGroups.map((g) => g.resource_group || '(no resource group)'));
  shownGroups.forEach((g, i) => close(g.value, expectedGroups[i].amortized_cost));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('sign-in goes through MSAL with PKCE; its tokens are in sessionStorage, never in a cookie', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Reader' });
  const q = page.authorizeUrl.searchParams;
  assert.equal(q.get('x-client-SKU'), 'msal.js.browser', 'the authorize request is MSAL\'s');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.equal(q.get('response_type'), 'code');
  assert.ok(q.get('nonce') && q.get('state'), 'MSAL sends a nonce and a state');
  assert.ok(q.get('scope').split(' ').includes('api://azcops-local/.default'), q.get('scope'));
  await page.waitForSelector('#kpi-mtd-amortized .value[data-value]');
  const stored = await page.evaluate(() => Object.values(sessionStorage));
  assert.ok(page.token && stored.some((v) => v.includes(page.token)), 'the token the page sends is in sessionStorage');
  assert.deepEqual(await page.context().cookies(), [], 'no cookie on any origin');
  assert.equal(await page.evaluate(() => document.cookie), '');
  // Signing out clears the tokens and comes back to the sign-in button.
  await page.click('#sign-out');
  await page.waitForSelector('section.signin #sign-in');
  const token = page.token;
  const after = await page.evaluate((t) => Object.values(sessionStorage).filter((v) => v.includes(t)).length, token);
  assert.equal(after, 0, 'signed out: the token is gone');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a reader sees no action buttons', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Reader' });
  await view(page, 'recommendations');
  await page.waitForSelector('#rec-table tbody tr');
  assert.equal((await page.$$('button[data-action]')).length, 0);
  assert.equal(await page.$('#select-all'), null);
  assert.equal(await page.$eval('#bulk', (e) => e.hidden), true);
  assert.equal(await page.$('#tenant'), null, 'a customer has no tenant switch');
  await page.context().close();
});

test('an approver approves a recommendation: the database changes and an audit row is written', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Approver', name: 'UI approver' });
  await view(page, 'recommendations');
  await page.waitForSelector('#rec-table tbody tr[data-status=open] button[data-action=approve]');
  const id = await page.$eval('#rec-table tbody tr[data-status=open]', (e) => e.dataset.id);
  assert.equal(sql(`SELECT status FROM recommendations WHERE id = '${id}'`), 'open');
  await page.click(`tr[data-id="${id}"] button[data-action=approve]`);
  await page.waitForFunction(() => /Approve: done/.test(document.querySelector('#rec-status').textContent));
  assert.equal(sql(`SELECT status FROM recommendations WHERE id = '${id}'`), 'approved');
  assert.equal(sql(`SELECT count(*) FROM audit_logs WHERE target_id = '${id}' AND action = 'transition'`), '1');

  // Bulk: snooze two more with a reason and a date, through the dialog.
  const ids = await page.$$eval('#rec-table tbody tr[data-status=open]', (rows) => rows.slice(0, 2).map((r) => r.dataset.id));
  for (const other of ids) await page.check(`input[data-id="${other}"]`);
  await page.click('button[data-bulk=dismissed]:has-text("Snooze")');
  await page.fill('#dlg-reason', 'after the freeze');
  await page.click('#dlg-ok');
  await page.waitForFunction(() => /2 succeeded, 0 failed/.test(document.querySelector('#rec-status').textContent));
  for (const other of ids) {
    assert.equal(sql(`SELECT status || ' ' || (snoozed_until IS NOT NULL) FROM recommendations WHERE id = '${other}'`), 'dismissed true');
  }

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  assert.match(csv.split('\n')[0], /^id,tenant_id,/);
  assert.ok(csv.trim().split('\n').length > 1, 'the CSV has rows');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an approver acknowledges the anomaly planted in the demo estate', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Approver', name: 'UI approver' });
  await view(page, 'anomalies');
  await page.waitForSelector('#anomaly-table, #anomalies-unavailable, #view-anomalies p.state');
  assert.equal(await page.$('#anomalies-unavailable'), null, 'the anomalies API answers');
  const rows = await page.$$('#anomaly-table tbody tr');
  assert.ok(rows.length > 0, `the demo's planted anomaly is listed: ${await page.textContent('#view-anomalies')}`);
  const id = await rows[0].getAttribute('data-id');
  await page.click(`tr[data-id="${id}"] button[data-action=acknowledge]`);
  await page.waitForFunction(() => /marked acknowledged|Could not/.test(document.querySelector('#anomaly-status').textContent));
  assert.match(await page.textContent('#anomaly-status'), /marked acknowledged/);
  assert.equal(sql(`SELECT status FROM cost_anomalies WHERE id = '${id}'`), 'acknowledged');
  assert.equal(sql(`SELECT count(*) FROM audit_logs WHERE target_id = '${id}'`), '1');
  await page.selectOption('#f-anomaly-status', 'acknowledged');
  await page.waitForSelector(`tr[data-id="${id}"] button[data-action=reopen]`);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a customer cannot see another tenant', async () => {
  const page = await newPage();
  await signIn(page, { tid: OTHER, role: 'AzCops.Admin', name: 'Other tenant admin' });
  assert.equal(await page.$('#tenant'), null);
  assert.equal(await page.$eval('#tenant-name', (e) => e.textContent), 'Fabrikam (empty)');
  await page.waitForSelector('#kpi-mtd-amortized .value');
  assert.equal(await kpiValue(page, 'kpi-mtd-amortized'), 0);
  await view(page, 'recommendations');
  await page.waitForSelector('#rec-table, #view-recommendations p.state');
  assert.equal((await page.$$('#rec-table tbody tr')).length, 0);
  // Naming the first tenant in a request does not help either.
  const tenants = await apiGet(page, 'tenants');
  assert.deepEqual(tenants.items.map((t) => t.azure_tenant_id), [OTHER]);
  await page.context().close();
});

test('an operator switches between tenants', async () => {
  const page = await newPage();
  await signIn(page, { tid: OPERATOR, role: 'AzCops.Admin', name: 'Operator' });
  const options = await page.$$eval('#tenant option', (o) => o.map((x) => x.textContent));
  assert.ok(options.includes('Fabrikam (empty)') && options.length >= 2, options.join(', '));
  await page.selectOption('#tenant', { label: 'Contoso (simulated)' });
  await page.waitForFunction(() => Number(document.querySelector('#kpi-mtd-amortized .value')?.dataset.value) > 0);
  await page.selectOption('#tenant', { label: 'Fabrikam (empty)' });
  await page.waitForFunction(() => document.querySelector('#kpi-mtd-amortized .value')?.dataset.value === '0');
  await view(page, 'ingestion');
  assert.match(await page.textContent('#view-ingestion'), /No ingestion run yet/);
  await page.selectOption('#tenant', { label: 'Contoso (simulated)' });
  await page.waitForSelector('#run-table button[data-run]');
  await page.click('#run-table button[data-run]');
  await page.waitForSelector('#run-table table.items tbody tr');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('no serious or critical accessibility violations; screenshots at both sizes', async () => {
  const axe = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const page = await newPage({ bypassCSP: true });
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Approver' });
  const found = [];
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    for (const name of VIEWS) {
      await view(page, name);
      await page.waitForTimeout(name === 'overview' ? 800 : 200);
      await page.screenshot({ path: path.join(SHOTS, `${name}-${width}x${height}.png`), fullPage: name === 'overview' });
      if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: axe });
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      for (const v of result.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
        found.push(`${name} ${width}x${height}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
      }
    }
  }
  assert.deepEqual(found, []);
  await page.context().close();
});

test('page weight and first paint of the overview (printed)', async () => {
  const page = await newPage();
  await signIn(page, { tid: CUSTOMER, role: 'AzCops.Reader' });
  const assets = new Map();
  page.on('response', async (r) => {
    if (r.url().includes('/api/ui/')) assets.set(r.url(), await r.body().catch(() => Buffer.alloc(0)));
  });
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#kpi-mtd-amortized .value[data-value]');
  const timing = await page.evaluate(() => ({
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
    kpis: performance.now(),
  }));
  await page.waitForTimeout(300);
  let raw = 0;
  let gzip = 0;
  for (const body of assets.values()) {
    raw += body.length;
    gzip += zlib.gzipSync(body, { level: 6 }).length;
  }
  console.log(`ui: page weight ${assets.size} files, ${(raw / 1024).toFixed(1)} KB raw, ${(gzip / 1024).toFixed(1)} KB gzip`);
  console.log(`ui: overview first contentful paint ${timing.fcp?.toFixed(0)} ms, KPIs drawn at ${timing.kpis.toFixed(0)} ms after navigation`);
  assert.ok(assets.size >= 5);
  assert.ok([...assets.keys()].some((u) => u.endsWith('/vendor/msal-browser.min.js')), 'MSAL is loaded');
  assert.ok(gzip < 400 * 1024, `the page weighs ${(gzip / 1024).toFixed(1)} KB compressed (issue 18: under 400 KB)`);
  await page.context().close();
});
