// Ingestion: the runs (newest first) and, for the one opened, each subscription's item with its
// counts, attempts and error.

import { api } from '../api.js';
import { failure, h, loading, show } from '../dom.js';
import { when } from '../format.js';

function seconds(ms) {
  return ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`;
}

function items(run) {
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': `Subscriptions of run ${run.id}` }, h('table', { class: 'items' },
    h('caption', { class: 'sr-only' }, `Subscriptions of run ${run.id}`),
    h('thead', {}, h('tr', {},
      ['Subscription', 'Status', 'Resources', 'Cost rows', 'Recommendations', 'Findings', 'Attempts', 'Duration', 'Error']
        .map((t, i) => h('th', { scope: 'col', class: i >= 2 && i <= 7 ? 'num' : null }, t)))),
    h('tbody', {}, run.items.map((i) => h('tr', { 'data-status': i.status },
      h('td', {}, i.subscription_id), h('td', {}, i.status),
      h('td', { class: 'num' }, i.resources_count), h('td', { class: 'num' }, i.costs_count),
      h('td', { class: 'num' }, i.recommendations_count), h('td', { class: 'num' }, i.findings_count),
      h('td', { class: 'num' }, i.attempts), h('td', { class: 'num' }, seconds(i.duration_ms)),
      h('td', { class: i.error ? 'item-error' : null }, i.error ? `${i.error_code || 'error'}: ${i.error}` : '—'))))));
}

export async function render(root, ctx) {
  const body = h('div', {}, loading('ingestion runs'));
  show(root, h('h1', {}, 'Ingestion'), body);
  const page = await api('ingestion/runs', { query: { page_size: 100 } });
  if (!ctx.current()) return;
  const tenant = ctx.session.tenant;
  const runs = page.items.filter((r) => !ctx.session.operator || !tenant || r.tenant_id === tenant);
  if (!runs.length) {
    show(body, h('p', { class: 'state' }, 'No ingestion run yet.'));
    return;
  }
  show(body, h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Ingestion runs' }, h('table', { id: 'run-table' },
    h('caption', { class: 'sr-only' }, 'Ingestion runs'),
    h('thead', {}, h('tr', {}, ['Started', 'Mode', 'Trigger', 'Status', 'Subscriptions', 'Failed', 'Finished', '']
      .map((t, i) => h('th', { scope: 'col', class: i === 4 || i === 5 ? 'num' : null }, t)))),
    h('tbody', {}, runs.map((r) => {
      const detail = h('tr', { hidden: true }, h('td', { colspan: 8 }));
      const open = h('button', { type: 'button', 'aria-expanded': 'false', 'data-run': r.id }, 'Items');
      open.addEventListener('click', async () => {
        const expanded = open.getAttribute('aria-expanded') === 'true';
        open.setAttribute('aria-expanded', String(!expanded));
        detail.hidden = expanded;
        if (expanded || detail.dataset.loaded) return;
        show(detail.firstChild, loading('the run'));
        try {
          const status = await api(`ingestion/status/${r.id}`);
          detail.dataset.loaded = '1';
          show(detail.firstChild, items(status));
        } catch (e) {
          show(detail.firstChild, failure('the run', e));
        }
      });
      return [h('tr', { 'data-id': r.id },
        h('td', {}, when(r.created_at)), h('td', {}, r.mode), h('td', {}, r.trigger),
        h('td', {}, r.status), h('td', { class: 'num' }, `${r.items_succeeded} of ${r.items_total}`),
        h('td', { class: 'num' }, r.items_failed), h('td', {}, when(r.finished_at)), h('td', {}, open)), detail];
    })))));
}
