//! The container's runtime contract, checked without a Docker engine (none
//! runs on this machine or in CI): the Dockerfile's own USER, file
//! capability and HEALTHCHECK command are read from the Dockerfile and
//! applied to the built binary, which then has to serve port 53 as that
//! unprivileged user with CAP_NET_BIND_SERVICE as its only capability, pass
//! the health check, stop cleanly on SIGTERM, and fail the health check once
//! stopped. Without the capability it must refuse to start with a message
//! naming the address.
//!
//! Needs root (to switch user and set file capabilities), as CI has; on a
//! developer machine without root the test says so and does nothing.

mod common;
use common::{query_udp_timeout, wait, TempDir, Q, SOA};

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A loopback address no other suite uses, so port 53 is free.
const ADDR: &str = "127.0.0.153:53";
/// linux/capability.h
const CAP_NET_BIND_SERVICE: u32 = 10;

/// What the Dockerfile says about the runtime.
struct Contract {
    uid: u32,
    gid: u32,
    /// `setcap` argument, e.g. `cap_net_bind_service=+ep`.
    file_caps: String,
    /// The HEALTHCHECK's CMD, as an argv.
    healthcheck: Vec<String>,
    /// ENV defaults.
    env: Vec<(String, String)>,
}

fn dockerfile() -> String {
    std::fs::read_to_string(common::manifest_dir().join("Dockerfile")).unwrap()
}

/// Joins continuation lines, so each instruction is one line.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(t);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

fn contract() -> Contract {
    let ins = instructions(&dockerfile());
    let user = ins
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("USER");
    let (uid, gid) = user.trim().split_once(':').expect("USER uid:gid, numeric");
    let file_caps = ins
        .iter()
        .find_map(|i| i.split("setcap ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a setcap in the runtime stage")
        .to_string();
    let hc = ins
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK "))
        .expect("HEALTHCHECK");
    let json = &hc[hc.find("CMD ").expect("HEALTHCHECK ... CMD") + 4..];
    let healthcheck: Vec<String> = serde_json::from_str(json.trim()).expect("CMD in exec (JSON) form");
    let mut env = Vec::new();
    for i in ins.iter().filter_map(|i| i.strip_prefix("ENV ")) {
        for pair in i.split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                env.push((k.to_string(), v.trim_matches('"').to_string()));
            }
        }
    }
    Contract {
        uid: uid.parse().expect("numeric uid"),
        gid: gid.parse().expect("numeric gid"),
        file_caps,
        healthcheck,
        env,
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A world-readable scratch folder holding a copy of the binary, the site's
/// zones and a loopback config, as the image's /etc/vigia volume would,
/// and a state directory owned by the image's user, as its /var/lib/vigia
/// volume is.
struct Root(TempDir);

impl Root {
    fn new(tag: &str, c: &Contract) -> Root {
        let tmp = TempDir::new(&format!("container-{tag}"));
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("zones")).unwrap();
        let repo = common::manifest_dir();
        // Copied by cp, not by this process: a copy written here leaves its
        // write descriptor, for a moment, in any child another test thread
        // forks meanwhile, and exec of the copy then fails with "Text file
        // busy" (ETXTBSY) until that child has exec'd in turn.
        let cp = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_vigia"))
            .arg(dir.join("vigia"))
            .status()
            .expect("run cp");
        assert!(cp.success(), "cp vigia {}: {cp}", dir.display());
        for z in ["db.no-paladar.com.br", "db.0.168.192.in-addr.arpa"] {
            std::fs::copy(repo.join("zones").join(z), dir.join("zones").join(z)).unwrap();
        }
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "[server]\nlisten = [\"{ADDR}\"]\nstate_dir = \"{}\"\n\n\
                 [metrics]\nlisten = \"127.0.0.153:9153\"\n\n\
                 [[zone]]\nname = \"no-paladar.com.br\"\nfile = \"zones/db.no-paladar.com.br\"\n\n\
                 [[zone]]\nname = \"0.168.192.in-addr.arpa\"\nfile = \"zones/db.0.168.192.in-addr.arpa\"\n",
                dir.join("state").display()
            ),
        )
        .unwrap();
        for p in [dir.clone(), dir.join("zones")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::create_dir(dir.join("state")).unwrap();
        std::os::unix::fs::chown(dir.join("state"), Some(c.uid), Some(c.gid)).unwrap();
        Root(tmp)
    }

    fn bin(&self) -> PathBuf {
        self.0.path().join("vigia")
    }

    /// `argv` as the image's user, with exactly the capabilities the file
    /// grants (none inherited from root), in the config folder.
    fn command(&self, c: &Contract, argv: &[String]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={}", c.uid),
            &format!("--regid={}", c.gid),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all,+net_bind_service",
            "--",
        ]);
        cmd.args(argv).current_dir(self.0.path()).env_clear();
        cmd.env("PATH", format!("{}:/usr/bin:/bin", self.0.path().display()));
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        cmd.env("VIGIA_HEALTHCHECK_SERVER", ADDR);
        cmd
    }

    fn serve(&self, c: &Contract) -> Child {
        let argv = ["vigia", "serve", "--config", "config.toml"].map(String::from);
        self.command(c, &argv)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("setpriv runs")
    }

    fn healthcheck(&self, c: &Contract) -> Output {
        self.command(c, &c.healthcheck)
            .output()
            .expect("health check runs")
    }
}

