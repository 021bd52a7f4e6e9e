//! Signed answers, vigia against BIND (issue 14): the same zone signed
//! with the same key, vigia online (`dnssec = true`) and BIND offline
//! (`dnssec-signzone -z`, the zone then served by `named` as Debian ships
//! it), asked the same questions with DO=1. Signatures themselves differ
//! (ECDSA is randomised, and the times differ); what must not differ is
//! the shape: the RCODE, which RRsets are in ANSWER and AUTHORITY, which
//! of them carry an RRSIG, and which NSEC records (owner, next name, type
//! bitmap) prove what, in which section. ADDITIONAL is optional data and
//! is not compared.

mod common;

use std::process::Command;

use common::{named_or_skip, parse, Msg, Named, Server, ServerOpts, TempDir, ZoneSpec, Q};

const ZONE: &str = "no-paladar.com.br";

/// The site's forward zone with what the proofs need besides: a
/// wildcard (and so an empty non-terminal), a delegation with a DS and
/// one without, and their glue.
fn zone_text() -> String {
    let site = std::fs::read_to_string(common::manifest_dir().join("zones/db.no-paladar.com.br")).unwrap();
    format!(
        "{site}\
         *.w         IN  A     192.168.0.110\n\
         sec         IN  NS    ns.sec\n\
         ns.sec      IN  A     192.168.0.120\n\
         sec         IN  DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n\
         plain       IN  NS    ns.plain\n\
         ns.plain    IN  A     192.168.0.121\n\
         mx          IN  MX    10 master\n"
    )
}

/// The questions: positive, CNAME, apex sets, NXDOMAIN, NODATA, wildcard
/// and its NODATA, an empty non-terminal, referrals with and without DS,
/// DS at a cut (present, absent), and DNSSEC types asked by type.
const QUESTIONS: &[(&str, &str)] = &[
    ("www", "A"),
    ("", "A"),
    ("", "SOA"),
    ("", "NS"),
    ("", "DNSKEY"),
    ("master", "A"),
    ("master", "TXT"),
    ("nothere", "A"),
    ("deep.nothere", "AAAA"),
    ("x.w", "A"),
    ("y.w", "TXT"),
    ("w", "A"),
    ("host.sec", "A"),
    ("host.plain", "A"),
    ("sec", "DS"),
    ("plain", "DS"),
    ("master", "NSEC"),
    ("mx", "MX"),
    ("www", "CNAME"),
];

/// One section as compared: each record as `owner TYPE` (RRSIG with the
/// type it covers, NSEC with its RDATA), sorted.
fn shape(records: &[common::Rr]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| {
            let owner = r.owner.to_lowercase();
            match r.rtype {
                46 => {
                    let covered = u16::from_be_bytes([r.rdata_wire[0], r.rdata_wire[1]]);
                    format!("{owner} RRSIG({})", common::type_name(covered))
                }
                47 | 50 => format!(
                    "{owner} {} {}",
                    common::type_name(r.rtype),
                    r.rdata.to_lowercase()
                ),
                t => format!("{owner} {}", common::type_name(t)),
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn ask(addr: std::net::SocketAddr, name: &str, qtype: u16) -> Msg {
    let r = common::query_udp(addr, &Q::new(name, qtype).rd(true).do_bit().build())
        .unwrap_or_else(|| panic!("no answer from {addr} to {name}"));
    parse(&r).unwrap()
}

#[test]
fn signed_answers_have_the_shape_of_bind_signing_the_same_zone_with_the_same_key() {
    same_shape_as_bind(false);
}

/// The same with NSEC3 (no salt, no iterations: `dnssec-signzone -3 - -H 0`).
#[test]
fn nsec3_signed_answers_have_the_shape_of_bind_signing_the_same_zone() {
    same_shape_as_bind(true);
}

fn same_shape_as_bind(nsec3: bool) {
    let Some(named_bin) = named_or_skip("signed answers have the shape of BIND's") else {
        return;
    };
    let Some([signzone]) = common::tools::require(
        "signed answers have BIND's shape",
        [("dnssec-signzone", "bind9-utils")],
    ) else {
        return;
    };
    let dir = TempDir::new("dnssec-diff");
    let zone_file = dir.path().join("db.zone");
    std::fs::write(&zone_file, zone_text()).unwrap();
    let keys = dir.path().join("keys");
    common::dnssec_keys(&keys, &[ZONE]);

    // BIND: the same key, all RRsets signed with it (-z: a CSK), NSEC.
    let signed = dir.path().join("db.zone.signed");
    // In the test's folder: dnssec-signzone writes a dsset file there.
    let out = Command::new(signzone)
        .current_dir(dir.path())
        .arg("-S")
        .arg("-K")
        .arg(&keys)
        .args(["-z", "-o", ZONE])
        .args(if nsec3 {
            &["-3", "-", "-H", "0"][..]
        } else {
            &[][..]
        })
        .arg("-f")
        .arg(&signed)
        .arg(&zone_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dnssec-signzone: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let named = Named::start_with(&named_bin, &[ZoneSpec::new(ZONE, signed)], &[], "");

    // vigia: the same zone and key, signed online.
    let vigia = Server::start(ServerOpts {
        extra: format!(
            "\n[[zone]]\nname = \"{ZONE}\"\nfile = \"{}\"\ndnssec = true\n\n[dnssec]\nkey_dir = \"{}\"\nnsec3 = {nsec3}\n",
            zone_file.display(),
            keys.display()
        ),
        ..ServerOpts::default()
    });

    let mut differences = Vec::new();
    let (mut sigs, mut nsecs) = (0, 0);
    for (label, qtype) in QUESTIONS {
        let name = if label.is_empty() {
            ZONE.to_string()
        } else {
            format!("{label}.{ZONE}")
        };
        let t = common::type_from_name(qtype).unwrap();
        let (b, v) = (ask(named.addr, &name, t), ask(vigia.addr, &name, t));
        let sections = |m: &Msg| (m.rcode_name(), m.aa, shape(&m.answer), shape(&m.authority));
        if sections(&b) != sections(&v) {
            differences.push(format!(
                "{name} {qtype}:\n--- BIND ---\n{}\n--- vigia ---\n{}",
                b.dump(),
                v.dump()
            ));
        }
        assert!(!v.ad, "vigia never sets AD: {}", v.dump());
        let all = v.answer.iter().chain(&v.authority);
        sigs += all.clone().filter(|r| r.rtype == 46).count();
        nsecs += all.filter(|r| r.rtype == 47 || r.rtype == 50).count();
    }
    // The comparison is not of empty shapes.
    assert!(
        sigs >= 25 && nsecs >= 10,
        "{sigs} RRSIGs and {nsecs} NSEC in vigia's answers"
    );
    assert!(
        differences.is_empty(),
        "{} of {} signed answers differ from BIND's:\n{}",
        differences.len(),
        QUESTIONS.len(),
        differences.join("\n")
    );
}
