// Recommendations: the list endpoint's filters, savings and evidence, the workflow's buttons
// for approvers and admins (one at a time or in bulk), and the CSV export of the same filters.

import { api, download } from '../api.js';
import { failure, h, loading, show } from '../dom.js';
import { day, money, when } from '../format.js';

const STATUSES = ['open', 'approved', 'rejected', 'dismissed', 'executed', 'resolved'];

function field(label, control) {
  return h('label', {}, label, control);
}

function select(name, options, value) {
  return h('select', { name, id: `f-${name}` },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

function filtersForm(onSubmit, onExport) {
  const form = h('form', { id: 'rec-filters', 'aria-label': 'Filters' },
    h('div', { class: 'filters' },
      field('Status', select('status', [['open', 'Open'], ...STATUSES.slice(1).map((s) => [s, s[0].toUpperCase() + s.slice(1)]), ['', 'Any']], 'open')),
      field('Source', select('source', [['', 'Any'], ['rule', 'Rules'], ['advisor', 'Advisor']], '')),
      field('Min. savings', h('input', { name: 'min_savings', id: 'f-min_savings', type: 'number', min: 0, step: 'any', size: 6 })),
      field('Sort', select('sort', [['savings', 'Savings'], ['detected', 'Detected'], ['confidence', 'Confidence']], 'savings')),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', id: 'export-csv', onclick: onExport }, 'Download CSV')),
    h('details', { class: 'more-filters' }, h('summary', {}, 'More filters'),
      h('div', { class: 'filters' },
        field('Category', h('input', { name: 'category', id: 'f-category', size: 10 })),
        field('Rule', h('input', { name: 'rule_id', id: 'f-rule_id', size: 14 })),
        field('Subscription', h('input', { name: 'subscription_id', id: 'f-subscription_id', size: 14 })),
        field('Resource group', h('input', { name: 'resource_group', id: 'f-resource_group', size: 12 })),
        field('Tag key', h('input', { name: 'tag_key', id: 'f-tag_key', size: 8 })),
        field('Tag value', h('input', { name: 'tag_value', id: 'f-tag_value', size: 8 })),
        field('Risk', select('risk', [['', 'Any'], ['low', 'Low'], ['medium', 'Medium'], ['high', 'High']], '')),
        h('label', {}, 'Suppressed too', h('input', { type: 'checkbox', name: 'include_suppressed', id: 'f-include_suppressed' })))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onSubmit();
  });
  return form;
}

function filters(form) {
  const query = {};
  for (const [key, value] of new FormData(form)) {
    if (key === 'include_suppressed') query[key] = 'true';
    else if (value !== '') query[key] = value.trim();
  }
  return query;
}

/** Asks for what a transition needs (a reason; a date for a snooze). Resolves null when cancelled. */
function ask(title, { reason, until }) {
  return new Promise((resolve) => {
    const reasonInput = h('textarea', { id: 'dlg-reason', rows: 3, required: reason === 'required', maxlength: 2000 });
    const untilInput = h('input', { id: 'dlg-until', type: 'date', required: true, min: day(1), max: day(365), value: day(30) });
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dialog = h('dialog', { 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        until && h('label', { for: 'dlg-until' }, 'Snooze until'), until && untilInput,
        h('label', { for: 'dlg-reason' }, reason === 'required' ? 'Reason (required)' : 'Comment (optional)'), reasonInput,
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'dlg-ok', value: 'ok' }, 'Confirm'), cancel)));
    cancel.addEventListener('click', () => dialog.close('cancel'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (dialog.returnValue === 'cancel' || dialog.returnValue === '') resolve(null);
      else resolve({ reason: reasonInput.value.trim() || undefined, until: until ? `${untilInput.value}T00:00:00Z` : undefined });
    });
    dialog.querySelector('form').addEventListener('submit', () => { dialog.returnValue = 'ok'; });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** The transitions offered for a status, by role: [label, to, needs]. */
function transitions(status, ctx) {
  if (!ctx.canDecide) return [];
  const list = [];
  if (status === 'open') {
    list.push(['Approve', 'approved', {}], ['Reject', 'rejected', { reason: 'required' }],
      ['Dismiss', 'dismissed', { reason: 'required' }], ['Snooze', 'dismissed', { reason: 'required', until: true }]);
  } else if (status === 'approved') {
    list.push(['Reject', 'rejected', { reason: 'required' }]);
  }
  if (ctx.isAdmin && (status === 'dismissed' || status === 'rejected')) list.push(['Reopen', 'open', {}]);
  return list;
}

function evidence(rec) {
  const body = h('div', {}, 'Loading…');
  const details = h('details', {}, h('summary', {}, 'Evidence'), body);
  details.addEventListener('toggle', () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = '1';
    api(`recommendations/${rec.id}`).then((d) => show(body,
      d.description && h('p', {}, d.description),
      h('p', { class: 'muted' }, `Savings basis: ${d.savings_basis}; confidence ${d.confidence}; effort ${d.effort}; first detected ${when(d.first_detected_at)}`),
      h('pre', {}, JSON.stringify(d.evidence ?? {}, null, 2)),
      d.timeline?.length && h('ul', {}, d.timeline.map((t) => h('li', {}, `${when(t.at || t.created_at)}: ${t.from_status || ''} → ${t.to_status || t.kind || ''}${t.reason ? ` (${t.reason})` : ''}`)))))
      .catch((e) => show(body, failure('the evidence', e)));
  });
  return details;
}

export async function render(root, ctx) {
  const status = h('p', { role: 'status', class: 'muted', id: 'rec-status' });
  const table = h('div', {}, loading('recommendations'));
  const pager = h('div', { class: 'pager' });
  const selected = new Set();
  let current = {};
  let cursors = [];

  const bulk = h('div', { class: 'toolbar', id: 'bulk', hidden: !ctx.canDecide },
    h('span', { id: 'bulk-count' }, '0 selected'),
    ...[['Approve selected', 'approved', {}], ['Reject selected', 'rejected', { reason: 'required' }],
      ['Dismiss selected', 'dismissed', { reason: 'required' }], ['Snooze selected', 'dismissed', { reason: 'required', until: true }]]
      .map(([label, to, needs]) => h('button', { type: 'button', 'data-bulk': to, onclick: () => bulkAct(label, to, needs) }, label)));

  async function act(rec, label, to, needs) {
    const answer = needs.reason ? await ask(`${label}: ${rec.title}`, needs) : {};
    if (!answer) return;
    try {
      await api(`recommendations/${rec.id}/transition`, { method: 'POST',
        body: { to, expected_status: rec.status, reason: answer.reason, until: answer.until } });
    } catch (e) {
      status.textContent = `${label} failed: ${e.message}`;
      return;
    }
    // The list is read again first, so the outcome stays on screen after it.
    await load(current, cursors[cursors.length - 1]);
    status.textContent = `${label}: done (${rec.resource_name || rec.title}).`;
  }

  async function bulkAct(label, to, needs) {
    if (!selected.size) {
      status.textContent = 'Select recommendations first.';
      return;
    }
    const answer = needs.reason ? await ask(`${label} (${selected.size})`, needs) : {};
    if (!answer) return;
    let r;
    try {
      r = await api('recommendations/transitions', { method: 'POST',
        body: { ids: [...selected], to, expected_status: 'open', reason: answer.reason, until: answer.until } });
    } catch (e) {
      status.textContent = `${label} failed: ${e.message}`;
      return;
    }
    selected.clear();
    await load(current, cursors[cursors.length - 1]);
    status.textContent = `${label}: ${r.succeeded} succeeded, ${r.failed} failed.`;
  }

  function rows(items) {
    const allBox = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select every recommendation on this page' });
    allBox.addEventListener('change', () => {
      for (const box of table.querySelectorAll('input[data-id]')) {
        box.checked = allBox.checked;
        if (allBox.checked) selected.add(box.dataset.id); else selected.delete(box.dataset.id);
      }
      bulk.querySelector('#bulk-count').textContent = `${selected.size} selected`;
    });
    return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Recommendations' }, h('table', { id: 'rec-table', class: 'stack' },
      h('caption', { class: 'sr-only' }, 'Recommendations'),
      h('thead', {}, h('tr', {},
        ctx.canDecide && h('th', { scope: 'col' }, allBox),
        h('th', { scope: 'col' }, 'Recommendation'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Rule'),
        h('th', { scope: 'col', class: 'num' }, 'Savings a month'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Risk'),
        h('th', { scope: 'col' }, 'Status'),
        ctx.canDecide && h('th', { scope: 'col' }, 'Actions'))),
      h('tbody', {}, items.map((rec) => {
        const box = ctx.canDecide && h('input', { type: 'checkbox', 'data-id': rec.id, 'aria-label': `Select ${rec.title}`, disabled: rec.status !== 'open' });
        if (box) {
          box.checked = selected.has(rec.id);
          box.addEventListener('change', () => {
            if (box.checked) selected.add(rec.id); else selected.delete(rec.id);
            bulk.querySelector('#bulk-count').textContent = `${selected.size} selected`;
          });
        }
        return h('tr', { 'data-id': rec.id, 'data-status': rec.status },
          ctx.canDecide && h('td', {}, box),
          h('td', {}, h('div', {}, rec.title),
            h('div', { class: 'muted' }, [rec.resource_name, rec.resource_group].filter(Boolean).join(' · ')),
            evidence(rec)),
          h('td', { class: 'hide-narrow' }, rec.rule_id, h('div', { class: 'muted' }, rec.source)),
          h('td', { class: 'num', 'data-label': 'Savings a month', 'data-value': rec.estimated_monthly_savings ?? '' }, money(rec.estimated_monthly_savings, rec.currency)),
          h('td', { class: 'hide-narrow' }, rec.risk),
          h('td', { 'data-label': 'Status' }, rec.status, rec.snoozed_until && h('div', { class: 'muted' }, `until ${rec.snoozed_until.slice(0, 10)}`)),
          ctx.canDecide && h('td', {}, h('div', { class: 'actions' },
            transitions(rec.status, ctx).map(([label, to, needs]) => h('button', {
              type: 'button', 'data-action': label.toLowerCase(), 'aria-label': `${label}: ${rec.title}`,
              onclick: () => act(rec, label, to, needs),
            }, label)))));
      }))));
  }

  async function load(query, cursor) {
    show(table, loading('recommendations'));
    try {
      const page = await api('recommendations', { query: { ...ctx.tenantQuery, ...query, page_size: 50, cursor, include_total: true } });
      if (!ctx.current()) return;
      show(table, page.items.length ? rows(page.items) : h('p', { class: 'state' }, 'No recommendation matches these filters.'));
      status.textContent = `${page.total ?? page.items.length} recommendations match.`;
      const previous = h('button', { type: 'button', disabled: cursors.length === 0 }, 'Previous page');
      previous.addEventListener('click', () => { cursors.pop(); load(current, cursors[cursors.length - 1]); });
      const next = h('button', { type: 'button', disabled: !page.next_cursor }, 'Next page');
      next.addEventListener('click', () => { cursors.push(page.next_cursor); load(current, page.next_cursor); });
      show(pager, previous, next);
    } catch (e) {
      show(table, failure('recommendations', e));
    }
  }

  const form = filtersForm(() => {
    current = filters(form);
    cursors = [];
    selected.clear();
    load(current);
  }, () => {
    const query = { ...ctx.tenantQuery, ...filters(form) };
    download('recommendations/export.csv', query, `recommendations-${day(0)}.csv`)
      .then(() => { status.textContent = 'CSV downloaded.'; })
      .catch((e) => { status.textContent = `CSV download failed: ${e.message}`; });
  });
  show(root, h('h1', {}, 'Recommendations'), form, bulk, status, table, pager);
  current = filters(form);
  await load(current);
}
