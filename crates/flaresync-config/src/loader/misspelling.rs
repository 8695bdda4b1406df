//! Did-you-mean for a missing key: the "unknown key" warning whose key is a near miss.

use crate::error::Warning;

/// The "unknown key" warning whose key is a near miss (edit distance <= 2) of `wanted`.
pub(super) fn misspelling_of<'w>(
    warnings: &'w [Warning],
    wanted: &str,
) -> Option<(&'w Warning, String)> {
    warnings.iter().find_map(|warning| {
        let key = warning
            .message
            .strip_prefix("unknown key `")?
            .split('`')
            .next()?
            .rsplit('.')
            .next()?
            .to_owned();
        (key != wanted && edit_distance(&key, wanted) <= 2).then_some((warning, key))
    })
}

/// Levenshtein distance (small strings only: config keys).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_compatibility_date_is_pointed_at() {
        assert_eq!(edit_distance("compatability_date", "compatibility_date"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let warnings = vec![
            Warning::file("w/wrangler.toml", "unknown key `vars.X` is ignored"),
            Warning::file(
                "w/wrangler.toml",
                "unknown key `compatability_date` is ignored; check its spelling and placement",
            ),
        ];
        let (warning, key) =
            misspelling_of(&warnings, "compatibility_date").expect("the near miss is found");
        assert_eq!(key, "compatability_date");
        assert!(warning.message.contains("compatability_date"));
        assert!(misspelling_of(&warnings[..1], "compatibility_date").is_none());
    }
}
