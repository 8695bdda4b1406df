//! How rule messages name versions: short ids and version labels.

use crate::input::KnownVersion;
use crate::live::LiveVersion;

/// A version as messages name it: its number and id when Cloudflare lists it, else its id;
/// always with the commit it was built from.
pub(super) fn version_label(known: &KnownVersion, live: Option<&LiveVersion>) -> String {
    match live {
        Some(v) if v.number > 0 => format!(
            "version {} ({}, commit {})",
            v.number,
            short(&v.id),
            short(&known.commit)
        ),
        _ => format!(
            "version {} (commit {})",
            short(&known.version_id),
            short(&known.commit)
        ),
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
    fn short_never_splits_a_character() {
        assert_eq!(short("0123456789"), "01234567");
        assert_eq!(short("äöü"), "äöü");
    }
}
