//! A real HTTP/1.1 backend for vigia's health checks, on a loopback address,
//! whose behaviour a test switches while it runs: good answers, bad
//! statuses, wrong bodies, hangs, a stopped listener, resets, endless bodies
//! and headers, redirects, or a script. One thread per connection; every
//! request is recorded (when it came, what it got, its Host and path).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the backend answers from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 "ok".
    Ok,
    /// 500 "ok".
    Status500,
    /// 200 "nope" (checks expect "ok").
    WrongBody,
    /// Reads the request, never answers (until the client leaves).
    Hang,
    /// Listener closed: connections are refused.
    Stopped,
    /// Accepts, then resets (SO_LINGER 0).
    Reset,
    /// 200 and a body that never ends.
    EndlessBody,
    /// A status line, then header lines forever.
    HeadersForever,
    /// `100 Continue` heads as fast as the socket takes them, never a
    /// final answer.
    ContinueFlood,
    /// 302 to itself.
    RedirectLoop,
    /// 302 from /health to /other and from anything else back to /health.
    RedirectPingPong,
    /// 302 from /health to /ok, which answers 200 "ok".
    RedirectOnce,
    /// 301 to another origin (nothing listens there).
    RedirectAway,
    /// Answers from the script ([`HttpBackend::set_script`]), one entry per
    /// request, then 200 "ok".
    Script,
}

/// What one request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Served {
    Ok,
    Status500,
    WrongBody,
    Hang,
    Reset,
    EndlessBody,
    HeadersForever,
    ContinueFlood,
    Redirect,
}

/// One request the backend received.
#[derive(Clone, Debug)]
pub struct Request {
    /// When its head had arrived.
    pub at: Instant,
    pub served: Served,
    pub host: Option<String>,
    pub path: String,
}

struct State {
    mode: Mutex<Mode>,
    script: Mutex<VecDeque<Served>>,
    requests: Mutex<Vec<Request>>,
    connections: AtomicU64,
}

impl State {
    /// What a request gets now (recorded).
    fn next(&self, host: Option<String>, path: &str) -> Served {
        let served = match *self.mode.lock().unwrap() {
            // A connection accepted just before the listener closed.
            Mode::Ok | Mode::Stopped => Served::Ok,
            Mode::Status500 => Served::Status500,
            Mode::WrongBody => Served::WrongBody,
            Mode::Hang => Served::Hang,
            Mode::Reset => Served::Reset,
            Mode::EndlessBody => Served::EndlessBody,
            Mode::HeadersForever => Served::HeadersForever,
            Mode::ContinueFlood => Served::ContinueFlood,
            Mode::RedirectLoop | Mode::RedirectPingPong | Mode::RedirectAway => Served::Redirect,
            Mode::RedirectOnce if path == "/health" => Served::Redirect,
            Mode::RedirectOnce => Served::Ok,
            Mode::Script => self.script.lock().unwrap().pop_front().unwrap_or(Served::Ok),
        };
        self.requests.lock().unwrap().push(Request {
            at: Instant::now(),
            served,
            host,
            path: path.to_string(),
        });
        served
    }
}

struct Listening {
    socket: Arc<TcpListener>,
    closing: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The backend; it stops listening when dropped.
pub struct HttpBackend {
    pub addr: SocketAddr,
    state: Arc<State>,
    listening: Mutex<Option<Listening>>,
    /// Times it was stopped.
    stops: AtomicU32,
}

impl HttpBackend {
    /// Listens on a free port of the loopback address `ip`.
    pub fn start(ip: Ipv4Addr, mode: Mode) -> HttpBackend {
        assert!(
            ip.is_loopback(),
            "backends listen on loopback addresses only: {ip}"
        );
        let socket = TcpListener::bind((ip, 0)).expect("bind backend");
        let b = HttpBackend {
            addr: socket.local_addr().unwrap(),
            state: Arc::new(State {
                mode: Mutex::new(mode),
                script: Mutex::new(VecDeque::new()),
                requests: Mutex::new(Vec::new()),
                connections: AtomicU64::new(0),
            }),
            listening: Mutex::new(None),
            stops: AtomicU32::new(0),
        };
        if mode != Mode::Stopped {
            *b.listening.lock().unwrap() = Some(b.listen(socket));
        }
        b
    }

