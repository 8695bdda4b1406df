//! Rollouts in the journal: the action names and messages flaresync writes for every step,
//! analysis, operator command and ending, and the pure reading of one Worker's entries back
//! into the state machine's [`Observed`]. After a restart (even `kill -9`) the journal plus
//! Cloudflare's active deployment are the whole state of a rollout.

use chrono::{DateTime, Utc};
use flaresync_journal::{Action, Outcome, Recorded};

use super::machine::{Finished, Observed, StepTaken};
use super::verdict::{Analysed, Check, Verdict};

/// A canary step (`started` before the deployment, `success` once Cloudflare serves it).
pub const STEP: &str = "rollout_step";
/// An analysis result: `success` Passed, `failure` Failed, `skipped` Inconclusive.
pub const ANALYSIS: &str = "rollout_analysis";
/// An operator's (or flaresync's own) pause, resume, promote or abort.
pub const COMMAND: &str = "rollout_command";
/// The abort being carried out (an intent: an interrupted abort is carried out again).
pub const ABORT: &str = "rollout_abort";
/// A Worker put back by an abort: the commit is rejected until Git changes.
pub const ABORTED: &str = "rollout_aborted";
/// A Worker the aborted commit changed but had not reached: held on its earlier version until
/// Git changes it (the digest is the rejected content).
pub const HELD: &str = "rollout_held";
pub const COMPLETED: &str = "rollout_completed";
/// Git moved on before the rollout ended.
pub const SUPERSEDED: &str = "rollout_superseded";

/// Operator commands, as `flaresync rollout <command>` and the API name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    Promote,
    Abort,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Promote => "promote",
            Command::Abort => "abort",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pause" => Some(Command::Pause),
            "resume" => Some(Command::Resume),
            "promote" => Some(Command::Promote),
            "abort" => Some(Command::Abort),
            _ => None,
        }
    }

    /// The journal message of a command: `pause: <why>`.
    pub fn message(self, why: &str) -> String {
        format!("{}: {why}", self.as_str())
    }
}

/// The journal message of a step (what [`parse_step`] reads back).
pub fn step_message(number: usize, of: usize, weight: u8, what: &str) -> String {
    format!("rollout step {number}/{of} at {weight}%: {what}")
}

/// `(step number, of, weight)` of a step message.
pub fn parse_step(message: &str) -> Option<(usize, usize, u8)> {
    let rest = message.strip_prefix("rollout step ")?;
    let (number, rest) = rest.split_once('/')?;
    let (of, rest) = rest.split_once(" at ")?;
    let (weight, _) = rest.split_once("%:")?;
    let weight: u8 = weight.parse().ok().filter(|w| (1..=100).contains(w))?;
    Some((number.parse().ok()?, of.parse().ok()?, weight))
}

/// The rollout a Worker's journal shows as the latest, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub commit: String,
    /// The canary version (of `commit`).
    pub canary: String,
    pub observed: Observed,
}

fn named(entry: &Recorded, name: &str) -> bool {
    matches!(&entry.entry.action, Action::Other(action) if action == name)
}

/// Reads the latest rollout from one Worker's entries (oldest first). `live_weight` is the
/// canary's share in Cloudflare's active deployment, which decides whether a step whose outcome
/// the journal lacks (a crash) reached Cloudflare. `None` when the Worker never had a rollout.
pub fn read(
    entries: &[Recorded],
    live_weight: &dyn Fn(&str) -> Option<f64>,
    now: DateTime<Utc>,
) -> Option<Record> {
    let start = entries.iter().rposition(|e| {
        named(e, STEP)
            && e.entry.outcome == Outcome::Started
            && parse_step(&e.entry.message).is_some_and(|(number, _, _)| number == 1)
    })?;
    let first = &entries[start].entry;
    let commit = first.commit.clone()?;
    let canary = first.version_id.clone()?;
    let live = live_weight(&canary);
    let rest = &entries[start..];
    let mut observed = Observed {
        steps: Vec::new(),
        live_weight: live,
        paused: None,
        promote: false,
        abort: None,
        finished: None,
        now,
    };
    let mut last_step_at = 0;
    for (position, recorded) in rest.iter().enumerate() {
        let entry = &recorded.entry;
        let Action::Other(action) = &entry.action else {
            continue;
        };
        match action.as_str() {
            STEP if entry.outcome == Outcome::Started => {
                let Some((number, _, weight)) = parse_step(&entry.message) else {
                    continue;
                };
                let outcome = rest[position + 1..]
                    .iter()
                    .find(|later| named(later, STEP))
                    .map(|later| (later.entry.outcome, later.entry.at));
                let taken_at = match outcome {
                    Some((Outcome::Success, at)) => Some(at),
                    // Interrupted: Cloudflare's deployment says whether it took effect.
                    Some((Outcome::Started, _)) | None | Some((Outcome::Failure, _))
                        if live.is_some_and(|w| (w - f64::from(weight)).abs() <= 0.5)
                            && !rest[position + 1..].iter().any(|later| {
                                named(later, STEP) && later.entry.outcome == Outcome::Started
                            }) =>
                    {
                        Some(entry.at)
                    }
                    _ => None,
                };
                if let Some(at) = taken_at {
                    observed.steps.push(StepTaken {
                        index: number.saturating_sub(1),
                        weight,
                        at,
                    });
                    observed.promote = false;
                    last_step_at = position;
                }
            }
            COMMAND => {
                let (name, why) = entry
                    .message
                    .split_once(": ")
                    .unwrap_or((entry.message.as_str(), ""));
                match Command::parse(name) {
                    Some(Command::Pause) => observed.paused = Some(why.to_owned()),
                    Some(Command::Resume) => observed.paused = None,
                    Some(Command::Promote) if position > last_step_at => {
                        observed.promote = true;
                        observed.paused = None;
                    }
                    Some(Command::Abort) => observed.abort = Some(why.to_owned()),
                    _ => {}
                }
            }
            ABORT if observed.abort.is_none() => {
                observed.abort = Some(entry.message.clone());
            }
            ABORTED => {
                observed.finished = Some(Finished::Aborted {
                    reason: entry.message.clone(),
                });
            }
            COMPLETED => observed.finished = Some(Finished::Completed),
            SUPERSEDED => observed.finished = Some(Finished::Superseded),
            _ => {}
        }
    }
    Some(Record {
        commit,
        canary,
        observed,
    })
}

