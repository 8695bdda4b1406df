//! Parsing of the trailer `git revert` writes: `This reverts commit <sha>.` (and, for a merge,
//! `This reverts commit <sha>, reversing\nchanges made to <sha>.`).

/// The commit id named by the first `This reverts commit <id>` line of `message`, lower-case.
///
/// Accepts abbreviated ids (people edit revert messages by hand) of 7 to 64 hex digits, the
/// trailing period or comma, and leading whitespace (`git log` indentation).
pub fn parse_revert(message: &str) -> Option<String> {
    parse_reverts(message).into_iter().next()
}

/// Every commit id named by a `This reverts commit <id>` line, in message order (squashed
/// reverts carry several).
pub fn parse_reverts(message: &str) -> Vec<String> {
    const MARKER: &str = "This reverts commit ";
    let mut found = Vec::new();
    for line in message.lines() {
        let Some(rest) = line.trim_start().strip_prefix(MARKER) else {
            continue;
        };
        let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        let terminated = matches!(
            rest[hex.len()..].chars().next(),
            None | Some('.' | ',' | ' ' | '\t' | '\r')
        );
        if terminated && (7..=64).contains(&hex.len()) {
            found.push(hex.to_ascii_lowercase());
        }
    }
    found
}

/// The message `git revert` writes for `subject` / `commit` (used by tests and by the CLI when
/// it proposes a revert).
pub fn format_revert(subject: &str, commit: &str) -> String {
    format!("Revert \"{subject}\"\n\nThis reverts commit {commit}.\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_revert() {
        let message =
            "Revert \"bump\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n";
        assert_eq!(
            parse_revert(message).as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[test]
    fn merge_revert_names_the_merge() {
        let message = "Revert \"Merge branch 'feature'\"\n\nThis reverts commit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, reversing\nchanges made to bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.\n";
        assert_eq!(parse_reverts(message), vec!["a".repeat(40)]);
    }

    #[test]
    fn squashed_reverts_name_all_commits() {
        let message =
            "Revert two\n\n    This reverts commit abcdef1.\n    This reverts commit 1234567890.\n";
        assert_eq!(parse_reverts(message), vec!["abcdef1", "1234567890"]);
    }

    #[test]
    fn non_reverts_are_ignored() {
        for message in [
            "bump",
            "This reverts commit xyz.",
            "This reverts commit abc.",
            "This reverts commit abcdef12g.",
            "mention: This reverts commit in prose",
        ] {
            assert_eq!(parse_revert(message), None, "{message:?}");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(subject in "[^\n]{0,80}", commit in "[0-9a-f]{40}") {
            prop_assert_eq!(parse_revert(&format_revert(&subject, &commit)), Some(commit));
        }

        #[test]
        fn parse_never_panics(message in "\\PC{0,200}") {
            let _ = parse_reverts(&message);
        }
    }
}
