//! `https` health checks against a real TLS backend with a self-signed
//! certificate (python3's http.server wrapped in an ssl.SSLContext, the
//! certificate made by the openssl CLI): `insecure = true` accepts it, a
//! check without it fails with the certificate as the reason, and a stopped
//! backend is refused. Every wait polls a real condition against a deadline.
//! Without openssl or python3 the test is skipped loudly (CI=true fails it).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::health::{self, Running};
use common::{tools, TempDir};

const IP: &str = "127.0.0.108";
/// Long enough for several probe rounds (with TLS handshakes) on a busy
/// 2-core machine.
const DEADLINE: Duration = Duration::from_secs(10);

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A self-signed certificate for `IP`: (cert.pem, key.pem).
fn self_signed(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .arg("-subj")
        .arg(format!("/CN={IP}"))
        .args(["-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The python3 HTTPS server, killed on drop (or by [`Self::stop`]).
struct TlsBackend {
    child: Option<Child>,
    port: u16,
}

impl TlsBackend {
    fn start(python: &Path, cert: &Path, key: &Path) -> TlsBackend {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(SERVER)
            .arg(IP)
            .arg(cert)
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        // The port is the first line of stdout; read it on a thread so a
        // server that never prints cannot hang the test.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut backend = TlsBackend {
            child: Some(child),
            port: 0,
        };
        let line = rx
            .recv_timeout(DEADLINE)
            .expect("python3 HTTPS server did not report its port in time");
        backend.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("python3 HTTPS server did not start (printed {line:?})"));
        backend
    }

    fn url(&self) -> String {
        format!("https://{IP}:{}/", self.port)
    }

    /// Kills the server and reaps it: once this returns, connections are
    /// refused.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every check's timings and expected body, for what its extra lines do not set.
const DEFAULTS: [&str; 5] = [
    "interval = \"150ms\"",
    "timeout = \"2s\"",
    "fall = 2",
    "rise = 2",
    "expect_body = \"ok\"",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_backend_needs_insecure() {
    let Some([openssl, python]) = tools::require(
        "self_signed_backend_needs_insecure",
        [("openssl", "openssl"), ("python3", "python3")],
    ) else {
        return;
    };
    let dir = TempDir::new("https");
    let (cert, key) = self_signed(&openssl, dir.path());
    let mut backend = TlsBackend::start(&python, &cert, &key);

    let checks = health::checks(
        &[
            ("insecure", backend.url(), "insecure = true"),
            ("verified", backend.url(), ""),
        ],
        &DEFAULTS,
    );
    let mut r = Running::start(&checks, DEADLINE);

    // The verified check rejects the self-signed certificate and goes down
    // with a reason that says so.
    let t = r.expect("verified", false, "error").await;
    eprintln!("verified check went down: {}", t.detail);
    assert!(t.detail.contains("certificate"), "{t:?}");
    assert!(t.detail.contains("insecure = true"), "{t:?}");
    let s = r.status("verified");
    assert_eq!(s.reason.as_deref(), Some("error"), "{s:#?}");
    assert!(
        s.detail.as_deref().unwrap_or("").contains("certificate"),
        "{s:#?}"
    );

    // The insecure one talks TLS to the same backend and stays up: several
    // probes (status 200, body "ok") passed in a row, and no transition.
    r.wait_ok_run("insecure", 3).await;
    assert!(r.registry.is_up("insecure"));
    assert_eq!(r.status("insecure").target, backend.url());
    r.expect_quiet();

    // Backend gone: the insecure check goes down, refused.
    backend.stop();
    let t = r.expect("insecure", false, "refused").await;
    assert_eq!(t.detail, "connection refused");
    assert!(!r.registry.is_up("verified"));
    r.registry.shutdown();
}
