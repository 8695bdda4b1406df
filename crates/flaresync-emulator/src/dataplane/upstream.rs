//! The listener's client to workerd: pooled HTTP/1 connections over unix sockets, and one
//! replay of a request workerd closed the connection on before answering.
//!
//! workerd (KJ's `HttpServer`) closes a keep-alive connection that stays idle for 5 s (its
//! `pipelineTimeout`). A pooled connection is therefore kept idle for less than that, and when
//! a request still meets a connection workerd just closed ("connection closed before message
//! completed" — the close not yet seen because the machine was too busy to read it) a request
//! without a body and with a safe method is sent once more on a fresh connection. Others get
//! the error (a body cannot be sent twice).

use axum::body::{Body, HttpBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::{Client, Error};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::unix_connector::UnixConnector;

/// How long an idle connection to workerd stays pooled: under workerd's 5 s, so the pool never
/// hands out a connection workerd closed for being idle (and connections to retired processes
/// are reaped).
pub const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

pub type Upstream = Client<UnixConnector, Body>;

pub fn client(connector: UnixConnector) -> Upstream {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(connector)
}

/// Whether a request may be sent again after its connection closed before the answer: a safe
/// method and no body. Pure.
pub fn replayable(method: &Method, body_is_empty: bool) -> bool {
    body_is_empty && matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the connection closed before any answer came (the request may be replayed).
fn closed_before_answer(error: &Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(hyper) = inner.downcast_ref::<hyper::Error>() {
            return hyper.is_incomplete_message();
        }
        source = inner.source();
    }
    false
}

/// Sends `req` (its URI already pointing at a workerd socket); replays it once as described
/// above.
pub async fn send(client: &Upstream, req: Request<Incoming>) -> Result<Response<Incoming>, Error> {
    let (parts, body) = req.into_parts();
    if !replayable(&parts.method, body.is_end_stream()) {
        return client
            .request(Request::from_parts(parts, Body::new(body)))
            .await;
    }
    let again = parts.clone();
    match client
        .request(Request::from_parts(parts, Body::empty()))
        .await
    {
        Err(error) if closed_before_answer(&error) => {
            tracing::debug!("workerd closed a connection before answering; sending again");
            client
                .request(Request::from_parts(again, Body::empty()))
                .await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;

    #[test]
    fn only_bodiless_safe_requests_are_replayed() {
        assert!(replayable(&Method::GET, true));
        assert!(replayable(&Method::HEAD, true));
        assert!(!replayable(&Method::GET, false));
        assert!(!replayable(&Method::POST, true));
        assert!(!replayable(&Method::DELETE, true));
    }

    /// A server on `<dir>/w` that closes its first connection after reading the request head
    /// (as workerd closing an idle connection just as a request arrives) and answers "ok" on
    /// later ones; counts connections.
    fn flaky_server(dir: &std::path::Path) -> Arc<AtomicUsize> {
        let listener = UnixListener::bind(dir.join("w")).expect("bind");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n")
                    && stream.read(&mut byte).await.is_ok_and(|r| r == 1)
                {
                    head.push(byte[0]);
                }
                if n > 0 {
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    let _ = stream.write_all(answer).await;
                }
            }
        });
        connections
    }

    async fn call(
        dir: &std::path::Path,
        method: Method,
        body: &'static str,
    ) -> Result<u16, String> {
        // A real `Incoming` body: the request goes through a hyper server first.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let client = client(UnixConnector {
            dir: Arc::from(dir),
        });
        let front = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("front");
        let address = front.local_addr().expect("addr");
        tokio::spawn(async move {
            let (stream, _) = front.accept().await.expect("accept");
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let (client, tx) = (client.clone(), tx.lock().ok().and_then(|mut t| t.take()));
                async move {
                    *req.uri_mut() = "http://w/".parse().expect("uri");
                    let status = send(&client, req).await.map(|r| r.status().as_u16());
                    if let Some(tx) = tx {
                        let _ = tx.send(status.map_err(|e| e.to_string()));
                    }
                    Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let request = format!(
            "{method} / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        rx.await.map_err(|e| e.to_string())?
    }

    #[tokio::test]
    async fn a_get_is_sent_again_when_the_connection_closes_before_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let connections = flaky_server(dir.path());
        assert_eq!(call(dir.path(), Method::GET, "").await, Ok(200));
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_post_with_a_body_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let connections = flaky_server(dir.path());
        let answer = call(dir.path(), Method::POST, "x").await;
        assert!(
            answer.as_ref().is_err_and(|e| e.contains("SendRequest")),
            "{answer:?}"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }
}
