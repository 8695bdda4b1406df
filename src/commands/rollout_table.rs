//! The rows `flaresync rollout status` prints, the same whether they come from the state
//! directory's journal (the CLI alone) or from a running loop's `/status`: the Worker, the
//! commit, the canary version and where the rollout stands, as text lines or as JSON.

use flaresync_reconcile::rollout::{machine::Finished, record::Record};
use serde_json::{Value, json};

use crate::cli::TextOrJson;

/// One rollout, as `flaresync rollout status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub worker: String,
    /// Full id of the commit rolled out.
    pub commit: String,
    pub canary_version: String,
    /// Where it stands, in words (`progressing, step 1 at 10%`, `paused at 10%: …`).
    pub state: String,
}

impl Row {
    /// From the journal's record of the rollout.
    pub fn from_record(worker: &str, record: &Record) -> Row {
        let seen = &record.observed;
        let state = match (&seen.finished, &seen.paused, seen.steps.last()) {
            (Some(Finished::Completed), _, _) => "completed".to_owned(),
            (Some(Finished::Superseded), _, _) => "ended (superseded by a newer commit)".to_owned(),
            (Some(Finished::Aborted { reason }), _, _) => format!("aborted: {reason}"),
            (None, _, _) if seen.abort.is_some() => "abort requested".to_owned(),
            (None, Some(reason), Some(step)) => paused(step.weight, reason),
            (None, None, Some(step)) if step.weight >= 100 => baking(),
            (None, None, Some(step)) => progressing(step.index + 1, step.weight),
            (None, _, None) => "starting".to_owned(),
        };
        Row {
            worker: worker.to_owned(),
            commit: record.commit.clone(),
            canary_version: record.canary.clone(),
            state,
        }
    }

    /// From the `rollout` object of a Worker on a running loop's `/status` (what
    /// `RolloutReport` serializes to). `None` when it is not one.
    pub fn from_status(worker: &str, rollout: &Value) -> Option<Row> {
        let text = |key: &str| rollout[key].as_str().unwrap_or_default().to_owned();
        let number = |key: &str| rollout[key].as_u64().unwrap_or_default();
        let weight = u8::try_from(number("weight")).unwrap_or(100);
        let state = match rollout["phase"].as_str()? {
            "progressing" => progressing(usize::try_from(number("step")).ok()?, weight),
            "baking" => baking(),
            "paused" => paused(weight, &text("reason")),
            "aborted" => format!("aborted: {}", text("reason")),
            "completed" => "completed".to_owned(),
            other => other.to_owned(),
        };
        Some(Row {
            worker: worker.to_owned(),
            commit: text("commit"),
            canary_version: text("canary_version"),
            state,
        })
    }

    /// `{worker, commit, canary_version, state}`.
    pub fn to_json(&self) -> Value {
        json!({
            "worker": self.worker,
            "commit": self.commit,
            "canary_version": self.canary_version,
            "state": self.state,
        })
    }

    /// `api              commit 1a2b3c4, canary <id>: progressing, step 1 at 10%`.
    pub fn line(&self) -> String {
        let short = self.commit.get(..7).unwrap_or(&self.commit);
        format!(
            "{:<16} commit {short}, canary {}: {}",
            self.worker, self.canary_version, self.state
        )
    }
}

fn progressing(step: usize, weight: u8) -> String {
    format!("progressing, step {step} at {weight}%")
}

fn baking() -> String {
    "baking at 100%".to_owned()
}

fn paused(weight: u8, reason: &str) -> String {
    format!("paused at {weight}%: {reason}")
}

/// The rows as text lines (`none` when there are none) or as a JSON array.
pub fn render(rows: &[Row], format: TextOrJson, none: &str) -> anyhow::Result<String> {
    Ok(match format {
        TextOrJson::Json => {
            serde_json::to_string_pretty(&rows.iter().map(Row::to_json).collect::<Vec<_>>())?
        }
        TextOrJson::Text if rows.is_empty() => none.to_owned(),
        TextOrJson::Text => rows.iter().map(Row::line).collect::<Vec<_>>().join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use flaresync_reconcile::rollout::machine::{Observed, StepTaken};

    fn record(steps: &[(usize, u8)], paused: Option<&str>) -> Record {
        Record {
            commit: "1a2b3c4d5e6f".into(),
            canary: "v2".into(),
            observed: Observed {
                steps: steps
                    .iter()
                    .map(|(index, weight)| StepTaken {
                        index: *index,
                        weight: *weight,
                        at: Utc::now(),
                    })
                    .collect(),
                live_weight: None,
                paused: paused.map(str::to_owned),
                promote: false,
                abort: None,
                finished: None,
                now: Utc::now(),
            },
        }
    }

    #[test]
    fn the_journal_and_a_running_loop_give_the_same_rows() {
        let cases = [
            (
                record(&[(0, 10)], None),
                json!({"phase": "progressing", "step": 1, "of": 3, "weight": 10}),
                "progressing, step 1 at 10%",
            ),
            (
                record(&[(0, 10)], Some("paused by ops")),
                json!({"phase": "paused", "step": 1, "of": 3, "weight": 10, "reason": "paused by ops"}),
                "paused at 10%: paused by ops",
            ),
            (
                record(&[(0, 10), (1, 50), (2, 100)], None),
                json!({"phase": "baking", "step": 3, "of": 3, "weight": 100}),
                "baking at 100%",
            ),
        ];
        for (journal, mut status, state) in cases {
            status["commit"] = json!("1a2b3c4d5e6f");
            status["canary_version"] = json!("v2");
            let local = Row::from_record("api", &journal);
            let remote = Row::from_status("api", &status).expect("a rollout");
            assert_eq!(local, remote);
            assert_eq!(local.state, state);
            assert_eq!(
                local.line(),
                format!("api              commit 1a2b3c4, canary v2: {state}")
            );
        }
        let aborted = json!({"phase": "aborted", "reason": "error rate 20%", "commit": "c", "canary_version": "v"});
        assert_eq!(
            Row::from_status("api", &aborted).expect("a rollout").state,
            "aborted: error rate 20%"
        );
        assert_eq!(Row::from_status("api", &Value::Null), None);
    }

    #[test]
    fn rows_render_as_lines_or_json() {
        let row = Row::from_record("api", &record(&[(0, 10)], None));
        let text = render(std::slice::from_ref(&row), TextOrJson::Text, "none").expect("text");
        assert_eq!(text, row.line());
        assert_eq!(render(&[], TextOrJson::Text, "none").expect("text"), "none");
        let json: Value =
            serde_json::from_str(&render(&[row], TextOrJson::Json, "none").expect("json"))
                .expect("parses");
        assert_eq!(json[0]["state"], "progressing, step 1 at 10%");
        assert_eq!(json[0]["commit"], "1a2b3c4d5e6f");
        assert_eq!(
            render(&[], TextOrJson::Json, "none").expect("json").trim(),
            "[]"
        );
    }
}
