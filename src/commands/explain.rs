//! `flaresync explain`: what a rollback legality rule checks and why.

use anyhow::anyhow;

use crate::cli::ExplainArgs;

pub fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    match args.rule {
        Some(id) => {
            let rule = flaresync_plan::rule(&id)
                .ok_or_else(|| anyhow!("no rule {id:?}; `flaresync explain` lists all rules"))?;
            println!("{} {}: {}\n", rule.id(), rule.name(), rule.summary());
            println!("{}", rule.doc().trim_end());
        }
        None => {
            for rule in flaresync_plan::rules() {
                println!("{}  {:<34} {}", rule.id(), rule.name(), rule.summary());
            }
        }
    }
    Ok(0)
}
