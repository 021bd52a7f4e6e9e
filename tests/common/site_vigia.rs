//! The thesis's site on loopback for the suites about secondaries,
//! restarts and resolvers: vigia serving copies of the repository's zones
//! (no-paladar.com.br and its reverse zone) with config.toml's two rules
//! (the apex A set, all-healthy; www CNAME, first-healthy), whose checks
//! probe two real HTTP backends, master on 127.0.0.108 and webserver on
//! 127.0.0.110. The zones' addresses (192.168.0.x) are data only.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::http_backend::{HttpBackend, Mode};
use super::{zone_paladar, zone_reverse, Server, ServerOpts, TempDir, ZoneSpec};

pub const FORWARD: &str = "no-paladar.com.br";
pub const REVERSE: &str = "0.168.192.in-addr.arpa";
pub const MASTER: &str = "master.no-paladar.com.br.";
pub const WEBSERVER: &str = "webserver.no-paladar.com.br.";

/// What a [`Site`] is started with.
#[derive(Clone, Debug)]
pub struct SiteOpts {
    /// `when_all_down` of both rules.
    pub policy: &'static str,
    /// `ttl` of both rules.
    pub ttl: &'static str,
    /// `interval`, `timeout`, `fall`, `rise` of both checks.
    pub timing: (&'static str, &'static str, u32, u32),
    /// Each zone's `notify` list.
    pub notify: Vec<SocketAddr>,
    /// Loopback address vigia listens on (default 127.0.0.1).
    pub listen_ip: Option<Ipv4Addr>,
    /// Raw TOML for `[server]` (e.g. notify_source).
    pub server_extra: String,
    /// master is stopped before vigia starts.
    pub master_down: bool,
    /// Both zones signed (`dnssec = true`), with a combined signing key
    /// each made before vigia starts, in `keys/` of the site's folder.
    pub dnssec: bool,
    /// With `dnssec`: deny existence with NSEC3 (`[dnssec] nsec3`).
    pub nsec3: bool,
    /// Lines appended to the forward zone's copy before vigia starts.
    pub forward_extra: &'static str,
    /// Raw TOML appended to the config (`[control]`...).
    pub extra: String,
}

impl Default for SiteOpts {
    fn default() -> Self {
        SiteOpts {
            policy: "serve-all",
            ttl: "30s",
            // A timeout with room for a loaded machine: a spurious
            // failover would change the serials the tests count.
            timing: ("200ms", "500ms", 2, 2),
            notify: Vec::new(),
            listen_ip: None,
            server_extra: String::new(),
            master_down: false,
            dnssec: false,
            nsec3: false,
            forward_extra: "",
            extra: String::new(),
        }
    }
}

/// vigia, its zone files (copies the test may edit) and the two backends.
pub struct Site {
    pub master: HttpBackend,
    pub webserver: HttpBackend,
    /// The copy of the forward zone vigia reads.
    pub forward_file: PathBuf,
    /// With `dnssec`: each zone's DS record (zone-file line), forward
    /// zone first: the trust anchors of a validating resolver.
    pub ds: Vec<String>,
    pub vigia: Server,
    _dir: TempDir,
}

impl Site {
    /// Copies the zones, starts the backends (master stopped if asked),
    /// then vigia.
    pub fn start(opts: SiteOpts) -> Site {
        let dir = TempDir::new("site");
        let forward_file = dir.path().join("db.no-paladar.com.br");
        let reverse_file = dir.path().join("db.0.168.192.in-addr.arpa");
        std::fs::copy(zone_paladar(), &forward_file).unwrap();
        std::fs::copy(zone_reverse(), &reverse_file).unwrap();
        if !opts.forward_extra.is_empty() {
            let mut text = std::fs::read_to_string(&forward_file).unwrap();
            text.push_str(opts.forward_extra);
            std::fs::write(&forward_file, text).unwrap();
        }
        let key_dir = dir.path().join("keys");
        let ds = if opts.dnssec {
            super::dnssec_keys(&key_dir, &[FORWARD, REVERSE])
        } else {
            Vec::new()
        };
        let master = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 108), Mode::Ok);
        let webserver = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 110), Mode::Ok);
        if opts.master_down {
            master.set(Mode::Stopped);
        }
        let signed = format!("dnssec = {}\n", opts.dnssec);
        let zones = vec![
            ZoneSpec::new(FORWARD, forward_file.clone())
                .notify(&opts.notify)
                .with_extra(&signed),
            ZoneSpec::new(REVERSE, reverse_file)
                .notify(&opts.notify)
                .with_extra(&signed),
        ];
        let mut extra = String::new();
        if opts.dnssec {
            write!(
                extra,
                "\n[dnssec]\nkey_dir = \"{}\"\nnsec3 = {}\n",
                key_dir.display(),
                opts.nsec3
            )
            .unwrap();
        }
        let (interval, timeout, fall, rise) = opts.timing;
        for (name, b) in [("master", &master), ("webserver", &webserver)] {
            write!(
                extra,
                "\n[[check]]\nname = \"{name}\"\nhttp = \"{}\"\ninterval = \"{interval}\"\ntimeout = \"{timeout}\"\nfall = {fall}\nrise = {rise}\n",
                b.url()
            )
            .unwrap();
        }
        let (policy, ttl) = (opts.policy, opts.ttl);
        write!(
            extra,
            "\n[[failover]]\nname = \"no-paladar.com.br.\"\ntype = \"A\"\nmode = \"all-healthy\"\n\
             pool = [ {{ address = \"192.168.0.108\", check = \"master\" }}, {{ address = \"192.168.0.110\", check = \"webserver\" }} ]\n\
             when_all_down = \"{policy}\"\nttl = \"{ttl}\"\n\
             \n[[failover]]\nname = \"www.no-paladar.com.br.\"\ntype = \"CNAME\"\nmode = \"first-healthy\"\n\
             pool = [ {{ target = \"{MASTER}\", check = \"master\" }}, {{ target = \"{WEBSERVER}\", check = \"webserver\" }} ]\n\
             when_all_down = \"{policy}\"\nttl = \"{ttl}\"\n"
        )
        .unwrap();
        extra.push_str(&opts.extra);
        let vigia = Server::start(ServerOpts {
            listen_ip: opts.listen_ip,
            server_extra: opts.server_extra.clone(),
            extra,
            ..ServerOpts::new(zones)
        });
        Site {
            master,
            webserver,
            forward_file,
            ds,
            vigia,
            _dir: dir,
        }
    }

    /// Waits up to `within` until vigia answers `www` with a CNAME to
    /// `target`; panics with vigia's log if not.
    pub fn wait_www(&self, target: &str, within: std::time::Duration) {
        super::wait::until_found(
            within,
            &format!("vigia's www moves to {target}"),
            || (super::lookup::cname_at(self.vigia.addr, "www.no-paladar.com.br")?.1 == target).then_some(()),
            || self.vigia.stderr(),
        );
    }
}
