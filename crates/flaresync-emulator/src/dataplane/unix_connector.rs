//! How the listener reaches workerd: over unix sockets (cheaper than a second loopback TCP
//! hop, for the listener and for workerd's one JavaScript thread alike). A URI's host names the
//! socket file in the runtime's socket directory, so hyper's pool keeps connections per socket.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// How often a connect is retried while the socket's backlog is full.
const BACKLOG_RETRIES: u32 = 50;

/// Connects to `path`. A unix socket whose listen backlog is full (workerd busy, a burst of
/// new connections) refuses at once with `EAGAIN`, where TCP would queue the attempt: retry
/// briefly instead of failing the request.
async fn connect(path: &Path) -> std::io::Result<UnixStream> {
    let mut tries = 0;
    loop {
        match UnixStream::connect(path).await {
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock && tries < BACKLOG_RETRIES =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            other => return other,
        }
    }
}

/// Connects `http://<socket name>/…` to `<dir>/<socket name>`.
#[derive(Debug, Clone)]
pub struct UnixConnector {
    pub dir: Arc<Path>,
}

impl tower::Service<Uri> for UnixConnector {
    type Response = TokioIo<UnixStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let name = uri.host().unwrap_or_default();
        // Only a plain file name: never a path out of the socket directory.
        let path = (!name.is_empty() && !name.contains(['/', '.'])).then(|| self.dir.join(name));
        Box::pin(async move {
            let path = path.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a workerd socket")
            })?;
            connect(&path).await.map(TokioIo::new)
        })
    }
}
