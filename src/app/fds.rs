//! File descriptors: the soft limit raised to the hard one at start, and a
//! reserve that DNS TCP clients can never take.
//!
//! Every TCP client holds a descriptor; so does every probe, NOTIFY,
//! transfer and admin request. With the limit at 1024 (a shell's default,
//! many container runtimes) and `tcp_max_connections` at 1024, a thousand
//! idle TCP clients left nothing for probes: every check went down with
//! `Too many open files` and the admin API stopped accepting. So the TCP
//! cap is fitted under the limit minus a [`reserve`] counted from the
//! configuration, and the TCP listener stops accepting at the cap (see
//! [`crate::net::tcp`]) rather than accepting and closing.

use crate::config::Config;

/// What the limit leaves for DNS TCP clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// RLIMIT_NOFILE (soft) in force.
    pub limit: u64,
    /// Descriptors kept for everything else.
    pub reserve: u64,
    /// The TCP connection cap to serve with.
    pub tcp_max: usize,
    /// Set when the default cap was lowered to fit: what to log.
    pub warning: Option<String>,
}

/// Descriptors for what never depends on the configuration: stdio, the
/// runtimes' pollers and wakers, signals, logs, the state directory's
/// files, zone files and `$INCLUDE`s open during a reload, name lookups
/// of probes, and room for a few accepts in flight.
const FIXED: u64 = 64;

/// RLIMIT_NOFILE as [`raise_limit`] left it.
#[derive(Debug)]
pub struct Limit {
    /// The soft limit in force.
    pub soft: u64,
    /// The hard limit (an unlimited one counts as `fs.nr_open`).
    pub hard: u64,
    /// Why the soft limit could not be raised to the hard one (a seccomp
    /// filter such as systemd's `SystemCallFilter=~@resources` refuses
    /// setrlimit): vigia goes on with the soft limit.
    pub not_raised: Option<std::io::Error>,
}

/// Raises RLIMIT_NOFILE's soft limit to the hard one. A process cannot go
/// past its hard limit: that takes `ulimit -n` before the start, or
/// `LimitNOFILE=` in the systemd unit. Err only if the limit cannot be
/// read at all.
pub fn raise_limit() -> std::io::Result<Limit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let hard = if lim.rlim_max == libc::RLIM_INFINITY {
        nr_open().unwrap_or(lim.rlim_cur)
    } else {
        lim.rlim_max
    };
    let mut limit = Limit {
        soft: lim.rlim_cur,
        hard,
        not_raised: None,
    };
    if lim.rlim_cur < hard {
        let raised = libc::rlimit {
            rlim_cur: hard,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.soft = hard;
        } else {
            limit.not_raised = Some(std::io::Error::last_os_error());
        }
    }
    Ok(limit)
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Descriptors kept for everything but DNS TCP clients, counted from the
/// configuration: [`FIXED`]; the listeners (a UDP socket per worker and a
/// TCP listener per `listen` address, the metrics listener, the control
/// socket and TCP listener); the connections of the metrics and control
/// listeners; two per check (a probe's connection, and a reloaded
/// check's first probe beside the old one's); three per secondary zone
/// (the SOA query, the transfer in, the copy written); one per NOTIFY
/// target. Zone transfers out ride on TCP client connections, inside the
/// TCP cap.
pub fn reserve(cfg: &Config, workers: usize) -> u64 {
    let listen = cfg.server.listen.len() as u64;
    let control_tcp = u64::from(cfg.control.listen.is_some());
    let listeners = listen * (workers as u64 + 1) + 2 + control_tcp;
    let admin =
        (cfg.metrics.max_connections + cfg.control.max_connections * (1 + control_tcp as usize)) as u64;
    let checks = 2 * cfg.checks.len() as u64;
    let secondaries = 3 * cfg.zones.iter().filter(|z| z.is_secondary()).count() as u64;
    let notify: u64 = cfg.zones.iter().map(|z| z.notify.len() as u64).sum();
    FIXED + listeners + admin + checks + secondaries + notify
}