/// The journal message of an analysis at `weight`% (what [`parse_analysis`] reads back):
/// `analysis at 10%: failed; error_rate failed: canary error rate … [value 0.2]; latency …`.
pub fn analysis_message(weight: u8, analysed: &Analysed) -> String {
    let checks = analysed
        .checks
        .iter()
        .map(|check| {
            let value = check
                .value
                .map(|value| format!(" [value {value}]"))
                .unwrap_or_default();
            format!(
                "{} {}: {}{value}",
                check.name,
                check.result.as_str(),
                check.detail
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "analysis at {weight}%: {}; {checks}",
        analysed.verdict.as_str()
    )
}

/// Names of the checks an analysis runs (see `verdict`).
const CHECKS: [&str; 4] = ["error_rate", "latency", "probe", "prometheus"];

fn verdict_named(text: &str) -> Option<Verdict> {
    [Verdict::Passed, Verdict::Failed, Verdict::Inconclusive]
        .into_iter()
        .find(|verdict| verdict.as_str() == text)
}

/// One `name result: detail [value v]` part of an analysis message.
fn parse_check(part: &str) -> Option<Check> {
    let (name, rest) = part.split_once(' ')?;
    if !CHECKS.contains(&name) {
        return None;
    }
    let (result, detail) = rest.split_once(": ")?;
    let mut check = Check::new(name, verdict_named(result)?, detail);
    if let Some((detail, value)) = detail
        .strip_suffix(']')
        .and_then(|rest| rest.rsplit_once(" [value "))
        && let Ok(value) = value.parse::<f64>()
    {
        check.detail = detail.to_owned();
        check.value = Some(value);
    }
    Some(check)
}

/// Pure: an analysis read back from its journal message ([`analysis_message`]). A `; ` inside
/// a check's detail stays in that detail. `None` for a message of another shape.
pub fn parse_analysis(message: &str) -> Option<Analysed> {
    let rest = message.strip_prefix("analysis at ")?;
    let (_, rest) = rest.split_once("%: ")?;
    let (verdict, rest) = rest.split_once("; ").unwrap_or((rest, ""));
    let verdict = verdict_named(verdict)?;
    let mut checks: Vec<Check> = Vec::new();
    for part in rest.split("; ").filter(|part| !part.is_empty()) {
        match (parse_check(part), checks.last_mut()) {
            (Some(check), _) => checks.push(check),
            (None, Some(previous)) => {
                // Part of the previous check's detail (it held a `; `): put it back whole.
                let text = format!(
                    "{} {}: {}; {part}",
                    previous.name,
                    previous.result.as_str(),
                    previous.detail
                );
                if let Some(check) = parse_check(&text) {
                    *previous = check;
                }
            }
            (None, None) => return None,
        }
    }
    Some(Analysed { verdict, checks })
}

/// Pure: the latest analysis the journal holds for the rollout of `commit` (after a restart,
/// what status shows until the next analysis).
pub fn last_analysis(entries: &[Recorded], commit: &str) -> Option<Analysed> {
    entries
        .iter()
        .rev()
        .filter(|recorded| {
            named(recorded, ANALYSIS) && recorded.entry.commit.as_deref() == Some(commit)
        })
        .find_map(|recorded| parse_analysis(&recorded.entry.message))
}

#[cfg(test)]
mod tests {
    use flaresync_journal::{Entry, Trigger, TriggerKind};
    use proptest::prelude::*;

    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + second, 0).unwrap_or_default()
    }

    fn entry(seq: i64, action: &str, outcome: Outcome, message: &str) -> Recorded {
        Recorded {
            seq,
            entry: Entry::new(
                "api",
                Action::Other(action.into()),
                outcome,
                Trigger::new(TriggerKind::Poll, None),
            )
            .at(at(seq))
            .commit("c0ffee")
            .version("canary")
            .message(message),
        }
    }

    fn step(seq: i64, number: usize, weight: u8, outcome: Outcome) -> Recorded {
        entry(seq, STEP, outcome, &step_message(number, 3, weight, "x"))
    }

    #[test]
    fn steps_commands_and_endings_read_back() {
        let entries = vec![
            step(1, 1, 10, Outcome::Started),
            step(2, 1, 10, Outcome::Success),
            entry(3, COMMAND, Outcome::Success, "pause: by alice"),
            entry(4, COMMAND, Outcome::Success, "promote: by bob"),
        ];
        let record = read(&entries, &|_| Some(10.0), at(9)).expect("a rollout");
        assert_eq!(
            (record.commit.as_str(), record.canary.as_str()),
            ("c0ffee", "canary")
        );
        let seen = &record.observed;
        assert_eq!(seen.steps.len(), 1);
        assert_eq!((seen.steps[0].weight, seen.steps[0].at), (10, at(2)));
        assert!(seen.promote && seen.paused.is_none());
        let mut more = entries.clone();
        more.push(step(5, 2, 50, Outcome::Started));
        more.push(step(6, 2, 50, Outcome::Success));
        more.push(entry(7, ABORTED, Outcome::Failure, "error rate 21%"));
        let record = read(&more, &|_| Some(50.0), at(9)).expect("a rollout");
        assert!(!record.observed.promote, "a step consumes the promotion");
        assert!(matches!(
            record.observed.finished,
            Some(Finished::Aborted { .. })
        ));
    }

    #[test]
    fn an_interrupted_step_counts_only_if_cloudflare_serves_it() {
        let entries = vec![
            step(1, 1, 10, Outcome::Started),
            step(2, 1, 10, Outcome::Success),
            step(3, 2, 50, Outcome::Started),
            // What intent recovery writes after a crash.
            step(4, 2, 50, Outcome::Failure),
        ];
        let served = read(&entries, &|_| Some(50.0), at(9)).expect("rollout");
        assert_eq!(served.observed.steps.last().map(|s| s.weight), Some(50));
        let not_served = read(&entries, &|_| Some(10.0), at(9)).expect("rollout");
        assert_eq!(not_served.observed.steps.last().map(|s| s.weight), Some(10));
    }

    #[test]
    fn an_interrupted_abort_is_carried_out_again() {
        let entries = vec![
            step(1, 1, 10, Outcome::Started),
            step(2, 1, 10, Outcome::Success),
            entry(3, ABORT, Outcome::Started, "analysis failed"),
        ];
        let record = read(&entries, &|_| Some(10.0), at(9)).expect("rollout");
        assert_eq!(record.observed.abort.as_deref(), Some("analysis failed"));
        assert_eq!(read(&[], &|_| None, at(0)), None);
    }

    proptest! {
        #[test]
        fn step_messages_round_trip(number in 1usize..20, of in 1usize..20, weight in 1u8..=100, what in ".*") {
            prop_assert_eq!(parse_step(&step_message(number, of, weight, &what)), Some((number, of, weight)));
        }
    }

    #[test]
    fn an_analysis_reads_back_from_its_journal_message() {
        let analysed = Analysed::from_checks(vec![
            Check {
                value: Some(0.2),
                ..Check::new(
                    "error_rate",
                    Verdict::Failed,
                    "canary error rate 20.0% (30 of 150 requests) above 5.0%",
                )
            },
            Check::new(
                "latency",
                Verdict::Passed,
                "canary p99 1.0 ms; stable p99 1.0 ms",
            ),
            Check::new("probe", Verdict::Inconclusive, "answered 503, expected 200"),
        ]);
        let message = analysis_message(10, &analysed);
        assert!(
            message.starts_with("analysis at 10%: failed; error_rate failed: canary error rate"),
            "{message}"
        );
        assert_eq!(parse_analysis(&message), Some(analysed.clone()));
        let entries = vec![
            Recorded {
                seq: 1,
                entry: entry(1, ANALYSIS, Outcome::Success, "analysis at 10%: passed; ")
                    .entry
                    .commit("c1"),
            },
            Recorded {
                seq: 2,
                entry: entry(2, ANALYSIS, Outcome::Failure, &message)
                    .entry
                    .commit("c1"),
            },
            Recorded {
                seq: 3,
                entry: entry(3, ANALYSIS, Outcome::Success, "analysis at 50%: passed; ")
                    .entry
                    .commit("c0"),
            },
        ];
        assert_eq!(last_analysis(&entries, "c1"), Some(analysed));
        assert_eq!(
            last_analysis(&entries, "c0").map(|a| a.verdict),
            Some(Verdict::Passed)
        );
        assert_eq!(last_analysis(&entries, "c2"), None);
        assert_eq!(parse_analysis("rollout step 1/2 at 10%: x"), None);
        assert_eq!(parse_analysis("analysis at 10%: maybe; "), None);
    }
}
