//! Version stamping: what flaresync writes into a Cloudflare version's annotations so that the
//! version list alone (plus Git) says which commit every version was built from.
//!
//! - `workers/tag` holds the commit id: the full hex id when the tag limit allows it (Cloudflare's
//!   current limit is 100 bytes), otherwise the longest prefix that fits (older limits were 20).
//! - `workers/message` holds the commit subject and author, cut to the byte limit on a char
//!   boundary.
//!
//! These functions are pure string work; resolving a prefix against a repository lives in
//! `flaresync_git::mapping`, and `flaresync_git::stamp` re-exports this module.

/// Cloudflare's current limit for `workers/tag`, in bytes.
pub const TAG_LIMIT: usize = 100;
/// Cloudflare's current limit for `workers/message`, in bytes.
pub const MESSAGE_LIMIT: usize = 1000;
/// Shortest commit prefix flaresync writes or accepts as a tag (git's default abbreviation).
pub const MIN_PREFIX: usize = 7;

/// A commit named by a version tag: a full id or an abbreviated prefix, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitRef {
    hex: String,
}

impl CommitRef {
    /// Lower-case hex digits as found in the tag.
    pub fn as_str(&self) -> &str {
        &self.hex
    }

    /// True for a full SHA-1 (40) or SHA-256 (64) id, false for a prefix.
    pub fn is_full(&self) -> bool {
        self.hex.len() == 40 || self.hex.len() == 64
    }

    /// True if `commit_hex` (a full id) is the commit this reference names.
    pub fn matches(&self, commit_hex: &str) -> bool {
        commit_hex.len() >= self.hex.len()
            && commit_hex[..self.hex.len()].eq_ignore_ascii_case(&self.hex)
    }
}

impl std::fmt::Display for CommitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex)
    }
}

/// Errors of the pure stamping functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// The configured tag limit cannot hold even a short commit prefix.
    #[error(
        "the version tag limit of {limit} bytes cannot hold a {MIN_PREFIX}-digit commit prefix; \
         configure a limit of at least {MIN_PREFIX}"
    )]
    TagLimitTooSmall { limit: usize },
    /// The commit id given is not hex.
    #[error("{0:?} is not a hexadecimal commit id")]
    NotACommitId(String),
}

/// The `workers/tag` value for `commit_hex` under a tag limit of `limit` bytes.
///
/// # Errors
/// [`StampError::TagLimitTooSmall`] if `limit < MIN_PREFIX`; [`StampError::NotACommitId`] if the
/// id is not hex. Whether a prefix is unambiguous in a repository is checked by
/// `GitSource::version_tag`, which knows the objects.
pub fn version_tag(commit_hex: &str, limit: usize) -> Result<String, StampError> {
    if limit < MIN_PREFIX {
        return Err(StampError::TagLimitTooSmall { limit });
    }
    if commit_hex.len() < MIN_PREFIX || !commit_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StampError::NotACommitId(commit_hex.to_owned()));
    }
    let len = commit_hex.len().min(limit);
    Ok(commit_hex[..len].to_ascii_lowercase())
}

/// Reads a `workers/tag` written by [`version_tag`]. Tags written by other tools (`v1.2.3`,
/// release names, empty) give `None`.
pub fn parse_version_tag(tag: &str) -> Option<CommitRef> {
    let tag = tag.trim();
    let valid_len = (MIN_PREFIX..=64).contains(&tag.len());
    if valid_len && tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(CommitRef {
            hex: tag.to_ascii_lowercase(),
        })
    } else {
        None
    }
}

/// The `workers/message` value: `"<subject> (<author>)"` cut to `limit` bytes.
///
/// When the whole text does not fit, the subject is shortened (ending in `…`) so the author
/// stays readable; if even the author does not fit, the text is cut at the limit.
pub fn version_message(subject: &str, author: &str, limit: usize) -> String {
    let subject = subject.trim();
    let author = author.trim();
    let suffix = if author.is_empty() {
        String::new()
    } else {
        format!(" ({author})")
    };
    let full = format!("{subject}{suffix}");
    if full.len() <= limit {
        return full;
    }
    const ELLIPSIS: &str = "…";
    // Keep the author if it takes at most half of the limit.
    if suffix.len() + ELLIPSIS.len() <= limit / 2 {
        let room = limit - suffix.len() - ELLIPSIS.len();
        return format!(
            "{}{ELLIPSIS}{suffix}",
            truncate_on_char_boundary(subject, room)
        );
    }
    truncate_on_char_boundary(&full, limit).to_owned()
}

/// The longest prefix of `text` that is at most `limit` bytes and ends on a char boundary.
pub fn truncate_on_char_boundary(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The first line of a commit message (its subject), trimmed.
pub fn subject_of(message: &str) -> &str {
    message.lines().next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn full_id_fits_in_the_current_tag_limit() {
        assert_eq!(version_tag(SHA, TAG_LIMIT).expect("fits"), SHA);
    }

    #[test]
    fn old_limit_gets_a_prefix() {
        assert_eq!(version_tag(SHA, 20).expect("fits"), &SHA[..20]);
    }

    #[test]
    fn tiny_limit_is_refused() {
        assert_eq!(
            version_tag(SHA, 6),
            Err(StampError::TagLimitTooSmall { limit: 6 })
        );
        assert!(version_tag("xyz1234", 100).is_err());
    }

    #[test]
    fn foreign_tags_are_not_commits() {
        for tag in [
            "",
            "v1.2.3",
            "release-7",
            "abc",
            "deadbeefz",
            &"a".repeat(65),
        ] {
            assert_eq!(parse_version_tag(tag), None, "{tag:?}");
        }
        let parsed = parse_version_tag(" 0123456789ABCDEF0123 ").expect("prefix");
        assert_eq!(parsed.as_str(), "0123456789abcdef0123");
        assert!(!parsed.is_full());
        assert!(parsed.matches(SHA));
        assert!(parse_version_tag(SHA).expect("full").is_full());
    }

    #[test]
    fn message_keeps_author_when_subject_is_long() {
        let subject = "é".repeat(200);
        let message = version_message(&subject, "Alice <a@example.com>", 100);
        assert!(message.len() <= 100);
        assert!(message.ends_with("… (Alice <a@example.com>)"), "{message}");
        assert_eq!(version_message("bump", "Bob", 100), "bump (Bob)");
        assert_eq!(version_message("bump", "", 100), "bump");
        assert_eq!(version_message("bumpy", "Bob", 3), "bum");
    }

    proptest! {
        #[test]
        fn message_never_exceeds_limit(subject in ".{0,300}", author in ".{0,80}", limit in 0usize..400) {
            let message = version_message(&subject, &author, limit);
            prop_assert!(message.len() <= limit);
        }

        #[test]
        fn tag_round_trips(hex in "[0-9a-f]{40}", limit in 7usize..120) {
            let tag = version_tag(&hex, limit).expect("valid");
            prop_assert!(tag.len() <= limit);
            let parsed = parse_version_tag(&tag).expect("ours");
            prop_assert!(parsed.matches(&hex));
        }
    }
}
