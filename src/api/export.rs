//! CSV exports of the lists (`GET /api/v1/{recommendations,resources,costs}/export.csv`): the
//! list's filters, tenant scope and order, every matching row, streamed.
//!
//! The body is RFC 4180 (the `csv` crate's writer: a header row, CRLF line ends, fields quoted
//! only when they hold a comma, a quote or a line break), UTF-8 without a byte-order mark.
//! Amounts are the database's exact decimals ([`Record::number`]); every other cell is text and
//! is neutralised against formula injection ([`Record::text`]).
//!
//! Rows are read in batches of `AZCOPS_EXPORT_BATCH_ROWS` by the list's own keyset query (after
//! the last row sent, never OFFSET), each batch in its own short transaction under the caller's
//! scope (row-level security), as a list page is. The first batch is read, with the count, before
//! the answer starts, so a failure or an export over `AZCOPS_EXPORT_SYNC_MAX_ROWS` is the usual
//! JSON error; each later batch is read only when the body is polled for more, i.e. once the
//! previous one has been handed to the connection. A client that disconnects drops the body,
//! and with it the stream: no further batch is read.

pub mod costs;
pub mod recommendations;
pub mod resources;

use std::fmt::Display;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use tracing::Instrument;

use super::AppState;
use super::error::ApiError;
use crate::db::{Listed, Page, Scope, Start};

/// The `Content-Type` of every export.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The export routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recommendations/export.csv", get(recommendations::export))
        .route("/resources/export.csv", get(resources::export))
        .route("/costs/export.csv", get(costs::export))
}

/// One list to export: its rows' columns and its keyset query.
pub trait Export: Send + Sync + Sized + 'static {
    /// A row's place in the list order.
    type Key: Clone + Send + Sync + 'static;
    /// A row as the list reads it.
    type Row: Send + 'static;
    /// The file name's stem and the logs' name of the export.
    const NAME: &'static str;
    /// The header row, in column order.
    const HEADER: &'static [&'static str];

    /// Reads up to `page.size + 1` rows of `page` (counting them all when `page.count`), in
    /// the list's order: the list's own query.
    fn read<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        page: &'a Page<Self::Key>,
    ) -> BoxFuture<'a, Result<Listed<Self::Row>, sqlx::Error>>;

    /// The row's sort key.
    fn key(&self, row: &Self::Row) -> Self::Key;

    /// Writes the row's cells in [`Export::HEADER`]'s order.
    fn write(row: &Self::Row, out: &mut Record);
}

/// Whether a text cell would be read as a formula by a spreadsheet: it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The cells of one row, in one buffer.
#[derive(Debug, Default)]
pub struct Record {
    buf: String,
    ends: Vec<usize>,
}

impl Record {
    /// A text cell, prefixed with `'` when it looks like a formula ([`is_formula_like`]).
    pub fn text(&mut self, value: impl Display) {
        use std::fmt::Write;
        let start = self.buf.len();
        // Formatting into a String cannot fail.
        let _ = write!(self.buf, "{value}");
        if is_formula_like(&self.buf[start..]) {
            self.buf.insert(start, '\'');
        }
        self.ends.push(self.buf.len());
    }

    /// A text cell, empty for `None`.
    pub fn opt_text(&mut self, value: Option<impl Display>) {
        match value {
            Some(value) => self.text(value),
            None => self.empty(),
        }
    }

    /// A numeric cell we wrote ourselves (an exact decimal or an integer), never neutralised:
    /// a negative amount stays `-12.34`.
    pub fn number(&mut self, value: impl Into<Number>) {
        use std::fmt::Write;
        let _ = match value.into() {
            Number::Decimal(d) => write!(self.buf, "{d}"),
            Number::Integer(i) => write!(self.buf, "{i}"),
        };
        self.ends.push(self.buf.len());
    }

    /// A numeric cell, empty for `None`.
    pub fn opt_number(&mut self, value: Option<impl Into<Number>>) {
        match value {
            Some(value) => self.number(value),
            None => self.empty(),
        }
    }

    /// A time as RFC 3339 in UTC (`2026-01-31T12:00:00.123456Z`), empty for `None`.
    pub fn time(&mut self, value: Option<chrono::DateTime<chrono::Utc>>) {
        self.opt_text(value.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
    }

    fn empty(&mut self) {
        self.ends.push(self.buf.len());
    }

    fn fields(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(s, e)| &self.buf[s..e])
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
}

/// What a numeric cell holds.
pub enum Number {
    Decimal(rust_decimal::Decimal),
    Integer(i64),
}

impl From<rust_decimal::Decimal> for Number {
    fn from(value: rust_decimal::Decimal) -> Self {
        Number::Decimal(value)
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Self {
        Number::Integer(value.into())
    }
}

/// `rows` (and the header row first when `header`) as CSV.
fn encode<E: Export>(header: bool, rows: &[E::Row]) -> Result<Bytes, ApiError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256 * (rows.len() + 1)));
    let failed = |e: csv::Error| ApiError::internal(anyhow::Error::new(e).context("writing CSV"));
    if header {
        writer.write_record(E::HEADER).map_err(failed)?;
    }
    let mut record = Record::default();
    for row in rows {
        record.clear();
        E::write(row, &mut record);
        writer.write_record(record.fields()).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("writing CSV: {}", e.error())))?;
    Ok(Bytes::from(bytes))
}

