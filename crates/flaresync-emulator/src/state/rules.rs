//! The rules Cloudflare enforces when a deployment is created (SPEC.md §4.2, §6), as pure
//! functions over values. Each refusal names its rule (`rule: <id>`) and says why.
//!
//! Order matters only for which refusal is reported first: shape rules, then the version
//! window, split exports, Durable Object migrations and external resources (one legacy 100140
//! error listing everything modified), D1, and last the secrets rule, the only one `force=true`
//! overrides.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::bindings::{self, name_of, type_of};
use super::migrations;
use super::store::{Split, StoredVersion};
use crate::error::ApiError;

/// A storage resource a binding points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceRef {
    Kv(String),
    R2 { name: String, jurisdiction: String },
    Queue(String),
    D1(String),
}

impl ResourceRef {
    /// The legacy 100140 label (`kv:<id>`, `r2:<name>`, `queue:<name>`, `d1:<id>`).
    pub fn label(&self) -> String {
        match self {
            ResourceRef::Kv(id) => format!("kv:{id}"),
            ResourceRef::R2 { name, .. } => format!("r2:{name}"),
            ResourceRef::Queue(name) => format!("queue:{name}"),
            ResourceRef::D1(id) => format!("d1:{id}"),
        }
    }
}

/// The resources a version's bindings reference.
pub fn referenced_resources(bindings: &[Value]) -> Vec<ResourceRef> {
    let field = |b: &Value, k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    bindings
        .iter()
        .filter_map(|b| match type_of(b)? {
            "kv_namespace" => field(b, "namespace_id").map(ResourceRef::Kv),
            "r2_bucket" => field(b, "bucket_name").map(|name| ResourceRef::R2 {
                name,
                jurisdiction: field(b, "jurisdiction")
                    .filter(|j| !j.is_empty())
                    .unwrap_or_else(|| "default".into()),
            }),
            "queue" => field(b, "queue_name").map(ResourceRef::Queue),
            "d1" => field(b, "database_id")
                .or_else(|| field(b, "id"))
                .map(ResourceRef::D1),
            _ => None,
        })
        .collect()
}

/// Everything the rules look at.
pub struct DeploymentCheck<'a> {
    /// The requested versions and percentages, as sent.
    pub requested: &'a [Split],
    /// The stored version for each requested one (`None` = no such version of this Worker).
    pub targets: &'a [Option<StoredVersion>],
    /// Ids of the newest `window` versions of the Worker.
    pub window_ids: &'a [String],
    pub window: usize,
    /// The Worker's current DO migration tag.
    pub script_migration_tag: Option<&'a str>,
    /// Versions of the active deployment (empty when there is none).
    pub current: &'a [StoredVersion],
    /// Referenced resources that no longer exist.
    pub missing: &'a BTreeSet<ResourceRef>,
    /// `?force=true`.
    pub force: bool,
}

fn refuse(code: u32, rule: &str, message: String) -> ApiError {
    ApiError::new(400, code, format!("{message} (rule: {rule})"))
}

/// Checks every rule; the first violated one is returned as the API error.
pub fn check(input: &DeploymentCheck<'_>) -> Result<(), ApiError> {
    version_count(input.requested)?;
    percentages(input.requested)?;
    distinct_versions(input.requested)?;
    let targets = versions_exist(input.requested, input.targets)?;
    version_window(&targets, input.window_ids, input.window)?;
    split_identical_exports(&targets)?;
    external_resources_unchanged(&targets, input.script_migration_tag, input.missing)?;
    d1_exists(&targets, input.missing)?;
    if !input.force {
        secrets_unchanged(&targets, input.current)?;
    }
    Ok(())
}

/// A deployment has one or two versions.
pub fn version_count(requested: &[Split]) -> Result<(), ApiError> {
    if requested.is_empty() || requested.len() > 2 {
        return Err(refuse(
            10021,
            "version-count",
            format!(
                "A deployment must contain 1 or 2 versions, but {} were given",
                requested.len()
            ),
        ));
    }
    Ok(())
}

