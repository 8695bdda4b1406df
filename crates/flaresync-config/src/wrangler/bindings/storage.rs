//! Storage bindings: KV namespaces, R2 buckets, D1 databases, Analytics Engine datasets,
//! Vectorize indexes and Hyperdrive configs. flaresync never creates these resources, so their
//! ids are required.

use super::BindingReader;
use super::shapes::Items;
use crate::error::ConfigError;
use crate::model::BindingKind;

impl BindingReader<'_, '_, '_> {
    /// `kv_namespaces`, and `kv-namespaces` (wrangler v1's spelling) with a warning.
    pub(super) fn read_kv_namespaces(&mut self) -> Result<(), ConfigError> {
        for key in ["kv_namespaces", "kv-namespaces"] {
            let table = self.layer.local(self.cx, key);
            if key == "kv-namespaces"
                && let Some(offset) = table.key_offset(key)
            {
                self.cx.warn(
                    offset,
                    "`kv-namespaces` is the wrangler v1 spelling; rename it to `kv_namespaces`",
                );
            }
            let items = Items::new(key).silent(&["preview_id", "remote", "experimental_remote"]);
            items.read(self.cx, table, &mut self.out, |cx, kv, _| {
                let id = kv.req_nonempty(
                    cx,
                    "id",
                    "flaresync does not create KV namespaces: set the namespace id",
                )?;
                Ok(BindingKind::KvNamespace { namespace_id: id })
            })?;
        }
        Ok(())
    }

    pub(super) fn read_r2_buckets(&mut self) -> Result<(), ConfigError> {
        let silent = &["preview_bucket_name", "remote", "experimental_remote"];
        self.items(Items::new("r2_buckets").silent(silent), |cx, r2, _| {
            let bucket_name = r2.req_nonempty(
                cx,
                "bucket_name",
                "flaresync does not create R2 buckets: set the bucket name",
            )?;
            Ok(BindingKind::R2Bucket {
                bucket_name,
                jurisdiction: r2.str(cx, "jurisdiction")?,
            })
        })
    }

    pub(super) fn read_d1_databases(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("d1_databases").silent(&[
            "database_name",
            "preview_database_id",
            "migrations_dir",
            "migrations_table",
            "remote",
            "experimental_remote",
        ]);
        self.items(items, |cx, d1, _| {
            let id = d1.req_nonempty(
                cx,
                "database_id",
                "flaresync does not create D1 databases: set the database id (`wrangler d1 list`)",
            )?;
            Ok(BindingKind::D1 { id })
        })
    }

    pub(super) fn read_analytics_engine(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("analytics_engine_datasets").silent(&[]);
        self.items(items, |cx, a, name| {
            // Cloudflare uses the binding name when no dataset is given.
            let dataset = a.str(cx, "dataset")?.unwrap_or_else(|| name.to_owned());
            Ok(BindingKind::AnalyticsEngine { dataset })
        })
    }

    pub(super) fn read_vectorize(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("vectorize"), |cx, v, _| {
            let index_name = v.req_nonempty(cx, "index_name", "name the Vectorize index")?;
            Ok(BindingKind::Vectorize { index_name })
        })
    }

    pub(super) fn read_hyperdrive(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("hyperdrive").silent(&["localConnectionString"]);
        self.items(items, |cx, h, _| {
            let id = h.req_nonempty(cx, "id", "set the Hyperdrive config id")?;
            Ok(BindingKind::Hyperdrive { id })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::accepted;

    #[test]
    fn legacy_kv_namespaces_spelling_is_read_with_a_warning() {
        let parsed = accepted(
            "w.toml",
            "name = \"w\"\nkv-namespaces = [{ binding = \"KV\", id = \"k\" }]\n",
        );
        assert_eq!(parsed.spec.bindings.len(), 1);
        assert!(parsed.warnings[0].message.contains("wrangler v1"));
    }
}
