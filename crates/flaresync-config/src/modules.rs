//! Module rules: which files become which upload parts, with which content type.
//!
//! Mirrors wrangler's `rules` handling (`parseRules` / `matchFiles` in workers-sdk): user rules
//! come first, then the defaults; a rule whose type was already claimed by an earlier rule
//! without `fallthrough = true` is dropped; the first rule whose glob matches a file wins. Globs
//! follow wrangler's `glob-to-regexp` with `globstar`: `*` never crosses `/`, `**/` matches any
//! number of directories (including none).

use serde::Serialize;

/// Wrangler module types (`rules[].type`) and their upload content types (SPEC §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ModuleType {
    ESModule,
    CommonJS,
    CompiledWasm,
    Text,
    Data,
    PythonModule,
    PythonRequirement,
}

impl ModuleType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ESModule" => ModuleType::ESModule,
            "CommonJS" => ModuleType::CommonJS,
            "CompiledWasm" => ModuleType::CompiledWasm,
            "Text" => ModuleType::Text,
            "Data" => ModuleType::Data,
            "PythonModule" => ModuleType::PythonModule,
            "PythonRequirement" => ModuleType::PythonRequirement,
            _ => return None,
        })
    }

    /// The multipart content type Cloudflare expects for this module type.
    pub fn content_type(self) -> &'static str {
        match self {
            ModuleType::ESModule => "application/javascript+module",
            ModuleType::CommonJS => "application/javascript",
            ModuleType::CompiledWasm => "application/wasm",
            ModuleType::Text => "text/plain",
            ModuleType::Data => "application/octet-stream",
            ModuleType::PythonModule => "text/x-python",
            ModuleType::PythonRequirement => "text/x-python-requirement",
        }
    }
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRule {
    pub kind: ModuleType,
    pub globs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallthrough: Option<bool>,
}

/// Wrangler's default rules, appended after the user's rules.
pub fn default_rules() -> Vec<ModuleRule> {
    let rule = |kind, globs: &[&str]| ModuleRule {
        kind,
        globs: globs.iter().map(|g| (*g).to_owned()).collect(),
        fallthrough: None,
    };
    vec![
        rule(ModuleType::ESModule, &["**/*.js", "**/*.mjs"]),
        rule(ModuleType::CommonJS, &["**/*.cjs"]),
        rule(ModuleType::CompiledWasm, &["**/*.wasm", "**/*.wasm?module"]),
        rule(ModuleType::Text, &["**/*.txt", "**/*.html", "**/*.sql"]),
        rule(ModuleType::Data, &["**/*.bin"]),
        rule(ModuleType::PythonModule, &["**/*.py"]),
    ]
}

/// The effective rule list: user rules then defaults, minus rules whose type was already
/// claimed by an earlier rule without `fallthrough = true`. Returns (kept, dropped).
pub fn effective_rules(user: &[ModuleRule]) -> (Vec<ModuleRule>, Vec<ModuleRule>) {
    let mut kept: Vec<ModuleRule> = Vec::new();
    let mut dropped = Vec::new();
    let mut completed: Vec<ModuleType> = Vec::new();
    for rule in user.iter().cloned().chain(default_rules()) {
        if completed.contains(&rule.kind) {
            dropped.push(rule);
            continue;
        }
        if rule.fallthrough != Some(true) {
            completed.push(rule.kind);
        }
        kept.push(rule);
    }
    (kept, dropped)
}

/// Module type of a path (relative to the module root) under the effective rules.
pub fn classify(rules: &[ModuleRule], path: &str) -> Option<ModuleType> {
    rules
        .iter()
        .find(|rule| rule.globs.iter().any(|glob| glob_matches(glob, path)))
        .map(|rule| rule.kind)
}

/// `glob-to-regexp` with `globstar: true` semantics, anchored at both ends.
pub fn glob_matches(glob: &str, path: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    let path: Vec<char> = path.chars().collect();
    match_from(&glob, &path)
}

