//! Storage resources bindings refer to: KV namespaces and keys, R2 buckets, D1 databases, queues.

use serde::{Deserialize, Serialize};

use super::null_default;

/// A KV namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvNamespace {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub supports_url_encoding: Option<bool>,
}

/// A key of a KV namespace as `GET …/keys` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvKey {
    pub name: String,
    /// The JSON metadata written with the key (at most 1,024 bytes serialized).
    pub metadata: Option<serde_json::Value>,
}

/// One key of a `PUT …/bulk` write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvWrite {
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// An R2 bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct R2Bucket {
    pub name: String,
    pub creation_date: Option<String>,
    pub location: Option<String>,
    pub storage_class: Option<String>,
    pub jurisdiction: Option<String>,
}

/// `result` of the R2 bucket list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct R2BucketList {
    #[serde(deserialize_with = "null_default")]
    pub buckets: Vec<R2Bucket>,
}

/// A D1 database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct D1Database {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    pub version: Option<String>,
    pub created_at: Option<String>,
    pub jurisdiction: Option<String>,
}

/// A queue. Bindings refer to it by `queue_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub queue_id: String,
    pub queue_name: String,
    pub created_on: Option<String>,
    pub modified_on: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub producers: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub consumers: Vec<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Script;
    use crate::types::examples::result;

    #[test]
    fn resource_lists_decode() {
        let scripts: Vec<Script> = result("scripts-list.json");
        assert_eq!(scripts[0].migration_tag.as_deref(), Some("v2"));
        assert!(scripts[0].tags.is_empty(), "null tags become empty");
        let kv: Vec<KvNamespace> = result("kv-namespaces-list.json");
        assert_eq!(kv[0].title, "flaresync-demo-CACHE");
        let r2: R2BucketList = result("r2-buckets-list.json");
        assert_eq!(r2.buckets[0].name, "flaresync-demo-assets");
        let d1: Vec<D1Database> = result("d1-databases-list.json");
        assert_eq!(d1[0].jurisdiction, None);
        let queues: Vec<Queue> = result("queues-list.json");
        assert_eq!(queues[0].queue_name, "flaresync-demo-jobs");
    }
}
