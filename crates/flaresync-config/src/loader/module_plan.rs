//! Which file is `main` and how module files are typed, decided from the config alone (no
//! reads): the `main` path (flaresync.toml override first), the module root, the main
//! module's name and type, and the type of each candidate file.

use super::paths::{normalize, path_error, relative_to};
use crate::error::ConfigError;
use crate::modules::{ModuleRule, ModuleType, classify, effective_rules, glob_matches};
use crate::repo::REPO_CONFIG_FILE;
use crate::wrangler::ParsedConfig;

pub(super) struct ModulePlan {
    /// The Worker directory, for messages.
    dir: String,
    /// Where `main` was set, for messages.
    pub main_origin: String,
    /// Repository path of `main`.
    pub main_path: String,
    /// Repository directory module names are relative to.
    pub module_root: String,
    /// Module name of `main`, relative to `module_root`.
    pub main_module: String,
    pub main_type: ModuleType,
    rules: Vec<ModuleRule>,
    /// Rules ignored because an earlier rule of the same type lacks `fallthrough`.
    dropped_rules: Vec<ModuleRule>,
}

/// Plans the modules of the Worker in `dir`; `main_override` is the flaresync.toml `main`.
pub(super) fn plan_modules(
    dir: &str,
    config_path: &str,
    parsed: &ParsedConfig,
    main_override: Option<String>,
) -> Result<ModulePlan, ConfigError> {
    let (main, main_origin) = main_and_origin(dir, config_path, parsed, main_override)?;
    let lower = main.to_ascii_lowercase();
    if [".ts", ".tsx", ".mts", ".cts", ".jsx"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "{main_origin} points at source file {main:?}; flaresync deploys built bundles \
                 and never runs a build: commit the build output (e.g. dist/index.js) and point \
                 `main` (or the {REPO_CONFIG_FILE} `main` override) at it"
            ),
        ));
    }
    let main_path = normalize(dir, &main).map_err(|p| path_error(dir, "main", p))?;
    let module_root = match &parsed.module_settings.base_dir {
        Some(base) => normalize(dir, base).map_err(|p| path_error(dir, "base_dir", p))?,
        None => main_path
            .rsplit_once('/')
            .map(|(d, _)| d.to_owned())
            .unwrap_or_default(),
    };
    let Some(main_module) = relative_to(&module_root, &main_path) else {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "main {main_path:?} is not inside base_dir {module_root:?}; set `base_dir` \
                 to a directory containing main"
            ),
        ));
    };
    let (rules, dropped_rules) = effective_rules(&parsed.module_settings.rules);
    let main_type = classify(&rules, &main_module).unwrap_or(ModuleType::ESModule);
    if !matches!(
        main_type,
        ModuleType::ESModule | ModuleType::CommonJS | ModuleType::PythonModule
    ) {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "main {main_module:?} is a {main_type:?} module by the module rules; main must \
                 be JavaScript (ESModule/CommonJS) or Python"
            ),
        ));
    }
    Ok(ModulePlan {
        dir: dir.to_owned(),
        main_origin,
        main_path,
        module_root,
        main_module,
        main_type,
        rules,
        dropped_rules,
    })
}

/// `main` as written and where it was set: the flaresync.toml override, else the config.
fn main_and_origin(
    dir: &str,
    config_path: &str,
    parsed: &ParsedConfig,
    main_override: Option<String>,
) -> Result<(String, String), ConfigError> {
    if let Some(main) = main_override {
        return Ok((main, format!("{REPO_CONFIG_FILE} [workers] main")));
    }
    let Some(main) = parsed.main.clone() else {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "{config_path} has no `main`; flaresync deploys a built bundle: commit it and \
                 set `main` (or `main` under [workers.\"{dir}\"] in {REPO_CONFIG_FILE}) to its \
                 path"
            ),
        ));
    };
    let origin = parsed
        .main_location
        .as_ref()
        .map(|l| format!("`main` at {l}"))
        .unwrap_or_else(|| "`main`".into());
    Ok((main, origin))
}

impl ModulePlan {
    /// The module type of candidate file `rel` (relative to the module root): `None` when no
    /// rule matches; an error when only an ignored rule matches or the name is not UTF-8.
    pub fn candidate_type(&self, rel: &str) -> Result<Option<ModuleType>, ConfigError> {
        if let Some(kind) = classify(&self.rules, rel) {
            if rel.contains(char::REPLACEMENT_CHARACTER) {
                return Err(ConfigError::bundle(
                    &self.dir,
                    format!(
                        "module file {rel:?} has a name that is not valid UTF-8 (shown with \
                         U+FFFD); module names are UTF-8 and no import can name it: rename \
                         the file or exclude it from the {kind:?} rule"
                    ),
                ));
            }
            return Ok(Some(kind));
        }
        match self
            .dropped_rules
            .iter()
            .find(|r| r.globs.iter().any(|g| glob_matches(g, rel)))
        {
            None => Ok(None),
            Some(rule) => Err(ConfigError::bundle(
                &self.dir,
                format!(
                    "file {rel:?} matches a {:?} module rule that is ignored because an \
                     earlier rule of the same type lacks `fallthrough = true`; add \
                     `fallthrough = true` to that earlier rule (as wrangler requires)",
                    rule.kind
                ),
            )),
        }
    }
}
