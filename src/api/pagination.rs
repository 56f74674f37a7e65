//! Paging, the same for every list: by page number (`page` ≥ 1, `page_size` 1–500, default 50),
//! or by cursor (`cursor`, the `next_cursor` of the page before), and the [`Paginated`]
//! envelope every list returns.
//!
//! A cursor is the sort key of a page's last row, so the next page is read from an index
//! position rather than by skipping rows: it costs what the first page costs, however deep,
//! and rows inserted or deleted meanwhile neither repeat nor skip the others. It is bound to
//! the list, its filters and its sort (a hash of them, [`QueryId`]): used with anything else it
//! is a `400`, never a wrong page. It carries only sort values; which rows the caller may see
//! is decided by the query's tenant filter and row-level security as on any page.
//!
//! `total` (and `total_pages`) count every matching row, which costs as much as reading them
//! all (an operator's tag filter over a million resources: seconds, where its page takes a
//! millisecond), so they are counted only on request (`include_total=true`), on a numbered page
//! or a cursor's; otherwise they are null.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db::{Listed, Page, Start};

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: i64 = 500;
/// Longest cursor accepted (characters): room for the longest sort keys (ARM ids).
pub const MAX_CURSOR_LEN: usize = 4096;

/// The first byte of every cursor: its format.
const CURSOR_FORMAT: u8 = 1;

/// Which query a cursor belongs to: a hash of the list's name and its filters and sort as the
/// handler resolved them (the caller's tenant included), so that a cursor is only ever read by
/// the query that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryId([u8; 8]);

impl QueryId {
    /// The query of list `list` with `filter` (its `Debug` form, which names every field).
    /// Fields that change from one request to the next (the time) must be fixed first.
    pub fn of(list: &str, filter: &impl std::fmt::Debug) -> Self {
        let digest = Sha256::digest(format!("azcops cursor {CURSOR_FORMAT}\0{list}\0{filter:?}"));
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }
}

/// The cursor of the row with sort key `key` in `query`: URL-safe base64 (no padding) of the
/// format byte, the query's hash and the key as JSON.
pub fn encode_cursor<K: Serialize>(query: QueryId, key: &K) -> Result<String, ApiError> {
    let mut bytes = vec![CURSOR_FORMAT];
    bytes.extend_from_slice(&query.0);
    serde_json::to_writer(&mut bytes, key)
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("encoding a cursor")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The answer to a cursor that is not one this API made (or not for this sort).
pub fn invalid_cursor() -> ApiError {
    ApiError::BadRequest(
        "cursor is not a cursor of this API: pass a page's next_cursor unchanged, \
         or leave cursor out to start from the first page"
            .into(),
    )
}

/// The sort key a cursor of `query` carries.
pub fn decode_cursor<K: DeserializeOwned>(cursor: &str, query: QueryId) -> Result<K, ApiError> {
    let malformed = invalid_cursor;
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(malformed());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
    let Some((&CURSOR_FORMAT, rest)) = bytes.split_first() else {
        return Err(malformed());
    };
    let (id, key) = rest.split_at_checked(query.0.len()).ok_or_else(malformed)?;
    if id != query.0 {
        return Err(ApiError::BadRequest(
            "cursor was made for another list, filter or sort: repeat the request with the \
             parameters of the page that gave it, or leave cursor out to start from the first page"
                .into(),
        ));
    }
    serde_json::from_slice(key).map_err(|_| malformed())
}

/// The raw paging parameters of a list (each list's query parameters carry them).
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub cursor: Option<String>,
    pub include_total: Option<bool>,
}

impl Paging {
    /// Checks the parameters and reads the cursor, which must belong to `query`.
    pub fn read<K: DeserializeOwned>(self, query: QueryId) -> Result<Page<K>, ApiError> {
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::BadRequest(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        let start = match (self.page, self.cursor) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "give page or cursor, not both: a cursor already says where its page starts"
                        .into(),
                ));
            }
            (_, Some(cursor)) => Start::After(decode_cursor(&cursor, query)?),
            (page, None) => Start::Number(page_number(page.unwrap_or(1))?),
        };
        let count = self.include_total.unwrap_or(false);
        Ok(Page {
            size: size as u32,
            start,
            count,
        })
    }
}

