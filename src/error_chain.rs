//! How an error chain is printed: each cause once.
//!
//! Library errors often carry their cause both in their message (`"... is invalid: {source}"`)
//! and as `#[source]`, so `{:#}` would print the cause twice. A cause whose text already ends
//! the message before it is left out.

/// `error: a: b: c` text of an error and its causes, skipping causes already written.
pub fn chain_text(error: &anyhow::Error) -> String {
    join_causes(error.chain().map(ToString::to_string))
}

fn join_causes(causes: impl IntoIterator<Item = String>) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in causes {
        if !previous.is_empty() && previous.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
        previous = cause;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(causes: &[&str]) -> String {
        join_causes(causes.iter().map(ToString::to_string))
    }

    #[test]
    fn a_cause_already_in_the_message_before_it_is_written_once() {
        assert_eq!(
            join(&[
                "invalid flaresync.toml",
                "x.toml is invalid: 1:1: bad",
                "1:1: bad"
            ]),
            "invalid flaresync.toml: x.toml is invalid: 1:1: bad"
        );
    }

    #[test]
    fn distinct_causes_are_all_written_in_order() {
        assert_eq!(join(&["a", "b", "c"]), "a: b: c");
        assert_eq!(join(&["only"]), "only");
    }

    #[test]
    fn a_cause_equal_to_part_of_the_middle_of_the_message_is_kept() {
        assert_eq!(join(&["bad: x here", "x"]), "bad: x here: x");
    }

    #[test]
    fn the_anyhow_chain_is_read_cause_by_cause() {
        let error = anyhow::anyhow!("inner")
            .context("outer: inner")
            .context("top");
        assert_eq!(chain_text(&error), "top: outer: inner");
    }
}
