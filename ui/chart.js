// Hand-drawn SVG charts (no library): the cost trend with the forecast and its bands and the
// anomaly markers, and ranked bars. Colours come from presentation attributes, not inline
// styles, so the page's Content-Security-Policy holds.

import { h, s } from './dom.js';
import { money, shortDate } from './format.js';

const PAD = { left: 64, right: 12, top: 12, bottom: 28 };

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function points(list, x, y, key) {
  return list.map((p) => `${x(p.date).toFixed(1)},${y(p[key]).toFixed(1)}`);
}

function band(list, x, y, lower, upper) {
  const top = points(list, x, y, upper);
  const bottom = points(list, x, y, lower).reverse();
  return `M${top.join('L')}L${bottom.join('L')}Z`;
}

/**
 * The trend: `actual` [{date, value}], `forecast` [{date, forecast, lower_80, upper_80, lower_95,
 * upper_95}] (may be empty), `markers` [{date, value, label}] (anomalies), amounts in `currency`.
 */
export function trendChart({ actual, forecast = [], markers = [], currency, label }) {
  // Drawn at about the size it is shown, so its text stays legible on a phone.
  const W = Math.round(Math.max(340, Math.min(800, window.innerWidth - 48)));
  const H = W < 600 ? 240 : 280;
  const dates = [...actual.map((p) => p.date), ...forecast.map((p) => p.date)];
  const first = Date.parse(dates[0]);
  const last = Date.parse(dates[dates.length - 1]);
  const span = Math.max(last - first, 86_400_000);
  const x = (date) => PAD.left + ((Date.parse(date) - first) / span) * (W - PAD.left - PAD.right);
  const highest = Math.max(0, ...actual.map((p) => p.value),
    ...forecast.map((p) => p.upper_95 ?? p.upper_80 ?? p.forecast));
  const top = niceMax(highest * 1.05);
  const y = (v) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'trend' });
  for (let i = 0; i <= 4; i += 1) {
    const v = (top * i) / 4;
    svg.append(
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), stroke: '#d5dae1', 'stroke-width': 1 }),
      s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#4a5361' },
        money(v, currency, 0)),
    );
  }
  const ticks = Math.min(W < 600 ? 4 : 6, dates.length);
  for (let i = 0; i < ticks; i += 1) {
    const date = dates[Math.round((i * (dates.length - 1)) / Math.max(ticks - 1, 1))];
    const anchor = i === 0 ? 'start' : i === ticks - 1 ? 'end' : 'middle';
    svg.append(s('text', { x: x(date), y: H - 8, 'text-anchor': anchor, 'font-size': 11, fill: '#4a5361' },
      shortDate(date)));
  }
  if (forecast.length) {
    const joined = actual.length
      ? [{ date: actual[actual.length - 1].date, forecast: actual[actual.length - 1].value,
        lower_80: actual[actual.length - 1].value, upper_80: actual[actual.length - 1].value,
        lower_95: actual[actual.length - 1].value, upper_95: actual[actual.length - 1].value }, ...forecast]
      : forecast;
    if (joined.every((p) => p.lower_95 !== null && p.lower_95 !== undefined)) {
      svg.append(s('path', { d: band(joined, x, y, 'lower_95', 'upper_95'), fill: '#d3e5f7', class: 'band95' }));
    }
    if (joined.every((p) => p.lower_80 !== null && p.lower_80 !== undefined)) {
      svg.append(s('path', { d: band(joined, x, y, 'lower_80', 'upper_80'), fill: '#9cc3ea', class: 'band80' }));
    }
    svg.append(s('path', {
      d: `M${points(joined, x, y, 'forecast').join('L')}`, fill: 'none', stroke: '#5a3d99',
      'stroke-width': 2, 'stroke-dasharray': '6 4', class: 'forecast-line', 'data-points': forecast.length,
    }));
  }
  if (actual.length) {
    svg.append(s('path', {
      d: `M${points(actual, x, y, 'value').join('L')}`, fill: 'none', stroke: '#0b5cad',
      'stroke-width': 2, class: 'actual-line', 'data-points': actual.length,
    }));
  }
  for (const m of markers) {
    svg.append(s('circle', { cx: x(m.date), cy: y(m.value), r: 5, fill: '#a4161a', stroke: '#fff',
      'stroke-width': 1.5, class: 'anomaly-marker' }, s('title', {}, m.label)));
  }
  return svg;
}

/** The chart's legend. */
export function legend(withForecast, withAnomalies) {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend' },
    item('sw-actual', 'Actual (amortized) per day'),
    withForecast && item('sw-forecast', 'Forecast'),
    withForecast && item('sw-band80', '80 % interval'),
    withForecast && item('sw-band95', '95 % interval'),
    withAnomalies && item('sw-anomaly', 'Anomaly'));
}

/** Ranked bars: rows [{name, value}] in `currency`, largest first. */
export function bars(rows, currency, label) {
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  return h('ul', { class: 'bars', 'aria-label': label },
    rows.map((r) => {
      const fill = h('span', {});
      fill.style.width = `${Math.max(0, (100 * r.value) / max).toFixed(1)}%`;
      return h('li', {},
        h('span', { class: 'name' }, r.name || '(none)'),
        h('span', { class: 'amount', 'data-value': r.value }, money(r.value, currency)),
        h('span', { class: 'bar', 'aria-hidden': 'true' }, fill));
    }));
}
