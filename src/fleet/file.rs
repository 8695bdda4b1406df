//! `fleet.toml`: the (repository, account) entries one `flaresync run --fleet` serves, read and
//! checked before anything starts (pure: text in, entries or errors naming file:line out).
//!
//! ```toml
//! [[entry]]
//! name = "shop"                                   # optional: unique, for /status and logs
//! repo = "https://git.example.com/ops/shop.git"   # or a local path
//! branch = "main"                                 # optional
//! account_id = "0123456789abcdef0123456789abcdef"
//! token_env = "SHOP_CLOUDFLARE_API_TOKEN"         # or token_file = "/run/secrets/shop"
//! ```
//!
//! The file never holds a secret: a literal token (`token = "…"`, `api_token`, …) is refused
//! with its line, and so is an entry without exactly one of `token_env` / `token_file`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Where an entry's Cloudflare API token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The named environment variable.
    Env(String),
    /// A file holding the token (a mounted Kubernetes Secret, a systemd credential).
    File(PathBuf),
}

/// One entry of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEntry {
    pub name: String,
    pub repo: String,
    pub branch: Option<String>,
    pub account_id: String,
    pub token: TokenSource,
    /// The line of its `[[entry]]` header, for messages.
    pub line: usize,
}

/// What is wrong with a fleet file, with where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetFileError {
    #[error("{file}:{line}: {message}")]
    At {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: no [[entry]]: a fleet needs at least one (repository, account) entry")]
    Empty { file: String },
}

/// Keys that would put a secret in the file.
const SECRET_KEYS: &[&str] = &[
    "token",
    "api_token",
    "cloudflare_api_token",
    "secret",
    "password",
    "api_key",
];

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    entry: Vec<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: Option<String>,
    repo: String,
    branch: Option<String>,
    account_id: String,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
}

