//! Legality rules: each has an id (`FS001`…), a name, a ruff-style doc (What it checks / Why /
//! Example / How to override) and a pure `check`.
//!
//! The planner builds one [`Context`] per Worker and candidate action and runs every rule; rules
//! ignore subjects they do not concern. A finding with [`Severity::Error`] that is not
//! `overridden` blocks the action. `flaresync explain FS003` prints [`Rule::doc`] via [`rule`].

use std::collections::BTreeSet;

use flaresync_config::{BindingKind, MigrationStep, WorkerSpec};

use crate::input::{KnownVersion, Policy, WorkerHistory};
use crate::live::{LiveResources, LiveVersion, LiveWorker, R2Bucket};
use crate::migrations::{self, PendingMigrations};
use crate::model::{Finding, Severity};

/// A legality rule.
pub trait Rule: Sync {
    /// Stable id, e.g. `FS002`.
    fn id(&self) -> &'static str;
    /// Kebab-case name, e.g. `migration-between-versions`.
    fn name(&self) -> &'static str;
    /// One line.
    fn summary(&self) -> &'static str;
    /// Markdown doc: What it checks / Why / Example / How to override.
    fn doc(&self) -> &'static str;
    /// Findings for this context (empty when the rule does not apply or passes).
    fn check(&self, ctx: &Context<'_>) -> Vec<Finding>;
}

/// Everything a rule may look at for one Worker.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub worker: &'a str,
    pub policy: &'a Policy,
    /// Whether live state was fetched; rules needing it are skipped otherwise.
    pub live_observed: bool,
    /// The live Worker (`None` when not observed; `exists: false` when it does not exist).
    pub live: Option<&'a LiveWorker>,
    pub resources: &'a LiveResources,
    pub history: &'a WorkerHistory,
    /// The script's current migration tag (live, or the base commit's last tag without live).
    pub migration_tag: Option<&'a str>,
    /// Content of the steps believed applied (up to `migration_tag`), when known.
    pub applied_steps: Option<&'a [MigrationStep]>,
    /// Scripts that exist or will exist: every script in the account plus the Workers of this
    /// plan's desired state. `None` when the account's script list was not fetched.
    pub known_scripts: Option<&'a BTreeSet<String>>,
    /// Workers this one depends on whose own action is blocked in this plan.
    pub blocked_dependencies: &'a [String],
    /// The dependency cycle this Worker is part of, if any.
    pub cycle: Option<&'a [String]>,
    /// The version serving traffic and what flaresync knows about it.
    pub active: Option<ActiveVersion<'a>>,
    pub subject: Subject<'a>,
}

/// The active version.
#[derive(Debug, Clone, Copy)]
pub struct ActiveVersion<'a> {
    pub version_id: &'a str,
    pub live: Option<&'a LiveVersion>,
    pub known: Option<&'a KnownVersion>,
}

/// What is being judged.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// Upload `spec` as a new version (or script).
    Forward { spec: &'a WorkerSpec },
    /// Deploy an existing version whose content equals `spec`.
    Rollback {
        spec: &'a WorkerSpec,
        target: Target<'a>,
    },
    /// The config at the desired commit did not load.
    Broken { error: &'a str },
    /// The Worker is gone from Git.
    Removed,
    /// Nothing to do for versions (in sync or settings only).
    Unchanged { spec: &'a WorkerSpec },
}

/// A rollback target.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub known: &'a KnownVersion,
    /// The live record, when the version is still listed as deployable.
    pub live: Option<&'a LiveVersion>,
    /// Position in the deployable list (0 = newest).
    pub position: Option<usize>,
}

impl<'a> Subject<'a> {
    /// The spec that would run afterwards, for forward deploys and rollbacks.
    fn changing_spec(&self) -> Option<&'a WorkerSpec> {
        match self {
            Subject::Forward { spec } | Subject::Rollback { spec, .. } => Some(spec),
            _ => None,
        }
    }
}

macro_rules! rule {
    ($ty:ident, $id:literal, $name:literal, $summary:literal, $check:path) => {
        #[doc = concat!("`", $id, "` ", $name, ": ", $summary, "\n\n")]
        #[doc = include_str!(concat!("docs/", $id, ".md"))]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $ty;

        impl Rule for $ty {
            fn id(&self) -> &'static str {
                $id
            }
            fn name(&self) -> &'static str {
                $name
            }
            fn summary(&self) -> &'static str {
                $summary
            }
            fn doc(&self) -> &'static str {
                include_str!(concat!("docs/", $id, ".md"))
            }
            fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
                $check(ctx)
            }
        }
    };
}

