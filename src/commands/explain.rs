//! `flaresync explain`: what a rollback legality rule checks and why.

use anyhow::anyhow;
use serde_json::json;

use crate::cli::{ExplainArgs, TextOrJson};

pub fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    let rules: Vec<&dyn flaresync_plan::Rule> = match &args.rule {
        Some(id) => vec![
            flaresync_plan::rule(id)
                .ok_or_else(|| anyhow!("no rule {id:?}; `flaresync explain` lists all rules"))?,
        ],
        None => flaresync_plan::rules().to_vec(),
    };
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&rules_json(&rules))?),
        TextOrJson::Text if args.rule.is_some() => {
            for rule in rules {
                println!("{} {}: {}\n", rule.id(), rule.name(), rule.summary());
                println!("{}", rule.doc().trim_end());
            }
        }
        TextOrJson::Text => {
            for rule in rules {
                println!("{}  {:<34} {}", rule.id(), rule.name(), rule.summary());
            }
        }
    }
    Ok(0)
}

/// `{"rules": [{"id", "name", "summary", "doc"}]}`: the same shape for one rule and for all.
fn rules_json(rules: &[&dyn flaresync_plan::Rule]) -> serde_json::Value {
    json!({
        "rules": rules
            .iter()
            .map(|rule| json!({
                "id": rule.id(),
                "name": rule.name(),
                "summary": rule.summary(),
                "doc": rule.doc().trim_end(),
            }))
            .collect::<Vec<_>>(),
    })
}
