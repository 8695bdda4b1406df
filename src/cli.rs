//! Command-line definitions (clap). Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// GitOps for Cloudflare Workers: Git is the deployment truth, reverts become rollbacks.
#[derive(Debug, Parser)]
#[command(name = "flaresync", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FLARESYNC_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// When to colour output: `auto` colours only on a terminal and honours `NO_COLOR` and
    /// `CLICOLOR_FORCE`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, env = "FLARESYNC_COLOR")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the main job on the embedded default: emulator + example repository, deploy, then a
    /// `git revert` that becomes a rollback and one that is blocked.
    Demo(DemoArgs),
    /// Serve the Cloudflare control-plane emulator.
    Emulator(EmulatorArgs),
    /// Parse every Worker of a repository and report errors and warnings.
    Validate(ValidateArgs),
    /// Preview what a change would do: diffs and the action each Worker would get.
    Plan(PlanArgs),
    /// One reconcile pass: make Cloudflare equal to the branch head.
    Sync(SyncArgs),
    /// The reconcile loop: watch, poll, webhook; status server and metrics.
    Run(RunArgs),
    /// Commits <-> versions <-> deployments for one Worker.
    History(HistoryArgs),
    /// Explain a rollback legality rule (e.g. FS002), or list them all.
    Explain(ExplainArgs),
    /// Shell completions generated from this command line (bash, zsh, fish, ...).
    Completions(CompletionsArgs),
    /// Man pages (roff) generated from this command line.
    Man(ManArgs),
    /// GitHub pull requests: post or update flaresync's plan comment.
    #[command(subcommand)]
    Github(GithubCommand),
    /// Progressive rollouts: status, promote, abort, pause, resume (against a running loop
    /// with --server, or from the CLI alone).
    #[command(subcommand)]
    Rollout(RolloutCommand),
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Phase, step, weight and last analysis of each rollout.
    Status(RolloutArgs),
    /// Skip to the next step (or, at 100%, complete the rollout).
    Promote(RolloutArgs),
    /// Put every Worker of the commit back on its previous version and reject the commit.
    Abort(RolloutArgs),
    /// Hold the rollout at its step until `resume` or `promote`.
    Pause(RolloutArgs),
    /// Let a paused rollout continue.
    Resume(RolloutArgs),
}

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Script name of the Worker (every Worker with a rollout when omitted).
    pub worker: Option<String>,
    /// A running `flaresync run`'s status server (e.g. http://127.0.0.1:9090); commands need
    /// FLARESYNC_ADMIN_TOKEN. Without it the command works on the state directory itself.
    #[arg(long, env = "FLARESYNC_SERVER")]
    pub server: Option<String>,
    /// Output format of `status` (JSON: `[{worker, commit, canary_version, state}]`).
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the example config repository (default: a fresh temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also keep the emulator serving on this address after the demo (Ctrl-C to stop).
    #[arg(long)]
    pub keep_serving: Option<String>,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:8788",
        env = "FLARESYNC_EMULATOR_LISTEN"
    )]
    pub listen: String,
    /// Also serve the deployed Workers (the data plane, on workerd) on this address, by
    /// `Host: <script>.<account subdomain>.workers.dev`.
    #[arg(long, env = "FLARESYNC_EMULATOR_DATA_LISTEN")]
    pub data_listen: Option<String>,
    /// Directory for the emulator's SQLite state (in memory when omitted).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Accepted API token (repeatable). Defaults to $CLOUDFLARE_API_TOKEN or "emulator-token".
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// Account id served (32 hex). Defaults to $CLOUDFLARE_ACCOUNT_ID or a fixed demo id.
    #[arg(long)]
    pub account_id: Option<String>,
    /// How many of the newest versions a deployment may reference (Cloudflare: 100; older docs: 10).
    #[arg(long, default_value_t = flaresync_emulator::DEFAULT_VERSION_WINDOW)]
    pub version_window: usize,
    /// Requests per rate-limit window per token (Cloudflare: 1200 per 300 s).
    #[arg(long, default_value_t = 1200)]
    pub rate_limit: u32,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 300)]
    pub rate_limit_window_secs: u64,
    /// A zone the account has (repeatable; routes and custom domains attach to zones).
    #[arg(long = "zone", default_value = flaresync_emulator::DEFAULT_ZONE)]
    pub zones: Vec<String>,
}