rule!(
    VersionOutsideWindow,
    "FS001",
    "version-outside-window",
    "rollback target is no longer a deployable version",
    check_window
);
rule!(
    MigrationBetweenVersions,
    "FS002",
    "migration-between-versions",
    "a Durable Object migration lies between the active version and the rollback target",
    check_migration_between
);
rule!(
    AppliedMigrationDropped,
    "FS003",
    "applied-migration-dropped",
    "the desired migration list drops a step that is already applied",
    check_migration_dropped
);
rule!(
    BoundResourceMissing,
    "FS004",
    "bound-resource-missing",
    "the target binds a KV namespace, R2 bucket, D1 database or queue that no longer exists",
    check_resources
);
rule!(
    D1Rollback,
    "FS005",
    "d1-rollback",
    "rollback target binds a D1 database",
    check_d1
);
rule!(
    SecretsChanged,
    "FS006",
    "secrets-changed",
    "rollback target's secrets differ from the live secrets",
    check_secrets
);
rule!(
    UnversionedTriggers,
    "FS007",
    "unversioned-triggers",
    "routes, custom domains and crons are not rolled back with a version",
    check_triggers
);
rule!(
    AppliedMigrationEdited,
    "FS008",
    "applied-migration-edited",
    "an applied migration step was edited in place",
    check_migration_edited
);
rule!(
    ExportsWithMigrations,
    "FS009",
    "exports-with-migrations",
    "`exports` and `migrations` are both set",
    check_exports_and_migrations
);
rule!(
    InvalidMigrationList,
    "FS010",
    "invalid-migration-list",
    "migration list has untagged, duplicate or empty steps",
    check_migration_shape
);
rule!(
    BrokenConfig,
    "FS011",
    "broken-config",
    "the Worker's config does not load at the desired commit",
    check_broken
);
rule!(
    DeletedClassRecreated,
    "FS012",
    "deleted-class-recreated",
    "a pending migration re-creates a deleted Durable Object class (empty storage)",
    check_recreated
);
rule!(
    RequiredSecretMissing,
    "FS013",
    "required-secret-missing",
    "a secret listed in `secrets.required` is not set on the live script",
    check_required_secrets
);
rule!(
    WorkerRemoved,
    "FS014",
    "worker-removed",
    "the Worker is gone from Git; flaresync never deletes it",
    check_removed
);
rule!(
    UnmanagedActiveVersion,
    "FS015",
    "unmanaged-active-version",
    "the active version was not created by flaresync",
    check_unmanaged
);
rule!(
    SplitDeployment,
    "FS016",
    "split-deployment",
    "a gradual (split) deployment is in progress",
    check_split
);

rule!(
    DependencyCycle,
    "FS017",
    "dependency-cycle",
    "the Worker is part of a deploy-order cycle; name order is used instead",
    check_cycle
);

rule!(
    DependencyBlocked,
    "FS018",
    "dependency-blocked",
    "a Worker this one depends on is blocked",
    check_dependency_blocked
);

rule!(
    BoundWorkerMissing,
    "FS019",
    "bound-worker-missing",
    "the target binds a Worker (service, Durable Object, workflow, tail consumer) that does not exist",
    check_bound_workers
);

static RULES: [&dyn Rule; 19] = [
    &VersionOutsideWindow,
    &MigrationBetweenVersions,
    &AppliedMigrationDropped,
    &BoundResourceMissing,
    &D1Rollback,
    &SecretsChanged,
    &UnversionedTriggers,
    &AppliedMigrationEdited,
    &ExportsWithMigrations,
    &InvalidMigrationList,
    &BrokenConfig,
    &DeletedClassRecreated,
    &RequiredSecretMissing,
    &WorkerRemoved,
    &UnmanagedActiveVersion,
    &SplitDeployment,
    &DependencyCycle,
    &DependencyBlocked,
    &BoundWorkerMissing,
];

/// Every rule, in id order.
pub fn rules() -> &'static [&'static dyn Rule] {
    &RULES
}

