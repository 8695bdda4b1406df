//! Which files of the assets directory are not uploaded (`createAssetsIgnoreFunction`, SPEC-2
//! §1.1): gitignore rules (npm `ignore`, case-insensitive by default), always `/.assetsignore`,
//! `/_redirects` and `/_headers` (anchored: only the top-level files), plus the lines of
//! `.assetsignore` when the directory has one.

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the ignore file at the root of the assets directory.
pub const ASSETS_IGNORE_FILE: &str = ".assetsignore";
/// Sent as text in the upload metadata, never as assets.
pub const REDIRECTS_FILE: &str = "_redirects";
pub const HEADERS_FILE: &str = "_headers";

/// A line of `.assetsignore` that is not a valid pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of .assetsignore is not a valid pattern ({message}); fix or remove it")]
pub struct IgnoreError {
    pub line: usize,
    pub message: String,
}

/// The ignore rules of one assets directory.
#[derive(Debug, Clone)]
pub struct AssetsIgnore {
    matcher: Gitignore,
    has_ignore_file: bool,
}

impl AssetsIgnore {
    /// The rules, given the text of `.assetsignore` (`None` when the directory has none).
    ///
    /// # Errors
    /// A line the gitignore syntax cannot read (an unclosed `[`), with its line number.
    pub fn new(assets_ignore: Option<&str>) -> Result<Self, IgnoreError> {
        let mut builder = GitignoreBuilder::new("");
        builder
            .case_insensitive(true)
            .map_err(|error| IgnoreError {
                line: 0,
                message: error.to_string(),
            })?;
        for line in [ASSETS_IGNORE_FILE, REDIRECTS_FILE, HEADERS_FILE] {
            builder
                .add_line(None, &format!("/{line}"))
                .map_err(|error| IgnoreError {
                    line: 0,
                    message: error.to_string(),
                })?;
        }
        // wrangler splits on "\n" only; the gitignore reader drops the "\r" of CRLF files as
        // trailing whitespace, as npm `ignore` does.
        for (index, line) in assets_ignore.unwrap_or("").split('\n').enumerate() {
            builder
                .add_line(None, line.trim_end_matches('\r'))
                .map_err(|error| IgnoreError {
                    line: index + 1,
                    message: error.to_string(),
                })?;
        }
        let matcher = builder.build().map_err(|error| IgnoreError {
            line: 0,
            message: error.to_string(),
        })?;
        Ok(AssetsIgnore {
            matcher,
            has_ignore_file: assets_ignore.is_some(),
        })
    }

    /// Whether the file at `relative` (to the assets directory, forward slashes) is skipped: a
    /// rule matches it or one of its parent directories.
    pub fn is_ignored(&self, relative: &str) -> bool {
        let relative = relative.trim_start_matches('/');
        if relative.is_empty() {
            return false;
        }
        self.matcher
            .matched_path_or_any_parents(relative, false)
            .is_ignore()
    }

    /// Whether the directory has a `.assetsignore` (even an empty one): it switches off the
    /// guard against uploading a Pages `_worker.js`.
    pub fn has_ignore_file(&self) -> bool {
        self.has_ignore_file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metafiles_are_ignored_only_at_the_root() {
        let rules = AssetsIgnore::new(None).expect("valid");
        assert!(rules.is_ignored("_headers"));
        assert!(rules.is_ignored("_redirects"));
        assert!(rules.is_ignored(".assetsignore"));
        assert!(!rules.is_ignored("docs/_headers"));
        assert!(!rules.is_ignored("index.html"));
        assert!(!rules.has_ignore_file());
    }

    #[test]
    fn assetsignore_lines_follow_gitignore_rules() {
        let text = "# comment\n*.map\r\nprivate/\n!keep.map\n/top-only.txt\n\n";
        let rules = AssetsIgnore::new(Some(text)).expect("valid");
        assert!(rules.is_ignored("app.js.map"));
        assert!(rules.is_ignored("deep/dir/x.map"));
        assert!(!rules.is_ignored("keep.map"));
        assert!(rules.is_ignored("private/secret.txt"));
        assert!(rules.is_ignored("a/private/b.txt"));
        assert!(rules.is_ignored("top-only.txt"));
        assert!(!rules.is_ignored("sub/top-only.txt"));
        assert!(!rules.is_ignored("index.html"));
        assert!(rules.has_ignore_file());
    }

    #[test]
    fn matching_is_case_insensitive_like_npm_ignore() {
        let rules = AssetsIgnore::new(Some("*.MAP\nSecret/")).expect("valid");
        assert!(rules.is_ignored("a.map"));
        assert!(rules.is_ignored("secret/x"));
    }

    #[test]
    fn an_empty_assetsignore_still_counts_as_present() {
        let rules = AssetsIgnore::new(Some("")).expect("valid");
        assert!(rules.has_ignore_file());
        assert!(!rules.is_ignored("_worker.js"));
    }
}