/// An export in progress: what the body stream carries from one batch to the next. Dropped
/// before its end (the client went away), it logs how far it got.
struct Progress<E: Export> {
    export: E,
    state: AppState,
    scope: Scope,
    batch_rows: u32,
    /// Where the next batch starts; `None` once the last one was read.
    next: Option<E::Key>,
    rows_sent: u64,
    batches: u64,
    total: i64,
    finished: bool,
}

impl<E: Export> Drop for Progress<E> {
    fn drop(&mut self) {
        if !self.finished {
            tracing::info!(
                export = E::NAME,
                rows_sent = self.rows_sent,
                rows_total = self.total,
                batches = self.batches,
                "export stopped before its end: the client went away or a batch failed"
            );
        }
    }
}

impl<E: Export> Progress<E> {
    /// Keeps the batch's rows beyond the batch size only as the sign that more follow, and
    /// notes where the next batch starts.
    fn take(&mut self, mut rows: Vec<E::Row>) -> Vec<E::Row> {
        let size = self.batch_rows as usize;
        self.next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|last| self.export.key(last))
        } else {
            None
        };
        self.rows_sent += rows.len() as u64;
        self.batches += 1;
        rows
    }

    /// The next batch after the key, as CSV; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        let Some(after) = self.next.take() else {
            self.finished = true;
            tracing::info!(
                export = E::NAME,
                rows_sent = self.rows_sent,
                batches = self.batches,
                "export finished"
            );
            return Ok(None);
        };
        let page = Page {
            size: self.batch_rows,
            start: Start::After(after),
            count: false,
        };
        let mut tx = self.state.begin(self.scope).await?;
        let listed = self.export.read(&mut tx, &page).await?;
        tx.commit().await?;
        let rows = self.take(listed.rows);
        tracing::debug!(
            export = E::NAME,
            rows = rows.len(),
            batch = self.batches,
            "export batch read"
        );
        encode::<E>(false, &rows).map(Some)
    }
}

/// Answers an export: reads the first batch and the count under `scope` (none when `empty`:
/// a tenant caller naming another tenant), refuses more rows than a synchronous export
/// streams, then streams the header, that batch and the following ones.
pub async fn respond<E: Export>(
    state: &AppState,
    scope: Scope,
    export: E,
    empty: bool,
) -> Result<Response, ApiError> {
    let limits = state.exports;
    let page = Page {
        size: limits.export_batch_rows,
        start: Start::Number(1),
        count: true,
    };
    let listed = if empty {
        Listed {
            rows: Vec::new(),
            total: Some(0),
        }
    } else {
        let mut tx = state.begin(scope).await?;
        let listed = export.read(&mut tx, &page).await?;
        tx.commit().await?;
        listed
    };
    let total = listed.total.unwrap_or_default();
    if u64::try_from(total).unwrap_or_default() > limits.export_sync_max_rows {
        return Err(ApiError::ExportTooLarge {
            rows: total,
            limit: limits.export_sync_max_rows,
        });
    }
    let mut progress = Progress {
        export,
        state: state.clone(),
        scope,
        batch_rows: limits.export_batch_rows,
        next: None,
        rows_sent: 0,
        batches: 0,
        total,
        finished: false,
    };
    let rows = progress.take(listed.rows);
    let first = encode::<E>(true, &rows)?;
    let span = tracing::Span::current();
    let rest = futures::stream::try_unfold(progress, move |mut progress| {
        async move {
            let chunk = progress.next_chunk().await.inspect_err(|e| {
                tracing::error!(export = E::NAME, error = %e, detail = ?e, "export batch failed");
            })?;
            Ok::<_, ApiError>(chunk.map(|bytes| (bytes, progress)))
        }
        .instrument(span.clone())
    });
    let body = futures::stream::once(async { Ok::<_, ApiError>(first) });
    let body = Body::from_stream(futures::StreamExt::chain(body, rest));
    Ok(csv_response(E::NAME, body))
}

fn csv_response(name: &str, body: Body) -> Response {
    let disposition = format!(
        "attachment; filename=\"{name}-{}.csv\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CSV_CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn cells(fill: impl FnOnce(&mut Record)) -> Vec<String> {
        let mut record = Record::default();
        fill(&mut record);
        record.fields().map(str::to_owned).collect()
    }

    #[test]
    fn formula_like_text_is_neutralised_and_our_numbers_are_not() {
        let got = cells(|r| {
            for text in [
                "=cmd|' /C calc'!A0",
                "+1",
                "-2",
                "@SUM(A1)",
                "\tx",
                "\rx",
                "plain",
                "",
            ] {
                r.text(text);
            }
            r.number(Decimal::new(-1234, 2));
            r.opt_number(None::<Decimal>);
            r.number(-3);
            r.opt_text(None::<&str>);
        });
        assert_eq!(
            got,
            [
                "'=cmd|' /C calc'!A0",
                "'+1",
                "'-2",
                "'@SUM(A1)",
                "'\tx",
                "'\rx",
                "plain",
                "",
                "-12.34",
                "",
                "-3",
                ""
            ]
        );
    }

    #[test]
    fn decimals_keep_their_exact_digits() {
        let got = cells(|r| {
            r.number(Decimal::new(1_000_000_000_000_001, 6));
            r.number(Decimal::new(1050, 2));
        });
        assert_eq!(got, ["1000000000.000001", "10.50"]);
    }
}