/// Look a rule up by id (`FS003`, case-insensitive) or name (`applied-migration-dropped`).
pub fn rule(id_or_name: &str) -> Option<&'static dyn Rule> {
    rules()
        .iter()
        .copied()
        .find(|r| r.id().eq_ignore_ascii_case(id_or_name) || r.name() == id_or_name)
}

/// The full text `flaresync explain <rule>` prints: a heading line, then the doc.
pub fn explain(id_or_name: &str) -> Option<String> {
    let rule = rule(id_or_name)?;
    Some(format!(
        "{} {}: {}\n\n{}",
        rule.id(),
        rule.name(),
        rule.summary(),
        rule.doc()
    ))
}

/// Run every rule; findings sorted by rule id then message.
pub fn check_all(ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = rules().iter().flat_map(|r| r.check(ctx)).collect();
    findings.sort_by(|a, b| (&a.rule, &a.message).cmp(&(&b.rule, &b.message)));
    findings
}

fn version_label(known: &KnownVersion, live: Option<&LiveVersion>) -> String {
    match live {
        Some(v) if v.number > 0 => format!(
            "version {} ({}, commit {})",
            v.number,
            short(&v.id),
            short(&known.commit)
        ),
        _ => format!(
            "version {} (commit {})",
            short(&known.version_id),
            short(&known.commit)
        ),
    }
}

/// First 8 characters of an id or commit.
pub fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((index, _)) => &id[..index],
        None => id,
    }
}

fn check_window(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Rollback { target, .. } = ctx.subject else {
        return Vec::new();
    };
    let window = ctx.policy.version_window;
    let label = version_label(target.known, target.live);
    let listed = ctx.live.map_or(0, |live| live.versions.len());
    let message = match target.position {
        None if listed > 0 => format!(
            "{label} is not among the {listed} newest versions of `{}` that Cloudflare still lists as deployable: it fell out of the rollback window (version_window {window}) and can no longer be deployed",
            ctx.worker
        ),
        None => format!(
            "{label} is not among the deployable versions of `{}` any more",
            ctx.worker
        ),
        Some(position) if position >= window => format!(
            "{label} is number {} in the deployable list (newest first); only the newest {window} may be deployed (version_window)",
            position + 1
        ),
        Some(_) => return Vec::new(),
    };
    vec![Finding::new("FS001", Severity::Error, message).with_hint(
        "set rollback_policy = \"redeploy\" to upload the reverted content as a new version",
    )]
}

fn check_migration_between(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Rollback { target, .. } = ctx.subject else {
        return Vec::new();
    };
    if !ctx.live_observed {
        return Vec::new();
    }
    let target_tag = match target.live {
        Some(live) => live.migration_tag.as_deref(),
        // Not listed live: fall back to the tag its commit declared.
        None => target.known.migrations.last().map(|s| s.tag.as_str()),
    };
    if target_tag == ctx.migration_tag {
        return Vec::new();
    }
    let label = version_label(target.known, target.live);
    let message = format!(
        "{label} was deployed with migration tag {} but the script is now at {}; Cloudflare refuses rollbacks across a Durable Object migration",
        tag_text(target_tag),
        tag_text(ctx.migration_tag)
    );
    vec![Finding::new("FS002", Severity::Error, message).with_hint(
        "roll forward instead: keep the applied [[migrations]] steps and commit the code change you want",
    )]
}

fn tag_text(tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("`{tag}`"),
        None => "(none)".to_owned(),
    }
}

fn check_migration_dropped(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(spec) = ctx.subject.changing_spec() else {
        return Vec::new();
    };
    let PendingMigrations::LiveTagMissing { live_tag } =
        migrations::pending(&spec.migrations, ctx.migration_tag)
    else {
        return Vec::new();
    };
    let desired_tags: Vec<&str> = spec.migrations.iter().map(|s| s.tag.as_str()).collect();
    let message = format!(
        "the script's applied migration tag `{live_tag}` is missing from the desired [[migrations]] list ({}); migrations are forward-only and a revert cannot un-apply them",
        if desired_tags.is_empty() {
            "now empty".to_owned()
        } else {
            format!("now {}", desired_tags.join(", "))
        }
    );
    vec![
        Finding::new("FS003", Severity::Error, message)
            .with_hint(suggest_forward_fix(ctx, spec, &live_tag)),
    ]
}