fn match_from(glob: &[char], path: &[char]) -> bool {
    match glob.first() {
        None => path.is_empty(),
        Some('*') if glob.get(1) == Some(&'*') => {
            // `**` followed by `/` (or at the end) matches zero or more whole segments.
            let rest_start = if glob.get(2) == Some(&'/') { 3 } else { 2 };
            let rest = &glob[rest_start..];
            if rest_start == 2 && !rest.is_empty() {
                // `**` inside a segment (`a**b`) behaves like `*`.
                return match_star(&glob[2..], path);
            }
            // Try the rest at every segment boundary.
            if match_from(rest, path) {
                return true;
            }
            for (i, c) in path.iter().enumerate() {
                if *c == '/' && match_from(rest, &path[i + 1..]) {
                    return true;
                }
            }
            rest.is_empty()
        }
        Some('*') => match_star(&glob[1..], path),
        Some(c) => path.first() == Some(c) && match_from(&glob[1..], &path[1..]),
    }
}

/// `*`: any run of characters without `/`, then the rest of the glob.
fn match_star(rest: &[char], path: &[char]) -> bool {
    for i in 0..=path.len() {
        if match_from(rest, &path[i..]) {
            return true;
        }
        if i < path.len() && path[i] == '/' {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user rule: `kind` for files matching `glob`.
    fn rule(kind: ModuleType, glob: &str, fallthrough: Option<bool>) -> ModuleRule {
        ModuleRule {
            kind,
            globs: vec![glob.into()],
            fallthrough,
        }
    }

    #[test]
    fn globstar_matches_any_depth_including_root() {
        assert!(glob_matches("**/*.js", "index.js"));
        assert!(glob_matches("**/*.js", "a/b/c.js"));
        assert!(!glob_matches("**/*.js", "a/b/c.jsx"));
        assert!(!glob_matches("**/*.js", "a/b/c.js.map"));
    }

    #[test]
    fn single_star_stays_within_a_segment() {
        assert!(glob_matches("*.wasm", "x.wasm"));
        assert!(!glob_matches("*.wasm", "lib/x.wasm"));
        assert!(glob_matches("lib/*.txt", "lib/a.txt"));
        assert!(!glob_matches("lib/*.txt", "lib/sub/a.txt"));
        assert!(glob_matches("lib/**", "lib/sub/a.txt"));
    }

    #[test]
    fn default_rules_classify_by_extension() {
        let (rules, _) = effective_rules(&[]);
        assert_eq!(classify(&rules, "a.mjs"), Some(ModuleType::ESModule));
        assert_eq!(classify(&rules, "x/a.cjs"), Some(ModuleType::CommonJS));
        assert_eq!(classify(&rules, "a.wasm"), Some(ModuleType::CompiledWasm));
        assert_eq!(classify(&rules, "t/a.html"), Some(ModuleType::Text));
        assert_eq!(classify(&rules, "a.bin"), Some(ModuleType::Data));
        assert_eq!(classify(&rules, "a.js.map"), None);
    }

    #[test]
    fn user_rule_without_fallthrough_replaces_default_of_same_type() {
        let (rules, dropped) = effective_rules(&[rule(ModuleType::Text, "**/*.md", None)]);
        assert_eq!(classify(&rules, "a.md"), Some(ModuleType::Text));
        assert_eq!(classify(&rules, "a.txt"), None);
        assert_eq!(dropped.len(), 1);
    }

    #[test]
    fn fallthrough_keeps_the_default_rule() {
        let (rules, dropped) = effective_rules(&[rule(ModuleType::Text, "**/*.md", Some(true))]);
        assert_eq!(classify(&rules, "a.md"), Some(ModuleType::Text));
        assert_eq!(classify(&rules, "a.txt"), Some(ModuleType::Text));
        assert!(dropped.is_empty());
    }

    #[test]
    fn first_matching_rule_wins() {
        let (rules, _) = effective_rules(&[rule(ModuleType::Data, "**/*.txt", None)]);
        assert_eq!(classify(&rules, "a.txt"), Some(ModuleType::Data));
    }
}
