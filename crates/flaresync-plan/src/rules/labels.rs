//! How rule messages name versions: short ids and version labels.

use crate::input::KnownVersion;
use crate::live::LiveVersion;

/// A version as messages name it: its number and id when Cloudflare lists it, else its id;
/// always with the commit it was built from.
pub(super) fn version_label(known: &KnownVersion, live: Option<&LiveVersion>) -> String {
    match live {
        Some(v) if v.number > 0 => numbered_version(Some(v.number), &v.id, &known.commit),
        _ => numbered_version(None, &known.version_id, &known.commit),
    }
}

/// `version N (id, commit C)` when the version's number is known, else `version ID (commit C)`;
/// ids and commits shortened.
pub fn numbered_version(number: Option<u64>, id: &str, commit: &str) -> String {
    match number {
        Some(n) => format!("version {n} ({}, commit {})", short(id), short(commit)),
        None => format!("version {} (commit {})", short(id), short(commit)),
    }
}

/// First 8 characters of an id or commit.
pub fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((index, _)) => &id[..index],
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_by_number_when_known() {
        assert_eq!(
            numbered_version(Some(7), "0123456789ab", "fedcba9876"),
            "version 7 (01234567, commit fedcba98)"
        );
        assert_eq!(
            numbered_version(None, "0123456789ab", "fedcba9876"),
            "version 01234567 (commit fedcba98)"
        );
    }

    #[test]
    fn short_never_splits_a_character() {
        assert_eq!(short("0123456789"), "01234567");
        assert_eq!(short("äöü"), "äöü");
    }
}
