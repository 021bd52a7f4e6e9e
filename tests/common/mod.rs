//! Shared harness for the integration and differential suites.
//!
//! - [`Server`]: a running `vigia serve` on a free loopback port, killed on drop;
//! - [`Named`]: a running BIND `named` with the same zones, killed on drop;
//! - a raw DNS client ([`query_udp`], [`query_tcp`], [`axfr_tcp`]) with
//!   2-second deadlines, a query builder ([`Q`]) that can produce anything from
//!   a plain query to a malformed one, and a small, self-contained wire parser
//!   ([`parse`]) plus a normaliser ([`Norm`]) that turns a response into
//!   something two servers' answers can be compared with;
//! - [`hickory`]: the same, through hickory-proto, as a cross-check of the
//!   raw path.
//!
//! Only loopback addresses are ever used as targets.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn zone_paladar() -> PathBuf {
    manifest_dir().join("zones/db.no-paladar.com.br")
}

pub fn zone_reverse() -> PathBuf {
    manifest_dir().join("zones/db.0.168.192.in-addr.arpa")
}

/// tests/data/zones/db.edge.test (VIGIA_TEST_EDGE_ZONE overrides it).
pub fn zone_edge() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIA_TEST_EDGE_ZONE") {
        return PathBuf::from(p);
    }
    manifest_dir().join("tests/data/zones/db.edge.test")
}

pub fn vigia_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigia")
}

/// The three zones of the suites: (origin without trailing dot, file).
pub fn all_zones() -> Vec<ZoneSpec> {
    let mut v = vec![
        ZoneSpec::new("no-paladar.com.br", zone_paladar()),
        ZoneSpec::new("0.168.192.in-addr.arpa", zone_reverse()),
    ];
    if zone_edge().exists() {
        v.push(ZoneSpec::new("edge.test", zone_edge()));
    } else {
        eprintln!(
            "WARNING: {} does not exist (yet); edge.test is not served",
            zone_edge().display()
        );
    }
    v
}

