//! One exported row's cells, and the two encodings of a batch of rows: CSV (RFC 4180, the
//! `csv` crate's writer, text neutralised against formula injection) and JSON Lines (one JSON
//! object per line, keys in column order; numbers are the exact decimals as JSON numbers, text
//! is never altered).

use std::fmt::Display;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::ApiError;

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV with a header row (`text/csv`).
    Csv,
    /// JSON Lines: one object per row (`application/x-ndjson`).
    Jsonl,
}

impl Format {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The `Content-Type` of the (uncompressed) body.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    /// The name in the job rows and the API.
    pub fn as_str(self) -> &'static str {
        self.extension()
    }
}

/// Whether a text cell would be read as a formula by a spreadsheet: it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// What one cell holds, for the JSON Lines encoding (CSV writes all of them as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Null,
    /// JSON text (an object), embedded as is in JSON Lines.
    Json,
}

/// The cells of one row, in one buffer.
#[derive(Debug)]
pub struct Record {
    buf: String,
    ends: Vec<usize>,
    kinds: Vec<Kind>,
    /// Prefix formula-like text with `'` (CSV only).
    neutralise: bool,
}

impl Default for Record {
    fn default() -> Self {
        Self::for_format(Format::Csv)
    }
}

impl Record {
    /// An empty record for `format` (text is neutralised in CSV only).
    pub fn for_format(format: Format) -> Self {
        Self {
            buf: String::new(),
            ends: Vec::new(),
            kinds: Vec::new(),
            neutralise: format == Format::Csv,
        }
    }

    fn push(&mut self, kind: Kind) {
        self.ends.push(self.buf.len());
        self.kinds.push(kind);
    }

    /// A text cell, prefixed with `'` in CSV when it looks like a formula ([`is_formula_like`]).
    pub fn text(&mut self, value: impl Display) {
        use std::fmt::Write;
        let start = self.buf.len();
        // Formatting into a String cannot fail.
        let _ = write!(self.buf, "{value}");
        if self.neutralise && is_formula_like(&self.buf[start..]) {
            self.buf.insert(start, '\'');
        }
        self.push(Kind::Text);
    }

    /// A text cell, null (empty in CSV) for `None`.
    pub fn opt_text(&mut self, value: Option<impl Display>) {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
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
        self.push(Kind::Number);
    }

    /// A numeric cell, null (empty in CSV) for `None`.
    pub fn opt_number(&mut self, value: Option<impl Into<Number>>) {
        match value {
            Some(value) => self.number(value),
            None => self.null(),
        }
    }

    /// A time as RFC 3339 in UTC (`2026-01-31T12:00:00.123456Z`), null for `None`.
    pub fn time(&mut self, value: Option<chrono::DateTime<chrono::Utc>>) {
        self.opt_text(value.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
    }

    /// A JSON object cell (its compact text in CSV), null for `None`.
    pub fn json(&mut self, value: Option<&serde_json::Value>) {
        match value {
            Some(value) => {
                self.buf.push_str(&value.to_string());
                self.push(Kind::Json);
            }
            None => self.null(),
        }
    }

    /// A null cell (empty in CSV).
    pub fn null(&mut self) {
        self.push(Kind::Null);
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
        self.kinds.clear();
    }

    /// The row as one JSON Lines line (with its `\n`), keys from `keys` ([`json_keys`]).
    fn write_json_line(&self, keys: &[Vec<u8>], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, ((key, cell), kind)) in keys
            .iter()
            .zip(self.fields())
            .zip(self.kinds.iter())
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            match kind {
                Kind::Text => push_json_string(cell, out),
                Kind::Number | Kind::Json => out.extend_from_slice(cell.as_bytes()),
                Kind::Null => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Each column's JSON key with its colon (`"BilledCost":`), encoded once per batch rather than
/// once per cell: a FOCUS line has 45 keys.
fn json_keys(columns: &[&str]) -> Vec<Vec<u8>> {
    columns
        .iter()
        .map(|name| {
            let mut key = Vec::with_capacity(name.len() + 3);
            push_json_string(name, &mut key);
            key.push(b':');
            key
        })
        .collect()
}

fn push_json_string(text: &str, out: &mut Vec<u8>) {
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
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

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Number::Integer(value)
    }
}

/// `rows` in `format` (CSV: the header row first when `header`), each written by `write`.
pub fn encode<R>(
    format: Format,
    header: Option<&[&str]>,
    columns: &[&str],
    rows: &[R],
    write: impl Fn(&R, &mut Record),
) -> Result<Bytes, ApiError> {
    let mut record = Record::for_format(format);
    match format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::with_capacity(256 * (rows.len() + 1)));
            let failed =
                |e: csv::Error| ApiError::internal(anyhow::Error::new(e).context("writing CSV"));
            if let Some(header) = header {
                writer.write_record(header).map_err(failed)?;
            }
            for row in rows {
                record.clear();
                write(row, &mut record);
                writer.write_record(record.fields()).map_err(failed)?;
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| ApiError::internal(anyhow::anyhow!("writing CSV: {}", e.error())))?;
            Ok(Bytes::from(bytes))
        }
        Format::Jsonl => {
            let keys = json_keys(columns);
            let mut out = Vec::with_capacity(512 * rows.len());
            for row in rows {
                record.clear();
                write(row, &mut record);
                record.write_json_line(&keys, &mut out);
            }
            Ok(Bytes::from(out))
        }
    }
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

    #[test]
    fn json_lines_keep_types_and_text_unaltered() {
        let rows = [()];
        let bytes = encode(Format::Jsonl, None, &["a", "b", "c", "d"], &rows, |_, r| {
            r.text("=1+\"x\"");
            r.number(Decimal::new(-1050, 2));
            r.null();
            r.json(Some(&serde_json::json!({"k": "v"})));
        })
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "{\"a\":\"=1+\\\"x\\\"\",\"b\":-10.50,\"c\":null,\"d\":{\"k\":\"v\"}}\n"
        );
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["b"], serde_json::json!(-10.5));
    }
}
