//! flaresync's comment on a pull request, as values: the hidden marker that finds it again,
//! the parts a long body becomes, and which GitHub calls turn the comments already there into
//! the new ones (update in place, create what is missing, delete what is left over).

use super::split::split_markdown;

/// GitHub's limit on a comment body (characters; counted here in bytes, never fewer).
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// More parts than this are cut short: a plan that long is read in the job log, not in a PR.
pub const MAX_PARTS: usize = 10;
/// The marker comments of the copy-paste workflow flaresync shipped before the action; such a
/// comment is taken over as part 1 of the `plan` comment instead of being left beside it.
const LEGACY_MARKER: &str = "<!-- flaresync-plan -->";

/// A comment already on the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: u64,
    pub body: String,
}

/// One GitHub call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create { body: String },
    Update { id: u64, body: String },
    Delete { id: u64 },
}

/// The hidden first line of part `part` of `total` of the comment named `key`.
fn marker(key: &str, part: usize, total: usize) -> String {
    format!("<!-- flaresync:{key} part={part}/{total} -->")
}

/// Which part of comment `key` a body is, if it is one (by its first line).
pub fn part_of(key: &str, body: &str) -> Option<usize> {
    let first = body.lines().next()?.trim();
    if key == "plan" && first == LEGACY_MARKER {
        return Some(1);
    }
    let rest = first
        .strip_prefix(&format!("<!-- flaresync:{key} part="))?
        .strip_suffix(" -->")?;
    let (part, _total) = rest.split_once('/')?;
    part.parse().ok().filter(|part| *part >= 1)
}

/// The comment bodies for `body`: one when it fits, else numbered parts of at most `limit`
/// bytes each, at most [`MAX_PARTS`]. `footer` ends the last part.
pub fn parts(key: &str, body: &str, footer: &str, limit: usize) -> Vec<String> {
    // Room for the marker, both notes between parts, the cut-short note and the footer, with
    // 3-digit numbers: the most any part carries besides its piece.
    let overhead = wrap(key, "", 100, 101, footer, true).len() + 16;
    let budget = limit.saturating_sub(overhead).max(256);
    let mut pieces = split_markdown(body.trim_end(), budget);
    let truncated = pieces.len() > MAX_PARTS;
    pieces.truncate(MAX_PARTS);
    let total = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(index, piece)| {
            let last = index + 1 == total;
            wrap(
                key,
                piece,
                index + 1,
                total,
                if last { footer } else { "" },
                last && truncated,
            )
        })
        .collect()
}

fn wrap(
    key: &str,
    piece: &str,
    part: usize,
    total: usize,
    footer: &str,
    truncated: bool,
) -> String {
    let mut text = marker(key, part, total);
    text.push('\n');
    if part > 1 {
        text.push_str(&format!(
            "*Continued from the previous comment (part {part} of {total}).*\n\n"
        ));
    }
    text.push_str(piece.trim_end());
    text.push('\n');
    if part < total {
        text.push_str(&format!(
            "\n*Continued in the next comment (part {} of {total}).*\n",
            part + 1
        ));
    }
    if truncated {
        text.push_str(&format!(
            "\n**Cut short**: the rest does not fit in {MAX_PARTS} comments; the full output is in the job log.\n"
        ));
    }
    if !footer.is_empty() {
        text.push('\n');
        text.push_str(footer);
        text.push('\n');
    }
    text
}

/// The GitHub calls that make the comments of `key` among `existing` equal to `parts`: part
/// `n` updates the oldest comment that is part `n` (nothing when its body is already right),
/// or is created; every other comment of `key` (an earlier, longer plan's extra parts, a
/// duplicate from two concurrent runs) is deleted. Other comments are never touched.
pub fn ops(key: &str, existing: &[Existing], parts: &[String]) -> Vec<Op> {
    let mut ours: Vec<(usize, &Existing)> = existing
        .iter()
        .filter_map(|comment| part_of(key, &comment.body).map(|part| (part, comment)))
        .collect();
    ours.sort_by_key(|(part, comment)| (*part, comment.id));
    let mut ops = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for (index, body) in parts.iter().enumerate() {
        let slot = ours
            .iter()
            .find(|(part, comment)| *part == index + 1 && !used.contains(&comment.id));
        match slot {
            Some((_, comment)) => {
                used.insert(comment.id);
                if comment.body != *body {
                    ops.push(Op::Update {
                        id: comment.id,
                        body: body.clone(),
                    });
                }
            }
            None => ops.push(Op::Create { body: body.clone() }),
        }
    }
    ops.extend(
        ours.iter()
            .filter(|(_, comment)| !used.contains(&comment.id))
            .map(|(_, comment)| Op::Delete { id: comment.id }),
    );
    ops
}

