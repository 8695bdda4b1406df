//! Binding names are unique across every kind.

use super::Located;
use crate::error::ConfigError;
use crate::model::Binding;
use crate::reader::Cx;

/// Sorts bindings by name and rejects duplicate names.
pub(in crate::wrangler) fn unique_bindings(
    cx: &Cx<'_>,
    mut bindings: Located,
) -> Result<Vec<Binding>, ConfigError> {
    bindings.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.1.cmp(&b.1)));
    for pair in bindings.windows(2) {
        if pair[0].0.name == pair[1].0.name {
            let (line, col) = cx.src.line_col(pair[0].1);
            return Err(ConfigError::invalid(
                cx.loc(pair[1].1),
                format!(
                    "binding name {:?} is used twice ({} and {}, the other at line {line}, \
                     column {col}); binding names must be unique, rename one",
                    pair[1].0.name,
                    pair[1].0.kind.type_name(),
                    pair[0].0.kind.type_name()
                ),
            ));
        }
    }
    Ok(bindings.into_iter().map(|(b, _)| b).collect())
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::assert_refused;

    #[test]
    fn duplicate_binding_names_are_rejected_with_both_positions() {
        let text = "name = \"w\"\n[vars]\nDB = \"x\"\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_id = \"d\"\n";
        assert_refused("w.toml", text, "w.toml:4:1:", "line 3, column 1");
    }
}
