//! Wire types of the Cloudflare API calls flaresync makes (serde only, no behaviour beyond
//! small accessors), one file per API family.
//!
//! Decoding is lenient on purpose: almost every field is optional or defaulted and unknown fields
//! are ignored, because Cloudflare adds fields freely and the 2024 schema and the 2026 API disagree
//! (see `fixtures/cloudflare-api/SPEC.md`). Timestamps stay ISO-8601 strings as sent. Bindings use
//! [`flaresync_config::Binding`], which reads Cloudflare's response shape directly.
//!
//! How the leniency is written, once per shape: a struct whose every field may be missing derives
//! `Default` and says `#[serde(default)]` once; an `Option` field needs no attribute (serde reads a
//! missing one as `None`); a list or object Cloudflare may send as `null` reads through
//! [`null_default`].

mod deployments;
mod envelope;
#[cfg(test)]
mod examples;
mod resources;
mod schedules;
mod scripts;
mod secrets;
mod settings;
mod triggers;
mod versions;

pub use deployments::*;
pub use envelope::*;
pub use resources::*;
pub use schedules::*;
pub use scripts::*;
pub use secrets::*;
pub use settings::*;
pub use triggers::*;
pub use versions::*;

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default (Cloudflare sends `null` for empty lists/objects).
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
