//! Secrets: `secrets_store_secrets` bindings and the `secrets.required` names (both not
//! inheritable).

use super::BindingReader;
use super::shapes::Items;
use crate::error::ConfigError;
use crate::model::BindingKind;

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_secrets_store(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("secrets_store_secrets").silent(&[]);
        self.items(items, |cx, s, _| {
            Ok(BindingKind::SecretsStoreSecret {
                store_id: s.req_nonempty(cx, "store_id", "set the secrets store id")?,
                secret_name: s.req_nonempty(cx, "secret_name", "name the secret")?,
            })
        })
    }

    /// `secrets.required`: sorted, unique.
    pub(super) fn read_required_secrets(&mut self) -> Result<Vec<String>, ConfigError> {
        let table = self.layer.local(self.cx, "secrets");
        let Some(mut secrets) = table.table(self.cx, "secrets")? else {
            return Ok(Vec::new());
        };
        let mut required = secrets.str_list(self.cx, "required")?.unwrap_or_default();
        secrets.finish(self.cx, &[]);
        required.sort();
        required.dedup();
        Ok(required)
    }
}
