// Anomalies: each with its size against what was expected, the contributors that explain it
// and the resources that appeared in its window; approvers and admins acknowledge them (or mark
// them expected). Reads the anomalies API (issue 17); says so when it is not there.

import { api, ApiError } from '../api.js';
import { failure, h, loading, show } from '../dom.js';
import { money, percent, when } from '../format.js';

function contributors(a) {
  const list = a.contributors || [];
  return h('details', {},
    h('summary', {}, `${list.length} contributors${a.new_resources?.length ? `, ${a.new_resources.length} new resources` : ''}`),
    h('ul', {}, list.map((c) => h('li', {}, `${c.kind.replace(/_/g, ' ')}: ${c.name} — ${money(c.delta, a.currency)} (${money(c.actual, a.currency)} against ${money(c.expected, a.currency)})`))),
    a.new_resources?.length && h('p', {}, 'New resources:'),
    a.new_resources?.length && h('ul', {}, a.new_resources.map((r) => h('li', {}, `${r.resource_id} (${money(r.amortized_cost, a.currency)})`))));
}

export async function render(root, ctx) {
  const status = h('p', { role: 'status', class: 'muted', id: 'anomaly-status' });
  const body = h('div', {}, loading('anomalies'));
  const filter = h('select', { id: 'f-anomaly-status', name: 'status' },
    [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['expected', 'Expected'], ['', 'Any']]
      .map(([v, t]) => h('option', { value: v }, t)));
  filter.addEventListener('change', () => load());
  show(root, h('h1', {}, 'Anomalies'),
    h('div', { class: 'filters' }, h('label', {}, 'Status', filter)), status, body);

  async function decide(a, to) {
    try {
      await api(`costs/anomalies/${a.id}`, { method: 'PATCH', body: { status: to, expected_status: a.status } });
    } catch (e) {
      status.textContent = `Could not mark it ${to}: ${e.message}`;
      return;
    }
    // The list is read again first, so the outcome stays on screen after it.
    await load();
    status.textContent = `Anomaly of ${a.peak_date} marked ${to}.`;
  }

  async function load() {
    show(body, loading('anomalies'));
    let page;
    try {
      page = await api('costs/anomalies', { query: { ...ctx.tenantQuery, status: filter.value, page_size: 100 } });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        show(body, h('p', { class: 'state', id: 'anomalies-unavailable' }, 'Anomaly detection is not available on this server yet.'));
        return;
      }
      show(body, failure('anomalies', e));
      return;
    }
    if (!ctx.current()) return;
    status.textContent = `${page.items.length} anomalies.`;
    if (!page.items.length) {
      show(body, h('p', { class: 'state' }, 'No anomaly with this status.'));
      return;
    }
    show(body, h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Anomalies' }, h('table', { id: 'anomaly-table', class: 'stack' },
      h('caption', { class: 'sr-only' }, 'Anomalies'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'What'),
        h('th', { scope: 'col', class: 'num' }, 'Against expected'), h('th', { scope: 'col' }, 'Status'),
        ctx.canDecide && h('th', { scope: 'col' }, 'Actions'))),
      h('tbody', {}, page.items.map((a) => h('tr', { 'data-id': a.id },
        h('td', {}, a.start_date === a.end_date ? a.start_date : `${a.start_date} to ${a.end_date}`,
          a.provisional && h('div', { class: 'muted' }, 'provisional')),
        h('td', {}, h('span', { class: `badge sev-${a.severity}` }, a.severity), ' ',
          `${a.kind.replace(/_/g, ' ')} in ${a.service_name || 'the subscription'}`,
          h('div', { class: 'muted' }, a.subscription_id), contributors(a)),
        h('td', { class: 'num', 'data-label': 'Against expected' }, money(a.delta, a.currency), h('div', { class: 'muted' }, percent(a.delta_percent))),
        h('td', { 'data-label': 'Status' }, a.status, a.status_changed_at && h('div', { class: 'muted' }, when(a.status_changed_at))),
        ctx.canDecide && h('td', {}, h('div', { class: 'actions' },
          a.status === 'open'
            ? [h('button', { type: 'button', 'data-action': 'acknowledge', onclick: () => decide(a, 'acknowledged') }, 'Acknowledge'),
              h('button', { type: 'button', 'data-action': 'expected', onclick: () => decide(a, 'expected') }, 'Expected')]
            : h('button', { type: 'button', 'data-action': 'reopen', onclick: () => decide(a, 'open') }, 'Reopen')))))))));
  }
  await load();
}
