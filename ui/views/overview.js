// Overview: month to date (actual and amortized), the month-end forecast with its band, the
// change against the same days of last month, the 90-day trend with the forecast and the
// anomalies, top services and resource groups, open and realised savings, untagged spend.

import { all, api, ApiError } from '../api.js';
import { bars, legend, trendChart } from '../chart.js';
import { failure, h, loading, show } from '../dom.js';
import { day, money, monthStart, percent } from '../format.js';

/** The answer, or {missing: reason} when the endpoint is not there (404) or refuses (409). */
async function optional(promise) {
  try {
    return await promise;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { missing: new Error('not available on this server yet') };
    if (e instanceof ApiError && e.status === 409) return { missing: e };
    throw e;
  }
}

function kpi(id, label, value, currency, sub) {
  return h('div', { class: 'kpi', id },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value', 'data-value': value ?? '', 'data-currency': currency ?? '' },
      typeof value === 'number' ? money(value, currency) : value ?? '—'),
    sub && h('div', { class: 'sub' }, sub));
}

function inCurrency(list, currency, key) {
  return list.filter((x) => x.currency === currency).reduce((sum, x) => sum + Number(x[key] || 0), 0);
}

/** The same days of last month as the month so far. */
function lastMonthWindow(today) {
  const from = monthStart(today, -1);
  const elapsed = Number(today.slice(8, 10)) - 1;
  const end = day(elapsed, new Date(`${from}T00:00:00Z`));
  const lastDay = day(-1, new Date(`${monthStart(today)}T00:00:00Z`));
  return { from, to: end < lastDay ? end : lastDay };
}

async function untaggedSpend(tq) {
  const { items, complete } = await all('recommendations', { ...tq, rule_id: 'tag.missing', status: 'open' }, 200);
  let total = 0;
  let currency = null;
  for (let i = 0; i < items.length; i += 10) {
    const details = await Promise.all(items.slice(i, i + 10).map((r) => api(`recommendations/${r.id}`)));
    for (const d of details) {
      const cost = Number(d.evidence?.untagged_cost ?? 0);
      if (Number.isFinite(cost)) total += cost;
      currency = currency || d.currency;
    }
  }
  return { total, currency, resources: items.length, complete };
}

/** The days from the first with a cost to the last with one (days not ingested yet are zero). */
function trimZeros(points) {
  let start = 0;
  let end = points.length;
  while (start < end && points[start].value === 0) start += 1;
  while (end > start && points[end - 1].value === 0) end -= 1;
  return points.slice(start, end);
}