// ---------------------------------------------------------------------------
// Temp dirs and ports
// ---------------------------------------------------------------------------

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop (kept when
/// VIGIA_KEEP_TMP is set, for debugging).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("vigia-test-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("VIGIA_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free for both UDP and TCP on `ip` (a loopback address), never handed
/// out twice by this process.
pub fn free_port(ip: Ipv4Addr) -> u16 {
    assert!(ip.is_loopback(), "only loopback addresses may be used");
    for _ in 0..200 {
        let Ok(t) = TcpListener::bind((ip, 0)) else {
            continue;
        };
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind((ip, port)).is_err() {
            continue;
        }
        let mut g = PORTS.lock().unwrap();
        let set = g.get_or_insert_with(HashSet::new);
        if set.insert(port) {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

// ---------------------------------------------------------------------------
// vigia
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct ZoneSpec {
    pub name: String,
    pub file: PathBuf,
    /// CIDRs allowed to AXFR.
    pub allow_transfer: Vec<String>,
}

impl ZoneSpec {
    pub fn new(name: &str, file: PathBuf) -> ZoneSpec {
        ZoneSpec {
            name: name.to_string(),
            file,
            allow_transfer: vec!["127.0.0.0/8".to_string()],
        }
    }
    pub fn allow(mut self, cidrs: &[&str]) -> ZoneSpec {
        self.allow_transfer = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub zones: Vec<ZoneSpec>,
    pub edns_udp_size: Option<u16>,
    pub tcp_idle_timeout: Option<String>,
    /// `[server] state_dir`; default: `state` in the server's temp dir.
    pub state_dir: Option<PathBuf>,
    /// Loopback address to listen on; default 127.0.0.1.
    pub listen_ip: Option<Ipv4Addr>,
    /// Raw TOML appended to the `[server]` table.
    pub server_extra: String,
    /// Raw TOML appended to the config.
    pub extra: String,
    /// RLIMIT_NOFILE (soft, hard) set in the child before it runs, as a
    /// shell's `ulimit -n` would.
    pub nofile: Option<(u64, u64)>,
}

impl ServerOpts {
    pub fn new(zones: Vec<ZoneSpec>) -> ServerOpts {
        ServerOpts {
            zones,
            ..Default::default()
        }
    }
}

fn toml_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A running `vigia serve`, killed on drop.
pub struct Server {
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    pub config: PathBuf,
    /// Its `[server] state_dir`.
    pub state_dir: PathBuf,
    child: Child,
    stderr_path: PathBuf,
    pub dir: TempDir,
}

impl Server {
    /// The three zones, AXFR allowed from 127.0.0.0/8, defaults otherwise.
    pub fn start_default() -> Server {
        Server::start(ServerOpts::new(all_zones()))
    }

    pub fn start(opts: ServerOpts) -> Server {
        let ip = opts.listen_ip.unwrap_or(Ipv4Addr::LOCALHOST);
        let port = free_port(ip);
        let mport = free_port(Ipv4Addr::LOCALHOST);
        let dir = TempDir::new("vigia");
        let state_dir = opts.state_dir.clone().unwrap_or_else(|| dir.path().join("state"));
        let mut cfg = String::new();
        writeln!(cfg, "[server]").unwrap();
        writeln!(cfg, "listen = [\"{ip}:{port}\"]").unwrap();
        writeln!(cfg, "state_dir = {}", toml_str(&state_dir.to_string_lossy())).unwrap();
        cfg.push_str(&opts.server_extra);
        if let Some(s) = opts.edns_udp_size {
            writeln!(cfg, "edns_udp_size = {s}").unwrap();
        }
        if let Some(t) = &opts.tcp_idle_timeout {
            writeln!(cfg, "tcp_idle_timeout = {}", toml_str(t)).unwrap();
        }
        for z in &opts.zones {
            writeln!(cfg, "\n[[zone]]").unwrap();
            writeln!(cfg, "name = {}", toml_str(&z.name)).unwrap();
            writeln!(cfg, "file = {}", toml_str(&z.file.to_string_lossy())).unwrap();
            let list: Vec<String> = z.allow_transfer.iter().map(|c| toml_str(c)).collect();
            writeln!(cfg, "allow_transfer = [{}]", list.join(", ")).unwrap();
        }
        writeln!(cfg, "\n[metrics]\nlisten = \"127.0.0.1:{mport}\"").unwrap();
        writeln!(cfg, "\n[log]\nlevel = \"info\"").unwrap();
        cfg.push_str(&opts.extra);
        let config = dir.path().join("vigia.toml");
        std::fs::write(&config, &cfg).unwrap();
        let probe = opts
            .zones
            .first()
            .map(|z| z.name.clone())
            .unwrap_or_else(|| "no-paladar.com.br".into());
        Server::spawn(
            config,
            SocketAddr::from((ip, port)),
            SocketAddr::from((Ipv4Addr::LOCALHOST, mport)),
            (state_dir, dir),
            &probe,
            &cfg,
            opts.nofile,
        )
    }

    /// `vigia serve` with a config written elsewhere (e.g. by `vigia
    /// import-bind`), which listens on `addr` with metrics on `metrics`;
    /// waits until it answers SOA for `probe`. A config without a
    /// `state_dir` gets one in `dir` (never the host's /var/lib/vigia).
    pub fn start_with_config(
        config: PathBuf,
        addr: SocketAddr,
        metrics: SocketAddr,
        dir: TempDir,
        probe: &str,
    ) -> Server {
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        let state_dir = dir.path().join("state");
        if !text.lines().any(|l| l.trim_start().starts_with("state_dir")) {
            let line = format!("state_dir = {}\n", toml_str(&state_dir.to_string_lossy()));
            text = match text.find("[server]\n") {
                Some(at) => format!("{}{line}{}", &text[..at + 9], &text[at + 9..]),
                None => format!("[server]\n{line}\n{text}"),
            };
            std::fs::write(&config, &text).expect("write the config back");
        }
        Server::spawn(config, addr, metrics, (state_dir, dir), probe, &text, None)
    }

    fn spawn(
        config: PathBuf,
        addr: SocketAddr,
        metrics: SocketAddr,
        (state_dir, dir): (PathBuf, TempDir),
        probe: &str,
        cfg: &str,
        nofile: Option<(u64, u64)>,
    ) -> Server {
        let stderr_path = dir.path().join("vigia.stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(vigia_bin());
        if let Some((soft, hard)) = nofile {
            limit_nofile(&mut cmd, soft, hard);
        }
        let child = cmd
            .arg("serve")
            .arg("--config")
            .arg(&config)
            // Tests read vigia's info-level log lines: the config decides.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().unwrap())
            .stderr(stderr)
            .spawn()
            .expect("spawn vigia");
        let mut s = Server {
            addr,
            metrics,
            config,
            state_dir,
            child,
            stderr_path,
            dir,
        };
        s.wait_ready(probe, cfg);
        s
    }

    fn wait_ready(&mut self, zone: &str, cfg: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let q = Q::new(zone, SOA).id(0x5151).build();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "vigia exited early ({st}) with config\n{cfg}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            if let Some(r) = query_udp_timeout(self.addr, &q, Duration::from_millis(200)) {
                if let Ok(m) = parse(&r) {
                    if m.rcode == 0 && !m.answer.is_empty() {
                        return;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "vigia did not answer SOA {zone} on {} within 10 s; config\n{cfg}\n--- stderr ---\n{}",
                    self.addr,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The process id of this `vigia serve`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
    /// UDP query that must be answered and parse.
    pub fn ask(&self, q: &Q) -> Msg {
        let bytes = q.build();
        let r = self
            .udp(&bytes)
            .unwrap_or_else(|| panic!("no UDP answer to {q:?}\n--- stderr ---\n{}", self.stderr()));
        parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
    }
    /// TCP query that must be answered and parse.
    pub fn ask_tcp(&self, q: &Q) -> Msg {
        let bytes = q.build();
        let r = self
            .tcp(&bytes)
            .unwrap_or_else(|| panic!("no TCP answer to {q:?}\n--- stderr ---\n{}", self.stderr()));
        parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- vigia stderr ({}) ---\n{}",
                self.addr,
                tail(&self.stderr(), 60)
            );
        }
    }
}

/// Sets RLIMIT_NOFILE to `soft` and `hard` in the child before it runs.
pub fn limit_nofile(cmd: &mut Command, soft: u64, hard: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `vigia check --config PATH`: (success, stdout, stderr).
pub fn vigia_check(config: &Path) -> (bool, String, String) {
    let out = Command::new(vigia_bin())
        .arg("check")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("run vigia check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// named
// ---------------------------------------------------------------------------

pub fn find_named() -> Option<PathBuf> {
    for p in ["/usr/sbin/named", "/usr/local/sbin/named", "/usr/bin/named"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg("command -v named")
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !s.is_empty() {
        Some(PathBuf::from(s))
    } else {
        None
    }
}

/// `named`'s path, or None if it is missing and the suite may be skipped.
/// In CI (CI=true) a missing named fails the test.
pub fn named_or_skip(test: &str) -> Option<PathBuf> {
    match find_named() {
        Some(p) => Some(p),
        None => {
            let ci = std::env::var("CI")
                .map(|v| v == "true" || v == "1")
                .unwrap_or(false);
            if ci {
                panic!("{test}: BIND `named` is not installed, and CI=true: install bind9 (apt-get install bind9 bind9-dnsutils)");
            }
            eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            eprintln!("!!! SKIPPED {test}: BIND `named` is not installed (apt-get install bind9).");
            eprintln!("!!! This test did NOT run; it is not a pass. Set CI=true to make it fail.");
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
            None
        }
    }
}

/// A running BIND `named` serving `zones` as primary, killed on drop.
pub struct Named {
    pub addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
    pub dir: TempDir,
}

impl Named {
    /// `allow_transfer`: BIND address-match-list elements, e.g. `["127.0.0.0/8"]`
    /// (`[]` = `none`).
    pub fn start(named: &Path, zones: &[ZoneSpec], allow_transfer: &[&str]) -> Named {
        Named::start_with(named, zones, allow_transfer, "")
    }

    /// [`Named::start`] with `options` added to the `options { }` block
    /// (e.g. `server-id "a"; cookie-secret "...";`).
    pub fn start_with(named: &Path, zones: &[ZoneSpec], allow_transfer: &[&str], options: &str) -> Named {
        let ip = Ipv4Addr::LOCALHOST; // named only listens on configured interface addresses
        let port = free_port(ip);
        let dir = TempDir::new("named");
        let d = dir.path().display().to_string();
        let allow = if allow_transfer.is_empty() {
            "none;".to_string()
        } else {
            allow_transfer
                .iter()
                .map(|a| format!("{a};"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer {{ {allow} }};
    // the edge zone has deliberately odd owner names (e.g. "\032")
    check-names primary ignore;
    {options}
}};
controls {{ }};
"#
        );
        for z in zones {
            let zallow = if z.allow_transfer.is_empty() {
                "none;".to_string()
            } else {
                z.allow_transfer
                    .iter()
                    .map(|a| format!("{a};"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(
                conf,
                "zone \"{}\" {{ type primary; file \"{}\"; allow-transfer {{ {zallow} }}; }};",
                z.name,
                z.file.display()
            )
            .unwrap();
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(named)
            .arg("-g")
            .arg("-c")
            .arg(&conf_path)
            .arg("-n")
            .arg("1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn named");
        let mut n = Named {
            addr: SocketAddr::from((ip, port)),
            child,
            log_path,
            dir,
        };
        let probe: Vec<String> = zones.iter().map(|z| z.name.clone()).collect();
        n.wait_serving(&probe, &conf);
        n
    }

    /// `named ARGS` (e.g. an operator's named.conf, with `-t ROOT -c
    /// FILE`) answering on `addr`, its output logged in `dir`; waits until
    /// it answers SOA for every zone of `probe` (15 s).
    pub fn start_args(
        named: &Path,
        args: &[std::ffi::OsString],
        addr: SocketAddr,
        probe: &[String],
        dir: TempDir,
    ) -> Named {
        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(named)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn named");
        let mut n = Named {
            addr,
            child,
            log_path,
            dir,
        };
        n.wait_serving(probe, &format!("named {args:?}"));
        n
    }

    fn wait_serving(&mut self, probe: &[String], conf: &str) {
        let n = self;
        let deadline = Instant::now() + Duration::from_secs(15);
        'wait: loop {
            if let Some(st) = n.child.try_wait().unwrap() {
                panic!(
                    "named exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            let mut all = true;
            for z in probe {
                let q = Q::new(z, SOA).build();
                let ok = query_udp_timeout(n.addr, &q, Duration::from_millis(200))
                    .and_then(|r| parse(&r).ok())
                    .map(|m| m.rcode == 0 && !m.answer.is_empty())
                    .unwrap_or(false);
                all &= ok;
            }
            if all {
                break 'wait;
            }
            if Instant::now() > deadline {
                panic!(
                    "named did not answer within 15 s; conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- named log ---\n{}", tail(&self.log(), 40));
        }
    }
}

// ---------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------

fn assert_loopback(addr: SocketAddr) {
    assert!(
        addr.ip().is_loopback(),
        "refusing to send to non-loopback address {addr}"
    );
}

/// One UDP query, one datagram back (2 s deadline). Answers with a different
/// ID are skipped (stale answers to an earlier timed-out query).
pub fn query_udp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    query_udp_timeout(addr, q, TIMEOUT)
}

pub fn query_udp_timeout(addr: SocketAddr, q: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    assert_loopback(addr);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.connect(addr).ok()?;
    sock.send(q).ok()?;
    recv_udp(&sock, q, timeout)
}

fn recv_udp(sock: &UdpSocket, q: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv(&mut buf) {
            Ok(n) => {
                if q.len() >= 2 && n >= 2 && buf[..2] != q[..2] {
                    continue;
                }
                return Some(buf[..n].to_vec());
            }
            Err(_) => return None,
        }
    }
}

/// Send a datagram and wait `wait` for anything at all to come back.
pub fn udp_expect_silence(addr: SocketAddr, q: &[u8], wait: Duration) -> Option<Vec<u8>> {
    assert_loopback(addr);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.connect(addr).ok()?;
    sock.send(q).ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    let mut buf = vec![0u8; 65535];
    match sock.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

pub fn tcp_connect(addr: SocketAddr) -> Option<TcpStream> {
    assert_loopback(addr);
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    s.set_nodelay(true).ok()?;
    Some(s)
}

/// Frames a message with its 2-byte length.
pub fn tcp_frame(q: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(q.len() + 2);
    v.extend_from_slice(&(q.len() as u16).to_be_bytes());
    v.extend_from_slice(q);
    v
}

/// Reads one length-prefixed message (None on EOF, error or deadline).
pub fn tcp_read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let n = u16::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// One TCP query on a fresh connection (2 s deadline).
pub fn query_tcp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    let mut s = tcp_connect(addr)?;
    s.write_all(&tcp_frame(q)).ok()?;
    tcp_read_msg(&mut s)
}

/// AXFR over TCP: every message until the closing SOA (or error/EOF/deadline
/// of 5 s overall). Returns the raw messages.
pub fn axfr_tcp(addr: SocketAddr, zone: &str) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let Some(mut s) = tcp_connect(addr) else {
        return out;
    };
    let q = Q::new(zone, AXFR).id(0xa0f1).build();
    if s.write_all(&tcp_frame(&q)).is_err() {
        return out;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut soas = 0;
    while Instant::now() < deadline {
        let Some(m) = tcp_read_msg(&mut s) else { break };
        let parsed = parse(&m);
        out.push(m);
        let Ok(p) = parsed else { break };
        if p.rcode != 0 {
            break;
        }
        soas += p.answer.iter().filter(|r| r.rtype == SOA).count();
        if soas >= 2 || p.answer.is_empty() {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Query builder
// ---------------------------------------------------------------------------

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const PTR: u16 = 12;
pub const HINFO: u16 = 13;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;
pub const NAPTR: u16 = 35;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const IXFR: u16 = 251;
pub const AXFR: u16 = 252;
pub const ANY: u16 = 255;
pub const CAA: u16 = 257;
pub const RP: u16 = 17;
pub const DS: u16 = 43;
pub const SSHFP: u16 = 44;
pub const TLSA: u16 = 52;
pub const SPF: u16 = 99;
pub const TYPE65280: u16 = 65280;

pub fn type_name(t: u16) -> String {
    match t {
        A => "A".into(),
        NS => "NS".into(),
        CNAME => "CNAME".into(),
        SOA => "SOA".into(),
        PTR => "PTR".into(),
        HINFO => "HINFO".into(),
        MX => "MX".into(),
        TXT => "TXT".into(),
        AAAA => "AAAA".into(),
        SRV => "SRV".into(),
        NAPTR => "NAPTR".into(),
        DNAME => "DNAME".into(),
        OPT => "OPT".into(),
        RP => "RP".into(),
        SSHFP => "SSHFP".into(),
        TLSA => "TLSA".into(),
        SPF => "SPF".into(),
        43 => "DS".into(),
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        48 => "DNSKEY".into(),
        IXFR => "IXFR".into(),
        AXFR => "AXFR".into(),
        ANY => "ANY".into(),
        CAA => "CAA".into(),
        t => format!("TYPE{t}"),
    }
}

pub fn type_from_name(s: &str) -> Option<u16> {
    let u = s.to_ascii_uppercase();
    if let Some(n) = u.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    [
        A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV, NAPTR, DNAME, OPT, RP, SSHFP, TLSA, SPF, 43, 46,
        47, 48, IXFR, AXFR, ANY, CAA,
    ]
    .into_iter()
    .find(|&t| type_name(t) == u)
}

/// A query, described; `build()` gives its bytes.
#[derive(Clone, Debug)]
pub struct Q {
    pub id: u16,
    /// Presentation form (`\DDD` and `\X` escapes allowed), absolute or not.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub rd: bool,
    pub ad: bool,
    pub cd: bool,
    pub edns: Option<Edns>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub size: u16,
    pub version: u8,
    pub do_bit: bool,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0x1000);

impl Q {
    pub fn new(name: &str, qtype: u16) -> Q {
        Q {
            id: (NEXT_ID.fetch_add(7919, Ordering::Relaxed) & 0xffff) as u16,
            name: name.to_string(),
            qtype,
            qclass: 1,
            opcode: 0,
            rd: false,
            ad: false,
            cd: false,
            edns: None,
        }
    }
    pub fn id(mut self, id: u16) -> Q {
        self.id = id;
        self
    }
    pub fn rd(mut self, rd: bool) -> Q {
        self.rd = rd;
        self
    }
    pub fn class(mut self, c: u16) -> Q {
        self.qclass = c;
        self
    }
    pub fn opcode(mut self, o: u8) -> Q {
        self.opcode = o;
        self
    }
    /// EDNS(0) with this UDP size.
    pub fn edns(mut self, size: u16) -> Q {
        self.edns = Some(Edns {
            size,
            version: 0,
            do_bit: false,
        });
        self
    }
    pub fn edns_full(mut self, size: u16, version: u8, do_bit: bool) -> Q {
        self.edns = Some(Edns {
            size,
            version,
            do_bit,
        });
        self
    }
    pub fn do_bit(mut self) -> Q {
        let mut e = self.edns.unwrap_or(Edns {
            size: 1232,
            version: 0,
            do_bit: false,
        });
        e.do_bit = true;
        self.edns = Some(e);
        self
    }

    pub fn header_flags(&self) -> u16 {
        let mut f: u16 = (self.opcode as u16 & 0xf) << 11;
        if self.rd {
            f |= 0x0100;
        }
        if self.ad {
            f |= 0x0020;
        }
        if self.cd {
            f |= 0x0010;
        }
        f
    }

    pub fn build(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&self.id.to_be_bytes());
        v.extend_from_slice(&self.header_flags().to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&(self.edns.is_some() as u16).to_be_bytes());
        v.extend_from_slice(&encode_name(&self.name));
        v.extend_from_slice(&self.qtype.to_be_bytes());
        v.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(e) = self.edns {
            v.extend_from_slice(&opt_rr(e.size, e.version, e.do_bit, &[]));
        }
        v
    }
}

/// An OPT pseudo-RR with the given fields and raw option bytes.
pub fn opt_rr(size: u16, version: u8, do_bit: bool, options: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8]; // root
    v.extend_from_slice(&OPT.to_be_bytes());
    v.extend_from_slice(&size.to_be_bytes());
    v.push(0); // extended rcode
    v.push(version);
    let flags: u16 = if do_bit { 0x8000 } else { 0 };
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&(options.len() as u16).to_be_bytes());
    v.extend_from_slice(options);
    v
}

/// Wire form of a presentation-format name (`\DDD` / `\X` escapes, relative
/// names are taken as absolute).
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = vec![];
    if name == "." || name.is_empty() {
        out.push(0);
        return out;
    }
    let b = name.as_bytes();
    let mut label: Vec<u8> = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            if i + 3 < b.len() && b[i + 1..i + 4].iter().all(|d| d.is_ascii_digit()) {
                let d = std::str::from_utf8(&b[i + 1..i + 4]).unwrap();
                label.push(d.parse::<u16>().unwrap() as u8);
                i += 4;
            } else {
                label.push(b[i + 1]);
                i += 2;
            }
            continue;
        }
        if c == b'.' {
            out.push(label.len() as u8);
            out.extend_from_slice(&label);
            label.clear();
            i += 1;
            continue;
        }
        label.push(c);
        i += 1;
    }
    if !label.is_empty() {
        out.push(label.len() as u8);
        out.extend_from_slice(&label);
    }
    out.push(0);
    out
}

/// Randomises the case of a name's letters (deterministically from `seed`).
pub fn mix_case(name: &str, seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // copy escapes verbatim
            let n = if i + 3 < b.len() && b[i + 1..i + 4].iter().all(|d| d.is_ascii_digit()) {
                4
            } else {
                2
            };
            out.extend_from_slice(&b[i..(i + n).min(b.len())]);
            i += n;
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if c.is_ascii_alphabetic() && x & 1 == 1 {
            out.push(c ^ 0x20);
        } else {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------
// Wire parser
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    /// Presentation form, case as received.
    pub owner: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Presentation form (names decompressed, case as received).
    pub rdata: String,
    /// Uncompressed wire rdata.
    pub rdata_wire: Vec<u8>,
}

impl Rr {
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.owner,
            self.ttl,
            class_name(self.class),
            type_name(self.rtype),
            self.rdata
        )
    }
}

pub fn class_name(c: u16) -> String {
    match c {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        c => format!("CLASS{c}"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub udp_size: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub do_bit: bool,
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub wire: Vec<u8>,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, Debug)]
pub struct Msg {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// Full rcode (header 4 bits | OPT extended rcode << 4).
    pub rcode: u16,
    pub header_rcode: u8,
    pub counts: [u16; 4],
    pub question: Vec<Question>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// Without the OPT record.
    pub additional: Vec<Rr>,
    pub opt: Option<Opt>,
    pub opt_count: usize,
    /// Bytes of the whole message.
    pub size: usize,
    /// Offset where the question section ends.
    pub question_end: usize,
}

impl Msg {
    pub fn answer_types(&self) -> Vec<u16> {
        self.answer.iter().map(|r| r.rtype).collect()
    }
    pub fn rcode_name(&self) -> String {
        rcode_name(self.rcode)
    }
    pub fn dump(&self) -> String {
        let mut s = String::new();
        writeln!(
            s,
            ";; id {} opcode {} rcode {} flags {} size {}",
            self.id,
            self.opcode,
            self.rcode_name(),
            flags_string(self),
            self.size
        )
        .unwrap();
        if let Some(o) = &self.opt {
            writeln!(
                s,
                ";; OPT udp {} version {} do {} ext {} options {:?}",
                o.udp_size, o.version, o.do_bit, o.ext_rcode, o.options
            )
            .unwrap();
        }
        for q in &self.question {
            writeln!(s, ";{} {} {}", q.name, class_name(q.qclass), type_name(q.qtype)).unwrap();
        }
        for (n, sec) in [
            ("ANSWER", &self.answer),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            writeln!(s, ";; {n}").unwrap();
            for r in sec {
                writeln!(s, "{}", r.line()).unwrap();
            }
        }
        s
    }
}

pub fn rcode_name(r: u16) -> String {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        9 => "NOTAUTH".into(),
        16 => "BADVERS".into(),
        23 => "BADCOOKIE".into(),
        r => format!("RCODE{r}"),
    }
}

pub fn flags_string(m: &Msg) -> String {
    let mut v = vec![];
    if m.qr {
        v.push("qr");
    }
    if m.aa {
        v.push("aa");
    }
    if m.tc {
        v.push("tc");
    }
    if m.rd {
        v.push("rd");
    }
    if m.ra {
        v.push("ra");
    }
    if m.z {
        v.push("z");
    }
    if m.ad {
        v.push("ad");
    }
    if m.cd {
        v.push("cd");
    }
    v.join(" ")
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or("short read (u8)")?;
        self.pos += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(((self.u8()? as u16) << 8) | self.u8()? as u16)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(((self.u16()? as u32) << 16) | self.u16()? as u32)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.pos + n > self.b.len() {
            return Err(format!("short read ({n} bytes at {})", self.pos));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// A possibly compressed name: (uncompressed wire form).
    fn name(&mut self) -> Result<Vec<u8>, String> {
        let mut out = vec![];
        let mut pos = self.pos;
        let mut jumped = false;
        let mut hops = 0;
        loop {
            let len = *self.b.get(pos).ok_or("short name")?;
            if len & 0xc0 == 0xc0 {
                let lo = *self.b.get(pos + 1).ok_or("short pointer")?;
                if !jumped {
                    self.pos = pos + 2;
                    jumped = true;
                }
                let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                if target >= pos {
                    return Err("forward compression pointer".into());
                }
                pos = target;
                hops += 1;
                if hops > 128 {
                    return Err("pointer loop".into());
                }
                continue;
            }
            if len & 0xc0 != 0 {
                return Err("bad label type".into());
            }
            out.push(len);
            if len == 0 {
                if !jumped {
                    self.pos = pos + 1;
                }
                break;
            }
            let l = self.b.get(pos + 1..pos + 1 + len as usize).ok_or("short label")?;
            out.extend_from_slice(l);
            pos += 1 + len as usize;
            if out.len() > 255 {
                return Err("name too long".into());
            }
        }
        Ok(out)
    }
}

/// Presentation form of an uncompressed wire name.
pub fn name_to_string(wire: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < wire.len() {
        let len = wire[i] as usize;
        if len == 0 {
            break;
        }
        for &c in &wire[i + 1..(i + 1 + len).min(wire.len())] {
            match c {
                b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(c as char);
                }
                0x21..=0x7e => s.push(c as char),
                _ => write!(s, "\\{:03}", c).unwrap(),
            }
        }
        s.push('.');
        i += 1 + len;
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn txt_string(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => write!(s, "\\{:03}", c).unwrap(),
        }
    }
    s.push('"');
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn generic(b: &[u8]) -> String {
    if b.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {}", b.len(), hex(b))
    }
}

/// Rdata presentation and uncompressed wire form.
fn rdata(msg: &[u8], start: usize, len: usize, rtype: u16) -> Result<(String, Vec<u8>), String> {
    let end = start + len;
    if end > msg.len() {
        return Err("rdata past end".into());
    }
    let raw = &msg[start..end];
    let mut r = Rd { b: msg, pos: start };
    // types whose names may be compressed: decompress them
    let res: Result<(String, Vec<u8>), String> = (|| {
        Ok(match rtype {
            A if len == 4 => (
                format!("{}.{}.{}.{}", raw[0], raw[1], raw[2], raw[3]),
                raw.to_vec(),
            ),
            AAAA if len == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(raw);
                (std::net::Ipv6Addr::from(a).to_string(), raw.to_vec())
            }
            NS | CNAME | PTR | DNAME => {
                let n = r.name()?;
                (name_to_string(&n), n)
            }
            RP => {
                let m = r.name()?;
                let t = r.name()?;
                let mut w = m.clone();
                w.extend_from_slice(&t);
                (format!("{} {}", name_to_string(&m), name_to_string(&t)), w)
            }
            MX => {
                let p = r.u16()?;
                let n = r.name()?;
                let mut w = p.to_be_bytes().to_vec();
                w.extend_from_slice(&n);
                (format!("{p} {}", name_to_string(&n)), w)
            }
            SOA => {
                let m = r.name()?;
                let rn = r.name()?;
                let nums = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
                let mut w = m.clone();
                w.extend_from_slice(&rn);
                for x in nums {
                    w.extend_from_slice(&x.to_be_bytes());
                }
                (
                    format!(
                        "{} {} {} {} {} {} {}",
                        name_to_string(&m),
                        name_to_string(&rn),
                        nums[0],
                        nums[1],
                        nums[2],
                        nums[3],
                        nums[4]
                    ),
                    w,
                )
            }
            TXT | 99 => {
                let mut parts = vec![];
                let mut i = 0;
                while i < len {
                    let l = raw[i] as usize;
                    if i + 1 + l > len {
                        return Err("bad TXT".into());
                    }
                    parts.push(txt_string(&raw[i + 1..i + 1 + l]));
                    i += 1 + l;
                }
                (parts.join(" "), raw.to_vec())
            }
            HINFO => {
                let mut parts = vec![];
                let mut i = 0;
                while i < len {
                    let l = raw[i] as usize;
                    if i + 1 + l > len {
                        return Err("bad HINFO".into());
                    }
                    parts.push(txt_string(&raw[i + 1..i + 1 + l]));
                    i += 1 + l;
                }
                (parts.join(" "), raw.to_vec())
            }
            SRV => {
                let (p, w, port) = (r.u16()?, r.u16()?, r.u16()?);
                let n = r.name()?;
                let mut wire = raw[..6].to_vec();
                wire.extend_from_slice(&n);
                (format!("{p} {w} {port} {}", name_to_string(&n)), wire)
            }
            NAPTR => {
                let (o, p) = (r.u16()?, r.u16()?);
                let mut strs = vec![];
                for _ in 0..3 {
                    let l = r.u8()? as usize;
                    strs.push(txt_string(r.bytes(l)?));
                }
                let start_n = r.pos;
                let n = r.name()?;
                let mut wire = msg[start..start_n].to_vec();
                wire.extend_from_slice(&n);
                (format!("{o} {p} {} {}", strs.join(" "), name_to_string(&n)), wire)
            }
            CAA if len >= 2 => {
                let flags = raw[0];
                let tl = raw[1] as usize;
                if 2 + tl > len {
                    return Err("bad CAA".into());
                }
                let tag = String::from_utf8_lossy(&raw[2..2 + tl]).into_owned();
                (
                    format!("{flags} {tag} {}", txt_string(&raw[2 + tl..])),
                    raw.to_vec(),
                )
            }
            _ => (generic(raw), raw.to_vec()),
        })
    })();
    let (s, w) = res?;
    if !matches!(rtype, A | AAAA | TXT | 99 | HINFO | CAA) && r.pos != end && r.pos != start {
        return Err(format!("rdata length mismatch for {}", type_name(rtype)));
    }
    Ok((s, w))
}

fn read_rr(r: &mut Rd, msg: &[u8]) -> Result<(Rr, bool, u32, u16), String> {
    let owner = r.name()?;
    let rtype = r.u16()?;
    let class = r.u16()?;
    let ttl = r.u32()?;
    let rdlen = r.u16()? as usize;
    let start = r.pos;
    r.bytes(rdlen)?;
    let (rdata_s, rdata_wire) = rdata(msg, start, rdlen, rtype)?;
    Ok((
        Rr {
            owner: name_to_string(&owner),
            rtype,
            class,
            ttl,
            rdata: rdata_s,
            rdata_wire,
        },
        rtype == OPT,
        ttl,
        class,
    ))
}

/// Parses a whole DNS message; errors on anything malformed (including
/// trailing garbage).
pub fn parse(b: &[u8]) -> Result<Msg, String> {
    let mut r = Rd { b, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    let mut m = Msg {
        id,
        qr: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: flags & 0x0040 != 0,
        ad: flags & 0x0020 != 0,
        cd: flags & 0x0010 != 0,
        rcode: flags & 0xf,
        header_rcode: (flags & 0xf) as u8,
        counts,
        question: vec![],
        answer: vec![],
        authority: vec![],
        additional: vec![],
        opt: None,
        opt_count: 0,
        size: b.len(),
        question_end: 0,
    };
    for _ in 0..counts[0] {
        let n = r.name()?;
        let qtype = r.u16()?;
        let qclass = r.u16()?;
        m.question.push(Question {
            name: name_to_string(&n),
            wire: n,
            qtype,
            qclass,
        });
    }
    m.question_end = r.pos;
    for (sec, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            let (rr, is_opt, ttl, class) = read_rr(&mut r, b)?;
            if is_opt {
                if sec != 2 {
                    return Err("OPT outside ADDITIONAL".into());
                }
                m.opt_count += 1;
                let mut options = vec![];
                let w = &rr.rdata_wire;
                let mut i = 0;
                while i + 4 <= w.len() {
                    let code = u16::from_be_bytes([w[i], w[i + 1]]);
                    let l = u16::from_be_bytes([w[i + 2], w[i + 3]]) as usize;
                    options.push((code, w[i + 4..(i + 4 + l).min(w.len())].to_vec()));
                    i += 4 + l;
                }
                m.opt = Some(Opt {
                    udp_size: class,
                    ext_rcode: (ttl >> 24) as u8,
                    version: (ttl >> 16) as u8,
                    do_bit: ttl & 0x8000 != 0,
                    z: (ttl & 0x7fff) as u16,
                    options,
                });
                continue;
            }
            match sec {
                0 => m.answer.push(rr),
                1 => m.authority.push(rr),
                _ => m.additional.push(rr),
            }
        }
    }
    if r.pos != b.len() {
        return Err(format!("{} bytes of trailing garbage", b.len() - r.pos));
    }
    if let Some(o) = &m.opt {
        m.rcode |= (o.ext_rcode as u16) << 4;
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Normalised responses
// ---------------------------------------------------------------------------

/// A response reduced to what two servers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Norm {
    pub rcode: String,
    /// "aa tc rd ra ad cd" subset (QR and opcode checked separately).
    pub flags: String,
    pub opcode: u8,
    pub qr: bool,
    pub question: Vec<String>,
    pub answer: BTreeSet<String>,
    pub authority: BTreeSet<String>,
    pub additional: BTreeSet<String>,
    /// "version=0 udp=1232 do=0 options=[]" or "none"; multiple OPTs noted.
    pub opt: String,
}

/// One RR as a comparable line: lower-cased owner, type, class, TTL, rdata.
pub fn norm_rr(r: &Rr) -> String {
    format!(
        "{} {} {} {} {}",
        r.owner.to_ascii_lowercase(),
        type_name(r.rtype),
        class_name(r.class),
        r.ttl,
        r.rdata
    )
}

pub fn normalise(m: &Msg) -> Norm {
    let mut flags = vec![];
    for (on, n) in [
        (m.aa, "aa"),
        (m.tc, "tc"),
        (m.rd, "rd"),
        (m.ra, "ra"),
        (m.ad, "ad"),
        (m.cd, "cd"),
    ] {
        if on {
            flags.push(n);
        }
    }
    let opt = match &m.opt {
        None => "none".to_string(),
        Some(o) => {
            let codes: Vec<u16> = o.options.iter().map(|(c, _)| *c).collect();
            format!(
                "version={} udp={} do={} options={:?}{}",
                o.version,
                o.udp_size,
                o.do_bit as u8,
                codes,
                if m.opt_count > 1 {
                    format!(" count={}", m.opt_count)
                } else {
                    String::new()
                }
            )
        }
    };
    Norm {
        rcode: m.rcode_name(),
        flags: flags.join(" "),
        opcode: m.opcode,
        qr: m.qr,
        question: m
            .question
            .iter()
            .map(|q| format!("{} {} {}", q.name, class_name(q.qclass), type_name(q.qtype)))
            .collect(),
        answer: m.answer.iter().map(norm_rr).collect(),
        authority: m.authority.iter().map(norm_rr).collect(),
        additional: m.additional.iter().map(norm_rr).collect(),
        opt,
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  rcode={} flags=[{}] opcode={} qr={} opt={}",
            self.rcode, self.flags, self.opcode, self.qr as u8, self.opt
        )?;
        for q in &self.question {
            writeln!(f, "  Q  {q}")?;
        }
        for (n, s) in [
            ("AN", &self.answer),
            ("AU", &self.authority),
            ("AD", &self.additional),
        ] {
            for r in s {
                writeln!(f, "  {n} {r}")?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Zone data (from an AXFR), used to generate queries
// ---------------------------------------------------------------------------

/// Every record of a zone as (owner presentation, type) from an AXFR.
pub fn axfr_records(addr: SocketAddr, zone: &str) -> Vec<Rr> {
    let msgs = axfr_tcp(addr, zone);
    let mut out = vec![];
    for m in msgs {
        if let Ok(p) = parse(&m) {
            out.extend(p.answer);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// hickory-proto cross-check
// ---------------------------------------------------------------------------

/// The differential and consensus suites' query corpus.
/// Makes a combined signing key (ECDSA P-256) for each zone in `dir`
/// (created mode 0700), as `vigia dnssec keygen` does; returns each
/// zone's DS record as a zone-file line (a resolver's trust anchor).
pub fn dnssec_keys(dir: &Path, zones: &[&str]) -> Vec<String> {
    use std::os::unix::fs::DirBuilderExt as _;
    use vigia::dnssec::keyfile::write_key_pair;
    use vigia::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    zones
        .iter()
        .map(|z| {
            let origin = vigia::dns::Name::parse(&format!("{}.", z.trim_end_matches('.')), None).unwrap();
            let keys = generate_keys(origin.wire(), Algorithm::EcdsaP256Sha256, KeyScheme::Csk, now).unwrap();
            write_key_pair(&keys[0], dir).unwrap();
            keys[0].ds_line()
        })
        .collect()
}

pub mod cases;
pub mod lifecycle;
pub mod process;
pub mod site_vigia;
pub mod web_backend;

/// Knot DNS and NSD as reference servers (consensus suites).
pub mod refs;

pub mod hickory {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    use std::str::FromStr;

    /// A query built with hickory-proto.
    pub fn query(name: &str, rtype: RecordType, edns: Option<(u16, bool)>, rd: bool) -> Vec<u8> {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = rd;
        m.add_query(Query::query(Name::from_str(name).unwrap(), rtype));
        if let Some((size, dnssec_ok)) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(dnssec_ok);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    /// Decodes with hickory-proto.
    pub fn decode(b: &[u8]) -> Result<Message, String> {
        Message::from_vec(b).map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------------------
// Admin API (/metrics, /status, drain) over plain HTTP/1.1
// ---------------------------------------------------------------------------

pub mod admin {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// One request on a fresh connection (`Connection: close`) to a loopback
    /// address: (status, body). None if the connection or the exchange
    /// failed, or the answer is not HTTP.
    pub fn request(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
        assert!(
            addr.ip().is_loopback(),
            "refusing to send to non-loopback address {addr}"
        );
        let mut s = TcpStream::connect_timeout(&addr, super::TIMEOUT).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.set_write_timeout(Some(super::TIMEOUT)).ok()?;
        let body = if method == "POST" {
            "Content-Length: 0\r\n"
        } else {
            ""
        };
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{body}Connection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    }

    /// A request that must be answered.
    pub fn must(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
        request(addr, method, path).unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on {addr}"))
    }

    /// `GET /metrics`, which must answer 200.
    pub fn scrape(addr: SocketAddr) -> String {
        let (status, body) = must(addr, "GET", "/metrics");
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }

    /// `GET /status` as JSON, which must answer 200.
    pub fn status(addr: SocketAddr) -> serde_json::Value {
        let (code, body) = must(addr, "GET", "/status");
        assert_eq!(code, 200, "GET /status: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
    }
}

// ---------------------------------------------------------------------------
// Prometheus text exposition format
// ---------------------------------------------------------------------------

pub mod prom {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    pub struct Sample {
        pub name: String,
        pub labels: BTreeMap<String, String>,
        pub value: f64,
    }

    /// Parses the text exposition format strictly enough to catch mistakes:
    /// every sample belongs to a family announced by `# HELP` and `# TYPE`
    /// before it, label values are quoted and escaped, values are numbers,
    /// counters end in `_total` and are never negative.
    pub fn parse(text: &str) -> Vec<Sample> {
        let mut help = BTreeMap::new();
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, h) = rest.split_once(' ').unwrap_or_else(|| panic!("bad HELP: {line}"));
                assert!(!h.is_empty(), "empty HELP: {line}");
                assert!(
                    help.insert(name.to_string(), h.to_string()).is_none(),
                    "HELP twice: {line}"
                );
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, t) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE: {line}"));
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "{line}"
                );
                assert!(help.contains_key(name), "TYPE before HELP: {line}");
                types.insert(name.to_string(), t.to_string());
                continue;
            }
            assert!(!line.starts_with('#'), "stray comment: {line}");
            let s = parse_sample(line);
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let base = s.name.strip_suffix(suffix)?;
                    (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
                })
                .unwrap_or_else(|| s.name.clone());
            assert!(types.contains_key(&family), "sample without TYPE: {line}");
            if types[&family] == "counter" {
                assert!(family.ends_with("_total") && s.value >= 0.0, "{line}");
            }
            out.push(s);
        }
        out
    }

    pub fn parse_sample(line: &str) -> Sample {
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("bad sample: {line}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                let (start, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated labels: {line}"));
                if c == '}' {
                    rest = &r[start + 1..];
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = r[start..]
                    .find('=')
                    .unwrap_or_else(|| panic!("label without '=': {line}"))
                    + start;
                let key = &r[start..eq];
                while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                    chars.next();
                }
                assert_eq!(
                    chars.next().map(|(_, c)| c),
                    Some('"'),
                    "unquoted label value: {line}"
                );
                let mut value = String::new();
                loop {
                    match chars
                        .next()
                        .unwrap_or_else(|| panic!("unterminated label value: {line}"))
                        .1
                    {
                        '"' => break,
                        '\\' => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            c => panic!("bad escape \\{c}: {line}"),
                        },
                        c => value.push(c),
                    }
                }
                assert!(
                    labels.insert(key.to_string(), value).is_none(),
                    "label twice: {line}"
                );
            }
        }
        let value_text = rest.trim();
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
        };
        Sample {
            name: name.to_string(),
            labels,
            value,
        }
    }

    /// Samples named `name` having (at least) these labels.
    pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
        samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample named `name` with these labels.
    pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = find(samples, name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    /// Runs `promtool check metrics` on the text; skipped (saying so) when
    /// /usr/bin/promtool is not installed, failed in CI (CI=true).
    pub fn promtool_check(text: &str) {
        let promtool = std::path::Path::new("/usr/bin/promtool");
        if !promtool.exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("promtool is not installed, and CI=true: install prometheus");
            }
            eprintln!("SKIPPED promtool check metrics: /usr/bin/promtool is not installed");
            return;
        }
        use std::io::Write;
        let mut child = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run promtool");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics failed:\n{}{}\n---\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------
// named as a secondary (tests/secondary_bind.rs)
// ---------------------------------------------------------------------------

/// A TSIG key for named's config: (name, algorithm, base64 secret).
pub type NamedKey<'a> = (&'a str, &'a str, &'a str);

impl Named {
    /// `named` on 127.0.0.1:`port` as secondary for `zone` from `primary`
    /// (a loopback vigia), configured as docs/operations.md section 11
    /// shows it, with BIND's defaults: NOTIFY is accepted from the primary's
    /// address only, IXFR is asked for; transfers signed with `key` if
    /// given. Waits until the zone is served (first transfer done), up to
    /// 15 s.
    pub fn start_secondary(
        named: &Path,
        port: u16,
        zone: &str,
        primary: SocketAddr,
        key: Option<NamedKey<'_>>,
    ) -> Named {
        assert!(primary.ip().is_loopback(), "primary must be a loopback address");
        let ip = Ipv4Addr::LOCALHOST;
        let dir = TempDir::new("named-secondary");
        let d = dir.path().display().to_string();
        let (key_clause, key_ref) = match key {
            Some((name, alg, secret)) => (
                format!("key \"{name}\" {{ algorithm {alg}; secret \"{secret}\"; }};\n"),
                format!(" key \"{name}\""),
            ),
            None => (String::new(), String::new()),
        };
        let conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    // Not BIND's default, and for the test machine only: a secondary's own
    // NOTIFY would go to the zone's NS addresses, which are not loopback.
    notify no;
}};
controls {{ }};
{key_clause}zone "{zone}" {{
    type secondary;
    file "{d}/{zone}.db";
    primaries {{ {pip} port {pport}{key_ref}; }};
}};
"#,
            pip = primary.ip(),
            pport = primary.port(),
        );
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(named)
            // Debug level 3 logs "got incremental response" for IXFR.
            .args(["-g", "-d", "3", "-n", "1", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn named");
        let mut n = Named {
            addr: SocketAddr::from((ip, port)),
            child,
            log_path,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let q = Q::new(zone, SOA).build();
        loop {
            if let Some(st) = n.child.try_wait().unwrap() {
                panic!(
                    "named exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            let served = query_udp_timeout(n.addr, &q, Duration::from_millis(200))
                .and_then(|r| parse(&r).ok())
                .is_some_and(|m| m.rcode == 0 && !m.answer.is_empty());
            if served {
                return n;
            }
            if Instant::now() > deadline {
                panic!(
                    "named secondary did not load {zone} within 15 s; conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
