// Numbers and dates as a person reads them: amounts in their billing currency with
// Intl.NumberFormat, dates in UTC (the API's days are UTC days).

const moneyFormats = new Map();

/** An amount in its currency, e.g. "$1,234.56"; "—" when there is none. */
export function money(value, currency, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(Number(value)) || !currency) return '—';
  const key = `${currency}/${digits}`;
  if (!moneyFormats.has(key)) {
    moneyFormats.set(key, new Intl.NumberFormat(undefined, {
      style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
    }));
  }
  return moneyFormats.get(key).format(Number(value));
}

/** A signed percentage, e.g. "+12.3 %". */
export function percent(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const sign = value > 0 ? '+' : value < 0 ? '−' : '';
  return `${sign}${Math.abs(value).toFixed(1)} %`;
}

/** Today's UTC date as YYYY-MM-DD, or that many days before or after it. */
export function day(offset = 0, from = new Date()) {
  const d = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + offset));
  return d.toISOString().slice(0, 10);
}

/** The first day of the month of `date` (YYYY-MM-DD), `months` later or earlier. */
export function monthStart(date, months = 0) {
  const d = new Date(`${date}T00:00:00Z`);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1)).toISOString().slice(0, 10);
}

/** A date-time for a table cell, in UTC. */
export function when(value) {
  if (!value) return '—';
  return `${value.slice(0, 10)} ${value.slice(11, 16)} UTC`;
}

/** A short date, e.g. "5 Nov". */
export function shortDate(value) {
  const d = new Date(`${value}T00:00:00Z`);
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
}