fn page_number(page: i64) -> Result<u32, ApiError> {
    u32::try_from(page)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| ApiError::BadRequest(format!("page must be 1 or more, got {page}")))
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    /// The page number; null for a page read with `cursor`.
    pub page: Option<u32>,
    pub page_size: u32,
    /// Matching rows over all pages, when counted (`include_total=true`); null otherwise.
    pub total: Option<i64>,
    /// Pages of `page_size` rows, when `total` is counted; null otherwise.
    pub total_pages: Option<i64>,
    /// Pass as `cursor` (with the same filters and sort) to read the page after this one, at
    /// the cost of a first page however deep; null when this is the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paginated<T> {
    /// The page `listed` read for `page` of `query`: the rows beyond `page.size` only say that
    /// another page follows, which `next_cursor` then points to (the key of the last row kept).
    pub fn new<K: Serialize>(
        listed: Listed<T>,
        page: &Page<K>,
        query: QueryId,
        key: impl Fn(&T) -> K,
    ) -> Result<Self, ApiError> {
        let Listed { mut rows, total } = listed;
        let size = page.size as usize;
        let next_cursor = if rows.len() > size {
            rows.truncate(size);
            rows.last()
                .map(|last| encode_cursor(query, &key(last)))
                .transpose()?
        } else {
            None
        };
        Ok(Self::of(rows, page, total, next_cursor))
    }

    /// A page of a list that is empty without asking (a tenant caller naming another tenant).
    pub fn empty<K>(page: &Page<K>) -> Self {
        Self::of(Vec::new(), page, page.count.then_some(0), None)
    }

    fn of<K>(
        items: Vec<T>,
        page: &Page<K>,
        total: Option<i64>,
        next_cursor: Option<String>,
    ) -> Self {
        let size = i64::from(page.size);
        Self {
            items,
            page: match page.start {
                Start::Number(n) => Some(n),
                Start::After(_) => None,
            },
            page_size: page.size,
            total,
            total_pages: total.map(|t| (t + size - 1) / size),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    type Key = (String, Uuid);

    fn paging(page: Option<i64>, page_size: Option<i64>) -> Paging {
        Paging {
            page,
            page_size,
            ..Paging::default()
        }
    }

    fn query() -> QueryId {
        QueryId::of("things", &Some("filter"))
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let read = |p: Paging| p.read::<Key>(query());
        let first = read(paging(None, None)).unwrap();
        assert_eq!(
            (first.size, first.start, first.count),
            (50, Start::Number(1), false),
            "a numbered page is not counted unless asked"
        );
        let counted = Paging {
            include_total: Some(true),
            ..paging(Some(2), None)
        };
        assert!(counted.read::<Key>(query()).unwrap().count);
        let third = read(paging(Some(3), Some(500))).unwrap();
        assert_eq!((third.size, third.start), (500, Start::Number(3)));
        for (page, size) in [(Some(0), None), (Some(-1), None), (None, Some(0))] {
            assert!(read(paging(page, size)).is_err(), "{page:?} {size:?}");
        }
        assert!(read(paging(None, Some(501))).is_err());
        assert!(read(paging(Some(i64::from(u32::MAX) + 1), None)).is_err());
    }

    #[test]
    fn a_cursor_reads_back_its_key_and_is_not_counted_by_default() {
        let key: Key = ("/subscriptions/x/é".into(), Uuid::new_v4());
        let cursor = encode_cursor(query(), &key).unwrap();
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe without escaping: {cursor}"
        );
        let page = Paging {
            cursor: Some(cursor.clone()),
            ..Paging::default()
        }
        .read::<Key>(query())
        .unwrap();
        assert_eq!((page.start, page.count), (Start::After(key), false));
        let counted = Paging {
            cursor: Some(cursor),
            include_total: Some(true),
            ..Paging::default()
        };
        assert!(counted.read::<Key>(query()).unwrap().count);
    }

    #[test]
    fn a_cursor_of_another_query_or_garbage_or_with_a_page_is_refused() {
        let cursor = encode_cursor(query(), &("a".to_owned(), Uuid::nil())).unwrap();
        let other = QueryId::of("things", &Some("another filter"));
        let refused = |cursor: &str, query: QueryId, page: Option<i64>| {
            let paging = Paging {
                page,
                cursor: Some(cursor.to_owned()),
                ..Paging::default()
            };
            match paging.read::<Key>(query) {
                Err(ApiError::BadRequest(message)) => message,
                other => panic!("{cursor}: {other:?}"),
            }
        };
        assert!(refused(&cursor, other, None).contains("another list"));
        assert!(refused(&cursor, query(), Some(2)).contains("not both"));
        let wrong_key = encode_cursor(query(), &(1, 2)).unwrap();
        for garbage in [
            "",
            "%%%",
            "AAAA",
            "not a cursor",
            &wrong_key,
            &"A".repeat(5000),
        ] {
            assert!(
                refused(garbage, query(), None).contains("not a cursor"),
                "{garbage}"
            );
        }
    }

    #[test]
    fn the_next_cursor_points_after_the_last_row_kept() {
        let page = paging(None, Some(2)).read::<Key>(query()).unwrap();
        let key = |n: &u8| (n.to_string(), Uuid::nil());
        let three = Listed {
            rows: vec![1u8, 2, 3],
            total: Some(3),
        };
        let full = Paginated::new(three, &page, query(), key).unwrap();
        assert_eq!(full.items, [1, 2]);
        let next = full.next_cursor.expect("another page follows");
        assert_eq!(decode_cursor::<Key>(&next, query()).unwrap(), key(&2));
        let two = Listed {
            rows: vec![1u8, 2],
            total: None,
        };
        let last = Paginated::new(two, &page, query(), key).unwrap();
        assert_eq!((last.next_cursor, last.total_pages), (None, None));
    }

    #[test]
    fn total_pages_round_up() {
        let page = paging(None, None).read::<Key>(query()).unwrap();
        let pages = |total| Paginated::<u8>::of(vec![], &page, Some(total), None).total_pages;
        assert_eq!(
            (pages(0), pages(50), pages(51)),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(Paginated::<u8>::empty(&page).total, None, "not asked for");
        let counted = Paging {
            include_total: Some(true),
            ..paging(None, None)
        }
        .read::<Key>(query())
        .unwrap();
        assert_eq!(Paginated::<u8>::empty(&counted).total, Some(0));
    }
}