/// Each percentage is within 0.01..=100 and they total 100 (± 0.001).
pub fn percentages(requested: &[Split]) -> Result<(), ApiError> {
    for split in requested {
        if !split.percentage.is_finite() || !(0.01..=100.0).contains(&split.percentage) {
            return Err(refuse(
                10021,
                "percentages",
                format!(
                    "Version {} has percentage {}; each percentage must be between 0.01 and 100",
                    split.version_id, split.percentage
                ),
            ));
        }
    }
    let total: f64 = requested.iter().map(|s| s.percentage).sum();
    if (total - 100.0).abs() > 0.001 {
        return Err(refuse(
            10021,
            "percentages",
            format!("Version percentages must total 100, but they total {total}"),
        ));
    }
    Ok(())
}

/// No version appears twice.
pub fn distinct_versions(requested: &[Split]) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for split in requested {
        if !seen.insert(split.version_id.to_ascii_lowercase()) {
            return Err(refuse(
                10021,
                "distinct-versions",
                format!(
                    "Version {} appears more than once in the deployment",
                    split.version_id
                ),
            ));
        }
    }
    Ok(())
}

fn versions_exist<'a>(
    requested: &[Split],
    targets: &'a [Option<StoredVersion>],
) -> Result<Vec<(&'a StoredVersion, f64)>, ApiError> {
    requested
        .iter()
        .zip(targets)
        .map(|(split, target)| match target {
            Some(v) => Ok((v, split.percentage)),
            None => Err(ApiError::new(
                404,
                10021,
                format!(
                    "Version {} does not exist on this Worker (rule: version-exists)",
                    split.version_id
                ),
            )),
        })
        .collect()
}

/// Every version is among the newest `window` uploaded versions.
pub fn version_window(
    targets: &[(&StoredVersion, f64)],
    window_ids: &[String],
    window: usize,
) -> Result<(), ApiError> {
    for (version, _) in targets {
        if !window_ids.contains(&version.id) {
            return Err(refuse(
                100147,
                "version-window",
                format!(
                    "workers.api.error.deployment_too_old: version {} (#{}) is older than the \
                     last {window} uploaded versions of this Worker; only the {window} most \
                     recent versions can be deployed or rolled back to",
                    version.id, version.number
                ),
            ));
        }
    }
    Ok(())
}

/// A split deployment's versions declare identical Durable Object exports.
pub fn split_identical_exports(targets: &[(&StoredVersion, f64)]) -> Result<(), ApiError> {
    if let [(a, _), (b, _)] = targets
        && migrations::do_exports(a.exports.as_ref()) != migrations::do_exports(b.exports.as_ref())
    {
        return Err(refuse(
            100405,
            "split-identical-exports",
            format!(
                "All versions in a multi-version deployment must declare identical \
                     `exports`; versions {} and {} differ. Deploy the version that changes \
                     `exports` at 100% first",
                a.id, b.id
            ),
        ));
    }
    Ok(())
}

/// No version was created under a different Durable Object migration tag than the Worker's
/// current one, and no version binds a KV namespace, R2 bucket or queue that no longer exists.
pub fn external_resources_unchanged(
    targets: &[(&StoredVersion, f64)],
    script_tag: Option<&str>,
    missing: &BTreeSet<ResourceRef>,
) -> Result<(), ApiError> {
    let mut labels: Vec<String> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for (version, _) in targets {
        if version.migration_tag.as_deref() != script_tag {
            let label = format!("durable-object:{}", script_tag.unwrap_or("none"));
            if !labels.contains(&label) {
                labels.push(label);
            }
            reasons.push(format!(
                "version {} was created at Durable Object migration tag {} but the Worker has \
                 since migrated to {}",
                version.id,
                version.migration_tag.as_deref().unwrap_or("none"),
                script_tag.unwrap_or("none")
            ));
        }
        for resource in referenced_resources(&version.bindings) {
            if matches!(resource, ResourceRef::D1(_)) || !missing.contains(&resource) {
                continue;
            }
            let label = resource.label();
            if !labels.contains(&label) {
                labels.push(label.clone());
                reasons.push(format!(
                    "version {} binds {label}, which no longer exists",
                    version.id
                ));
            }
        }
    }
    if labels.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        100140,
        format!(
            "Failed to rollback due to external resources being modified ({}). \
             (rule: external-resources-unchanged: {})",
            labels.join(","),
            reasons.join("; ")
        ),
    ))
}

