//! The HTTP side of a probe: one HTTP/1.1 GET on a fresh connection (plain
//! or TLS), on hyper's connection API, with one deadline over all of it.
//!
//! Every byte the probe reads or writes passes through [`Guarded`], which
//! fails once the deadline has passed and makes the task yield after every
//! [`YIELD_EVERY`] bytes read. That is what bounds a hostile backend: hyper
//! parses every response head already buffered in one go, and skips 1xx
//! heads in a loop, so a backend flooding `HTTP/1.1 100 Continue` kept one
//! poll of hyper's connection busy for seconds (2.5 s at a 500 ms timeout in
//! release builds, 9 s in debug ones), and with it the thread it ran on. A
//! timer around the probe cannot fire while that poll runs; the guard stops
//! the poll itself.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::Url;

/// Bytes read before the probe's task yields to the others of its runtime
/// (about 650 `100 Continue` heads).
const YIELD_EVERY: usize = 16 * 1024;

/// Most bytes handed to hyper per read.
const READ_CAP: usize = 8 * 1024;

/// Most bytes of response head hyper buffers (its floor is 8 KiB).
const MAX_HEAD: usize = 64 * 1024;

/// How a GET failed, before it is judged: an I/O error (refused, reset,
/// the deadline), hyper's own error (malformed answer, closed early), or
/// anything else as text.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    Http(hyper::Error),
    Tls(String),
    Other(String),
}

/// GETs URLs of one check: the TLS settings for `https`, built once.
#[derive(Clone)]
pub struct HttpClient {
    tls: Option<tokio_rustls::TlsConnector>,
    user_agent: &'static str,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl HttpClient {
    /// A client for `url`'s scheme. https uses rustls with the compiled-in
    /// Mozilla roots (webpki-roots), so the result does not depend on the
    /// host's CA store; `insecure` accepts any certificate and host name
    /// (self-signed backends), still checking the handshake's signatures.
    pub fn new(url: &Url, insecure: bool) -> Result<HttpClient, String> {
        let tls = match url.scheme() {
            "http" => None,
            "https" => Some(tls_connector(insecure)?),
            other => return Err(format!("unsupported scheme '{other}' (http or https)")),
        };
        Ok(HttpClient {
            tls,
            user_agent: concat!("vigia/", env!("CARGO_PKG_VERSION"), " health-check"),
        })
    }

    /// GETs `url` on a fresh connection (`Connection: close`), with `host`
    /// as the Host header if given; fails once `deadline` passes, whatever
    /// the backend sends. The body is read from the answer.
    pub async fn get(&self, url: &Url, host: Option<&str>, deadline: Instant) -> Result<Answer, Failure> {
        let tcp = connect(url).await?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => self.exchange(tcp, url, host, deadline).await,
            Some(tls) => {
                let name = server_name(url)?;
                // Guarded under TLS too, for the handshake.
                let stream = tls
                    .connect(name, Guarded::new(tcp, deadline))
                    .await
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::InvalidData => Failure::Tls(e.to_string()),
                        _ => Failure::Io(e),
                    })?;
                self.exchange(stream, url, host, deadline).await
            }
        }
    }

    async fn exchange<S>(
        &self,
        stream: S,
        url: &Url,
        host: Option<&str>,
        deadline: Instant,
    ) -> Result<Answer, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = Guarded::new(stream, deadline);
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_HEAD)
            .handshake::<_, NoBody>(io)
            .await
            .map_err(Failure::Http)?;
        // The connection runs beside the request; it ends with the answer's
        // body, on any error, or when the probe is dropped.
        let conn = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let host_header = match host {
            Some(h) => h.to_string(),
            None => authority(url),
        };
        let req = hyper::Request::get(origin_form(url))
            .header(hyper::header::HOST, host_header)
            .header(hyper::header::CONNECTION, "close")
            .header(hyper::header::USER_AGENT, self.user_agent)
            .header(hyper::header::ACCEPT, "*/*")
            .body(NoBody)
            .map_err(|e| Failure::Other(format!("cannot build the request: {e}")))?;
        let resp = sender.send_request(req).await.map_err(Failure::Http)?;
        let location = resp
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Answer {
            status: resp.status().as_u16(),
            location,
            body: resp.into_body(),
            _conn: conn,
        })
    }
}

/// A response head, its body still to read.
pub struct Answer {
    pub status: u16,
    /// The `Location` header, as sent.
    pub location: Option<String>,
    body: Incoming,
    _conn: AbortOnDrop,
}

impl Answer {
    /// The next piece of the body; None at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Failure> {
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut self.body).poll_frame(cx)).await;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(Failure::Http(e)),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        return Ok(Some(data));
                    }
                    // Trailers: nothing to judge.
                }
            }
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects to the URL's host (each address in turn, if it is a name).
async fn connect(url: &Url) -> Result<TcpStream, Failure> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Failure::Other(format!("no port in {url}")))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(a)) => vec![(a, port).into()],
        Some(url::Host::Ipv6(a)) => vec![(a, port).into()],
        Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|e| Failure::Other(format!("cannot resolve {d}: {e}")))?
            .collect(),
        None => return Err(Failure::Other(format!("no host in {url}"))),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(Failure::Io(last))
}