/// Say exactly what to write instead of dropping applied steps.
fn suggest_forward_fix(ctx: &Context<'_>, spec: &WorkerSpec, live_tag: &str) -> String {
    let new_tag = next_tag(live_tag);
    let Some(applied) = ctx.applied_steps.filter(|s| !s.is_empty()) else {
        return format!(
            "keep every applied step (up to `{live_tag}`) in [[migrations]] unchanged and append a new step, e.g. tag = \"{new_tag}\" with deleted_classes = [...] or renamed_classes = [{{ from = \"...\", to = \"...\" }}] for the classes you no longer want"
        );
    };
    let applied_tags: Vec<&str> = applied.iter().map(|s| s.tag.as_str()).collect();
    let live_classes = migrations::classes_after(applied);
    let bound: BTreeSet<&str> = spec
        .bindings
        .iter()
        .filter_map(|b| match &b.kind {
            BindingKind::DurableObjectNamespace {
                class_name,
                script_name: None,
                ..
            } => Some(class_name.as_str()),
            _ => None,
        })
        .collect();
    let wanted = migrations::classes_after(&spec.migrations);
    let to_delete: Vec<String> = live_classes
        .iter()
        .filter(|c| !wanted.contains(*c) && !bound.contains(c.as_str()))
        .map(|c| format!("\"{c}\""))
        .collect();
    let step = if to_delete.is_empty() {
        format!(
            "[[migrations]] tag = \"{new_tag}\" with the deleted_classes or renamed_classes you need"
        )
    } else {
        format!(
            "[[migrations]] tag = \"{new_tag}\", deleted_classes = [{}]",
            to_delete.join(", ")
        )
    };
    format!(
        "keep the applied steps {} exactly as applied and append a new step: {step} (deleting a class deletes its data; use renamed_classes to keep it)",
        applied_tags.join(", ")
    )
}

/// `v7` -> `v8`; anything else -> `<tag>-next`.
fn next_tag(tag: &str) -> String {
    let digits_start = tag
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i);
    match digits_start.and_then(|i| tag[i..].parse::<u64>().ok().map(|n| (i, n))) {
        Some((index, number)) => format!("{}{}", &tag[..index], number.saturating_add(1)),
        None => format!("{tag}-next"),
    }
}

fn check_resources(ctx: &Context<'_>) -> Vec<Finding> {
    let bindings = match ctx.subject {
        Subject::Rollback { spec, target } => target
            .live
            .map_or(spec.bindings.as_slice(), |v| v.bindings.as_slice()),
        Subject::Forward { spec } => spec.bindings.as_slice(),
        _ => return Vec::new(),
    };
    let resources = ctx.resources;
    let mut findings = Vec::new();
    for binding in bindings {
        let missing = match &binding.kind {
            BindingKind::KvNamespace { namespace_id } => resources
                .kv
                .as_ref()
                .filter(|set| !set.contains(namespace_id))
                .map(|_| format!("KV namespace `{namespace_id}`")),
            BindingKind::R2Bucket {
                bucket_name,
                jurisdiction,
            } => resources
                .r2
                .as_ref()
                .filter(|set| {
                    !set.contains(&R2Bucket {
                        name: bucket_name.clone(),
                        jurisdiction: jurisdiction.clone(),
                    })
                })
                .map(|_| match jurisdiction {
                    Some(j) => format!("R2 bucket `{bucket_name}` (jurisdiction {j})"),
                    None => format!("R2 bucket `{bucket_name}`"),
                }),
            BindingKind::D1 { id } => resources
                .d1
                .as_ref()
                .filter(|set| !set.contains(id))
                .map(|_| format!("D1 database `{id}`")),
            BindingKind::Queue { queue_name, .. } => resources
                .queues
                .as_ref()
                .filter(|set| !set.contains(queue_name))
                .map(|_| format!("queue `{queue_name}`")),
            _ => None,
        };
        if let Some(what) = missing {
            let (verb, consequence) = match ctx.subject {
                Subject::Rollback { .. } => (
                    "the rollback target binds",
                    "Cloudflare refuses to deploy a version bound to a deleted resource",
                ),
                _ => (
                    "the desired state binds",
                    "Cloudflare rejects an upload that binds it",
                ),
            };
            findings.push(
                Finding::new(
                    "FS004",
                    Severity::Error,
                    format!(
                        "{verb} `{}` to {what}, which does not exist; {consequence}",
                        binding.name
                    ),
                )
                .with_hint("create the resource, or point the binding at an existing one in Git and deploy forward"),
            );
        }
    }
    findings
}

