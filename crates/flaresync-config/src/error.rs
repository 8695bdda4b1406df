//! Errors and warnings of the config layer.
//!
//! Every message says what is wrong, where (`file:line:col`, worker directory) and what to do.
//! Warnings never stop a load; errors stop only the Worker they belong to.

use std::fmt;

/// A position in a repository file (1-based line and column, columns counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// Repository-relative path.
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Something flaresync accepted but that deserves attention (unknown key, ignored setting, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// Repository-relative file the warning is about.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col: Option<usize>,
    pub message: String,
}

impl Warning {
    pub fn at(location: &Location, message: impl Into<String>) -> Self {
        Warning {
            path: location.file.clone(),
            line: Some(location.line),
            col: Some(location.col),
            message: message.into(),
        }
    }

    pub fn file(path: &str, message: impl Into<String>) -> Self {
        Warning {
            path: path.to_owned(),
            line: None,
            col: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.path, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Why a Worker (or the repository config) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML / JSON(C).
    #[error("{location}: invalid {format}: {message}")]
    Syntax {
        location: Location,
        format: &'static str,
        message: String,
    },
    /// The file parsed but a value is wrong (type, missing field, conflicting keys, ...).
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
    /// The Worker uses something flaresync does not deploy (containers, Workers Sites, ...):
    /// deploying it without that part would half-deploy it, so it is not deployed at all.
    #[error("{location}: not deployable by flaresync: {message}")]
    Unsupported {
        location: Location,
        /// The config key behind the refusal (`containers`, `site`, ...).
        feature: String,
        message: String,
    },
    /// The config file is not UTF-8.
    #[error("{path}: not valid UTF-8 (invalid byte at offset {offset}); save the file as UTF-8")]
    NotUtf8 { path: String, offset: usize },
    /// The selected `--env` does not exist in the config.
    #[error(
        "{path}: environment {env:?} is not defined (available: {available}); add [env.{env}] \
         to the config, or change `env` in flaresync.toml (env = \"\" under [workers.<dir>] \
         selects the top level for one Worker)"
    )]
    UnknownEnv {
        path: String,
        env: String,
        available: String,
    },
    /// A worker directory holds no wrangler config.
    #[error(
        "worker directory {dir:?} has no wrangler.toml, wrangler.json or wrangler.jsonc; add one \
         or exclude the directory in flaresync.toml"
    )]
    NoConfig { dir: String },
    /// Problems with the bundle / module files of a Worker.
    #[error("worker {dir:?}: {message}")]
    Bundle { dir: String, message: String },
    /// A file of the static assets directory cannot be deployed (limits, a Pages worker).
    #[error("worker {dir:?}: static assets in {directory:?}: {source}")]
    Assets {
        dir: String,
        /// Repository path of the assets directory.
        directory: String,
        #[source]
        source: crate::assets::ManifestError,
    },
    /// Two worker directories resolve to the same Cloudflare script name.
    #[error(
        "worker {dir:?}: script name {name:?} is also used by {other_dirs}; each Worker must \
         have a unique `name` (or a distinct env)"
    )]
    DuplicateScript {
        dir: String,
        name: String,
        other_dirs: String,
    },
    /// Reading the tree failed.
    #[error("cannot read {path:?}: {source}")]
    Tree {
        path: String,
        #[source]
        source: crate::tree::TreeError,
    },
}

impl ConfigError {
    pub(crate) fn invalid(location: Location, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            location,
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(
        location: Location,
        feature: &str,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Unsupported {
            location,
            feature: feature.to_owned(),
            message: message.into(),
        }
    }

    /// The feature behind an [`ConfigError::Unsupported`] refusal, if this is one.
    pub fn unsupported_feature(&self) -> Option<&str> {
        match self {
            ConfigError::Unsupported { feature, .. } => Some(feature),
            _ => None,
        }
    }

    pub(crate) fn bundle(dir: &str, message: impl Into<String>) -> Self {
        ConfigError::Bundle {
            dir: dir.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn tree(path: &str, source: crate::tree::TreeError) -> Self {
        ConfigError::Tree {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why Durable Object migrations cannot be planned safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationPlanError {
    /// The Worker's live migration tag is not in the config's list (wrangler would re-apply every
    /// step; flaresync refuses).
    #[error(
        "the live migration tag {live_tag:?} is not in the config's [[migrations]] list (tags: \
         {known}); a step that Cloudflare already applied was removed or renamed. Restore the \
         step with tag {live_tag:?} (migrations are append-only) instead of re-applying all steps"
    )]
    LiveTagMissing { live_tag: String, known: String },
    /// The Worker has a live migration tag but the config has no migrations at all.
    #[error(
        "the Worker has live migration tag {live_tag:?} but the config declares no \
         [[migrations]]; restore the migration list (it is append-only)"
    )]
    MigrationsRemoved { live_tag: String },
    /// A tag appears twice in the list.
    #[error(
        "migration tag {tag:?} appears more than once; give every [[migrations]] step a unique tag"
    )]
    DuplicateTag { tag: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_display_with_and_without_position() {
        let located = Warning::at(
            &Location {
                file: "w/wrangler.toml".into(),
                line: 3,
                col: 7,
            },
            "unknown key `x` is ignored",
        );
        assert_eq!(
            located.to_string(),
            "w/wrangler.toml:3:7: unknown key `x` is ignored"
        );
        assert_eq!(
            Warning::file("flaresync.toml", "m").to_string(),
            "flaresync.toml: m"
        );
    }

    #[test]
    fn errors_say_where_and_what_to_do() {
        let error = ConfigError::DuplicateScript {
            dir: "a".into(),
            name: "api".into(),
            other_dirs: "\"b\"".into(),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("worker \"a\": script name \"api\""),
            "{text}"
        );
        assert!(text.contains("must have a unique `name`"), "{text}");
        let missing = MigrationPlanError::LiveTagMissing {
            live_tag: "v3".into(),
            known: "\"v1\", \"v2\"".into(),
        };
        assert!(missing.to_string().contains("append-only"));
    }
}