/// Where the configuration repository is and which branch to follow.
#[derive(Debug, Args, Clone)]
pub struct RepoArgs {
    /// Local path or remote URL (https:// or ssh) of the config repository.
    /// (`--help` does not echo the variable's value: a URL may carry a password.)
    #[arg(
        long,
        default_value = ".",
        env = "FLARESYNC_REPO",
        hide_env_values = true
    )]
    pub repo: String,
    /// Branch to follow (default: flaresync.toml `branch`, else the remote/local HEAD branch).
    #[arg(long, env = "FLARESYNC_BRANCH")]
    pub branch: Option<String>,
    /// State directory (journal, clones, caches).
    #[arg(long, env = "FLARESYNC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Journal: a `postgres://…` URL (journal, intents and leases shared by replicas and CI
    /// runs; prefer the variable, a password on the command line shows in `ps`), or a SQLite
    /// file. Default: flaresync.toml `journal`, else journal.sqlite3 in the state directory.
    #[arg(long, env = "FLARESYNC_JOURNAL_URL", hide_env_values = true)]
    pub journal: Option<String>,
}

/// Leases, with a PostgreSQL journal: one process at a time works on a repository and account.
#[derive(Debug, Args, Clone)]
pub struct LeaseArgs {
    /// Seconds a lease lasts without renewal; a process that stops renewing (killed, paused,
    /// cut off) loses it after this long, and its writes are refused from then on.
    #[arg(long, default_value_t = 15, env = "FLARESYNC_LEASE_TTL")]
    pub lease_ttl: u64,
}

/// How to reach Cloudflare (or the emulator). Same variables as wrangler.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// API base URL (e.g. the emulator's http://127.0.0.1:8788/client/v4).
    #[arg(
        long,
        env = "CLOUDFLARE_API_BASE_URL",
        hide_env_values = true,
        default_value = flaresync_cloudflare::config::DEFAULT_BASE_URL
    )]
    pub api_base_url: String,
    /// Account id (32 hex). Falls back to flaresync.toml `account_id`.
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Keep a state record in the account (a KV namespace, `flaresync-state` unless named):
    /// what flaresync knows of each in-sync Worker, so that a fresh state directory (a CI
    /// runner, a new replica) starts from it instead of reading every Worker again. Default:
    /// kept in accounts with more than 100 Workers (beyond the free plan); this flag keeps it
    /// always, `off` never.
    #[arg(
        long,
        env = "FLARESYNC_STATE_RECORD",
        num_args = 0..=1,
        default_missing_value = crate::settings::STATE_RECORD_TITLE,
        value_name = "NAMESPACE_TITLE"
    )]
    pub state_record: Option<String>,
    /// Never keep the state record (as `--state-record off` or flaresync.toml
    /// `state_record = false`); wins over `--state-record` and its environment variable.
    #[arg(long)]
    pub no_state_record: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Repository working directory to validate.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Validate a commit (what `sync` and `plan` read) instead of the working tree, e.g. HEAD.
    #[arg(long)]
    pub rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Base revision (what is deployed, e.g. the PR base). Default: the head's first parent.
    #[arg(long)]
    pub base: Option<String>,
    /// Head revision to plan for.
    #[arg(long, default_value = "HEAD")]
    pub head: String,
    /// Compare against the live account (real or emulated) instead of the base commit alone.
    #[arg(long)]
    pub live: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Plan and print, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// With a PostgreSQL journal: seconds to wait for the lease when another flaresync holds
    /// it (a `run` replica or another CI job); then exit 3 naming the holder.
    #[arg(long, default_value_t = 60, env = "FLARESYNC_LEASE_WAIT")]
    pub lease_wait: u64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// Serve every (repository, account) entry of this fleet file instead of --repo, sharing
    /// them with the other replicas of the same PostgreSQL journal (README "Running as
    /// replicas"). Needs --journal postgres://… (FLARESYNC_JOURNAL_URL).
    #[arg(long, env = "FLARESYNC_FLEET", value_name = "FLEET_TOML")]
    pub fleet: Option<PathBuf>,
    /// Status server address (/ the status page, /healthz, /status, /metrics, /webhook,
    /// /reconcile). POST
    /// /reconcile needs `Authorization: Bearer $FLARESYNC_ADMIN_TOKEN` (refused when unset).
    #[arg(
        long,
        default_value = "127.0.0.1:9090",
        env = "FLARESYNC_STATUS_LISTEN"
    )]
    pub status_listen: String,
    /// Who may read the status page at / (the operator's view of /status): `auto` = anyone on
    /// a loopback --status-listen, the admin token elsewhere (as the Basic password a browser
    /// asks for); `public`; `token`; `off`.
    #[arg(
        long,
        default_value = "auto",
        env = "FLARESYNC_STATUS_PAGE",
        value_parser = clap::builder::PossibleValuesParser::new(flaresync_reconcile::server::PageAccess::NAMES)
    )]
    pub status_page: String,
    /// Also serve POST /webhook, and nothing else, on this address: expose it to GitHub
    /// without exposing the status server. Needs FLARESYNC_WEBHOOK_SECRET.
    #[arg(long, env = "FLARESYNC_WEBHOOK_LISTEN")]
    pub webhook_listen: Option<String>,
    /// Poll interval for remote repositories, in seconds.
    #[arg(long, default_value_t = 60)]
    pub poll_interval_secs: u64,
    /// Full resync interval even without triggers (drift detection), in seconds.
    #[arg(long, default_value_t = 300)]
    pub resync_interval_secs: u64,
    /// Read a Worker in full again once its last read is this old, in seconds, even when the
    /// scripts listing shows no change (0 = never).
    #[arg(long, default_value_t = 600)]
    pub full_refresh_secs: u64,
    /// At most this many Workers are read again per pass for that refresh (oldest first).
    #[arg(long, default_value_t = 10)]
    pub refresh_slice: usize,
}

