//! `[[migrations]]`: Durable Object class migrations, with unique tags (inheritable).

use crate::error::ConfigError;
use crate::model::{MigrationStep, RenamedClass, TransferredClass};
use crate::reader::{Cx, Tbl};

const MIGRATION_KEYS: &[&str] = &[
    "tag",
    "new_classes",
    "new_sqlite_classes",
    "renamed_classes",
    "deleted_classes",
    "transferred_classes",
];

pub(super) fn read_migrations(
    cx: &mut Cx<'_>,
    table: &mut Tbl<'_>,
) -> Result<Vec<MigrationStep>, ConfigError> {
    let mut steps: Vec<MigrationStep> = Vec::new();
    let mut tag_offsets: Vec<usize> = Vec::new();
    for mut step in table.tables(cx, "migrations")? {
        let tag_node = step.get("tag");
        let Some(tag) = step.str(cx, "tag")? else {
            return Err(untagged(cx, &step, steps.len()));
        };
        let tag_offset = tag_node
            .map(|n| n.span.start)
            .unwrap_or(step.node.span.start);
        if let Some(previous) = steps.iter().position(|s| s.tag == tag) {
            let first = (previous, tag_offsets[previous]);
            return Err(duplicate_tag(cx, &step, &tag, tag_offset, first));
        }
        let migration = read_step(cx, &mut step, tag)?;
        if migration.new_classes.is_empty()
            && migration.new_sqlite_classes.is_empty()
            && migration.renamed_classes.is_empty()
            && migration.deleted_classes.is_empty()
            && migration.transferred_classes.is_empty()
        {
            cx.warn(
                step.node.span.start,
                format!(
                    "migration {:?} has no operations; it only moves the migration tag",
                    migration.tag
                ),
            );
        }
        step.finish(cx, &[]);
        tag_offsets.push(tag_offset);
        steps.push(migration);
    }
    Ok(steps)
}

/// A step without `tag`; keys that are not migration keys hint at a header that captured the
/// keys written after it. `count` is the number of steps before this one.
fn untagged(cx: &Cx<'_>, step: &Tbl<'_>, count: usize) -> ConfigError {
    let strays: Vec<String> = step
        .entries
        .iter()
        .filter(|e| !MIGRATION_KEYS.contains(&e.key.as_str()))
        .map(|e| format!("`{}`", e.key))
        .collect();
    let mut message = format!(
        "`{}` has no `tag`; every [[migrations]] step needs a unique tag such as tag = \
         \"v{}\"",
        step.path,
        count + 1
    );
    if !strays.is_empty() {
        message.push_str(&format!(
            ". It also holds {}, which are not migration keys: the [[migrations]] header \
             probably captured the keys written after it; move them above the header",
            strays.join(", ")
        ));
    }
    cx.err(step.node, message)
}

/// `tag` at `tag_offset` repeats the tag of step `first.0`, whose tag sits at `first.1`.
fn duplicate_tag(
    cx: &Cx<'_>,
    step: &Tbl<'_>,
    tag: &str,
    tag_offset: usize,
    first: (usize, usize),
) -> ConfigError {
    let (previous, previous_offset) = first;
    let (line, col) = cx.src.line_col(previous_offset);
    ConfigError::invalid(
        cx.loc(tag_offset),
        format!(
            "migration tag {tag:?} is used twice (`{}` and `{}[{previous}].tag` at \
             line {line}, column {col}); tags must be unique: merge the steps or give \
             the new one a new tag",
            step.key_path("tag"),
            step.path
                .rsplit_once('[')
                .map(|(head, _)| head)
                .unwrap_or(&step.path)
        ),
    )
}

/// The operations of one step.
fn read_step(
    cx: &mut Cx<'_>,
    step: &mut Tbl<'_>,
    tag: String,
) -> Result<MigrationStep, ConfigError> {
    let renamed = class_tables(cx, step, "renamed_classes", |cx, t| {
        Ok(RenamedClass {
            from: t.req_nonempty(cx, "from", "name the old class")?,
            to: t.req_nonempty(cx, "to", "name the new class")?,
        })
    })?;
    let transferred = class_tables(cx, step, "transferred_classes", |cx, t| {
        Ok(TransferredClass {
            from: t.req_nonempty(cx, "from", "name the class in the source Worker")?,
            from_script: t.req_nonempty(cx, "from_script", "name the source Worker")?,
            to: t.req_nonempty(cx, "to", "name the class in this Worker")?,
        })
    })?;
    Ok(MigrationStep {
        tag,
        new_classes: step.str_list(cx, "new_classes")?.unwrap_or_default(),
        new_sqlite_classes: step.str_list(cx, "new_sqlite_classes")?.unwrap_or_default(),
        renamed_classes: renamed,
        deleted_classes: step.str_list(cx, "deleted_classes")?.unwrap_or_default(),
        transferred_classes: transferred,
    })
}

/// `step.key`, an array of tables each read by `read` and then checked for unknown keys.
fn class_tables<T>(
    cx: &mut Cx<'_>,
    step: &mut Tbl<'_>,
    key: &str,
    mut read: impl FnMut(&mut Cx<'_>, &mut Tbl<'_>) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    step.tables(cx, key)?
        .into_iter()
        .map(|mut t| {
            let r = read(cx, &mut t)?;
            t.finish(cx, &[]);
            Ok(r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{accepted, assert_refused};

    #[test]
    fn untagged_and_duplicate_migrations_are_rejected() {
        let untagged = "name = \"w\"\n[[migrations]]\nnew_classes = [\"A\"]\n";
        assert_refused("w.toml", untagged, "w.toml:2:", "has no `tag`");
        let twice = "[[migrations]]\ntag = \"v1\"\n[[migrations]]\ntag = \"v1\"\n";
        let first = "`migrations[0].tag` at line 2, column 7";
        assert_refused("w.toml", twice, "w.toml:4:7:", first);
    }

    #[test]
    fn migrations_parse_every_operation() {
        let parsed = accepted(
            "w.toml",
            r#"
[[migrations]]
tag = "v1"
new_classes = ["A"]
new_sqlite_classes = ["B"]
[[migrations]]
tag = "v2"
renamed_classes = [{ from = "A", to = "A2" }]
deleted_classes = ["B"]
transferred_classes = [{ from = "X", from_script = "other", to = "Y" }]
"#,
        );
        let steps = &parsed.spec.migrations;
        assert_eq!(steps[0].new_classes, ["A"]);
        assert_eq!(steps[0].new_sqlite_classes, ["B"]);
        assert_eq!(steps[1].renamed_classes[0].to, "A2");
        assert_eq!(steps[1].deleted_classes, ["B"]);
        assert_eq!(steps[1].transferred_classes[0].from_script, "other");
    }
}
