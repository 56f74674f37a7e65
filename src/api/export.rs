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
pub mod focus;
pub mod jobs;
pub mod recommendations;
pub mod record;
pub mod resources;
pub mod runtime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use tracing::Instrument;

use super::AppState;
use super::error::ApiError;
use crate::db::{Listed, Page, Scope, Start};

pub use record::{Format, Number, Record, is_formula_like};

/// The `Content-Type` of every CSV export.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The export routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recommendations/export.csv", get(recommendations::export))
        .route("/resources/export.csv", get(resources::export))
        .route("/costs/export.csv", get(costs::export))
        .route("/costs/export.focus.csv", get(focus::export_csv))
        .route("/costs/export.focus.jsonl", get(focus::export_jsonl))
        .route("/exports/focus-metadata", get(focus::metadata))
        .merge(jobs::router())
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

/// An export in progress: what the body stream carries from one batch to the next. Dropped
/// before its end (the client went away), it logs how far it got.
struct Progress<E: Export> {
    export: E,
    state: AppState,
    scope: Scope,
    format: Format,
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

    fn encode(&self, header: bool, rows: &[E::Row]) -> Result<Bytes, ApiError> {
        record::encode(
            self.format,
            header.then_some(E::HEADER),
            E::HEADER,
            rows,
            E::write,
        )
    }

    /// The next batch after the key, encoded, and its row count; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Chunk>, ApiError> {
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
        let count = rows.len() as u64;
        self.encode(false, &rows).map(|bytes| Some((bytes, count)))
    }
}

/// One encoded batch and how many rows it holds.
pub type Chunk = (Bytes, u64);

/// An export's encoded body, batch by batch, and the row count it was started with.
pub struct Rows<S> {
    /// Rows the filters selected when the first batch was read.
    pub total: i64,
    pub body: S,
}

/// Reads the first batch and the count under `scope` (none when `empty`: a tenant caller
/// naming another tenant), refuses more than `max_rows` rows when given, and returns the
/// encoded body: the header (CSV), that batch, then each following batch read only when the
/// stream is polled for it.
pub async fn rows<E: Export>(
    state: &AppState,
    scope: Scope,
    export: E,
    empty: bool,
    format: Format,
    max_rows: Option<u64>,
) -> Result<Rows<impl Stream<Item = Result<Chunk, ApiError>> + Send + 'static>, ApiError> {
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
    if let Some(limit) = max_rows
        && u64::try_from(total).unwrap_or_default() > limit
    {
        return Err(ApiError::ExportTooLarge { rows: total, limit });
    }
    let mut progress = Progress {
        export,
        state: state.clone(),
        scope,
        format,
        batch_rows: limits.export_batch_rows,
        next: None,
        rows_sent: 0,
        batches: 0,
        total,
        finished: false,
    };
    let rows = progress.take(listed.rows);
    let first = (progress.encode(true, &rows)?, rows.len() as u64);
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
    Ok(Rows {
        total,
        body: futures::StreamExt::chain(body, rest),
    })
}

/// Answers a synchronous CSV export ([`respond_as`] in CSV).
pub async fn respond<E: Export>(
    state: &AppState,
    scope: Scope,
    export: E,
    empty: bool,
) -> Result<Response, ApiError> {
    respond_as(state, scope, export, empty, Format::Csv, E::NAME).await
}

/// Answers a synchronous export in `format`, named `name` in its file name: refuses more rows
/// than `AZCOPS_EXPORT_SYNC_MAX_ROWS` (422 pointing to export jobs), then streams the rows.
pub async fn respond_as<E: Export>(
    state: &AppState,
    scope: Scope,
    export: E,
    empty: bool,
    format: Format,
    name: &str,
) -> Result<Response, ApiError> {
    let max = state.exports.export_sync_max_rows;
    let rows = rows(state, scope, export, empty, format, Some(max)).await?;
    let body = futures::TryStreamExt::map_ok(rows.body, |(bytes, _)| bytes);
    Ok(file_response(name, format, Body::from_stream(body)))
}

fn file_response(name: &str, format: Format, body: Body) -> Response {
    let disposition = format!(
        "attachment; filename=\"{name}-{}.{}\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
