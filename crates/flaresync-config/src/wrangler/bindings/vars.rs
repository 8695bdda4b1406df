//! `[vars]`: strings become `plain_text` bindings, anything else `json` (as wrangler does).

use super::BindingReader;
use crate::error::ConfigError;
use crate::model::{Binding, BindingKind, canonical_json_text};
use crate::source::Val;

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_vars(&mut self) -> Result<(), ConfigError> {
        let table = self.layer.local(self.cx, "vars");
        if let Some(vars) = table.table(self.cx, "vars")? {
            for entry in vars.entries {
                let kind = match &entry.node.value {
                    Val::Str(s) => BindingKind::PlainText { text: s.clone() },
                    _ => BindingKind::Json {
                        json: canonical_json_text(&entry.node.to_json()),
                    },
                };
                let name = entry.key.clone();
                self.out
                    .push((Binding { name, kind }, entry.key_span.start));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{accepted, wire};
    use serde_json::json;

    #[test]
    fn non_string_vars_become_json_bindings() {
        let parsed = accepted(
            "w.toml",
            "name = \"w\"\n[vars]\nS = \"x\"\nN = 3\nB = true\nO = { b = 1, a = [1, 2] }\n",
        );
        assert_eq!(
            wire(&parsed),
            json!([
                {"name": "B", "type": "json", "json": true},
                {"name": "N", "type": "json", "json": 3},
                {"name": "O", "type": "json", "json": {"a": [1, 2], "b": 1}},
                {"name": "S", "type": "plain_text", "text": "x"}
            ])
        );
    }
}
