//! Splitting a Markdown body into pieces that each fit one GitHub comment.
//!
//! GitHub refuses comment bodies over 65,536 characters. Atlantis splits its plan output into
//! several comments at that limit (`SplitComment`, with a "continued" note between parts); it
//! cuts at a byte offset inside one code block it controls. flaresync's plan is structured
//! Markdown (tables, `<details>` per Worker, diff code fences), so the cut goes between lines
//! and whatever is open at the cut (a code fence, `<details>` blocks) is closed at the end of
//! one piece and opened again at the start of the next: every piece renders on its own.
//!
//! Sizes are counted in bytes, which is never less than GitHub's count of characters.

/// Splits `body` into pieces of at most `budget` bytes each (the caller adds its own header and
/// footer around each piece and keeps them out of `budget`). A body that fits is one piece.
/// A single line longer than a piece can hold is cut at character boundaries.
pub fn split_markdown(body: &str, budget: usize) -> Vec<String> {
    if body.len() <= budget {
        return vec![body.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut open = Open::default();
    let mut piece = String::new();
    for line in body.split_inclusive('\n') {
        let mut after = open.clone();
        after.read(line);
        if piece.len() + line.len() + after.closers().len() <= budget {
            piece.push_str(line);
            open = after;
            continue;
        }
        // The line does not fit: close this piece (if it holds anything) and start the next.
        if piece.len() > open.openers().len() {
            piece.push_str(&open.closers());
            pieces.push(std::mem::take(&mut piece));
            piece = open.openers();
        }
        if piece.len() + line.len() + after.closers().len() <= budget {
            piece.push_str(line);
            open = after;
            continue;
        }
        // Longer than any piece: cut it into parts that fit beside the openers and closers.
        let room = budget
            .saturating_sub(open.openers().len() + open.closers().len() + 1)
            .max(4);
        for part in cut_at_chars(line, room) {
            if piece.len() + part.len() + 1 + open.closers().len() > budget
                && piece.len() > open.openers().len()
            {
                piece.push_str(&open.closers());
                pieces.push(std::mem::take(&mut piece));
                piece = open.openers();
            }
            piece.push_str(part);
            if !part.ends_with('\n') {
                piece.push('\n');
            }
        }
        open = after;
    }
    if piece.len() > open.openers().len() || pieces.is_empty() {
        piece.push_str(&open.closers());
        pieces.push(piece);
    }
    pieces
}

/// What is open after the lines read so far: `<details>` blocks and a code fence.
#[derive(Debug, Clone, Default, PartialEq)]
struct Open {
    /// Opening lines of the open `<details>` blocks, outermost first.
    details: Vec<String>,
    /// The open code fence's opening line (e.g. "```diff").
    fence: Option<String>,
}

impl Open {
    fn read(&mut self, line: &str) {
        let trimmed = line.trim();
        if let Some(fence) = &self.fence {
            let marker = fence_marker(fence);
            if trimmed.starts_with(marker) && trimmed.trim_start_matches(marker).trim().is_empty() {
                self.fence = None;
            }
            return;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            self.fence = Some(trimmed.to_owned());
            return;
        }
        let opened = trimmed.matches("<details").count();
        let closed = trimmed.matches("</details>").count();
        for _ in 0..opened.saturating_sub(closed) {
            self.details.push(trimmed.to_owned());
        }
        for _ in 0..closed.saturating_sub(opened) {
            self.details.pop();
        }
    }

    /// What ends a piece cut here so it renders on its own.
    fn closers(&self) -> String {
        let mut text = String::new();
        if let Some(fence) = &self.fence {
            text.push_str(fence_marker(fence));
            text.push('\n');
        }
        for _ in &self.details {
            text.push_str("\n</details>\n");
        }
        text
    }

    /// What starts the next piece so it continues where the previous one was cut.
    fn openers(&self) -> String {
        let mut text = String::new();
        for details in &self.details {
            text.push_str(&continued_details(details));
            text.push_str("\n\n");
        }
        if let Some(fence) = &self.fence {
            text.push_str(fence);
            text.push('\n');
        }
        text
    }
}

/// The backticks or tildes that open (and so close) a fence: "```diff" -> "```".
fn fence_marker(fence: &str) -> &str {
    let kind = fence.chars().next().unwrap_or('`');
    let length = fence.chars().take_while(|c| *c == kind).count();
    &fence[..length * kind.len_utf8()]
}

/// The `<details>` line again, its summary marked "(continued)".
fn continued_details(line: &str) -> String {
    match line.find("</summary>") {
        Some(end) => format!("{} (continued){}", &line[..end], &line[end..]),
        None => line.to_owned(),
    }
}

/// `text` in slices of at most `size` bytes, each ending on a character boundary.
fn cut_at_chars(text: &str, size: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while end > 0 && !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // `size` is smaller than one character: take the character whole.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        parts.push(&rest[..end]);
        rest = &rest[end..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences(text: &str) -> usize {
        text.lines()
            .filter(|line| line.trim_start().starts_with("```"))
            .count()
    }

    fn balanced_details(text: &str) -> bool {
        text.matches("<details").count() == text.matches("</details>").count()
    }

    /// A plan-like body: a table, then `<details>` per Worker with a long diff.
    fn plan_body(workers: usize, diff_lines: usize) -> String {
        let mut body =
            String::from("### flaresync plan for `abc`\n\n| Worker | Action |\n|---|---|\n");
        for w in 0..workers {
            body.push_str(&format!("| `w{w}` | deploy |\n"));
        }
        for w in 0..workers {
            body.push_str(&format!(
                "\n<details><summary><b>w{w}</b>: deploy</summary>\n\n```diff\n"
            ));
            for line in 0..diff_lines {
                body.push_str(&format!("+ line {line} of worker {w}\n"));
            }
            body.push_str("```\n\n</details>\n");
        }
        body
    }

    #[test]
    fn a_body_that_fits_is_one_piece_unchanged() {
        let body = plan_body(2, 3);
        assert_eq!(split_markdown(&body, 65_536), vec![body]);
    }

    #[test]
    fn every_piece_fits_and_renders_on_its_own() {
        let body = plan_body(5, 400);
        let budget = 4_000;
        let pieces = split_markdown(&body, budget);
        assert!(pieces.len() > 5, "{} pieces", pieces.len());
        for piece in &pieces {
            assert!(piece.len() <= budget, "{} > {budget}", piece.len());
            assert_eq!(fences(piece) % 2, 0, "an open fence:\n{piece}");
            assert!(balanced_details(piece), "unbalanced details:\n{piece}");
        }
        // Nothing is lost: every diff line is in exactly one piece.
        let all = pieces.concat();
        for w in 0..5 {
            for line in [0, 199, 399] {
                let text = format!("+ line {line} of worker {w}\n");
                assert_eq!(all.matches(&text).count(), 1, "{text}");
            }
        }
    }

    #[test]
    fn a_cut_inside_a_diff_reopens_its_details_and_fence() {
        let body = plan_body(1, 300);
        let pieces = split_markdown(&body, 3_000);
        let second = &pieces[1];
        assert!(
            second.starts_with(
                "<details><summary><b>w0</b>: deploy (continued)</summary>\n\n```diff\n"
            ),
            "{second}"
        );
        assert!(pieces[0].ends_with("```\n\n</details>\n"), "{}", pieces[0]);
    }

    #[test]
    fn a_line_longer_than_a_piece_is_cut_at_character_boundaries() {
        let line = "é".repeat(5_000); // 10,000 bytes
        let body = format!("before\n```\n{line}\n```\nafter\n");
        let pieces = split_markdown(&body, 1_000);
        for piece in &pieces {
            assert!(piece.len() <= 1_000, "{}", piece.len());
            assert_eq!(fences(piece) % 2, 0, "{piece}");
        }
        let joined: String = pieces.concat().chars().filter(|c| *c == 'é').collect();
        assert_eq!(joined.chars().count(), 5_000);
    }

    #[test]
    fn tilde_fences_and_longer_backtick_fences_close_with_their_own_marker() {
        assert_eq!(fence_marker("~~~toml"), "~~~");
        assert_eq!(fence_marker("````md"), "````");
        let mut open = Open::default();
        open.read("````md\n");
        open.read("```\n"); // inside a four-backtick fence: text, not a close
        assert!(open.fence.is_some());
        open.read("````\n");
        assert_eq!(open, Open::default());
    }
}
