//! Service-worker-only keys (`wasm_modules`, `text_blobs`, `data_blobs`) are refused:
//! flaresync uploads ES modules only.

use super::BindingReader;
use crate::error::ConfigError;

impl BindingReader<'_, '_, '_> {
    pub(super) fn refuse_service_worker_blobs(&mut self) -> Result<(), ConfigError> {
        for key in ["wasm_modules", "text_blobs", "data_blobs"] {
            let table = self.layer.local(self.cx, key);
            if let Some(node) = table.get(key) {
                return Err(self.cx.err(
                    node,
                    format!(
                        "`{key}` only works with service-worker syntax, which flaresync does not \
                         upload; import the file from an ES module and add a module `rules` \
                         entry instead"
                    ),
                ));
            }
        }
        Ok(())
    }
}
