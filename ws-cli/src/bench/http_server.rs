//! Baseline HTTP server: bare hyper 1.x answering `hello` to every request, the reference the
//! framework's HTTP routes (the seed's `/server/send`) are compared against. It is hyper's own
//! hello-world shape on the same single-threaded runtime as the WebSocket baselines, so the
//! comparison is against the least a hyper server can do per request.

use std::convert::Infallible;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::echo_server::{ACCEPT_RETRY, ServerArgs};

pub(crate) fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    super::raise_open_files_limit();
    let runtime = super::build_runtime(args.threads)?;
    runtime.block_on(serve(args.port))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    super::echo_server::announce(listener.local_addr()?)?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        // Responses are single small writes; Nagle would hold each back until the previous
        // one is acknowledged.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}
