//! `assets`: the static assets binding. Unlike the other binding kinds, `assets` is
//! inheritable; its files are not uploaded by flaresync.

use super::BindingReader;
use crate::error::ConfigError;
use crate::model::{Binding, BindingKind};
use crate::source::{Node, Val};

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_assets(&mut self) -> Result<(), ConfigError> {
        let cx = &mut *self.cx;
        let table = self.layer.inh("assets");
        if let Some(
            node @ Node {
                value: Val::Str(dir),
                ..
            },
        ) = table.get("assets")
        {
            return Err(cx.err(
                node,
                format!(
                    "`{}` is a string, the wrangler 2 form that wrangler no longer accepts; \
                     write assets = {{ directory = {dir:?} }}",
                    table.key_path("assets")
                ),
            ));
        }
        if let Some(mut assets) = table.table(cx, "assets")? {
            if let Some(binding) = assets.str(cx, "binding")? {
                self.out.push((
                    Binding {
                        name: binding,
                        kind: BindingKind::Assets,
                    },
                    assets.node.span.start,
                ));
            }
            if assets.str(cx, "directory")?.is_some() {
                cx.warn(
                    assets.node.span.start,
                    "static assets (`assets.directory`) are not uploaded by flaresync; only the \
                     Worker code and bindings are deployed",
                );
            }
            assets.finish(
                cx,
                &[
                    "html_handling",
                    "not_found_handling",
                    "run_worker_first",
                    "experimental_serve_directly",
                ],
            );
        }
        Ok(())
    }
}
