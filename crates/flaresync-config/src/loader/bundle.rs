//! Reads the Worker's modules as planned: `main`, then (when the config collects them) every
//! file under the module root that a module rule types.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::module_plan::ModulePlan;
use super::paths::join_path;
use super::repo_reader::Reader;
use crate::error::ConfigError;
use crate::model::Module;
use crate::modules::ModuleType;

/// `main` first, then the additional modules sorted by name (when `collect` is set).
pub(super) fn read_modules(
    reader: &mut Reader<'_>,
    plan: &ModulePlan,
    collect: bool,
) -> Result<Vec<Module>, ConfigError> {
    let Some(main_bytes) = reader.read("main", &plan.main_path)? else {
        return Err(ConfigError::bundle(
            &reader.dir,
            format!(
                "{}: bundle file {:?} does not exist in the repository; flaresync does not \
                 build: commit the built bundle (check it is not ignored by .gitignore) or fix \
                 the path",
                plan.main_origin, plan.main_path
            ),
        ));
    };
    let mut modules = vec![make_module(
        plan.main_module.clone(),
        plan.main_type,
        main_bytes,
    )];
    if collect {
        let mut files =
            reader.list_files("base_dir", &plan.module_root, &[".git", "node_modules"])?;
        files.sort();
        for rel in files {
            if rel == plan.main_module {
                continue;
            }
            let Some(kind) = plan.candidate_type(&rel)? else {
                continue;
            };
            let path = join_path(&plan.module_root, &rel);
            // `None`: a symlink to a directory (listed as a candidate), not a module.
            if let Some(bytes) = reader.read("module", &path)? {
                modules.push(make_module(rel, kind, bytes));
            }
        }
    }
    modules[1..].sort_by(|a, b| a.name.cmp(&b.name));
    Ok(modules)
}

fn make_module(name: String, kind: ModuleType, bytes: Vec<u8>) -> Module {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Module {
        name,
        content_type: kind.content_type().to_owned(),
        sha256,
        size: bytes.len() as u64,
        content: Arc::from(bytes.into_boxed_slice()),
    }
}