/// Fits the TCP cap under `limit` less `reserve`. The default cap is
/// lowered to fit, with a warning; a cap set in the configuration that
/// does not fit is an error naming both numbers and the fix.
pub fn budget(cfg: &Config, limit: u64, reserve: u64) -> Result<Budget, String> {
    let wanted = cfg.server.tcp_max_connections();
    let room = limit.saturating_sub(reserve);
    let fits = wanted as u64 <= room;
    let fix = format!(
        "raise the limit (`ulimit -n {need}` before starting vigia, or `LimitNOFILE={need}` in its systemd unit)",
        need = wanted as u64 + reserve
    );
    let mut b = Budget {
        limit,
        reserve,
        tcp_max: wanted,
        warning: None,
    };
    if fits {
        return Ok(b);
    }
    if cfg.server.tcp_max_connections.is_some() || room == 0 {
        return Err(format!(
            "{}: server.tcp_max_connections = {wanted} needs {wanted} file descriptors plus {reserve} kept \
             for probes, transfers, NOTIFY and the admin API, but the limit (RLIMIT_NOFILE) is {limit}: \
             {fix}, or lower tcp_max_connections to {room}",
            cfg.path.display()
        ));
    }
    b.tcp_max = room as usize;
    b.warning = Some(format!(
        "the file descriptor limit (RLIMIT_NOFILE) is {limit}: serving at most {room} TCP connections \
         instead of {wanted}, keeping {reserve} for probes, transfers, NOTIFY and the admin API; {fix}"
    ));
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(server: &str, extra: &str) -> Config {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:53\", \"[::1]:53\"]\n{server}\n\
             [[zone]]\nname = \"e.test\"\nfile = \"db\"\nnotify = [\"192.0.2.1\", \"192.0.2.2\"]\n\
             [[zone]]\nname = \"s.test\"\nfile = \"s.db\"\ntype = \"secondary\"\nprimaries = [\"192.0.2.9\"]\n\
             [[check]]\nname = \"a\"\ntcp = \"127.0.0.1:9\"\n{extra}"
        );
        Config::parse(&text, Path::new("/etc/vigia/vigia.toml")).unwrap()
    }

    #[test]
    fn the_reserve_counts_what_the_configuration_asks_for() {
        let cfg = config("", "");
        // 64 fixed, 2 x (2 workers + 1) + 2 listeners, 64 metrics and 64
        // control connections, one check, one secondary, two NOTIFY targets.
        assert_eq!(reserve(&cfg, 2), 64 + 8 + 128 + 2 + 3 + 2);
        assert_eq!(reserve(&cfg, 4) - reserve(&cfg, 2), 4);
    }

    #[test]
    fn the_default_cap_is_lowered_to_fit_and_an_explicit_one_refuses() {
        let cfg = config("", "");
        let b = budget(&cfg, 1024, 150).unwrap();
        assert_eq!(b.tcp_max, 874);
        let w = b.warning.unwrap();
        assert!(
            w.contains("1024") && w.contains("874") && w.contains("ulimit -n 1174"),
            "{w}"
        );
        assert!(w.contains("LimitNOFILE=1174"), "{w}");
        // Room enough: the default stands, nothing to say.
        let b = budget(&cfg, 65536, 150).unwrap();
        assert_eq!((b.tcp_max, b.warning), (1024, None));

        let cfg = config("tcp_max_connections = 1000", "");
        let e = budget(&cfg, 1024, 150).unwrap_err();
        for part in [
            "/etc/vigia/vigia.toml",
            "tcp_max_connections = 1000",
            "1024",
            "150",
            "ulimit -n 1150",
            "LimitNOFILE=1150",
            "874",
        ] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
        assert_eq!(budget(&cfg, 2048, 150).unwrap().tcp_max, 1000);
        // No room at all, even for the default.
        assert!(budget(&config("", ""), 100, 150).is_err());
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_limit().unwrap();
        assert!(limit.not_raised.is_none(), "{limit:?}");
        let limit = limit.soft;
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, limit);
        assert!(lim.rlim_max == libc::RLIM_INFINITY || lim.rlim_cur == lim.rlim_max);
    }
}
