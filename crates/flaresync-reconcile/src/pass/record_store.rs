//! Reading and writing the state record ([`super::record`]) in its KV namespace. The record only
//! saves requests: when it cannot be read or written the pass goes on as without it (a warning
//! says why), and Workers are read from Cloudflare as usual.
//!
//! A failure is warned about once per process, with what to do, and the process then goes on
//! without the record: retrying would cost requests in every idle pass.
//!
//! Cost: reading it is one namespaces listing and one keys page per 1,000 Workers, once per
//! process; writing it is one bulk write, only in a pass that wrote nothing to Cloudflare (so
//! never in the way of a deploy), and only for entries that changed.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_cloudflare::{KvWrite, Script};
use flaresync_plan::Desired;
use tracing::{debug, warn};

use super::{
    Context,
    memory::Memory,
    record::{self, Entry, KEY_PREFIX},
};

/// The record's namespace title, when the record is kept for an account listing `listed`
/// Workers (see [`super::context::ContextOptions::state_record_min_workers`]).
fn title(ctx: &Context, listed: usize) -> Option<&str> {
    let title = ctx.options.state_record.as_deref()?;
    kept_for(ctx.options.state_record_min_workers, listed).then_some(title)
}

/// Whether the record is kept in an account listing `listed` Workers.
fn kept_for(min_workers: usize, listed: usize) -> bool {
    listed >= min_workers
}

/// Warns once that the record is off for this process, and why.
fn give_up(memory: &mut Memory, title: &str, problem: &str) {
    memory.record.off = true;
    warn!(
        problem = %problem,
        namespace = %title,
        "Cannot keep the state record; going on without it (Workers are read from Cloudflare, \
         and a fresh state directory reads every Worker). To keep it, give the API token \
         Workers KV Storage: Edit and restart; to stop trying, pass --no-state-record or set \
         state_record = false in flaresync.toml."
    );
}

/// The record's namespace id: the one titled `title`, created when `create` and missing.
async fn namespace(ctx: &Context, title: &str, create: bool) -> Result<Option<String>, String> {
    let listed = ctx
        .client
        .list_kv_namespaces()
        .await
        .map_err(|e| format!("listing KV namespaces: {e}"))?;
    if let Some(found) = listed.into_iter().find(|ns| ns.title == title) {
        return Ok(Some(found.id));
    }
    if !create {
        return Ok(None);
    }
    let created = ctx
        .client
        .create_kv_namespace(title)
        .await
        .map_err(|e| format!("creating KV namespace {title}: {e}"))?;
    Ok(Some(created.id))
}

/// Once per process: reads the record and gives every Worker of `names` that has no cached view
/// the one its entry stands for (see [`record::cached_from`]).
pub(super) async fn load(
    ctx: &Context,
    memory: &mut Memory,
    names: &BTreeSet<String>,
    scripts: &BTreeMap<String, Script>,
    desired: &Desired,
) {
    let Some(title) = title(ctx, scripts.len()) else {
        return;
    };
    if memory.record.loaded || memory.record.off {
        return;
    }
    memory.record.loaded = true;
    let entries = match read(ctx, title).await {
        Ok(Some((id, entries))) => {
            memory.record.namespace = Some(id);
            entries
        }
        Ok(None) => return,
        Err(problem) => {
            give_up(memory, title, &problem);
            return;
        }
    };
    let mut adopted = 0;
    for name in names {
        if memory.workers.contains_key(name) {
            continue;
        }
        let (Some(entry), Some(listed), Some(wanted)) =
            (entries.get(name), scripts.get(name), desired.worker(name))
        else {
            continue;
        };
        if let Some(cached) = record::cached_from(name, entry, listed, wanted) {
            memory.workers.insert(name.clone(), cached);
            adopted += 1;
        }
    }
    debug!(entries = entries.len(), adopted, "State record read.");
    memory.record.written = entries;
}

async fn read(
    ctx: &Context,
    title: &str,
) -> Result<Option<(String, BTreeMap<String, Entry>)>, String> {
    let Some(id) = namespace(ctx, title, false).await? else {
        return Ok(None);
    };
    let keys = ctx
        .client
        .list_kv_keys(&id, KEY_PREFIX)
        .await
        .map_err(|e| format!("listing the keys of KV namespace {title}: {e}"))?;
    let entries = keys
        .iter()
        .filter_map(|key| {
            let name = key.name.strip_prefix(KEY_PREFIX)?;
            let entry = Entry::from_metadata(key.metadata.as_ref()?)?;
            Some((name.to_owned(), entry))
        })
        .collect();
    Ok(Some((id, entries)))
}

/// Writes the entries of every cached Worker the listing confirms, where they changed.
pub(super) async fn store(ctx: &Context, memory: &mut Memory, scripts: &BTreeMap<String, Script>) {
    let Some(title) = title(ctx, scripts.len()) else {
        return;
    };
    if memory.record.off {
        return;
    }
    let entries: BTreeMap<String, Entry> = memory
        .workers
        .iter()
        .filter_map(|(name, cached)| {
            let entry = record::entry_of(cached, scripts.get(name)?)?;
            Some((name.clone(), entry))
        })
        .collect();
    // Entries whose metadata would pass Cloudflare's limit are left out: those Workers are
    // read in full by a fresh state directory.
    let (names, writes): (Vec<&String>, Vec<KvWrite>) =
        record::changed(&entries, &memory.record.written)
            .into_iter()
            .filter_map(|(name, entry)| {
                let write = KvWrite {
                    key: format!("{KEY_PREFIX}{name}"),
                    value: entry.commit.clone(),
                    metadata: Some(entry.to_metadata()?),
                };
                Some((name, write))
            })
            .unzip();
    if writes.is_empty() {
        return;
    }
    let id = match &memory.record.namespace {
        Some(id) => id.clone(),
        None => match namespace(ctx, title, true).await {
            Ok(Some(id)) => id,
            Ok(None) => return,
            Err(problem) => {
                give_up(memory, title, &problem);
                return;
            }
        },
    };
    memory.record.namespace = Some(id.clone());
    match ctx.client.put_kv_bulk(&id, &writes).await {
        Ok(()) => {
            debug!(written = writes.len(), "State record written.");
            for name in names {
                if let Some(entry) = entries.get(name) {
                    memory.record.written.insert(name.clone(), entry.clone());
                }
            }
        }
        Err(error) => give_up(
            memory,
            title,
            &format!("writing KV namespace {title}: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::kept_for;

    #[test]
    fn the_record_is_kept_from_the_workers_threshold_on() {
        assert!(kept_for(0, 0), "0: always");
        assert!(!kept_for(101, 100), "a free plan's 100 Workers");
        assert!(kept_for(101, 101));
        assert!(kept_for(101, 1_000));
    }
}