/// `host[:port]` for the Host header (the port only when not the scheme's
/// default).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// `/path?query`, what an HTTP/1.1 request line carries.
fn origin_form(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn server_name(url: &Url) -> Result<ServerName<'static>, Failure> {
    let name = match url.host() {
        Some(url::Host::Ipv4(a)) => ServerName::IpAddress(std::net::IpAddr::V4(a).into()),
        Some(url::Host::Ipv6(a)) => ServerName::IpAddress(std::net::IpAddr::V6(a).into()),
        Some(url::Host::Domain(d)) => ServerName::try_from(d.to_string())
            .map_err(|e| Failure::Other(format!("'{d}' is not a TLS server name: {e}")))?,
        None => return Err(Failure::Other(format!("no host in {url}"))),
    };
    Ok(name)
}

fn tls_connector(insecure: bool) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `insecure = true`: any certificate for any name, but the handshake's
/// signatures are still checked (the peer holds the key it shows).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The request's (empty) body.
struct NoBody;

impl Body for NoBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(0)
    }
}

/// A stream that fails every read and write once the deadline has passed,
/// hands out at most [`READ_CAP`] bytes per read, and makes its task yield
/// after every [`YIELD_EVERY`] bytes read: however fast a backend sends,
/// one poll of the probe does a bounded amount of work, and none happens
/// past the deadline. Used under TLS (for the handshake) and over it (for
/// hyper), so it speaks both tokio's and hyper's I/O traits.
pub struct Guarded<S> {
    inner: S,
    deadline: Instant,
    since_yield: usize,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, deadline: Instant) -> Guarded<S> {
        Guarded {
            inner,
            deadline,
            since_yield: 0,
        }
    }

    fn check(&self) -> io::Result<()> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "probe deadline passed"));
        }
        Ok(())
    }

    /// Pending (woken at once) when the task has read its share: the
    /// runtime's other tasks and timers get their turn.
    fn take_turn(&mut self, cx: &mut Context<'_>) -> bool {
        if self.since_yield >= YIELD_EVERY {
            self.since_yield = 0;
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        if self.take_turn(cx) {
            return Poll::Pending;
        }
        let room = buf.remaining().min(READ_CAP);
        let mut capped = buf.take(room);
        let before = capped.filled().len();
        std::task::ready!(Pin::new(&mut self.inner).poll_read(cx, &mut capped))?;
        let n = capped.filled().len() - before;
        // SAFETY: `capped` borrows `buf`'s unfilled part; the `n` bytes it
        // filled are initialized.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        self.since_yield += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> hyper::rt::Read for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: tokio's ReadBuf over the cursor's unfilled part never
        // de-initializes bytes; `n` bytes are filled (so initialized) when
        // the cursor is advanced.
        let n = unsafe {
            let mut tbuf = ReadBuf::uninit(buf.as_mut());
            std::task::ready!(AsyncRead::poll_read(self, cx, &mut tbuf))?;
            tbuf.filled().len()
        };
        // SAFETY: the `n` bytes were filled just above.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> hyper::rt::Write for Guarded<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(self, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn request_lines_and_host_headers() {
        let u = Url::parse("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(origin_form(&u), "/health?x=1");
        assert_eq!(authority(&u), "127.0.0.1:8080");
        let u = Url::parse("https://example.com/").unwrap();
        assert_eq!(
            (origin_form(&u), authority(&u)),
            ("/".into(), "example.com".into())
        );
        assert!(HttpClient::new(&Url::parse("ftp://h/").unwrap(), false).is_err());
    }

    /// A reader that always has more bytes: the guard makes it yield and
    /// stop at the deadline however fast it is.
    #[tokio::test]
    async fn an_endless_fast_reader_yields_and_stops_at_the_deadline() {
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move { while tx.write_all(&[b'x'; 4096]).await.is_ok() {} });
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut g = Guarded::new(rx, deadline);
        let mut buf = vec![0u8; 64 * 1024];
        let mut pendings = 0;
        let err = loop {
            let r = std::future::poll_fn(|cx| {
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut g).poll_read(cx, &mut rb) {
                    Poll::Pending => {
                        pendings += 1;
                        Poll::Ready(Ok(usize::MAX))
                    }
                    Poll::Ready(r) => Poll::Ready(r.map(|()| rb.filled().len())),
                }
            })
            .await;
            match r {
                Ok(n) => assert!(n == usize::MAX || n <= READ_CAP, "read {n} bytes at once"),
                Err(e) => break e,
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline);
        assert!(pendings > 0, "never yielded");
        // Writes fail past the deadline too.
        let (a, _b) = tokio::io::duplex(16);
        let mut g = Guarded::new(a, deadline);
        assert!(g.write_all(b"x").await.is_err());
        let mut one = [0u8; 1];
        assert!(g.read(&mut one).await.is_err());
    }
}
