//! The client side of the control channel (`vigia ctl`): one request on
//! the Unix socket, or signed on TCP ([`super::auth`]), on hyper's client.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use hyper::body::Bytes;

use super::auth::{authorization, unix_now, Key};
use super::http::{read_body, Full, Io};

/// Where the control channel is.
#[derive(Debug)]
pub enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr, Key),
}

/// Most bytes of answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Sends one request and returns (status, body). `within` bounds the
/// whole exchange (a reload answers when it is done).
pub async fn request(
    target: &Target,
    method: &str,
    path_and_query: &str,
    within: Duration,
) -> Result<(u16, Vec<u8>), String> {
    tokio::time::timeout(within, exchange(target, method, path_and_query))
        .await
        .map_err(|_| format!("no answer within {}s", within.as_secs()))?
}

async fn exchange(target: &Target, method: &str, path_and_query: &str) -> Result<(u16, Vec<u8>), String> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(hyper::header::CONNECTION, "close");
    match target {
        Target::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| unix_error(path, &e))?;
            req = req.header(hyper::header::HOST, "localhost");
            send(stream, req).await
        }
        Target::Tcp(addr, key) => {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("cannot connect to the control channel at {addr}: {e} (is vigia running with [control] listen = \"{addr}\"?)"))?;
            req = req.header(hyper::header::HOST, addr.to_string()).header(
                hyper::header::AUTHORIZATION,
                authorization(key, method, path_and_query, b"", unix_now()),
            );
            send(stream, req).await
        }
    }
}

async fn send<S>(stream: S, req: hyper::http::request::Builder) -> Result<(u16, Vec<u8>), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let req = req
        .body(Full(Some(Bytes::new())))
        .map_err(|e| format!("bad request: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full>(Io(stream))
        .await
        .map_err(|e| format!("control channel: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("control channel: no answer: {e}"))?;
    let status = resp.status().as_u16();
    let body = read_body(resp.into_body(), MAX_ANSWER).await?;
    conn.abort();
    Ok((status, body))
}

/// What to tell the operator when the socket cannot be reached.
fn unix_error(path: &std::path::Path, e: &std::io::Error) -> String {
    let name = path.display();
    match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "is vigia running? socket {name} not found; set [control] socket in the config (or --socket PATH)"
        ),
        std::io::ErrorKind::PermissionDenied => {
            let group = std::fs::metadata(path)
                .ok()
                .map(|m| super::socket::group_name(m.gid()).unwrap_or_else(|| m.gid().to_string()));
            match group {
                Some(g) => format!(
                    "permission denied on {name}: join its group '{g}' (usermod -aG {g} $USER, then log in again) or run as vigia's user"
                ),
                None => format!("permission denied on {name} (or on a folder above it): run as vigia's user or a member of [control] group"),
            }
        }
        std::io::ErrorKind::ConnectionRefused => {
            format!("socket {name} exists but nobody answers: is vigia running?")
        }
        _ => format!("cannot connect to {name}: {e}"),
    }
}