/// The body when the command that should have written it failed without output: an outdated
/// plan must not stay up looking current. `log` is its standard error (flaresync never
/// writes secrets there); only its last lines are quoted.
pub fn failure_body(exit_code: i32, log: &str) -> String {
    const TAIL: usize = 40;
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL)..].join("\n");
    let quoted = if tail.trim().is_empty() {
        "(no output)".to_owned()
    } else {
        tail.replace("```", "'''")
    };
    format!(
        "### flaresync failed\n\nflaresync exited with code {exit_code} and printed nothing to \
         post; this replaces the previous comment, which may no longer hold.\n\n\
         ```\n{quoted}\n```\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(id: u64, body: &str) -> Existing {
        Existing {
            id,
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_short_body_is_one_part_with_marker_and_footer() {
        let parts = parts(
            "plan",
            "### plan\n\nall good\n",
            "<sub>flaresync</sub>",
            65_536,
        );
        assert_eq!(
            parts,
            vec![
                "<!-- flaresync:plan part=1/1 -->\n### plan\n\nall good\n\n<sub>flaresync</sub>\n"
            ]
        );
        assert_eq!(part_of("plan", &parts[0]), Some(1));
        assert_eq!(part_of("staging", &parts[0]), None);
    }

    #[test]
    fn a_long_body_becomes_numbered_parts_within_the_limit() {
        let body: String = (0..5_000)
            .map(|i| format!("| `w{i}` | deploy |\n"))
            .collect();
        let parts = parts("plan", &body, "<sub>footer</sub>", 20_000);
        assert!(parts.len() >= 5, "{}", parts.len());
        for (index, part) in parts.iter().enumerate() {
            assert!(part.len() <= 20_000, "part {index}: {}", part.len());
            assert_eq!(part_of("plan", part), Some(index + 1));
        }
        assert!(parts[0].contains("Continued in the next comment (part 2 of"));
        assert!(parts[1].contains("Continued from the previous comment (part 2 of"));
        assert!(
            parts
                .last()
                .is_some_and(|p| p.ends_with("<sub>footer</sub>\n"))
        );
        assert!(!parts[0].contains("footer"));
    }

    #[test]
    fn more_than_max_parts_is_cut_short_and_says_so() {
        let body = "x\n".repeat(20_000);
        let parts = parts("plan", &body, "", 2_000);
        assert_eq!(parts.len(), MAX_PARTS);
        assert!(parts[MAX_PARTS - 1].contains("**Cut short**"));
    }

    #[test]
    fn same_number_of_parts_updates_in_place_and_skips_what_is_unchanged() {
        let new = vec![
            "<!-- flaresync:plan part=1/2 -->\nA".to_owned(),
            "<!-- flaresync:plan part=2/2 -->\nB".to_owned(),
        ];
        let old = [
            existing(10, "<!-- flaresync:plan part=1/2 -->\nold A"),
            existing(11, "a human's comment"),
            existing(12, "<!-- flaresync:plan part=2/2 -->\nB"),
        ];
        assert_eq!(
            ops("plan", &old, &new),
            vec![Op::Update {
                id: 10,
                body: new[0].clone()
            }]
        );
    }

    #[test]
    fn a_shorter_plan_deletes_the_extra_parts_and_a_longer_one_creates_them() {
        let one = vec!["<!-- flaresync:plan part=1/1 -->\nA".to_owned()];
        let old = [
            existing(10, "<!-- flaresync:plan part=1/3 -->\nx"),
            existing(12, "<!-- flaresync:plan part=2/3 -->\ny"),
            existing(13, "<!-- flaresync:plan part=3/3 -->\nz"),
        ];
        assert_eq!(
            ops("plan", &old, &one),
            vec![
                Op::Update {
                    id: 10,
                    body: one[0].clone()
                },
                Op::Delete { id: 12 },
                Op::Delete { id: 13 },
            ]
        );
        let two = vec![
            "<!-- flaresync:plan part=1/2 -->\nA".to_owned(),
            "<!-- flaresync:plan part=2/2 -->\nB".to_owned(),
        ];
        assert_eq!(
            ops("plan", &old[..1], &two),
            vec![
                Op::Update {
                    id: 10,
                    body: two[0].clone()
                },
                Op::Create {
                    body: two[1].clone()
                },
            ]
        );
    }

    #[test]
    fn duplicates_from_concurrent_runs_keep_the_oldest_and_other_keys_are_left_alone() {
        let new = vec!["<!-- flaresync:plan part=1/1 -->\nA".to_owned()];
        let old = [
            existing(7, "<!-- flaresync:staging part=1/1 -->\nstaging plan"),
            existing(9, "<!-- flaresync:plan part=1/1 -->\nA"),
            existing(8, "<!-- flaresync-plan -->\nfrom the old workflow"),
        ];
        assert_eq!(
            ops("plan", &old, &new),
            vec![
                Op::Update {
                    id: 8,
                    body: new[0].clone()
                },
                Op::Delete { id: 9 }
            ]
        );
    }

    #[test]
    fn markers_that_only_look_alike_are_not_ours() {
        for body in [
            "",
            "> <!-- flaresync:plan part=1/1 -->",
            "<!-- flaresync:plan part=0/1 -->",
            "<!-- flaresync:plan part=x/1 -->",
            "<!-- flaresync:planner part=1/1 -->",
        ] {
            assert_eq!(part_of("plan", body), None, "{body:?}");
        }
    }

    #[test]
    fn a_failed_run_replaces_the_plan_with_the_end_of_its_log() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let body = failure_body(2, &format!("{log}error: ```boom```\n"));
        assert!(body.contains("exited with code 2"), "{body}");
        assert!(body.contains("error: '''boom'''"), "{body}");
        assert!(
            body.contains("line 99") && !body.contains("line 60\n"),
            "{body}"
        );
        assert!(failure_body(2, "").contains("(no output)"));
    }
}
