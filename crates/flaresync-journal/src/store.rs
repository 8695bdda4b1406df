//! What a journal backend does: run the statements of [`crate::queries`]. Everything else
//! (which statement, decoding rows) is shared, so both backends behave alike.

use crate::error::JournalError;
use crate::queries::{RawRow, Value};

pub(crate) trait Store: Send + Sync {
    /// Runs an `INSERT … RETURNING seq` and returns the sequence number.
    fn insert(&self, sql: &str, params: Vec<Value>) -> Result<i64, JournalError>;
    /// Runs a `SELECT` of [`crate::queries::COLUMNS`].
    fn rows(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<RawRow>, JournalError>;
    /// Runs a `SELECT` of one text column.
    fn texts(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Option<String>>, JournalError>;
}