/// Whether the target is known to be newer than the active version (a roll forward to an
/// existing version: a revert of a revert, healing a manual rollback). Cloudflare applies its
/// rollback-only rules (10220) to older targets only, and neither old code nor old secrets come
/// back. Unknown numbers count as a rollback.
fn rolls_forward(ctx: &Context<'_>, target: &Target<'_>) -> bool {
    match (
        target.live.map(|v| v.number),
        ctx.active.and_then(|a| a.live).map(|v| v.number),
    ) {
        (Some(target), Some(active)) => target > 0 && active > 0 && target > active,
        _ => false,
    }
}

fn check_d1(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Rollback { spec, target } = ctx.subject else {
        return Vec::new();
    };
    if rolls_forward(ctx, &target) {
        return Vec::new();
    }
    let bindings = target.live.map_or(&spec.bindings, |v| &v.bindings);
    let names: Vec<&str> = bindings
        .iter()
        .filter(|b| matches!(b.kind, BindingKind::D1 { .. }))
        .map(|b| b.name.as_str())
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let message = format!(
        "the rollback target binds D1 ({}); a rollback does not roll back the database schema or data",
        names.join(", ")
    );
    if ctx.policy.d1_blocks_rollback {
        vec![Finding::new("FS005", Severity::Error, message).with_hint(
            "set d1_blocks_rollback = false for this Worker in flaresync.toml if the schema is compatible",
        )]
    } else {
        let mut finding = Finding::new("FS005", Severity::Warning, message);
        finding.overridden = true;
        vec![finding]
    }
}

fn check_secrets(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Rollback { target, .. } = ctx.subject else {
        return Vec::new();
    };
    if rolls_forward(ctx, &target) {
        return Vec::new();
    }
    let (Some(live), Some(target_live)) = (ctx.live, target.live) else {
        return Vec::new();
    };
    let target_names: BTreeSet<&str> = target_live
        .bindings
        .iter()
        // `secret_key` (CryptoKey) secrets have no typed variant; the secrets listing names
        // them alongside `secret_text`.
        .filter(|b| match &b.kind {
            BindingKind::SecretText => true,
            BindingKind::Other(other) => other.kind == "secret_key",
            _ => false,
        })
        .map(|b| b.name.as_str())
        .collect();
    let live_names: BTreeSet<&str> = live.secrets.iter().map(String::as_str).collect();
    let mut changed: Vec<String> = target_names
        .symmetric_difference(&live_names)
        .map(|s| s.to_string())
        .collect();
    let fingerprint_changed = matches!(
        (
            target.known.secrets_fingerprint.as_deref(),
            ctx.active.and_then(|a| a.known).and_then(|k| k.secrets_fingerprint.as_deref()),
        ),
        (Some(a), Some(b)) if a != b
    );
    // Values are never readable, but every secret change makes Cloudflare copy the latest
    // version (`triggered_by: secret`): one numbered after the target, up to the active version,
    // means the values in effect now may differ from the target's (Cloudflare compares values).
    let active_number = ctx.active.and_then(|a| a.live).map(|v| v.number);
    // Only a secret the target and the live script both have can differ in value.
    let shared_secret = target_names.intersection(&live_names).next().is_some();
    let secret_change_after = active_number
        .filter(|_| target_live.number > 0 && shared_secret)
        .and_then(|active| {
            live.versions.iter().find(|v| {
                v.triggered_by.as_deref() == Some("secret")
                    && v.number > target_live.number
                    && v.number <= active
            })
        });
    if changed.is_empty() && !fingerprint_changed && secret_change_after.is_none() {
        return Vec::new();
    }
    let detail = if let (true, false, Some(change)) =
        (changed.is_empty(), fingerprint_changed, secret_change_after)
    {
        format!(
            "a secret was set or changed after it was created (version {} was made by a secret change)",
            change.number
        )
    } else if changed.is_empty() {
        "secret values changed since it was created".to_owned()
    } else {
        changed.sort();
        format!("secrets differ from the live ones: {}", changed.join(", "))
    };
    let message = format!(
        "{}: {detail}; Cloudflare refuses this rollback (10220) without force",
        version_label(target.known, target.live)
    );
    if ctx.policy.allow_secret_change_rollback {
        let mut finding = Finding::new("FS006", Severity::Warning, message)
            .with_hint("allow_secret_change_rollback = true: deploying with ?force=true; the target's own secret values go live");
        finding.overridden = true;
        vec![finding]
    } else {
        vec![Finding::new("FS006", Severity::Error, message).with_hint(
            "set allow_secret_change_rollback = true for this Worker in flaresync.toml to deploy with ?force=true",
        )]
    }
}

