//! `flaresync validate`: parse every Worker of a working tree or commit and report.

use anyhow::{Context as _, anyhow};
use flaresync_config::DirTree;

use crate::{
    cli::{Format, ValidateArgs},
    source::{display_path, ensure_has_commits, local_root},
};

pub fn run(args: ValidateArgs) -> anyhow::Result<u8> {
    if crate::settings::is_remote(&args.repo.to_string_lossy()) {
        anyhow::bail!(
            "validate reads a local repository; {} is a URL: clone it and pass the clone's path (plan and sync accept URLs)",
            display_path(&args.repo)
        );
    }
    match &args.rev {
        None => {
            // A missing path or a directory outside any repository would validate nothing and
            // pass a CI gate: refuse it.
            local_root(&args.repo)?;
            if args.format != Format::Json {
                println!(
                    "validating the working tree of {} (uncommitted files included; sync and plan read commits: --rev HEAD checks what is committed)",
                    display_path(&args.repo)
                );
            }
            validate_tree(&args, &DirTree::new(&args.repo))
        }
        Some(rev) => {
            let root = local_root(&args.repo)?;
            let git = git2::Repository::open(&root)
                .with_context(|| format!("cannot open the git repository {}", root.display()))?;
            ensure_has_commits(&git, &root)?;
            let commit = git
                .revparse_single(rev)
                .and_then(|object| object.peel_to_commit())
                .map_err(|_| anyhow!("unknown revision {rev:?} in the config repository"))?;
            let tree = flaresync_git::CommitTree::new(&git, commit.id())
                .with_context(|| format!("cannot read the tree of {rev}"))?;
            if args.format != Format::Json {
                println!(
                    "validating commit {} ({rev})",
                    &commit.id().to_string()[..12]
                );
            }
            validate_tree(&args, &tree)
        }
    }
}

fn validate_tree(
    args: &ValidateArgs,
    tree: &dyn flaresync_config::SourceTree,
) -> anyhow::Result<u8> {
    let (repo_config, repo_warnings) = flaresync_config::load_repo_config(tree)
        .with_context(|| format!("invalid flaresync.toml in {}", display_path(&args.repo)))?;
    let load = flaresync_config::load_all(tree, &repo_config);
    let mut failed = 0usize;
    let mut report = Vec::new();
    for (dir, result) in &load.workers {
        match result {
            Ok(loaded) => report.push(serde_json::json!({
                "dir": dir,
                "worker": loaded.spec.name,
                "ok": true,
                "digest": loaded.digest,
                "modules": loaded.spec.modules.len(),
                "bindings": loaded.spec.bindings.len(),
                "migrations": loaded.spec.migrations.iter().map(|m| m.tag.clone()).collect::<Vec<_>>(),
                "warnings": loaded.warnings,
            })),
            Err(error) => {
                failed += 1;
                report.push(serde_json::json!({"dir": dir, "ok": false, "error": error.to_string()}));
            }
        }
    }
    let warnings: Vec<_> = repo_warnings.iter().chain(load.warnings.iter()).collect();
    match args.format {
        Format::Json => {
            let out = serde_json::json!({"workers": report, "warnings": warnings, "skipped": load.skipped});
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text | Format::Markdown => {
            for warning in &warnings {
                println!("warning: {warning}");
            }
            for (dir, result) in &load.workers {
                match result {
                    Ok(loaded) => {
                        println!(
                            "ok    {:<24} {} ({} module(s), {} binding(s), digest {})",
                            loaded.spec.name,
                            display_dir(dir),
                            loaded.spec.modules.len(),
                            loaded.spec.bindings.len(),
                            &loaded.digest[..12]
                        );
                        for warning in &loaded.warnings {
                            println!("      warning: {warning}");
                        }
                    }
                    Err(error) => println!("error {}: {error}", display_dir(dir)),
                }
            }
            for dir in &load.skipped {
                println!("skip  {} (skip = true in flaresync.toml)", display_dir(dir));
            }
            if load.workers.is_empty() {
                println!(
                    "no workers found under {} (a worker is a directory with wrangler.toml, wrangler.json or wrangler.jsonc)",
                    display_path(&args.repo)
                );
            }
        }
    }
    Ok(if failed > 0 { 2 } else { 0 })
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}
