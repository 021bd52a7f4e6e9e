//! DNS cookies (RFC 7873, RFC 9018) and the server's identity (CH TXT
//! id.server and friends, NSID, RFC 5001) compared with BIND 9.18, Knot
//! 3.2 and NSD 4.6 configured alike, as an operator would: one cookie
//! secret for all (BIND `cookie-secret`, Knot `mod-cookies` with `secret`
//! before `mod-rrl`, NSD `answer-cookie: yes` and `cookie-secret`, vigia
//! `[server] cookie_secret`); one identity and version (BIND `server-id`,
//! `hostname`, `version`; Knot `identity`, `version`, `nsid`; NSD
//! `identity`, `version`, `nsid`; vigia `identity`, `version`), or none
//! (each server's way of hiding them).
//!
//! Compared is the structure of each answer, not its bytes: presence,
//! rcode, AA and TC, the number of answer records, and the EDNS options
//! (code and length; for COOKIE whether the client cookie is echoed and
//! whether the server cookie is the one sent or a new one). The consensus
//! is what two of the three references agree on; vigia must match it.
//!
//! And since they share the secret, the four form a fleet: a server
//! cookie made by any of them must be valid at every other (RFC 9018's
//! point), which is checked byte for byte.
//!
//! Needs `named`, `knotd` and `nsd`; missing ones skip loudly (CI=true
//! fails).

mod common;
use common::refs::*;
use common::*;

use std::fmt::Write as _;
use std::net::SocketAddr;

/// The fleet's secret (RFC 9018 Appendix A's).
const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const CLIENT: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];

/// BIND, Knot, NSD and vigia with the same zones, configured alike.
struct Fleet {
    _bind: Named,
    _knot: RefServer,
    _nsd: RefServer,
    _vigia: Server,
    _secret_dir: TempDir,
    /// BIND, Knot, NSD, vigia.
    addrs: [SocketAddr; 4],
}

const NAMES: [&str; 4] = ["BIND", "Knot", "NSD", "vigia"];

/// The same setting, as each server's config says it.
struct Setup {
    /// Lines of BIND's `options { }`.
    bind: String,
    knot: KnotExtra,
    /// Lines of NSD's `server:` clause.
    nsd: String,
    /// Lines of vigia's `[server]` section; `SECRET_FILE` stands for a
    /// file holding [`SECRET`].
    vigia: String,
}

/// All four with one cookie secret (Knot: `mod-cookies` before `mod-rrl`).
fn cookie_setup() -> Setup {
    Setup {
        bind: format!("cookie-secret \"{SECRET}\";"),
        knot: KnotExtra {
            modules: format!(
                "mod-cookies:\n  - id: fleet\n    secret: 0x{SECRET}\nmod-rrl:\n  - id: default\n    rate-limit: 1000\n"
            ),
            template: "global-module: [ mod-cookies/fleet, mod-rrl/default ]".into(),
            ..KnotExtra::default()
        },
        nsd: format!("answer-cookie: yes\ncookie-secret: \"{SECRET}\""),
        vigia: "cookie_secret = \"SECRET_FILE\"".into(),
    }
}

