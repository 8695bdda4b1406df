//! `unsafe.bindings`: sent to Cloudflare as written. A known wire shape is decoded into its
//! model variant, anything else is carried as [`BindingKind::Other`].
//!
//! [`BindingKind::Other`]: crate::model::BindingKind::Other

use super::BindingReader;
use super::shapes::other;
use crate::error::ConfigError;
use crate::model::Binding;
use crate::reader::{Cx, Tbl};

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_unsafe(&mut self) -> Result<(), ConfigError> {
        let cx = &mut *self.cx;
        let Some(mut unsafe_table) = self.layer.local(cx, "unsafe").table(cx, "unsafe")? else {
            return Ok(());
        };
        for b in unsafe_table.tables(cx, "bindings")? {
            self.out.push((unsafe_binding(cx, &b)?, b.node.span.start));
        }
        if let Some(offset) = unsafe_table.key_offset("metadata") {
            return Err(ConfigError::unsupported(
                cx.loc(offset),
                "unsafe.metadata",
                "`unsafe.metadata` is merged into the upload by wrangler, and flaresync does \
                 not send it; set those fields through supported keys, or deploy this Worker \
                 with wrangler and exclude it in flaresync.toml",
            ));
        }
        unsafe_table.finish(cx, &["capnp"]);
        Ok(())
    }
}

/// One `unsafe.bindings` item, which needs a `name` and a `type`.
fn unsafe_binding(cx: &Cx<'_>, b: &Tbl<'_>) -> Result<Binding, ConfigError> {
    let json = b.node.to_json();
    let name = json.get("name").and_then(|n| n.as_str()).unwrap_or("");
    let kind = json.get("type").and_then(|n| n.as_str()).unwrap_or("");
    if name.is_empty() || kind.is_empty() {
        return Err(cx.err(
            b.node,
            format!(
                "`{}` needs a `name` and a `type`; unsafe bindings are sent to \
                 Cloudflare as written",
                b.path
            ),
        ));
    }
    Ok(match serde_json::from_value::<Binding>(json.clone()) {
        Ok(binding) => binding,
        Err(_) => {
            let mut fields = json.as_object().cloned().unwrap_or_default();
            fields.remove("name");
            fields.remove("type");
            Binding {
                name: name.to_owned(),
                kind: other(kind, fields),
            }
        }
    })
}
