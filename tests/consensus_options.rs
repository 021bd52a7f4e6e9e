//! DNS cookies (RFC 7873, RFC 9018) compared with BIND 9.18, Knot 3.2 and
//! NSD 4.6 configured alike, as an operator would: one cookie secret for
//! all (BIND `cookie-secret`, Knot `mod-cookies` with `secret` before
//! `mod-rrl`, NSD `answer-cookie: yes` and `cookie-secret`, vigia
//! `[server] cookie_secret`).
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

/// BIND, Knot, NSD and vigia with the same zones and cookie secret.
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

fn fleet(test: &str) -> Option<Fleet> {
    let (named, knotd, nsd) = refs_or_skip(test)?;
    let zones = all_zones();
    let bind = Named::start_with(
        &named,
        &zones,
        &["127.0.0.0/8"],
        &format!("cookie-secret \"{SECRET}\";"),
    );
    let knot_extra = KnotExtra {
        modules: format!(
            "mod-cookies:\n  - id: fleet\n    secret: 0x{SECRET}\nmod-rrl:\n  - id: default\n    rate-limit: 1000\n"
        ),
        template: "global-module: [ mod-cookies/fleet, mod-rrl/default ]".into(),
        ..KnotExtra::default()
    };
    let knot = RefServer::knot_with(&knotd, &zones, &knot_extra);
    let nsd = RefServer::nsd_with(
        &nsd,
        &zones,
        &format!("answer-cookie: yes\ncookie-secret: \"{SECRET}\""),
    );
    let secret_dir = TempDir::new("cookie-secret");
    let secret_file = secret_dir.path().join("cookie.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let mut opts = ServerOpts::new(zones);
    opts.server_extra = format!("cookie_secret = \"{}\"\n", secret_file.display());
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
    let Some(f) = fleet("cookies_like_the_consensus") else {
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
fn check(report: &mut String, failures: &mut usize, what: &str, shapes: &[String]) {
    let refs = &shapes[..3];
    let verdict = match majority(refs) {
        None => "no consensus",
        Some(m) if *m == shapes[3] => "ok",
        Some(_) => {
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
    let Some(f) = fleet("a_fleet_sharing_a_secret_accepts_each_others_cookies") else {
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