/// No version binds a D1 database that no longer exists.
pub fn d1_exists(
    targets: &[(&StoredVersion, f64)],
    missing: &BTreeSet<ResourceRef>,
) -> Result<(), ApiError> {
    for (version, _) in targets {
        for binding in &version.bindings {
            if type_of(binding) != Some("d1") {
                continue;
            }
            for resource in referenced_resources(std::slice::from_ref(binding)) {
                if let ResourceRef::D1(id) = &resource
                    && missing.contains(&resource)
                {
                    return Err(refuse(
                        10181,
                        "d1-exists",
                        format!(
                            "D1 binding '{}' references database '{id}' which was not \
                                 found; version {} cannot be deployed",
                            name_of(binding).unwrap_or_default(),
                            version.id
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Names of secrets whose presence, type or value differs between two binding lists.
pub fn changed_secrets(a: &[Value], b: &[Value]) -> Vec<String> {
    let sa: BTreeMap<String, Value> = bindings::secrets(a);
    let sb: BTreeMap<String, Value> = bindings::secrets(b);
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    names
        .into_iter()
        .filter(|n| sa.get(*n) != sb.get(*n))
        .cloned()
        .collect()
}

/// Rolling back (deploying a version older than the newest active one) must not change
/// secrets; `?force=true` overrides (wrangler does so after asking).
pub fn secrets_unchanged(
    targets: &[(&StoredVersion, f64)],
    current: &[StoredVersion],
) -> Result<(), ApiError> {
    let Some(active) = current.iter().max_by_key(|v| v.number) else {
        return Ok(());
    };
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for (version, _) in targets {
        if version.number < active.number {
            changed.extend(changed_secrets(&version.bindings, &active.bindings));
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        10220,
        format!(
            "A secret has changed since this version was active. If you are sure this is ok, \
             add a ?force=true query parameter to allow the rollback. The following secrets \
             have changed: {}",
            changed.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn version(id: &str, number: i64, tag: Option<&str>, bindings: Vec<Value>) -> StoredVersion {
        StoredVersion {
            id: id.into(),
            script: "w".into(),
            number,
            created_on: String::new(),
            author_email: String::new(),
            author_id: String::new(),
            source: "api".into(),
            has_preview: false,
            annotations: Map::new(),
            bindings,
            main_module: Some("index.js".into()),
            body_part: None,
            modules: vec![],
            etag: String::new(),
            handlers: vec![],
            named_handlers: vec![],
            compatibility_date: "2025-01-01".into(),
            compatibility_flags: vec![],
            usage_model: "standard".into(),
            limits: Map::new(),
            placement: None,
            migration_tag: tag.map(str::to_owned),
            exports: None,
            startup_time_ms: 1,
            assets: None,
        }
    }

    fn split(id: &str, pct: f64) -> Split {
        Split {
            version_id: id.into(),
            percentage: pct,
        }
    }

    struct Case {
        requested: Vec<Split>,
        targets: Vec<Option<StoredVersion>>,
        window_ids: Vec<String>,
        tag: Option<&'static str>,
        current: Vec<StoredVersion>,
        missing: BTreeSet<ResourceRef>,
        force: bool,
    }

    impl Case {
        fn run(&self) -> Result<(), ApiError> {
            check(&DeploymentCheck {
                requested: &self.requested,
                targets: &self.targets,
                window_ids: &self.window_ids,
                window: self.window_ids.len(),
                script_migration_tag: self.tag,
                current: &self.current,
                missing: &self.missing,
                force: self.force,
            })
        }

        /// Asserts that this case is refused with error `code`, saying `says`.
        fn assert_refused(&self, code: u32, says: &str) {
            let err = self.run().expect_err("refused");
            assert_eq!(err.code, code, "{err}");
            assert!(err.message.contains(says), "{err}");
        }
    }

    fn base() -> Case {
        let v1 = version("v1", 1, Some("t1"), vec![]);
        let v2 = version("v2", 2, Some("t1"), vec![]);
        Case {
            requested: vec![split("v1", 100.0)],
            targets: vec![Some(v1)],
            window_ids: vec!["v2".into(), "v1".into()],
            tag: Some("t1"),
            current: vec![v2],
            missing: BTreeSet::new(),
            force: false,
        }
    }

    /// The base case deploying v1 and v2 at the given percentages.
    fn two_way(v1: f64, v2: f64) -> Case {
        let mut c = base();
        c.requested = vec![split("v1", v1), split("v2", v2)];
        c.targets.push(Some(version("v2", 2, Some("t1"), vec![])));
        c
    }

    fn code(r: Result<(), ApiError>) -> Option<u32> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn plain_rollback_is_allowed() {
        assert_eq!(code(base().run()), None);
    }

    #[test]
    fn version_count_and_percentages_are_enforced() {
        let mut c = base();
        c.requested = vec![];
        c.targets = vec![];
        assert_eq!(code(c.run()), Some(10021));
        let err = two_way(50.0, 40.0).run().expect_err("sum 90");
        assert!(err.message.contains("rule: percentages"), "{err}");
        assert_eq!(
            code(two_way(99.9995, 0.001).run()),
            Some(10021),
            "0.001 is below the 0.01 minimum"
        );
        assert_eq!(code(two_way(90.0, 10.0).run()), None);
    }

    #[test]
    fn unknown_and_out_of_window_versions_are_refused() {
        let mut c = base();
        c.targets = vec![None];
        assert!(
            c.run()
                .expect_err("missing")
                .message
                .contains("version-exists")
        );
        let mut c = base();
        c.window_ids = vec!["v2".into()];
        c.assert_refused(100147, "last 1 uploaded versions");
    }

    #[test]
    fn crossing_a_migration_is_refused_even_with_force() {
        let mut c = base();
        c.tag = Some("t2");
        c.force = true;
        let err = c.run().expect_err("crossed");
        assert_eq!(err.code, 100140);
        assert!(
            err.message.starts_with(
                "Failed to rollback due to external resources being modified (durable-object:t2)"
            ),
            "{err}"
        );
    }

    #[test]
    fn deleted_resources_are_listed_in_one_error() {
        let mut c = base();
        let bindings = vec![
            json!({"name": "B", "type": "r2_bucket", "bucket_name": "gone"}),
            json!({"name": "K", "type": "kv_namespace", "namespace_id": "k1"}),
            json!({"name": "Q", "type": "queue", "queue_name": "q"}),
        ];
        c.targets = vec![Some(version("v1", 1, Some("t1"), bindings))];
        c.missing = [
            ResourceRef::R2 {
                name: "gone".into(),
                jurisdiction: "default".into(),
            },
            ResourceRef::Queue("q".into()),
        ]
        .into_iter()
        .collect();
        c.assert_refused(100140, "(r2:gone,queue:q)");
    }

    #[test]
    fn missing_d1_is_10181() {
        let mut c = base();
        c.targets = vec![Some(version(
            "v1",
            1,
            Some("t1"),
            vec![json!({"name": "DB", "type": "d1", "id": "d", "database_id": "d"})],
        ))];
        c.missing = [ResourceRef::D1("d".into())].into_iter().collect();
        assert_eq!(code(c.run()), Some(10181));
    }

    #[test]
    fn changed_secrets_need_force() {
        let mut c = base();
        c.targets = vec![Some(version(
            "v1",
            1,
            Some("t1"),
            vec![json!({"name": "API_TOKEN", "type": "secret_text", "text": "old"})],
        ))];
        c.current = vec![version(
            "v2",
            2,
            Some("t1"),
            vec![
                json!({"name": "API_TOKEN", "type": "secret_text", "text": "new"}),
                json!({"name": "OTHER", "type": "secret_text", "text": "x"}),
            ],
        )];
        let err = c.run().expect_err("secrets changed");
        assert_eq!(err.code, 10220);
        assert!(
            err.message
                .ends_with("The following secrets have changed: API_TOKEN, OTHER"),
            "{err}"
        );
        c.force = true;
        assert_eq!(code(c.run()), None);
    }

    #[test]
    fn rolling_forward_with_new_secrets_is_not_a_rollback() {
        let mut c = base();
        c.targets = vec![Some(version(
            "v3",
            3,
            Some("t1"),
            vec![json!({"name": "S", "type": "secret_text", "text": "new"})],
        ))];
        c.requested = vec![split("v3", 100.0)];
        c.window_ids = vec!["v3".into(), "v2".into(), "v1".into()];
        assert_eq!(code(c.run()), None);
    }

    #[test]
    fn split_with_different_exports_is_100405() {
        let mut a = version("a", 1, Some("t1"), vec![]);
        a.exports = Some(json!({"Room": {"type": "durable-object", "storage": "sqlite"}}));
        let b = version("b", 2, Some("t1"), vec![]);
        let mut c = base();
        c.requested = vec![split("a", 50.0), split("b", 50.0)];
        c.targets = vec![Some(a), Some(b)];
        c.window_ids = vec!["b".into(), "a".into()];
        assert_eq!(code(c.run()), Some(100405));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn split(pct: f64) -> Split {
        Split {
            version_id: "v".into(),
            percentage: pct,
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[a-z_/]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let keys = prop_oneof![
                Just("strategy".to_owned()),
                Just("versions".to_owned()),
                Just("version_id".to_owned()),
                Just("percentage".to_owned()),
                Just("annotations".to_owned()),
                Just("new_classes".to_owned()),
                Just("renamed_classes".to_owned()),
                Just("from".to_owned()),
                Just("to".to_owned()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any split of 100 into two shares of at least 0.01 is accepted.
        #[test]
        fn two_way_splits_of_100_are_accepted(a in 0.01f64..=99.99) {
            let b = 100.0 - a;
            prop_assume!(b >= 0.01);
            prop_assert!(percentages(&[split(a), split(b)]).is_ok());
        }

        /// Totals further than 0.001 from 100 are refused, whatever the shares.
        #[test]
        fn totals_off_by_more_than_tolerance_are_refused(a in 0.01f64..=100.0, b in 0.01f64..=100.0) {
            prop_assume!(((a + b) - 100.0).abs() > 0.001);
            let err = percentages(&[split(a), split(b)]).expect_err("wrong total");
            prop_assert!(err.message.contains("rule: percentages"));
        }

        /// The deployment body and migrations parsers never panic on arbitrary JSON.
        #[test]
        fn parsers_never_panic(value in json_value()) {
            let _ = super::super::deployments::parse_request(&value);
            let _ = super::super::migrations::parse(Some(&value));
            let wrapped = serde_json::json!({"strategy": "percentage", "versions": [value.clone()]});
            let _ = super::super::deployments::parse_request(&wrapped);
            let steps = serde_json::json!({"steps": [value]});
            let _ = super::super::migrations::parse(Some(&steps));
        }

        #[test]
        fn handler_detection_never_panics(text in "\\PC{0,300}") {
            let _ = super::super::upload::detect_handlers(&text);
        }
    }
}
