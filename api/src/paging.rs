//! Cursor pagination of API.md §1: `?limit=` (1..=500, default 50) and an opaque `?cursor=`.

use base64::Engine;
use serde::Deserialize;

use crate::error::ApiError;

pub const PAGE_LIMIT_DEFAULT: usize = 50;
pub const PAGE_LIMIT_MAX: usize = 500;

/// `limit` and `cursor` of a list request.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PageQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        limit_within(self.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)
    }

    /// The page size and the decoded cursor of a list request's `limit` and `cursor`, each
    /// refused naming its field.
    pub fn bounds(
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<(usize, Option<String>), ApiError> {
        let q = PageQuery {
            limit,
            cursor: cursor.map(str::to_owned),
        };
        Ok((q.limit()?, q.after()?))
    }

    /// The decoded cursor (the key after which the page starts).
    pub fn after(&self) -> Result<Option<String>, ApiError> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => decode_cursor(c).map(Some).ok_or_else(bad_cursor),
        }
    }
}

/// A requested `limit` (`default` when absent), refused naming the field outside 1..=`max`.
pub fn limit_within(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => {
            Err(ApiError::bad_request(format!("limit must be 1..={max}")).with("field", "limit"))
        }
    }
}

/// The answer to a cursor this server did not issue.
pub fn bad_cursor() -> ApiError {
    ApiError::bad_request("cursor is not one this server issued").with("field", "cursor")
}

pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(c: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The entries of `map` after the cursor key `after` (all of them without one): where a page
/// keyed by the map's own keys starts, found by a seek instead of a scan.
pub fn seek<'a, V>(
    map: &'a std::collections::BTreeMap<String, V>,
    after: Option<&str>,
) -> std::collections::btree_map::Range<'a, String, V> {
    use std::ops::Bound;
    match after {
        Some(a) => map.range::<str, _>((Bound::Excluded(a), Bound::Unbounded)),
        None => map.range::<str, _>(..),
    }
}

/// Pages an ordered iterator of (key, item): items after `after`, at most `limit`, and the
/// cursor of the next page if there is more.
pub fn page<T>(
    items: impl Iterator<Item = (String, T)>,
    after: Option<&str>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let mut out = Vec::with_capacity(limit.min(64));
    let mut last_key = None;
    let mut more = false;
    for (key, item) in items.filter(|(k, _)| after.is_none_or(|a| k.as_str() > a)) {
        if out.len() == limit {
            more = true;
            break;
        }
        last_key = Some(key);
        out.push(item);
    }
    let next = if more {
        last_key.map(|k| encode_cursor(&k))
    } else {
        None
    };
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_without_gap_or_repeat() {
        let data: Vec<(String, u32)> = (0..7).map(|i| (format!("k{i}"), i)).collect();
        let (a, c) = page(data.clone().into_iter(), None, 3);
        assert_eq!(a, vec![0, 1, 2]);
        let after = decode_cursor(c.as_deref().unwrap()).unwrap();
        let (b, c) = page(data.clone().into_iter(), Some(&after), 3);
        assert_eq!(b, vec![3, 4, 5]);
        let after = decode_cursor(c.as_deref().unwrap()).unwrap();
        let (d, c) = page(data.into_iter(), Some(&after), 3);
        assert_eq!((d, c), (vec![6], None));
    }
}