impl Fleet {
    fn start(test: &str, setup: &Setup) -> Option<Fleet> {
        let [named, knotd, nsd] = refs_or_skip(test)?;
        let zones = all_zones();
        let bind = Named::start_with(&named, &zones, &["127.0.0.0/8"], &setup.bind);
        let knot = RefServer::knot_with(&knotd, &zones, &setup.knot);
        let nsd = RefServer::nsd_with(&nsd, &zones, &setup.nsd);
        let secret_dir = TempDir::new("cookie-secret");
        let secret_file = secret_dir.path().join("cookie.secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let mut opts = ServerOpts::new(zones);
        opts.server_extra = format!(
            "{}\n",
            setup
                .vigia
                .replace("SECRET_FILE", &secret_file.display().to_string())
        );
        let vigia = Server::start(opts);
        let addrs = [bind.addr, knot.addr, nsd.addr, vigia.addr];
        Some(Fleet {
            _bind: bind,
            _knot: knot,
            _nsd: nsd,
            _vigia: vigia,
            _secret_dir: secret_dir,
            addrs,
        })
    }
}

/// A query for `name`/`qtype` with an OPT holding these options.
fn query(name: &str, qtype: u16, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut q = Q::new(name, qtype).id(0x4343).build();
    let mut rdata = Vec::new();
    for (code, data) in options {
        rdata.extend_from_slice(&code.to_be_bytes());
        rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
        rdata.extend_from_slice(data);
    }
    q[11] = 1;
    q.extend_from_slice(&opt_rr(1232, 0, false, &rdata));
    q
}

/// A query without a question: only an OPT with a COOKIE (RFC 7873 5.4).
fn cookie_only(cookie: &[u8]) -> Vec<u8> {
    let mut q = vec![0x43, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut rdata = 10u16.to_be_bytes().to_vec();
    rdata.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    rdata.extend_from_slice(cookie);
    q.extend_from_slice(&opt_rr(1232, 0, false, &rdata));
    q
}

fn cookie(data: &[u8]) -> (u16, Vec<u8>) {
    (10, data.to_vec())
}

/// The COOKIE option of an answer, if any.
fn cookie_of(m: &Msg) -> Option<Vec<u8>> {
    m.opt
        .as_ref()?
        .options
        .iter()
        .find(|(c, _)| *c == 10)
        .map(|(_, d)| d.clone())
}

/// The structure of an answer: presence, rcode, flags, answer count and
/// options (code/length; COOKIE: client echoed or not, server cookie the
/// one `sent` or new).
fn shape(r: Option<Vec<u8>>, sent: Option<&[u8]>) -> String {
    let Some(r) = r else { return "silent".into() };
    let m = match parse(&r) {
        Ok(m) => m,
        Err(e) => return format!("unparsable: {e}"),
    };
    let mut s = format!(
        "{} aa={} tc={} an={}",
        m.rcode_name(),
        u8::from(m.aa),
        u8::from(m.tc),
        m.answer.len()
    );
    match &m.opt {
        None => s.push_str(" no-opt"),
        Some(o) => {
            for (code, data) in &o.options {
                write!(s, " {code}/{}", data.len()).unwrap();
                if *code == 10 {
                    let echoed = sent.is_some_and(|c| data.get(..8) == c.get(..8));
                    let same = sent.is_some_and(|c| c.len() > 8 && data[..] == c[..]);
                    write!(
                        s,
                        "(client {}, server {})",
                        if echoed { "echoed" } else { "other" },
                        if same { "same" } else { "new" }
                    )
                    .unwrap();
                }
            }
        }
    }
    s
}

fn send(addr: SocketAddr, q: &[u8], tcp: bool) -> Option<Vec<u8>> {
    if tcp {
        query_tcp(addr, q)
    } else {
        query_udp(addr, q)
    }
}

/// The value two of the three references agree on.
fn majority(refs: &[String]) -> Option<&String> {
    refs.iter().find(|r| refs.iter().filter(|o| o == r).count() >= 2)
}

#[test]
fn cookies_like_the_consensus() {
    let Some(f) = Fleet::start("cookies_like_the_consensus", &cookie_setup()) else {
        return;
    };
    let www = "www.no-paladar.com.br";
    let mut bogus = CLIENT.to_vec();
    bogus.extend_from_slice(&[1, 0, 0, 0, 0x5c, 0xf7, 0x9f, 0x11, 1, 2, 3, 4, 5, 6, 7, 8]);
    // (what, query, cookie sent, per server: its own cookie first?)
    let mut cases: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = vec![
        (
            "client cookie only".into(),
            query(www, A, &[cookie(&CLIENT)]),
            Some(CLIENT.to_vec()),
        ),
        (
            "a server cookie not ours (an old one)".into(),
            query(www, A, &[cookie(&bogus)]),
            Some(bogus.clone()),
        ),
        (
            "an 8-octet server cookie".into(),
            query(www, A, &[cookie(&bogus[..16])]),
            Some(bogus[..16].to_vec()),
        ),
        (
            "a 32-octet server cookie".into(),
            query(www, A, &[cookie(&[7; 40])]),
            Some(vec![7; 40]),
        ),
        (
            "NXDOMAIN, client cookie".into(),
            query("nope.no-paladar.com.br", A, &[cookie(&CLIENT)]),
            Some(CLIENT.to_vec()),
        ),
        (
            "REFUSED, client cookie".into(),
            query("example.org", A, &[cookie(&CLIENT)]),
            Some(CLIENT.to_vec()),
        ),
        (
            "two COOKIE options".into(),
            query(www, A, &[cookie(&CLIENT), cookie(&CLIENT)]),
            Some(CLIENT.to_vec()),
        ),
        (
            "no question, client cookie (RFC 7873 5.4)".into(),
            cookie_only(&CLIENT),
            Some(CLIENT.to_vec()),
        ),
    ];
    for len in [0, 7, 9, 12, 15, 41] {
        cases.push((
            format!("COOKIE of {len} octets (malformed)"),
            query(www, A, &[cookie(&vec![9; len])]),
            None,
        ));
    }
    let mut report = String::new();
    let mut failures = 0;
    for tcp in [false, true] {
        let transport = if tcp { "TCP" } else { "UDP" };
        for (what, q, sent) in &cases {
            let shapes: Vec<String> = f
                .addrs
                .iter()
                .map(|&a| shape(send(a, q, tcp), sent.as_deref()))
                .collect();
            check(
                &mut report,
                &mut failures,
                &format!("{what} ({transport})"),
                &shapes,
            );
        }
        // Each server's own cookie, sent back: valid, and the same cookie.
        let shapes: Vec<String> = f
            .addrs
            .iter()
            .map(|&a| {
                let first = send(a, &query(www, A, &[cookie(&CLIENT)]), tcp).and_then(|r| parse(&r).ok());
                let Some(own) = first.as_ref().and_then(cookie_of) else {
                    return "no server cookie to send back".into();
                };
                shape(send(a, &query(www, A, &[cookie(&own)]), tcp), Some(&own))
            })
            .collect();
        check(
            &mut report,
            &mut failures,
            &format!("its own server cookie sent back ({transport})"),
            &shapes,
        );
    }
    println!("{report}");
    assert_eq!(failures, 0, "vigia differs from the consensus:\n{report}");
}

/// Adds one line per case to `report`; counts vigia's differences from
/// the references' majority.
/// Without a majority on the whole shape, the rcode (its first word) must
/// still match the references' majority.
fn check(report: &mut String, failures: &mut usize, what: &str, shapes: &[String]) {
    let refs = &shapes[..3];
    let rcode = |s: &String| s.split(' ').next().unwrap_or("").to_string();
    let rcodes: Vec<String> = refs.iter().map(rcode).collect();
    let verdict = match (majority(refs), majority(&rcodes)) {
        (Some(m), _) if *m == shapes[3] => "ok",
        (None, Some(r)) if *r == rcode(&shapes[3]) => "ok (rcode)",
        (None, None) => "no consensus",
        _ => {
            *failures += 1;
            "DIFFERS"
        }
    };
    writeln!(report, "{verdict:<12} {what}").unwrap();
    for (name, s) in NAMES.iter().zip(shapes) {
        writeln!(report, "    {name:<6} {s}").unwrap();
    }
}

#[test]
fn a_fleet_sharing_a_secret_accepts_each_others_cookies() {
    let Some(f) = Fleet::start(
        "a_fleet_sharing_a_secret_accepts_each_others_cookies",
        &cookie_setup(),
    ) else {
        return;
    };
    let q = query("no-paladar.com.br", SOA, &[cookie(&CLIENT)]);
    let mut problems = String::new();
    for (i, &from) in f.addrs.iter().enumerate() {
        let made = send(from, &q, false)
            .and_then(|r| parse(&r).ok())
            .as_ref()
            .and_then(cookie_of)
            .unwrap_or_else(|| panic!("{} sent no server cookie", NAMES[i]));
        assert_eq!(made.len(), 24, "{}: RFC 9018 cookies are 16 octets", NAMES[i]);
        for (j, &to) in f.addrs.iter().enumerate() {
            let back = send(to, &query("no-paladar.com.br", SOA, &[cookie(&made)]), false)
                .and_then(|r| parse(&r).ok());
            let ok = back
                .as_ref()
                .is_some_and(|m| m.rcode == 0 && cookie_of(m).as_deref() == Some(&made[..]));
            if !ok {
                writeln!(
                    problems,
                    "{}'s cookie {} is not valid at {}: {}",
                    NAMES[i],
                    made.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    NAMES[j],
                    back.map(|m| m.dump()).unwrap_or_else(|| "no answer".into())
                )
                .unwrap();
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

/// The structure of an answer for the identity cases: rcode, flags, the
/// records of ANSWER (class CH TXT ...), the AUTHORITY count and the
/// options (NSID with its text).
fn identity_shape(r: Option<Vec<u8>>) -> String {
    let Some(r) = r else { return "silent".into() };
    let Ok(m) = parse(&r) else {
        return "unparsable".into();
    };
    let mut s = format!("{} aa={} an=[", m.rcode_name(), u8::from(m.aa));
    let records: Vec<String> = m.answer.iter().map(|rr| rr.line()).collect();
    write!(s, "{}] ns={}", records.join("; "), m.authority.len()).unwrap();
    for (code, data) in m.opt.iter().flat_map(|o| &o.options) {
        match code {
            3 => write!(s, " NSID={}", String::from_utf8_lossy(data)).unwrap(),
            c => write!(s, " {c}/{}", data.len()).unwrap(),
        }
    }
    s
}

/// (what, query) for the identity comparisons.
fn identity_cases() -> Vec<(String, Vec<u8>, bool)> {
    let ch = |name: &str, qtype: u16| Q::new(name, qtype).class(3).edns(1232).build();
    let nsid = |name: &str| query(name, A, &[(3, Vec::new())]);
    let mut cases = Vec::new();
    for tcp in [false, true] {
        for name in [
            "id.server",
            "hostname.bind",
            "version.server",
            "version.bind",
            "ID.Server",
        ] {
            cases.push((format!("{name} CH TXT"), ch(name, TXT), tcp));
        }
        cases.push(("id.server CH A".into(), ch("id.server", A), tcp));
        cases.push(("x.id.server CH TXT".into(), ch("x.id.server", TXT), tcp));
        cases.push(("authors.bind CH TXT".into(), ch("authors.bind", TXT), tcp));
        cases.push((
            "id.server IN TXT".into(),
            Q::new("id.server", TXT).edns(1232).build(),
            tcp,
        ));
        cases.push(("NSID, positive".into(), nsid("www.no-paladar.com.br"), tcp));
        cases.push(("NSID, NXDOMAIN".into(), nsid("nope.no-paladar.com.br"), tcp));
        cases.push(("NSID, REFUSED".into(), nsid("example.org"), tcp));
    }
    cases
}

fn compare_identity(test: &str, setup: &Setup) {
    let Some(f) = Fleet::start(test, setup) else {
        return;
    };
    let mut report = String::new();
    let mut failures = 0;
    for (what, q, tcp) in identity_cases() {
        let shapes: Vec<String> = f
            .addrs
            .iter()
            .map(|&a| identity_shape(send(a, &q, tcp)))
            .collect();
        let transport = if tcp { "TCP" } else { "UDP" };
        check(
            &mut report,
            &mut failures,
            &format!("{what} ({transport})"),
            &shapes,
        );
    }
    println!("{report}");
    assert_eq!(failures, 0, "vigia differs from the consensus:\n{report}");
}

#[test]
fn identity_and_version_like_the_consensus() {
    let setup = Setup {
        bind: "server-id \"ns-a.example\"; hostname \"ns-a.example\"; version \"v-test\";".into(),
        knot: KnotExtra {
            server: "identity: \"ns-a.example\"\nversion: \"v-test\"\nnsid: \"ns-a.example\"".into(),
            ..KnotExtra::default()
        },
        nsd: "identity: \"ns-a.example\"\nversion: \"v-test\"\nnsid: \"ascii_ns-a.example\"".into(),
        vigia: "identity = \"ns-a.example\"\nversion = \"v-test\"".into(),
    };
    compare_identity("identity_and_version_like_the_consensus", &setup);
}

#[test]
fn no_identity_like_the_consensus() {
    // What each server answers with its identity and version hidden;
    // vigia's default.
    let setup = Setup {
        bind: "server-id none; hostname none; version none;".into(),
        knot: KnotExtra {
            server: "identity: \"\"\nversion: \"\"\nnsid: \"\"".into(),
            ..KnotExtra::default()
        },
        nsd: "hide-identity: yes\nhide-version: yes".into(),
        vigia: String::new(),
    };
    compare_identity("no_identity_like_the_consensus", &setup);
}