fn check_triggers(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Rollback { spec, .. } = ctx.subject else {
        return Vec::new();
    };
    let live_routes = ctx.live.and_then(|l| l.routes.as_ref());
    let live_crons = ctx.live.and_then(|l| l.crons.as_ref());
    let routes_differ = live_routes.is_some_and(|r| {
        let a: BTreeSet<_> = r.iter().collect();
        let b: BTreeSet<_> = spec.routes.iter().collect();
        a != b
    });
    let crons_differ = live_crons.is_some_and(|c| {
        let a: BTreeSet<_> = c.iter().collect();
        let b: BTreeSet<_> = spec.crons.iter().collect();
        a != b
    });
    let has_triggers = !spec.routes.is_empty() || !spec.crons.is_empty();
    if !has_triggers && !routes_differ && !crons_differ {
        return Vec::new();
    }
    let mut what = Vec::new();
    if !spec.routes.is_empty() || routes_differ {
        what.push("routes/custom domains");
    }
    if !spec.crons.is_empty() || crons_differ {
        what.push("cron triggers");
    }
    let mut message = format!(
        "{} are not versioned: the rollback does not change them",
        what.join(" and ")
    );
    if routes_differ || crons_differ {
        message.push_str("; they differ from Git and are applied by a separate settings step");
    }
    vec![Finding::new("FS007", Severity::Warning, message)]
}

fn check_migration_edited(ctx: &Context<'_>) -> Vec<Finding> {
    // Also for unchanged code: an in-place edit alone never reaches Cloudflare.
    let spec = match ctx.subject {
        Subject::Unchanged { spec } => Some(spec),
        other => other.changing_spec(),
    };
    let (Some(spec), Some(applied)) = (spec, ctx.applied_steps) else {
        return Vec::new();
    };
    migrations::edited_steps(applied, &spec.migrations)
        .into_iter()
        .map(|(old, new)| {
            Finding::new(
                "FS008",
                Severity::Warning,
                format!(
                    "applied migration `{}` was edited in place (applied: {}; now: {}); Cloudflare never re-applies a step, so this edit has no effect",
                    old.tag,
                    migrations::describe_step(old),
                    migrations::describe_step(new)
                ),
            )
            .with_hint(format!(
                "restore `{}` as applied and put the change in a new step appended to [[migrations]]",
                old.tag
            ))
        })
        .collect()
}

fn check_exports_and_migrations(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(spec) = ctx.subject.changing_spec() else {
        return Vec::new();
    };
    if spec.exports.is_none() || spec.migrations.is_empty() {
        return Vec::new();
    }
    vec![
        Finding::new(
            "FS009",
            Severity::Error,
            format!(
                "{} sets both `exports` and `migrations`; they are mutually exclusive",
                spec.config_path
            ),
        )
        .with_hint("keep either the [[migrations]] list or the exports map"),
    ]
}

fn check_migration_shape(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(spec) = ctx.subject.changing_spec() else {
        return Vec::new();
    };
    migrations::shape_problems(&spec.migrations)
        .into_iter()
        .map(|problem| {
            Finding::new(
                "FS010",
                Severity::Error,
                format!("{}: {problem}", spec.config_path),
            )
            .with_hint("give every [[migrations]] step a unique tag and at least one operation")
        })
        .collect()
}

fn check_broken(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Broken { error } = ctx.subject else {
        return Vec::new();
    };
    vec![
        Finding::new(
            "FS011",
            Severity::Error,
            format!("config does not load: {error}"),
        )
        .with_hint("fix the config in a new commit; the live Worker is left untouched"),
    ]
}