/// Parses and checks `text`, the content of `file`.
pub fn parse(file: &Path, text: &str) -> Result<Vec<FleetEntry>, FleetFileError> {
    let name = file.display().to_string();
    let at = |offset: usize, message: String| FleetFileError::At {
        file: name.clone(),
        line: line_of(text, offset),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        at(offset, error.message().to_owned())
    })?;
    if raw.entry.is_empty() {
        return Err(FleetFileError::Empty { file: name });
    }
    let mut entries: Vec<FleetEntry> = Vec::new();
    for table in raw.entry {
        let start = table.span().start;
        let line = line_of(text, start);
        let table = table.into_inner();
        if let Some(key) = table.keys().find(|k| SECRET_KEYS.contains(&k.as_str())) {
            let offset = key_offset(text, start, key);
            return Err(at(
                offset,
                format!(
                    "`{key}` puts a secret in the fleet file; name where it is instead: \
                     token_env = \"VARIABLE\" or token_file = \"/run/secrets/…\""
                ),
            ));
        }
        let raw: RawEntry = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| at(start, format!("[[entry]]: {}", e.message())))?;
        let entry = check(raw, line).map_err(|message| at(start, message))?;
        if let Some(twin) = entries.iter().find(|e| e.name == entry.name) {
            return Err(at(
                start,
                format!(
                    "entry name {:?} is used twice (also line {}); give each entry its own `name`",
                    entry.name, twin.line
                ),
            ));
        }
        if let Some(twin) = entries
            .iter()
            .find(|e| e.repo == entry.repo && e.account_id == entry.account_id)
        {
            return Err(at(
                start,
                format!(
                    "the same repository and account as the entry on line {}: one entry per pair",
                    twin.line
                ),
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn check(raw: RawEntry, line: usize) -> Result<FleetEntry, String> {
    if raw.repo.trim().is_empty() {
        return Err("`repo` is empty: give the repository's URL or path".into());
    }
    let account_id = raw.account_id.trim().to_owned();
    if !(account_id.len() == 32 && account_id.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(format!(
            "account_id {account_id:?} is not a Cloudflare account id (32 hex characters)"
        ));
    }
    let token = match (raw.token_env, raw.token_file) {
        (Some(var), None) if looks_like_variable(&var) => TokenSource::Env(var),
        (Some(_), None) => {
            return Err(
                "token_env must name an environment variable (letters, digits, _), \
                 not hold the token itself"
                    .into(),
            );
        }
        (None, Some(path)) => TokenSource::File(path),
        (Some(_), Some(_)) => {
            return Err("give one of token_env and token_file, not both".into());
        }
        (None, None) => {
            return Err("no credentials: add token_env = \"VARIABLE\" or \
                 token_file = \"/path/to/token\""
                .into());
        }
    };
    let name = match raw.name.map(|n| n.trim().to_owned()) {
        Some(name) if is_entry_name(&name) => name,
        Some(name) => {
            return Err(format!(
                "name {name:?} is not an entry name (letters, digits, `-`, `_`, `.`, at most 64, \
                 not starting with `.`): it names the entry's state directory"
            ));
        }
        None => default_name(&raw.repo),
    };
    Ok(FleetEntry {
        name,
        repo: raw.repo.trim().to_owned(),
        branch: raw.branch.filter(|b| !b.trim().is_empty()),
        account_id,
        token,
        line,
    })
}

/// An environment variable's name (so a pasted token, with its dashes or length, is refused).
fn looks_like_variable(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().any(|b| b.is_ascii_uppercase() || b == b'_')
}

/// Whether `name` is safe as a directory name of its own.
fn is_entry_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The last path segment of the repository, without `.git`, made an entry name.
fn default_name(repo: &str) -> String {
    let last = repo
        .trim_end_matches('/')
        .rsplit(['/', ':', '\\'])
        .next()
        .unwrap_or(repo)
        .trim_end_matches(".git");
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() { "repo".into() } else { name }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// Where `key = …` starts after `start` (the table's offset), else `start`.
fn key_offset(text: &str, start: usize, key: &str) -> usize {
    let rest = text.get(start..).unwrap_or("");
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed
            .strip_prefix(key)
            .is_some_and(|after| after.trim_start().starts_with('='))
        {
            return start + offset + (line.len() - trimmed.len());
        }
        offset += line.len();
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    fn parsed(text: &str) -> Result<Vec<FleetEntry>, FleetFileError> {
        parse(Path::new("fleet.toml"), text)
    }

    #[test]
    fn entries_read_with_credentials_by_name_or_file() {
        let text = format!(
            "[[entry]]\nrepo = \"https://git.example/ops/shop.git\"\naccount_id = \"{ACCOUNT}\"\n\
             token_env = \"SHOP_TOKEN\"\n\n[[entry]]\nname = \"blog\"\nrepo = \"/srv/blog\"\n\
             branch = \"live\"\naccount_id = \"{ACCOUNT}\"\ntoken_file = \"/run/secrets/blog\"\n"
        );
        let entries = parsed(&text).expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "shop");
        assert_eq!(entries[0].token, TokenSource::Env("SHOP_TOKEN".into()));
        assert_eq!(entries[0].line, 1);
        assert_eq!(entries[1].name, "blog");
        assert_eq!(entries[1].branch.as_deref(), Some("live"));
        assert_eq!(
            entries[1].token,
            TokenSource::File("/run/secrets/blog".into())
        );
        assert_eq!(entries[1].line, 6);
    }

    #[test]
    fn a_literal_token_is_refused_naming_its_line_and_never_echoed() {
        let text = format!(
            "[[entry]]\nrepo = \"/srv/a\"\naccount_id = \"{ACCOUNT}\"\n\
             token = \"cf-secret-value-123\"\n"
        );
        let error = parsed(&text).expect_err("refused").to_string();
        assert!(error.starts_with("fleet.toml:4: `token`"), "{error}");
        assert!(error.contains("token_env"), "{error}");
        assert!(!error.contains("cf-secret-value-123"), "{error}");
    }

    #[test]
    fn a_token_pasted_into_token_env_is_refused() {
        let text = format!(
            "[[entry]]\nrepo = \"/srv/a\"\naccount_id = \"{ACCOUNT}\"\n\
             token_env = \"Zx9-abcdefghijklmnopqrstuvwxyz0123456789\"\n"
        );
        let error = parsed(&text).expect_err("refused").to_string();
        assert!(
            error.contains("fleet.toml:1: token_env must name"),
            "{error}"
        );
        assert!(!error.contains("Zx9-abc"), "{error}");
    }

    #[test]
    fn missing_or_double_credentials_and_bad_accounts_are_refused() {
        let none = format!("[[entry]]\nrepo = \"/srv/a\"\naccount_id = \"{ACCOUNT}\"\n");
        assert!(
            parsed(&none)
                .expect_err("no token")
                .to_string()
                .contains("no credentials")
        );
        let both = format!("{none}token_env = \"A_TOKEN\"\ntoken_file = \"/t\"\n");
        assert!(
            parsed(&both)
                .expect_err("both")
                .to_string()
                .contains("not both")
        );
        let bad = "[[entry]]\nrepo = \"/srv/a\"\naccount_id = \"nope\"\ntoken_env = \"A\"\n";
        assert!(
            parsed(bad)
                .expect_err("account")
                .to_string()
                .contains("32 hex")
        );
    }

    #[test]
    fn unknown_keys_duplicates_and_an_empty_fleet_are_refused() {
        let entry = format!(
            "[[entry]]\nrepo = \"/srv/a\"\naccount_id = \"{ACCOUNT}\"\ntoken_env = \"A_T\"\n"
        );
        let typo = format!("{entry}brnach = \"x\"\n");
        let error = parsed(&typo).expect_err("typo").to_string();
        assert!(error.contains("brnach"), "{error}");
        let twice = format!("{entry}\n{entry}");
        let error = parsed(&twice).expect_err("twice").to_string();
        assert!(error.starts_with("fleet.toml:6:"), "{error}");
        assert!(error.contains("line 1"), "{error}");
        assert_eq!(
            parsed("# nothing\n"),
            Err(FleetFileError::Empty {
                file: "fleet.toml".into()
            })
        );
    }

    #[test]
    fn names_are_directory_safe() {
        let entry = |name: &str| {
            format!(
                "[[entry]]\nname = {name:?}\nrepo = \"/srv/a\"\naccount_id = \"{ACCOUNT}\"\n\
                 token_env = \"A_T\"\n"
            )
        };
        for bad in ["../etc", "a/b", ".hidden", ""] {
            let error = parsed(&entry(bad)).expect_err(bad).to_string();
            assert!(error.contains("is not an entry name"), "{bad}: {error}");
        }
        assert_eq!(
            parsed(&entry("shop-eu_1.v2")).expect("valid")[0].name,
            "shop-eu_1.v2"
        );
        assert_eq!(
            default_name("git@github.com:acme/shop workers.git"),
            "shop_workers"
        );
        assert_eq!(default_name("/"), "repo");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = parsed("[[entry]]\nrepo = \n")
            .expect_err("syntax")
            .to_string();
        assert!(error.starts_with("fleet.toml:2:"), "{error}");
    }
}
