//! Typed access to [`Node`] tables with unknown-key tracking and positioned errors.

use crate::error::{ConfigError, Location, Warning};
use crate::source::{Entry, Node, SourceFile, Val};

/// Shared context while reading one file: the source (for positions) and collected warnings.
pub(crate) struct Cx<'a> {
    pub src: &'a SourceFile,
    pub warnings: Vec<Warning>,
}

impl<'a> Cx<'a> {
    pub fn new(src: &'a SourceFile) -> Self {
        Cx {
            src,
            warnings: Vec::new(),
        }
    }

    /// The collected warnings in file order.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort_by_key(|w| (w.line, w.col));
        // The same key can be looked at twice (e.g. `queues` for producers and consumers).
        warnings.dedup();
        warnings
    }

    pub fn loc(&self, offset: usize) -> Location {
        self.src.location(offset)
    }

    pub fn err(&self, node: &Node, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(self.loc(node.span.start), message)
    }

    pub fn warn(&mut self, offset: usize, message: impl Into<String>) {
        let location = self.loc(offset);
        self.warnings.push(Warning::at(&location, message));
    }
}

/// A table being read. Keys read through [`Tbl::get`] count as known; [`Tbl::finish`] warns
/// about the others.
pub(crate) struct Tbl<'a> {
    pub node: &'a Node,
    pub entries: &'a [Entry],
    /// Dotted path for messages (`env.production.kv_namespaces[0]`), "" for the root.
    pub path: String,
    used: Vec<bool>,
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Tbl<'a> {
    pub fn new(cx: &Cx<'_>, node: &'a Node, path: &str) -> Result<Self, ConfigError> {
        match &node.value {
            Val::Table(entries) => Ok(Tbl {
                node,
                entries,
                path: path.to_owned(),
                used: vec![false; entries.len()],
            }),
            other => Err(cx.err(
                node,
                format!(
                    "`{path}` must be a table, found {}; see the wrangler configuration docs for its shape",
                    other.type_name()
                ),
            )),
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Whether the key is present (does not mark it as read).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    pub fn get(&mut self, key: &str) -> Option<&'a Node> {
        let index = self.entries.iter().position(|e| e.key == key)?;
        self.used[index] = true;
        Some(&self.entries[index].node)
    }

    /// Key span of an entry (for messages about the key itself).
    pub fn key_offset(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.key_span.start)
    }

    pub fn is_used(&self, key: &str) -> bool {
        self.entries
            .iter()
            .zip(&self.used)
            .any(|(e, used)| e.key == key && *used)
    }

    pub fn mark(&mut self, key: &str) {
        let _ = self.get(key);
    }

    pub fn missing(&self, cx: &Cx<'_>, key: &str, hint: &str) -> ConfigError {
        ConfigError::invalid(
            cx.loc(self.node.span.start),
            format!("`{}` is required but missing; {hint}", self.key_path(key)),
        )
    }

    fn wrong_type(&self, cx: &Cx<'_>, key: &str, node: &Node, expected: &str) -> ConfigError {
        cx.err(
            node,
            format!(
                "`{}` must be {expected}, found {}",
                self.key_path(key),
                node.value.type_name()
            ),
        )
    }

    pub fn str(&mut self, cx: &Cx<'_>, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match &node.value {
                Val::Str(s) => Ok(Some(s.clone())),
                _ => Err(self.wrong_type(cx, key, node, "a string (quote the value)")),
            },
        }
    }

    pub fn req_str(&mut self, cx: &Cx<'_>, key: &str, hint: &str) -> Result<String, ConfigError> {
        match self.str(cx, key)? {
            Some(s) => Ok(s),
            None => Err(self.missing(cx, key, hint)),
        }
    }

    /// A required, non-empty string.
    pub fn req_nonempty(
        &mut self,
        cx: &Cx<'_>,
        key: &str,
        hint: &str,
    ) -> Result<String, ConfigError> {
        let value = self.req_str(cx, key, hint)?;
        if value.trim().is_empty() {
            let node = self.get(key).unwrap_or(self.node);
            return Err(cx.err(node, format!("`{}` is empty; {hint}", self.key_path(key))));
        }
        Ok(value)
    }

    pub fn bool(&mut self, cx: &Cx<'_>, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match &node.value {
                Val::Bool(b) => Ok(Some(*b)),
                _ => Err(self.wrong_type(cx, key, node, "true or false")),
            },
        }
    }

    pub fn u64(&mut self, cx: &Cx<'_>, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match &node.value {
                Val::Int(i) if *i >= 0 => Ok(Some(*i as u64)),
                _ => Err(self.wrong_type(cx, key, node, "a non-negative integer")),
            },
        }
    }

    pub fn str_list(&mut self, cx: &Cx<'_>, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(node) = self.get(key) else {
            return Ok(None);
        };
        str_list(cx, node, &self.key_path(key)).map(Some)
    }

    pub fn table(&mut self, cx: &Cx<'_>, key: &str) -> Result<Option<Tbl<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => Tbl::new(cx, node, &self.key_path(key)).map(Some),
        }
    }

    /// An array whose items are tables (`[[x]]` or `"x": [{...}]`).
    pub fn tables(&mut self, cx: &Cx<'_>, key: &str) -> Result<Vec<Tbl<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(node) => tables(cx, node, &self.key_path(key)),
        }
    }

    /// Warns about keys never read. `silent` keys are accepted without a warning.
    pub fn finish(&self, cx: &mut Cx<'_>, silent: &[&str]) {
        for (entry, used) in self.entries.iter().zip(&self.used) {
            if !used && !silent.contains(&entry.key.as_str()) {
                let path = self.key_path(&entry.key);
                cx.warn(
                    entry.key_span.start,
                    format!("unknown key `{path}` is ignored; check its spelling and placement"),
                );
            }
        }
    }
}

pub(crate) fn str_list(cx: &Cx<'_>, node: &Node, path: &str) -> Result<Vec<String>, ConfigError> {
    match &node.value {
        Val::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match &item.value {
                Val::Str(s) => Ok(s.clone()),
                other => Err(cx.err(
                    item,
                    format!(
                        "`{path}[{i}]` must be a string, found {}",
                        other.type_name()
                    ),
                )),
            })
            .collect(),
        other => Err(cx.err(
            node,
            format!(
                "`{path}` must be an array of strings, found {}",
                other.type_name()
            ),
        )),
    }
}

pub(crate) fn tables<'a>(
    cx: &Cx<'_>,
    node: &'a Node,
    path: &str,
) -> Result<Vec<Tbl<'a>>, ConfigError> {
    match &node.value {
        Val::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| Tbl::new(cx, item, &format!("{path}[{i}]")))
            .collect(),
        other => Err(cx.err(
            node,
            format!(
                "`{path}` must be an array of tables, found {}",
                other.type_name()
            ),
        )),
    }
}
