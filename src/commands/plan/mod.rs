//! `flaresync plan`: desired state at two commits (and optionally the live account) -> a plan.
//!
//! Without `--live` nothing is asked of Cloudflare. The base commit is taken as deployed, and
//! every distinct state along the base branch's first-parent history (up to the version window)
//! as an uploaded version: that is what flaresync itself would have produced following the
//! branch. Such versions get ids ending in `-offline` so nobody mistakes them for real ids.

mod live;
mod offline;

use anyhow::{Context as _, anyhow};
use flaresync_git::{DesiredStateCache, GitSource, Oid};
use flaresync_plan::Plan;
use flaresync_reconcile::convert;

use crate::{
    cli::{Format, PlanArgs},
    settings::{ApiSettings, RepoSettings},
    source::open_source,
};

pub async fn run(args: PlanArgs) -> anyhow::Result<u8> {
    let output = plan_refs(&args).await?;
    let rendered = match args.format {
        Format::Markdown => flaresync_plan::render_markdown(&output),
        Format::Json => flaresync_plan::render_json(&output),
        Format::Text => flaresync_plan::render_text(&output),
    };
    println!("{}", rendered.trim_end());
    let code = u8::try_from(flaresync_plan::exit_code(&output)).unwrap_or(2);
    std::mem::forget((output, rendered));
    Ok(code)
}

async fn plan_refs(args: &PlanArgs) -> anyhow::Result<Plan> {
    let repo = RepoSettings::resolve(&args.repo);
    let mut source = open_source(&repo)?;
    let remote_head = if repo.remote {
        Some(
            source
                .fetch()
                .context("cannot fetch the remote repository")?
                .new,
        )
    } else {
        None
    };
    // In a remote's bare clone there is no HEAD of interest: the followed branch's head is.
    let head = match remote_head {
        Some(head) if args.head == "HEAD" => head,
        _ => resolve(&source, &args.head)?,
    };
    let base = match &args.base {
        Some(base) => Some(resolve(&source, base)?),
        None => first_parent(&source, head)?,
    };
    let mut cache = DesiredStateCache::new();
    let head_state = cache
        .desired_state(source.repo(), head)
        .with_context(|| format!("cannot read the desired state at {}", args.head))?;
    let (base, base_state, base_note) = match base {
        Some(base) => readable_base(&source, &mut cache, base)?,
        None => (None, None, None),
    };
    // A broken config keeps the script name it had when it last loaded (blocked, not
    // "removed" next to an unknown directory), as in `sync`.
    let names = |commit: Oid, cache: &mut DesiredStateCache| {
        cache
            .last_good_names(
                source.repo(),
                commit,
                flaresync_reconcile::LAST_GOOD_NAME_DEPTH,
            )
            .unwrap_or_default()
    };
    let head_names = names(head, &mut cache);
    let mut desired = convert::desired(&head_state, &head_names);
    let base_desired = match (&base_state, base) {
        (Some(state), Some(base)) => {
            let base_names = names(base, &mut cache);
            Some(convert::desired(state, &base_names))
        }
        _ => None,
    };
    let policies = convert::policies(&head_state);
    let window = head_state.repo_config.version_window as usize;

    let (live, history) = if args.live {
        let client = ApiSettings::resolve(&args.api).client(Some(&head_state.repo_config))?;
        convert::restrict_to_account(&mut desired, &head_state, client.account_id());
        // The journal of a flaresync that deploys this repository from this machine, if any.
        let journal = match repo.journal_location(Some(&head_state.repo_config))? {
            flaresync_journal::JournalLocation::Sqlite(path) if !path.exists() => None,
            _ => Some(repo.open_journal(Some(&head_state.repo_config))?),
        };
        live::observe(
            &client,
            &source,
            &mut cache,
            &desired,
            base_desired.as_ref(),
            journal.as_ref(),
        )
        .await?
    } else {
        offline::offline(
            &source,
            &mut cache,
            &head_state,
            base_state.as_ref(),
            base,
            window,
        )?
    };
    let mut plan =
        flaresync_plan::plan(&desired, base_desired.as_ref(), &live, &history, &policies);
    // The process ends after printing the plan: freeing every Worker's state, spec and history
    // one allocation at a time would only delay the exit (a tenth of the run at 1,000 Workers).
    std::mem::forget((
        cache,
        head_state,
        base_state,
        desired,
        base_desired,
        live,
        history,
    ));
    if !args.live {
        plan.live_note = Some(
            "assumed: the base branch deployed commit by commit (version ids ending in -offline); \
             use --live to compare with Cloudflare"
                .to_owned(),
        );
    }
    if let Some(note) = base_note {
        let live = if args.live { "observed" } else { "assumed" };
        let before = plan.live_note.take().unwrap_or_else(|| live.to_owned());
        plan.live_note = Some(format!("{before}; {note}"));
    }
    Ok(plan)
}

/// How many first parents are tried past a base whose `flaresync.toml` does not load.
const BASE_FALLBACK_DEPTH: usize = 50;

/// The base's desired state. A base whose `flaresync.toml` is invalid deployed nothing (sync
/// refuses such a commit as a whole), so the plan compares with the last first-parent commit
/// before it where the file loads, and says so; any other failure is an error.
fn readable_base(
    source: &GitSource,
    cache: &mut DesiredStateCache,
    base: Oid,
) -> anyhow::Result<(
    Option<Oid>,
    Option<flaresync_git::DesiredState>,
    Option<String>,
)> {
    let mut commit = base;
    let mut first_error = None;
    for _ in 0..BASE_FALLBACK_DEPTH {
        match cache.desired_state(source.repo(), commit) {
            Ok(state) => {
                let note = first_error.map(|error| {
                    format!(
                        "the base {} has an invalid flaresync.toml ({error}); compared with {}, \
                         the last commit before it where flaresync.toml loads",
                        short(base),
                        short(commit)
                    )
                });
                return Ok((Some(commit), Some(state), note));
            }
            Err(flaresync_git::DesiredError::RepoConfig { source: cause, .. }) => {
                first_error.get_or_insert(cause.to_string());
                match first_parent(source, commit)? {
                    Some(parent) => commit = parent,
                    None => break,
                }
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context("cannot read the desired state at the base revision"));
            }
        }
    }
    let note = format!(
        "the base {} has an invalid flaresync.toml ({}) and no earlier commit within {BASE_FALLBACK_DEPTH} \
         first parents has a valid one; compared with nothing deployed",
        short(base),
        first_error.unwrap_or_default()
    );
    Ok((None, None, Some(note)))
}

fn short(commit: Oid) -> String {
    commit.to_string()[..7].to_owned()
}

fn resolve(source: &GitSource, revision: &str) -> anyhow::Result<Oid> {
    // A remote is kept as a bare clone with its branches under origin/: accept `main` too.
    let object = source
        .repo()
        .revparse_single(revision)
        .or_else(|_| source.repo().revparse_single(&format!("origin/{revision}")))
        .map_err(|_| anyhow!("unknown revision {revision:?} in the config repository"))?;
    let commit = object
        .peel_to_commit()
        .with_context(|| format!("{revision:?} does not name a commit"))?;
    Ok(commit.id())
}

fn first_parent(source: &GitSource, commit: Oid) -> anyhow::Result<Option<Oid>> {
    let commit = source.repo().find_commit(commit)?;
    Ok(commit.parent_id(0).ok())
}