/// Where deploy, rollback, blocked, drift and failure events go (README "Notifications"). The
/// Slack URL and the webhook's signing secret are secrets: environment only
/// (FLARESYNC_SLACK_WEBHOOK_URL, FLARESYNC_NOTIFY_WEBHOOK_SECRET).
#[derive(Debug, Args, Clone)]
pub struct NotifyArgs {
    /// JSON webhook that receives every event.
    #[arg(long, env = "FLARESYNC_NOTIFY_WEBHOOK_URL", hide_env_values = true)]
    pub notify_webhook: Option<String>,
    /// Post GitHub commit statuses and Deployments when FLARESYNC_GITHUB_TOKEN (or
    /// GITHUB_TOKEN) and FLARESYNC_GITHUB_REPOSITORY (or GITHUB_REPOSITORY) are set.
    #[arg(long, env = "FLARESYNC_NOTIFY_GITHUB", default_value_t = true, action = clap::ArgAction::Set)]
    pub notify_github: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Script name of the Worker.
    pub worker: String,
    /// Only the local journal; do not ask Cloudflare for versions and deployments.
    #[arg(long)]
    pub offline: bool,
    /// Output format (JSON: the history view, see README "Machine-readable output").
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id (e.g. FS002); all rules when omitted.
    pub rule: Option<String>,
    /// Output format (JSON: `{id, name, summary, doc}` per rule).
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// Output of commands whose text is for people and whose JSON is for scripts.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TextOrJson {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for, e.g. `flaresync completions bash > /etc/bash_completion.d/flaresync`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page of one subcommand (e.g. `plan`); the main page when omitted.
    pub subcommand: Option<String>,
    /// Write every page (flaresync.1, flaresync-plan.1, ...) into this directory instead.
    #[arg(long, conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Post a Markdown body (e.g. `plan --format markdown`) as THE flaresync comment of a pull
    /// request: the comment with the hidden marker is updated, never duplicated, and a body
    /// over GitHub's 65,536-character limit is split into numbered parts.
    Comment(GithubCommentArgs),
}

#[derive(Debug, Args)]
pub struct GithubCommentArgs {
    /// File with the Markdown body (`-`: standard input).
    #[arg(long, default_value = "-")]
    pub body_file: PathBuf,
    /// Pull request number (default: the pull request of `$GITHUB_EVENT_PATH`, as in Actions).
    #[arg(long)]
    pub pr: Option<u64>,
    /// Repository as owner/name (default: FLARESYNC_GITHUB_REPOSITORY, else GITHUB_REPOSITORY
    /// as in Actions).
    #[arg(long)]
    pub repository: Option<String>,
    /// GitHub REST API base URL, e.g. GitHub Enterprise's https://HOST/api/v3 (default:
    /// FLARESYNC_GITHUB_API_URL, else GITHUB_API_URL as in Actions, else https://api.github.com).
    #[arg(long)]
    pub api_url: Option<String>,
    /// Names the comment: two workflows with different keys keep one comment each.
    #[arg(long, default_value = "plan")]
    pub key: String,
    /// Exit code of the command that wrote the body (2 with an empty body: it failed, and the
    /// comment says so instead of showing an outdated plan).
    #[arg(long, default_value_t = 0)]
    pub exit_code: i32,
    /// That command's standard error, quoted in the comment when it failed.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Commit the body is about, named in the comment's footer.
    #[arg(long)]
    pub commit: Option<String>,
}
