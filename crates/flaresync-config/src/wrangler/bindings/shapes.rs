//! The shapes binding tables share, read in one place: an array of binding tables
//! (`[[kv_namespaces]]`, or nested: `durable_objects.bindings`), a table holding one binding
//! (`ai = { binding = "AI" }`), and the wire fields of kinds carried as
//! [`BindingKind::Other`].

use super::{BindingReader, Located};
use crate::error::ConfigError;
use crate::model::{Binding, BindingKind, OtherBinding, canonical_json_text};
use crate::reader::{Cx, Tbl};

/// Keys of wrangler's local development that every remote-capable binding accepts.
const REMOTE: &[&str] = &["remote", "experimental_remote"];

/// The shape of one array of binding tables.
#[derive(Clone, Copy)]
pub(super) struct Items {
    /// Key of the array (`kv_namespaces`).
    key: &'static str,
    /// Key holding the binding name: `binding`, or `name` in older kinds.
    name: &'static str,
    /// Keys accepted without being read (wrangler-only settings such as `preview_id`).
    silent: &'static [&'static str],
    /// The table holding the array when it is nested (`durable_objects`), with the keys of
    /// that table that are read elsewhere.
    outer: Option<(&'static str, &'static [&'static str])>,
    /// Whether the (outer) table is inherited from the top level.
    inheritable: bool,
}

impl Items {
    /// Items named by `binding` that accept the [`REMOTE`] keys, in a non-inheritable table.
    pub const fn new(key: &'static str) -> Self {
        Items {
            key,
            name: "binding",
            silent: REMOTE,
            outer: None,
            inheritable: false,
        }
    }

    pub const fn named_by(self, name: &'static str) -> Self {
        Items { name, ..self }
    }

    pub const fn silent(self, silent: &'static [&'static str]) -> Self {
        Items { silent, ..self }
    }

    /// The array sits in table `outer`, whose keys `beside` are read elsewhere.
    pub const fn inside(self, outer: &'static str, beside: &'static [&'static str]) -> Self {
        Items {
            outer: Some((outer, beside)),
            ..self
        }
    }

    pub const fn inheritable(self) -> Self {
        Items {
            inheritable: true,
            ..self
        }
    }

    /// Reads `table.<key>`: per item its name, then `kind` (given the name), then a warning
    /// per unknown key.
    pub fn read<'a>(
        self,
        cx: &mut Cx<'_>,
        table: &mut Tbl<'a>,
        out: &mut Located,
        mut kind: impl FnMut(&mut Cx<'_>, &mut Tbl<'a>, &str) -> Result<BindingKind, ConfigError>,
    ) -> Result<(), ConfigError> {
        for mut item in table.tables(cx, self.key)? {
            let name = item.req_nonempty(cx, self.name, "name the binding")?;
            let kind = kind(cx, &mut item, &name)?;
            item.finish(cx, self.silent);
            out.push((Binding { name, kind }, item.node.span.start));
        }
        Ok(())
    }
}

impl<'l> BindingReader<'_, '_, 'l> {
    /// Reads the binding tables of shape `items`, each item's kind by `kind`.
    pub(super) fn items(
        &mut self,
        items: Items,
        kind: impl FnMut(&mut Cx<'_>, &mut Tbl<'l>, &str) -> Result<BindingKind, ConfigError>,
    ) -> Result<(), ConfigError> {
        let key = items.outer.map_or(items.key, |(outer, _)| outer);
        let table = if items.inheritable {
            self.layer.inh(key)
        } else {
            self.layer.local(self.cx, key)
        };
        let Some((outer, beside)) = items.outer else {
            return items.read(self.cx, table, &mut self.out, kind);
        };
        if let Some(mut outer) = table.table(self.cx, outer)? {
            items.read(self.cx, &mut outer, &mut self.out, kind)?;
            for key in beside {
                outer.mark(key);
            }
            outer.finish(self.cx, &[]);
        }
        Ok(())
    }

    /// A table holding one binding (`key = { binding = "X" }`), read from the env's table.
    pub(super) fn single(
        &mut self,
        key: &str,
        kind: impl FnOnce(&mut Cx<'_>, &mut Tbl<'l>) -> Result<BindingKind, ConfigError>,
    ) -> Result<(), ConfigError> {
        let table = self.layer.local(self.cx, key);
        if let Some(mut t) = table.table(self.cx, key)? {
            let name = t.req_nonempty(self.cx, "binding", "name the binding")?;
            let kind = kind(self.cx, &mut t)?;
            t.finish(self.cx, REMOTE);
            self.out.push((Binding { name, kind }, t.node.span.start));
        }
        Ok(())
    }
}

/// A JSON object of the fields that are set.
pub(super) fn fields<const N: usize>(
    pairs: [(&str, Option<serde_json::Value>); N],
) -> serde_json::Map<String, serde_json::Value> {
    pairs
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value?)))
        .collect()
}

/// A binding of wire type `kind` without a dedicated model variant.
pub(super) fn other(kind: &str, fields: serde_json::Map<String, serde_json::Value>) -> BindingKind {
    BindingKind::Other(OtherBinding {
        kind: kind.to_owned(),
        fields: canonical_json_text(&serde_json::Value::Object(fields)),
    })
}