fn set_file_caps(bin: &Path, caps: &str) {
    let st = Command::new("setcap")
        .arg(caps)
        .arg(bin)
        .status()
        .expect("setcap (libcap2-bin)");
    assert!(st.success(), "setcap {caps} {}", bin.display());
}

/// Polls until `ADDR` answers a query over UDP, within `within`.
fn wait_serving(child: &mut Child, within: Duration) {
    let addr: SocketAddr = ADDR.parse().unwrap();
    let q = Q::new("com", SOA).build();
    wait::until(within, &format!("vigia answering on {ADDR}"), || {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("vigia exited before serving: {st}");
        }
        query_udp_timeout(addr, &q, Duration::from_millis(100)).is_some()
    });
}

/// The effective capability mask and real uid of a running process.
fn caps_and_uid(pid: u32) -> (u64, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    let caps = u64::from_str_radix(&field("CapEff:"), 16).unwrap();
    let uid = field("Uid:").split_whitespace().next().unwrap().parse().unwrap();
    (caps, uid)
}

/// Waits (up to `within`) for vigia to exit. The setpriv child's own pid is
/// vigia's (setpriv execs it).
fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let every = Duration::from_millis(20);
    match wait::poll(within, every, || {
        child.try_wait().unwrap().ok_or_else(String::new)
    }) {
        Ok((st, _)) => st,
        Err(_) => {
            let _ = child.kill();
            panic!("vigia did not exit within {within:?}");
        }
    }
}

#[test]
fn the_dockerfile_names_what_this_test_applies() {
    let c = contract();
    assert_ne!(c.uid, 0, "USER must not be root");
    assert_eq!(c.file_caps, "cap_net_bind_service=+ep");
    assert!(
        c.healthcheck.join(" ").contains("vigia query"),
        "{:?}",
        c.healthcheck
    );
    assert!(c.env.iter().any(|(k, _)| k == "VIGIA_HEALTHCHECK_NAME"));
    let ins = instructions(&dockerfile());
    assert!(ins.iter().any(|i| i == "EXPOSE 53/udp 53/tcp 9153"));
    // The state directory: created for the image's user, and a volume.
    let owner = format!("chown {}:{} /var/lib/vigia", c.uid, c.gid);
    assert!(ins.iter().any(|i| i.contains(&owner)), "RUN ... {owner}");
    assert!(ins
        .iter()
        .any(|i| i == r#"VOLUME ["/etc/vigia", "/var/lib/vigia"]"#));
    assert!(
        ins.iter().filter(|i| i.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
}

#[test]
fn runs_unprivileged_on_port_53_and_passes_its_health_check() {
    if !is_root() {
        common::tools::announce_skip(
            "runs_unprivileged_on_port_53_and_passes_its_health_check",
            "needs root to switch users and set file capabilities (CI runs as root)",
        );
        return;
    }
    let c = contract();
    let root = Root::new("cap", &c);
    set_file_caps(&root.bin(), &c.file_caps);
    let mut child = root.serve(&c);
    wait_serving(&mut child, Duration::from_secs(20));

    let (caps, uid) = caps_and_uid(child.id());
    assert_eq!(uid, c.uid, "runs as the image's user");
    assert_eq!(
        caps,
        1 << CAP_NET_BIND_SERVICE,
        "CapEff {caps:#x}: only CAP_NET_BIND_SERVICE"
    );

    let hc = root.healthcheck(&c);
    assert!(
        hc.status.success(),
        "health check failed while serving: {}{}",
        String::from_utf8_lossy(&hc.stdout),
        String::from_utf8_lossy(&hc.stderr)
    );

    // SAFETY: kill with a valid pid and signal has no memory effects.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = wait_exit(&mut child, Duration::from_secs(10));
    assert!(st.success(), "SIGTERM ends with status 0, got {st}");
    assert!(
        root.0.path().join("state/state.json").is_file(),
        "the image's user writes its state directory"
    );
    let hc = root.healthcheck(&c);
    assert_eq!(hc.status.code(), Some(1), "health check of a stopped server");
}

#[test]
fn without_the_capability_it_refuses_to_start_and_names_the_address() {
    if !is_root() {
        common::tools::announce_skip(
            "without_the_capability_it_refuses_to_start_and_names_the_address",
            "needs root to switch users (CI runs as root)",
        );
        return;
    }
    let c = contract();
    let root = Root::new("nocap", &c);
    let mut child = root.serve(&c);
    let st = wait_exit(&mut child, Duration::from_secs(20));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!st.success(), "started on port 53 without the capability");
    assert!(err.contains(ADDR), "error names the address: {err}");
    assert!(err.to_lowercase().contains("permission"), "error says why: {err}");
    let left: Vec<_> = std::fs::read_dir(root.0.path().join("state")).unwrap().collect();
    assert!(left.is_empty(), "a failed start writes nothing: {left:?}");
}
