//! Class-backed bindings: `durable_objects.bindings` and `workflows`.

use super::BindingReader;
use super::shapes::Items;
use crate::error::ConfigError;
use crate::model::BindingKind;

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_durable_objects(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("bindings")
            .named_by("name")
            .silent(&[])
            .inside("durable_objects", &[]);
        self.items(items, |cx, b, _| {
            let class_name = b.req_nonempty(cx, "class_name", "name the Durable Object class")?;
            Ok(BindingKind::DurableObjectNamespace {
                class_name,
                script_name: b.str(cx, "script_name")?,
                environment: b.str(cx, "environment")?,
            })
        })
    }

    pub(super) fn read_workflows(&mut self) -> Result<(), ConfigError> {
        let silent = &["remote", "experimental_remote", "limits"];
        self.items(Items::new("workflows").silent(silent), |cx, w, _| {
            let workflow_name = w.req_nonempty(cx, "name", "name the workflow")?;
            Ok(BindingKind::Workflow {
                workflow_name,
                class_name: w.str(cx, "class_name")?,
                script_name: w.str(cx, "script_name")?,
            })
        })
    }
}
