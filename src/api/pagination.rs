//! Paging parameters (`page` ≥ 1, `page_size` 1–500, default 50) and the `PaginatedResponse`
//! envelope every list returns.

use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db::Page;

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: i64 = 500;

/// Checks the raw `page` and `page_size` query values.
pub fn page(page: Option<i64>, page_size: Option<i64>) -> Result<Page, ApiError> {
    let page = page.unwrap_or(1);
    let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=i64::from(u32::MAX)).contains(&page) {
        return Err(ApiError::BadRequest(format!(
            "page must be 1 or more, got {page}"
        )));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(ApiError::BadRequest(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}"
        )));
    }
    Ok(Page {
        page: page as u32,
        page_size: page_size as u32,
    })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    /// Items over all pages.
    pub total: i64,
    pub total_pages: i64,
}

impl<T> Paginated<T> {
    /// Wraps one page of `items` out of `total`.
    pub fn new(items: Vec<T>, page: Page, total: i64) -> Self {
        let size = i64::from(page.page_size);
        Self {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
            total_pages: (total + size - 1) / size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            page(None, None).unwrap(),
            Page {
                page: 1,
                page_size: 50
            }
        );
        assert_eq!(
            page(Some(3), Some(500)).unwrap(),
            Page {
                page: 3,
                page_size: 500
            }
        );
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(-1), None).is_err());
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(501)).is_err());
    }

    #[test]
    fn total_pages_round_up() {
        let p = Page {
            page: 1,
            page_size: 50,
        };
        assert_eq!(Paginated::<u8>::new(vec![], p, 0).total_pages, 0);
        assert_eq!(Paginated::<u8>::new(vec![], p, 50).total_pages, 1);
        assert_eq!(Paginated::<u8>::new(vec![], p, 51).total_pages, 2);
    }
}