    /// The URL a check probes: `/health`.
    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    fn listen(&self, socket: TcpListener) -> Listening {
        let socket = Arc::new(socket);
        let closing = Arc::new(AtomicBool::new(false));
        let (s, c, state) = (socket.clone(), closing.clone(), self.state.clone());
        let thread = std::thread::spawn(move || loop {
            match s.accept() {
                Ok((conn, _)) => {
                    state.connections.fetch_add(1, Ordering::SeqCst);
                    if *state.mode.lock().unwrap() == Mode::Reset {
                        reset(conn);
                        continue;
                    }
                    let state = state.clone();
                    std::thread::spawn(move || serve_conn(conn, &state));
                }
                Err(_) if c.load(Ordering::SeqCst) => return,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        });
        Listening {
            socket,
            closing,
            thread,
        }
    }

    /// Switches behaviour. `Stopped` shuts the listener down (connections
    /// are refused from the moment this returns); any other mode listens
    /// again on the same port.
    pub fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        let mut l = self.listening.lock().unwrap();
        match (mode, l.is_some()) {
            (Mode::Stopped, true) => {
                self.stops.fetch_add(1, Ordering::SeqCst);
                close(l.take().unwrap());
            }
            (Mode::Stopped, false) | (_, true) => {}
            (_, false) => {
                let socket = TcpListener::bind(self.addr).expect("listen again on the same port");
                *l = Some(self.listen(socket));
            }
        }
    }

    /// Answers from `script` ("+" 200 ok, "-" 500), one per request.
    pub fn set_script(&self, script: &str) {
        *self.state.script.lock().unwrap() = script
            .chars()
            .map(|c| if c == '+' { Served::Ok } else { Served::Status500 })
            .collect();
        self.set(Mode::Script);
    }

    /// Script entries not used yet.
    pub fn script_left(&self) -> usize {
        self.state.script.lock().unwrap().len()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many requests so far.
    pub fn request_count(&self) -> u64 {
        self.state.requests.lock().unwrap().len() as u64
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Times the backend was stopped.
    pub fn stops(&self) -> u32 {
        self.stops.load(Ordering::SeqCst)
    }

    /// The Host header of the last request.
    pub fn last_host(&self) -> Option<String> {
        self.state
            .requests
            .lock()
            .unwrap()
            .last()
            .and_then(|r| r.host.clone())
    }

    /// Requests served as `what` since `since`, up to `until`.
    pub fn served_between(&self, what: Served, since: Instant, until: Instant) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.served == what && r.at >= since && r.at <= until)
            .count()
    }

    /// Requests since `since`, up to `until`.
    pub fn requests_between(&self, since: Instant, until: Instant) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.at >= since && r.at <= until)
            .count()
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        if let Some(l) = self.listening.lock().unwrap().take() {
            close(l);
        }
    }
}

fn close(l: Listening) {
    l.closing.store(true, Ordering::SeqCst);
    // Wakes the blocked accept() and refuses every new connection.
    let _ = socket2::SockRef::from(&*l.socket).shutdown(std::net::Shutdown::Both);
    let _ = l.thread.join();
}

/// Drops `s` with SO_LINGER 0: the client sees a reset.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
}

/// Answers requests on one connection, kept open for more unless the client
/// asks otherwise, like a real HTTP/1.1 server (a prober that reused
/// connections would show as more requests than connections).
fn serve_conn(mut s: TcpStream, state: &State) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    while let Some(head) = read_head(&mut s, &mut buf) {
        let header = |name: &str| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mode = *state.mode.lock().unwrap();
        let served = state.next(header("host"), &path);
        let answer = |status: &str, body: &str| {
            let conn = if close { "Connection: close\r\n" } else { "" };
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{conn}\r\n{body}",
                body.len()
            )
        };
        let complete = match (served, mode) {
            (Served::Ok, _) => answer("200 OK", "ok"),
            (Served::Status500, _) => answer("500 Internal Server Error", "ok"),
            (Served::WrongBody, _) => answer("200 OK", "nope"),
            (Served::Redirect, Mode::RedirectPingPong) if path == "/health" => {
                answer("302 Found\r\nLocation: /other", "")
            }
            (Served::Redirect, Mode::RedirectOnce) => answer("302 Found\r\nLocation: /ok", ""),
            (Served::Redirect, Mode::RedirectAway) => {
                answer("301 Moved\r\nLocation: http://127.0.0.1:1/health", "")
            }
            (Served::Redirect, _) => answer("302 Found\r\nLocation: /health", ""),
            (Served::Hang, _) => {
                // Hold the connection until the prober gives up.
                let mut sink = [0u8; 512];
                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            (Served::Reset, _) => return reset(s),
            (Served::EndlessBody, _) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let chunk = vec![b'x'; 8192];
                while s.write_all(&chunk).is_ok() {}
                return;
            }
            (Served::ContinueFlood, _) => {
                // Until the prober hangs up.
                let heads = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
                while s.write_all(&heads).is_ok() {}
                return;
            }
            (Served::HeadersForever, _) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
                while s.write_all(b"X-Slow: still-going\r\n").is_ok() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
        };
        if s.write_all(complete.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// Reads up to the end of a request head (a request has no body here),
/// keeping what follows in `buf`; None at EOF, on error or past 16 KiB.
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            return Some(head);
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