export async function render(root, ctx) {
  const tq = ctx.tenantQuery;
  const today = day(0);
  const previous = lastMonthWindow(today);
  show(root, h('h1', {}, 'Overview'), loading('the overview'));
  const [mtd, last, trend, forecast, anomalies, savings] = await Promise.all([
    api('costs/summary', { query: { ...tq, from: monthStart(today), to: today } }),
    api('costs/summary', { query: { ...tq, ...previous } }),
    api('costs/summary', { query: { ...tq, from: day(-89), to: today } }),
    optional(api('costs/forecast', { query: { ...tq, history_days: 0 } })),
    optional(api('costs/anomalies', { query: { ...tq, from: day(-89), to: today, page_size: 200 } })),
    api('recommendations/summary', { query: tq }),
  ]);
  if (!ctx.current()) return;
  const currency = mtd.currency || trend.currency || mtd.totals[0]?.currency || savings.open[0]?.currency || 'USD';
  const amortized = mtd.total_amortized_cost ?? inCurrency(mtd.totals, currency, 'amortized_cost');
  const actual = mtd.total_cost ?? inCurrency(mtd.totals, currency, 'cost');
  const before = last.total_amortized_cost ?? inCurrency(last.totals, currency, 'amortized_cost');
  const change = before > 0 ? (100 * (amortized - before)) / before : null;
  const end = forecast.missing ? null : forecast.month_end;
  const open = savings.open.filter((x) => x.currency === currency);
  const openCount = open.reduce((n, x) => n + Number(x.count), 0);
  const openSavings = inCurrency(savings.open, currency, 'monthly_savings');
  const realised = inCurrency(savings.realised, currency, 'realised_monthly_savings');

  const kpis = h('section', { class: 'kpis', 'aria-label': 'Key figures' },
    kpi('kpi-mtd-actual', 'Month to date, actual', actual, currency, `${monthStart(today)} to ${today}`),
    kpi('kpi-mtd-amortized', 'Month to date, amortized', amortized, currency, 'reservations spread over their term'),
    end
      ? kpi('kpi-forecast', `Forecast for ${end.month}`, end.total, currency,
        end.lower_80 !== null ? `80 %: ${money(end.lower_80, currency)} – ${money(end.upper_80, currency)}` : null)
      : kpi('kpi-forecast', 'Month-end forecast', 'Not available', null, forecast.missing.message),
    h('div', { class: 'kpi', id: 'kpi-change' },
      h('div', { class: 'label' }, 'Change against last month'),
      h('div', { class: `value ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`, 'data-value': change ?? '' }, percent(change)),
      h('div', { class: 'sub' }, `same days: ${money(before, currency)} (${previous.from} to ${previous.to})`)),
    kpi('kpi-open-savings', 'Open savings a month', openSavings, currency, `${openCount} open recommendations`),
    kpi('kpi-realised-savings', 'Realised savings a month', realised, currency, 'measured after execution'),
    h('div', { class: 'kpi', id: 'kpi-untagged' },
      h('div', { class: 'label' }, 'Untagged spend'),
      h('div', { class: 'value' }, loading('untagged spend'))));

  const actualPoints = trimZeros(trend.daily
    .filter((d) => d.currency === currency)
    .map((d) => ({ date: d.date, value: Number(d.amortized_cost) })));
  const forecastPoints = forecast.missing || forecast.currency !== currency ? [] : forecast.points
    .filter((p) => !actualPoints.length || p.date > actualPoints[actualPoints.length - 1].date);
  const byDate = new Map(actualPoints.map((p) => [p.date, p.value]));
  const anomalyItems = anomalies.missing ? [] : anomalies.items;
  const markers = anomalyItems.filter((a) => byDate.has(a.peak_date)).map((a) => ({
    date: a.peak_date,
    value: byDate.get(a.peak_date),
    label: `${a.peak_date}: ${a.kind.replace(/_/g, ' ')}, ${a.severity}, ${money(a.delta, a.currency)} against expected${a.service_name ? ` (${a.service_name})` : ''}`,
  }));
  const chartCard = h('section', { class: 'card chart', 'aria-labelledby': 'trend-title' },
    h('h2', { id: 'trend-title' }, 'Daily cost, last 90 days, and forecast'),
    actualPoints.length
      ? trendChart({ actual: actualPoints, forecast: forecastPoints, markers, currency,
        label: `Daily amortized cost over ${actualPoints.length} days${forecastPoints.length ? `, forecast for ${forecastPoints.length} days` : ''}, ${markers.length} anomalies marked` })
      : h('p', { class: 'state' }, 'No costs in the last 90 days yet.'),
    legend(forecastPoints.length > 0, markers.length > 0),
    forecast.missing && h('p', { class: 'muted', id: 'forecast-missing' }, `Forecast: ${forecast.missing.message}.`),
    anomalies.missing && h('p', { class: 'muted', id: 'anomalies-missing' }, `Anomalies: ${anomalies.missing.message}.`));

  const services = mtd.by_service.filter((x) => x.currency === currency)
    .map((x) => ({ name: x.service_name, value: Number(x.amortized_cost) })).filter((x) => x.value > 0)
    .sort((a, b) => b.value - a.value).slice(0, 8);
  const groupsCard = h('section', { class: 'card', id: 'top-groups' },
    h('h2', {}, 'Top resource groups, month to date'), loading('resource groups'));
  show(root, h('h1', {}, 'Overview'), kpis, chartCard,
    h('div', { class: 'grid2' },
      h('section', { class: 'card', id: 'top-services' },
        h('h2', {}, 'Top services, month to date'),
        services.length ? bars(services, currency, 'Top services') : h('p', { class: 'muted' }, 'No costs this month yet.')),
      groupsCard));

  // The slower figures fill in afterwards (the API sums resource groups from the cost rows).
  api('costs/summary', { query: { ...tq, from: monthStart(today), to: today, group_by: 'resource_group' } }).then((byGroup) => {
    const groups = (byGroup.by_resource_group || []).filter((g) => g.currency === currency)
      .map((g) => ({ name: g.resource_group || '(no resource group)', value: Number(g.amortized_cost) }))
      .filter((g) => g.value > 0).sort((a, b) => b.value - a.value).slice(0, 8);
    show(groupsCard, h('h2', {}, 'Top resource groups, month to date'),
      groups.length ? bars(groups, currency, 'Top resource groups') : h('p', { class: 'muted' }, 'No costs this month yet.'));
  }).catch((e) => show(groupsCard, failure('resource groups', e)));
  const untagged = kpis.querySelector('#kpi-untagged');
  untaggedSpend(tq).then((u) => {
    show(untagged,
      h('div', { class: 'label' }, 'Untagged spend, last 30 days'),
      h('div', { class: 'value', 'data-value': u.total, 'data-currency': u.currency || currency }, money(u.total, u.currency || currency)),
      h('div', { class: 'sub' }, `${u.resources}${u.complete ? '' : '+'} resources missing a required tag`));
  }).catch((e) => show(untagged, failure('untagged spend', e)));
}