fn check_recreated(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Forward { spec } = ctx.subject else {
        return Vec::new();
    };
    let PendingMigrations::Pending(payload) =
        migrations::pending(&spec.migrations, ctx.migration_tag)
    else {
        return Vec::new();
    };
    migrations::recreated_classes(&spec.migrations, &payload.steps)
        .into_iter()
        .map(|(class, deleter)| {
            Finding::new(
                "FS012",
                Severity::Warning,
                format!(
                    "Durable Object class `{class}` was deleted by `{deleter}` and is created again: it starts with empty storage, the old data is not restored"
                ),
            )
        })
        .collect()
}

fn check_required_secrets(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Forward { spec } = ctx.subject else {
        return Vec::new();
    };
    if !ctx.live_observed {
        return Vec::new();
    }
    // A Worker missing from the live map does not exist and has no secrets.
    let (exists, secrets) = match ctx.live {
        Some(live) => (live.exists, live.secrets.as_slice()),
        None => (false, &[][..]),
    };
    let missing: Vec<&str> = spec
        .secrets_required
        .iter()
        .filter(|name| !secrets.contains(name))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let severity = if exists {
        Severity::Error
    } else {
        Severity::Warning
    };
    vec![
        Finding::new(
            "FS013",
            severity,
            format!(
                "required secrets not set on the live script: {}",
                missing.join(", ")
            ),
        )
        .with_hint(format!(
            "set them first, e.g. `wrangler secret put {} --name {}`",
            missing[0], ctx.worker
        )),
    ]
}

fn check_removed(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Removed = ctx.subject else {
        return Vec::new();
    };
    let still_live = ctx.live.is_some_and(|l| l.exists);
    let message = if still_live {
        format!(
            "`{}` is no longer in Git; it keeps running its current version because flaresync never deletes Workers",
            ctx.worker
        )
    } else {
        format!(
            "`{}` is no longer in Git; flaresync never deletes Workers",
            ctx.worker
        )
    };
    vec![
        Finding::new("FS014", Severity::Note, message).with_hint(format!(
            "delete it by hand if intended: `wrangler delete --name {}`",
            ctx.worker
        )),
    ]
}

fn check_unmanaged(ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.subject.changing_spec().is_none() || !ctx.live_observed {
        return Vec::new();
    }
    let Some(active) = ctx.active.filter(|a| a.known.is_none()) else {
        return Vec::new();
    };
    let source = active
        .live
        .and_then(|v| v.source.as_deref())
        .map(|s| format!(" (source: {s})"))
        .unwrap_or_default();
    let number = active
        .live
        .filter(|v| v.number > 0)
        .map(|v| format!("version {} ", v.number))
        .unwrap_or_default();
    vec![
        Finding::new(
            "FS015",
            Severity::Warning,
            format!(
                "the active {number}{}{source} was not created by flaresync; changes made outside Git will be replaced",
                short(active.version_id)
            ),
        )
        .with_hint("commit the change to Git if it should stay"),
    ]
}

