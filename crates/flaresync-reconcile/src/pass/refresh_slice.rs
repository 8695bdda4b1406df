//! The periodic refresh, spread over passes: each pass re-reads at most a slice of the Workers
//! whose last full read is older than the refresh period, oldest first, instead of one pass
//! re-reading every Worker (at 1,000 Workers, minutes during which no new commit is applied).
//! It is insurance against changes the scripts listing does not show; whatever the listing
//! does show (a new `modified_on`, etag or migration tag) is read at once, as before.

use std::time::Duration;

use tokio::time::Instant;

/// The Workers to re-read in this pass: of `read_at` (each cached Worker's last full read),
/// those read longer than `every` ago, oldest first, at most `slice` of them.
pub(super) fn due<'a>(
    read_at: impl IntoIterator<Item = (&'a String, Instant)>,
    now: Instant,
    every: Duration,
    slice: usize,
) -> Vec<&'a String> {
    let mut overdue: Vec<(Instant, &String)> = read_at
        .into_iter()
        .filter(|(_, at)| now.saturating_duration_since(*at) >= every)
        .map(|(name, at)| (at, name))
        .collect();
    overdue.sort();
    overdue
        .into_iter()
        .take(slice)
        .map(|(_, name)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_overdue_workers_are_read_a_slice_at_a_time() {
        let start = Instant::now();
        let now = start + Duration::from_secs(100);
        let names: Vec<String> = ["a", "b", "c", "d"].map(str::to_owned).to_vec();
        let read_at = [
            (&names[0], start + Duration::from_secs(30)),
            (&names[1], start),
            (&names[2], start + Duration::from_secs(95)),
            (&names[3], start + Duration::from_secs(10)),
        ];
        let every = Duration::from_secs(60);
        assert_eq!(due(read_at, now, every, 2), vec![&names[1], &names[3]]);
        assert_eq!(
            due(read_at, now, every, 10),
            vec![&names[1], &names[3], &names[0]],
            "c was read 5 s ago: not due"
        );
        assert!(due(read_at, now, every, 0).is_empty());
        assert!(due(read_at, now, Duration::from_secs(1000), 10).is_empty());
    }
}
