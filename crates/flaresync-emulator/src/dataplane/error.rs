//! The data plane's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    #[error("could not start workerd ({binary}): {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the workerd config under {dir}: {source}")]
    Files {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("workerd stopped before serving: {0}")]
    Exited(String),
    #[error("workerd refused the Worker: {0}")]
    Rejected(String),
    #[error("the data-plane listener failed: {0}")]
    Listen(#[source] std::io::Error),
    #[error("reading the control plane's state failed: {0}")]
    State(String),
}