fn check_split(ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.subject.changing_spec().is_none() {
        return Vec::new();
    }
    let Some(live) = ctx.live.filter(|l| l.is_split()) else {
        return Vec::new();
    };
    let deployment = live.active.as_ref().or(live.deployments.first());
    let shares: Vec<String> = deployment
        .map(|d| {
            d.versions
                .iter()
                .map(|v| match ctx.history.version(&v.version_id) {
                    Some(known) => format!(
                        "{} (commit {}) at {}%",
                        short(&v.version_id),
                        short(&known.commit),
                        v.percentage
                    ),
                    None => format!(
                        "{} (not from flaresync) at {}%",
                        short(&v.version_id),
                        v.percentage
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    vec![Finding::new(
        "FS016",
        Severity::Warning,
        format!(
            "a gradual deployment is in progress ({}); this plan deploys at 100% and ends it",
            shares.join(", ")
        ),
    )]
}

fn check_cycle(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(cycle) = ctx.cycle else {
        return Vec::new();
    };
    let mut path: Vec<&str> = cycle.iter().map(String::as_str).collect();
    if let Some(first) = cycle.first() {
        path.push(first);
    }
    vec![
        Finding::new(
            "FS017",
            Severity::Warning,
            format!(
                "deploy-order cycle {}; all Workers are ordered by name instead",
                path.join(" -> ")
            ),
        )
        .with_hint("break the cycle, or set an explicit `order` in flaresync.toml that does not contradict the bindings"),
    ]
}

fn check_bound_workers(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(known) = ctx.known_scripts else {
        return Vec::new();
    };
    let (spec, bindings, verb) = match ctx.subject {
        Subject::Forward { spec } => (spec, spec.bindings.as_slice(), "binds"),
        Subject::Rollback { spec, target } => (
            spec,
            target
                .live
                .map_or(spec.bindings.as_slice(), |v| v.bindings.as_slice()),
            "the rollback target binds",
        ),
        _ => return Vec::new(),
    };
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut note = |what: String, script: &str| {
        if script != ctx.worker && !known.contains(script) {
            missing.insert(what);
        }
    };
    for binding in bindings {
        match &binding.kind {
            BindingKind::Service {
                service,
                environment,
                ..
            } => {
                // Legacy environments are separate scripts named `service-env`.
                let script = match environment {
                    Some(env) if !known.contains(service.as_str()) => format!("{service}-{env}"),
                    _ => service.clone(),
                };
                note(
                    format!("service `{}` (binding `{}`)", script, binding.name),
                    &script,
                );
            }
            BindingKind::DurableObjectNamespace {
                script_name: Some(script),
                class_name,
                ..
            } => note(
                format!(
                    "Durable Object `{class_name}` in script `{script}` (binding `{}`)",
                    binding.name
                ),
                script,
            ),
            BindingKind::Workflow {
                script_name: Some(script),
                ..
            } => note(
                format!("workflow script `{script}` (binding `{}`)", binding.name),
                script,
            ),
            _ => {}
        }
    }
    if matches!(ctx.subject, Subject::Forward { .. }) {
        for tail in &spec.settings.tail_consumers {
            note(format!("tail consumer `{}`", tail.service), &tail.service);
        }
    }
    missing
        .into_iter()
        .map(|what| {
            Finding::new(
                "FS019",
                Severity::Warning,
                format!("{verb} {what}, which does not exist in the account or in Git"),
            )
            .with_hint(
                "deploy that Worker first (it can be added to this repository), or fix the name",
            )
        })
        .collect()
}

fn check_dependency_blocked(ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.blocked_dependencies.is_empty() {
        return Vec::new();
    }
    let names = ctx
        .blocked_dependencies
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match ctx.subject {
        Subject::Forward { .. } => vec![
            Finding::new(
                "FS018",
                Severity::Error,
                format!("held back: it depends on {names}, which is blocked"),
            )
            .with_hint("fix the blocked dependency first; dependencies are always deployed before the Workers that use them"),
        ],
        Subject::Rollback { .. } => vec![Finding::new(
            "FS018",
            Severity::Warning,
            format!(
                "it depends on {names}, which is blocked and keeps its newer version; this rollback still runs"
            ),
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_sequential_and_documented() {
        for (index, rule) in rules().iter().enumerate() {
            assert_eq!(rule.id(), format!("FS{:03}", index + 1));
            for heading in [
                "## What it checks",
                "## Why",
                "## Example",
                "## How to override",
            ] {
                assert!(
                    rule.doc().contains(heading),
                    "{} lacks {heading}",
                    rule.id()
                );
            }
        }
        assert_eq!(
            rule("fs003").map(|r| r.name()),
            Some("applied-migration-dropped")
        );
        assert_eq!(rule("split-deployment").map(|r| r.id()), Some("FS016"));
        assert!(rule("FS999").is_none());
        let text = explain("FS003").expect("known rule");
        assert!(text.starts_with("FS003 applied-migration-dropped: "));
        assert!(text.contains("deleted_classes"));
    }

    #[test]
    fn next_tag_increments_trailing_number() {
        assert_eq!(next_tag("v7"), "v8");
        assert_eq!(next_tag("v09"), "v10");
        assert_eq!(next_tag("0.0.1"), "0.0.2");
        assert_eq!(next_tag("init"), "init-next");
    }

    #[test]
    fn short_never_splits_a_character() {
        assert_eq!(short("0123456789"), "01234567");
        assert_eq!(short("äöü"), "äöü");
    }
}
