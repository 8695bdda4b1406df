//! When to stop paging: pure decisions over `result_info`.
//!
//! Cloudflare's list endpoints page in two styles. KV, D1, Queues and versions send
//! `{page, per_page, count, total_count[, total_pages]}`; R2 sends `{cursor, per_page}`. Servers
//! omit fields freely, so the rules fall back step by step and always stop on an empty page.

use crate::types::ResultInfo;

/// Safety net against a server that keeps announcing more pages: no list flaresync reads has
/// anywhere near this many.
pub const MAX_PAGES: u32 = 10_000;

/// The page to fetch after page `current` (1-based), or `None` when the list is complete.
///
/// `received` items came back on this page, `collected` so far in total; `per_page` is what was
/// asked for (the server's `result_info.per_page` wins when present).
pub fn next_page(
    current: u32,
    received: usize,
    collected: usize,
    per_page: u32,
    info: Option<&ResultInfo>,
) -> Option<u32> {
    if received == 0 || current >= MAX_PAGES {
        return None;
    }
    let next = current.checked_add(1)?;
    if let Some(total_pages) = info.and_then(|i| i.total_pages) {
        return (u64::from(current) < total_pages).then_some(next);
    }
    if let Some(total_count) = info.and_then(|i| i.total_count) {
        return ((collected as u64) < total_count).then_some(next);
    }
    let page_size = info.and_then(|i| i.per_page).unwrap_or(u64::from(per_page));
    ((received as u64) >= page_size).then_some(next)
}

/// The cursor for the next request, or `None` when the list is complete. A cursor equal to the
/// one just used would loop forever, so it also ends the list.
pub fn next_cursor(info: Option<&ResultInfo>, previous: Option<&str>) -> Option<String> {
    let cursor = info?.cursor.as_deref()?.trim();
    if cursor.is_empty() || Some(cursor) == previous {
        return None;
    }
    Some(cursor.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        total_pages: Option<u64>,
        total_count: Option<u64>,
        per_page: Option<u64>,
    ) -> ResultInfo {
        ResultInfo {
            total_pages,
            total_count,
            per_page,
            ..ResultInfo::default()
        }
    }

    #[test]
    fn page_rules() {
        // (current, received, collected, per_page, info, want)
        let cases = [
            (
                "empty page ends",
                1,
                0,
                0,
                100,
                Some(info(Some(5), None, None)),
                None,
            ),
            (
                "total_pages not reached",
                1,
                100,
                100,
                100,
                Some(info(Some(2), None, None)),
                Some(2),
            ),
            (
                "total_pages reached",
                2,
                3,
                103,
                100,
                Some(info(Some(2), None, None)),
                None,
            ),
            (
                "total_count not reached",
                1,
                100,
                100,
                100,
                Some(info(None, Some(150), None)),
                Some(2),
            ),
            (
                "total_count reached",
                2,
                50,
                150,
                100,
                Some(info(None, Some(150), None)),
                None,
            ),
            ("short page ends", 1, 7, 7, 100, None, None),
            ("full page continues", 1, 100, 100, 100, None, Some(2)),
            (
                "server per_page wins",
                1,
                20,
                20,
                100,
                Some(info(None, None, Some(20))),
                Some(2),
            ),
            ("page cap", MAX_PAGES, 100, 100, 100, None, None),
        ];
        for (name, current, received, collected, per_page, info, want) in cases {
            assert_eq!(
                next_page(current, received, collected, per_page, info.as_ref()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn cursor_rules() {
        let with = |c: &str| ResultInfo {
            cursor: Some(c.to_owned()),
            ..ResultInfo::default()
        };
        assert_eq!(next_cursor(None, None), None);
        assert_eq!(next_cursor(Some(&ResultInfo::default()), None), None);
        assert_eq!(next_cursor(Some(&with("")), None), None);
        assert_eq!(next_cursor(Some(&with("abc")), None), Some("abc".into()));
        assert_eq!(next_cursor(Some(&with("abc")), Some("abc")), None);
        assert_eq!(
            next_cursor(Some(&with("def")), Some("abc")),
            Some("def".into())
        );
    }
}
