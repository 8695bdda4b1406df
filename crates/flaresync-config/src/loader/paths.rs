//! Pure path arithmetic for repository paths (forward slashes, "" = repository root), and the
//! message for a path that cannot be used.

use crate::error::ConfigError;
use crate::tree::TreeError;

pub(super) fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Why a path cannot be used.
pub(super) enum PathProblem {
    Escapes(String),
    Absolute(String),
    Loop,
    Tree(TreeError),
}

/// The error for `what` (`main`, `base_dir`, ...) of the Worker in `dir` having `problem`.
pub(super) fn path_error(dir: &str, what: &str, problem: PathProblem) -> ConfigError {
    let message = match problem {
        PathProblem::Escapes(p) => format!(
            "{what} path {p:?} leads outside the repository; flaresync only deploys files \
             committed to the repository, so move the file into it"
        ),
        PathProblem::Absolute(p) => format!(
            "{what} path {p:?} is absolute (or a symlink to an absolute path); use a path \
             relative to the worker directory that stays inside the repository"
        ),
        PathProblem::Loop => {
            format!("{what} path has too many levels of symlinks (a symlink loop?)")
        }
        PathProblem::Tree(e) => format!("cannot read {what}: {e}"),
    };
    ConfigError::bundle(dir, message)
}

/// Lexically normalizes `base/relative` (forward slashes). An error if it leaves the root or
/// is absolute.
pub(super) fn normalize(base: &str, relative: &str) -> Result<String, PathProblem> {
    if is_absolute(relative) {
        return Err(PathProblem::Absolute(relative.to_owned()));
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes(relative.to_owned()));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// A leading `/` or `\`, or a drive letter (`C:`).
pub(super) fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('\\')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// `path` relative to `root`, if it lies inside it.
pub(super) fn relative_to(root: &str, path: &str) -> Option<String> {
    if root.is_empty() {
        Some(path.to_owned())
    } else {
        path.strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_rejects_escapes_and_absolute_paths() {
        assert_eq!(
            normalize("a/b", "../c/./d.js").ok().as_deref(),
            Some("a/c/d.js")
        );
        assert!(matches!(
            normalize("a", "../../x.js"),
            Err(PathProblem::Escapes(_))
        ));
        assert!(matches!(
            normalize("a", "/etc/passwd"),
            Err(PathProblem::Absolute(_))
        ));
        assert!(matches!(
            normalize("a", "C:\\x.js"),
            Err(PathProblem::Absolute(_))
        ));
    }

    #[test]
    fn relative_to_requires_prefix_at_a_separator() {
        assert_eq!(relative_to("a/b", "a/b/c.js").as_deref(), Some("c.js"));
        assert_eq!(relative_to("a/b", "a/bc/c.js"), None);
        assert_eq!(relative_to("", "c.js").as_deref(), Some("c.js"));
    }
}
