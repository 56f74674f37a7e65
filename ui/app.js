// The page's shell: configuration, sign-in, who is signed in, the tenant switch (operators),
// the navigation and the views (loaded on demand, one module per view).

import { api, onUnauthorized } from './api.js';
import { claims, initialize, signIn, signOut } from './auth.js';
import { failure, h, show } from './dom.js';

const VIEWS = ['overview', 'recommendations', 'anomalies', 'ingestion'];
const TENANT = 'azcops.tenant';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

function signInPage(config, message) {
  document.title = 'Sign in · AzCops';
  const button = h('button', { class: 'primary', id: 'sign-in', type: 'button' }, 'Sign in');
  button.addEventListener('click', () => {
    button.disabled = true;
    signIn().catch((e) => {
      button.disabled = false;
      const origin = new URL(config.authority).origin;
      main.append(h('p', { class: 'state error', role: 'alert' },
        `Could not reach the sign-in authority (${e.message}). If it uses a local certificate, open ${origin}/ once and accept it, then sign in again.`));
    });
  });
  show(main, h('section', { class: 'signin card' },
    h('h1', {}, 'AzCops'),
    h('p', {}, 'Costs, forecasts, anomalies and recommendations of your Azure estate.'),
    message && h('p', { class: 'state error', role: 'alert' }, message),
    button,
    h('p', { class: 'muted' }, `Signs in with ${new URL(config.authority).host}.`)));
}

async function tenantsFor(session) {
  const page = await api('tenants', { query: { page_size: 500 } });
  return page.items.filter((t) => t.is_active !== false);
}

function header(session) {
  const parts = [h('span', { id: 'signed-in-as' }, `${session.name} · ${session.roles.join(', ') || 'no role'}`)];
  if (session.operator && session.tenants.length) {
    const select = h('select', { id: 'tenant', 'aria-label': 'Tenant' },
      session.tenants.map((t) => h('option', { value: t.id, selected: t.id === session.tenant }, t.name)));
    select.addEventListener('change', () => {
      session.tenant = select.value;
      sessionStorage.setItem(TENANT, select.value);
      render(session);
    });
    parts.push(h('label', { class: 'sr-only', for: 'tenant' }, 'Tenant'), select);
  } else if (session.tenants.length) {
    parts.push(h('span', { id: 'tenant-name' }, session.tenants[0].name));
  }
  const out = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => signOut());
  parts.push(out);
  show(who, ...parts);
}

function currentView() {
  const name = location.hash.replace(/^#\//, '').split('?')[0];
  return VIEWS.includes(name) ? name : 'overview';
}

let rendering = 0;

async function render(session) {
  const name = currentView();
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const title = nav.querySelector(`a[data-view="${name}"]`).textContent;
  document.title = `${title} · AzCops`;
  const ticket = ++rendering;
  const view = await import(`./views/${name}.js`);
  if (ticket !== rendering) return;
  const container = h('div', { id: `view-${name}` });
  show(main, container);
  const context = {
    session,
    // What lists and summaries take to cover the chosen tenant (operators name it).
    tenantQuery: session.operator && session.tenant ? { tenant_id: session.tenant } : {},
    canDecide: session.roles.some((r) => r === 'AzCops.Approver' || r === 'AzCops.Admin'),
    isAdmin: session.roles.includes('AzCops.Admin'),
    current: () => ticket === rendering,
  };
  try {
    await view.render(container, context);
  } catch (e) {
    if (ticket === rendering) show(container, failure(title.toLowerCase(), e));
  }
}

async function start() {
  let config;
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    config = await response.json();
  } catch (e) {
    show(main, failure('the page settings', e));
    return;
  }
  if (!config.client_id) {
    show(main, h('p', { class: 'state error', role: 'alert' },
      'Sign-in is not configured: set AZCOPS_UI_CLIENT_ID (see the README, "The web page").'));
    return;
  }
  let route = null;
  try {
    route = await initialize(config);
  } catch (e) {
    signInPage(config, `Sign-in failed: ${e.message}`);
    return;
  }
  const c = await claims();
  if (!c) {
    signInPage(config);
    return;
  }
  const session = {
    config,
    name: c.name || c.preferred_username || c.oid || 'signed in',
    roles: Array.isArray(c.roles) ? c.roles : [],
    operator: Boolean(config.operator_tenant_id) && c.tid === config.operator_tenant_id,
    tenants: [],
    tenant: null,
  };
  onUnauthorized.add(() => signInPage(config, 'Your session has ended: sign in again.'));
  try {
    session.tenants = await tenantsFor(session);
  } catch (e) {
    show(main, failure('your tenants', e));
    return;
  }
  if (session.operator) {
    const saved = sessionStorage.getItem(TENANT);
    session.tenant = session.tenants.some((t) => t.id === saved) ? saved : session.tenants[0]?.id || null;
  } else {
    session.tenant = session.tenants[0]?.id || null;
  }
  header(session);
  nav.hidden = false;
  if (route && route !== location.hash) location.hash = route;
  window.addEventListener('hashchange', () => {
    render(session);
    main.focus();
  });
  await render(session);
}

start();
