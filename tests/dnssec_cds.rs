//! CDS and CDNSKEY at the apex (RFC 7344, RFC 8078; issue 14, "on
//! request"): with `[dnssec] cds = true` a signed zone publishes, for each
//! key-signing key, a CDS equal to the DS that `vigia dnssec ds` prints
//! and a CDNSKEY equal to the DNSKEY, both signed; a validating unbound
//! and BIND's `delv` (the zone's DS as trust anchor) find them secure.
//! Without the setting there are none: NODATA, itself proven and secure,
//! and nothing in the AXFR.
//!
//! Needs unbound and bind9-dnsutils (dig, delv); without them each test
//! says loudly it was skipped (and fails when CI=true).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::unbound::{secure, Unbound};
use common::{parse, run_vigia, Msg, Server, ServerOpts, TempDir, ZoneSpec, Q, SOA};

const ZONE: &str = "cds.example.";
const RRSIG: u16 = 46;
const DNSKEY: u16 = 48;
const CDS: u16 = 59;
const CDNSKEY: u16 = 60;

fn tools(test: &str) -> Option<[PathBuf; 2]> {
    common::tools::require(test, [("unbound", "unbound"), ("delv", "bind9-dnsutils")])
}

/// vigia serving `cds.example.` signed with keys made by `vigia dnssec
/// keygen` (`keygen_args`), `cds` as given; returns it and its DS lines
/// as `vigia dnssec ds` prints them.
fn start(dir: &Path, cds: bool, keygen_args: &[&str]) -> (Server, Vec<String>) {
    let zone = dir.join("db.cds");
    std::fs::write(
        &zone,
        "$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.80\n",
    )
    .unwrap();
    let keys = dir.join("keys");
    let dnssec = format!("\n[dnssec]\nkey_dir = \"{}\"\ncds = {cds}\n", keys.display());
    // `vigia dnssec keygen` and `ds` read the zone and the key directory
    // from a config: this one, before vigia can start.
    let cfg = dir.join("keygen.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nstate_dir = \"{}\"\n[[zone]]\nname = \"{ZONE}\"\nfile = \"{}\"\ndnssec = true\n{dnssec}",
            dir.join("st").display(),
            zone.display()
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let mut args = vec!["dnssec", "keygen", "--config", c, ZONE];
    args.extend_from_slice(keygen_args);
    let (code, out, err) = run_vigia(&args);
    assert_eq!(code, 0, "keygen: {out}{err}");
    let (code, ds, err) = run_vigia(&["dnssec", "ds", "--config", c, ZONE]);
    assert_eq!(code, 0, "ds: {err}");
    let ds: Vec<String> = ds.lines().map(str::to_string).collect();
    let server = Server::start(ServerOpts {
        zones: vec![ZoneSpec::new(ZONE, zone).with_extra("dnssec = true\n")],
        extra: dnssec,
        ..ServerOpts::default()
    });
    (server, ds)
}

fn ask_do(server: &Server, qtype: u16) -> Msg {
    let r = server
        .udp(&Q::new(ZONE, qtype).edns(4096).do_bit().build())
        .unwrap_or_else(|| panic!("no answer to {ZONE}/{qtype}"));
    parse(&r).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A CDS's RDATA as the tail of a DS line: "tag alg type HEX".
fn ds_text(rdata: &[u8]) -> String {
    format!(
        "{} {} {} {}",
        u16::from_be_bytes([rdata[0], rdata[1]]),
        rdata[2],
        rdata[3],
        hex(&rdata[4..])
    )
}

/// The RRset of `rtype` in the answer, required signed (an RRSIG covering
/// it); its RDATAs, sorted.
fn signed_rrset(m: &Msg, rtype: u16) -> Vec<Vec<u8>> {
    let mut set: Vec<Vec<u8>> = m
        .answer
        .iter()
        .filter(|r| r.rtype == rtype)
        .map(|r| r.rdata_wire.clone())
        .collect();
    set.sort();
    let covered = m
        .answer
        .iter()
        .any(|r| r.rtype == RRSIG && r.rdata_wire.get(0..2) == Some(&rtype.to_be_bytes()[..]));
    assert!(
        !set.is_empty() && covered,
        "no signed {rtype} RRset:\n{}",
        m.dump()
    );
    set
}

/// `delv` with the zone's DS lines as its only trust anchors, asking
/// vigia directly: "; fully validated" or the output for the message.
fn delv(bin: &Path, vigia: SocketAddr, ds: &[String], qtype: &str, dir: &Path) -> Result<String, String> {
    // delv's anchor file: trust-anchors { zone static-ds tag alg type "hex"; };
    let mut anchors = String::from("trust-anchors {\n");
    for line in ds {
        let f: Vec<&str> = line.split_whitespace().collect();
        anchors.push_str(&format!(
            "  {} static-ds {} {} {} \"{}\";\n",
            f[0], f[3], f[4], f[5], f[6]
        ));
    }
    anchors.push_str("};\n");
    let file = dir.join("anchors.conf");
    std::fs::write(&file, anchors).unwrap();
    let out = Command::new(bin)
        .arg(format!("@{}", vigia.ip()))
        .args(["-p", &vigia.port().to_string(), "-a"])
        .arg(&file)
        .args([&format!("+root={ZONE}"), ZONE, qtype])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("fully validated") {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn with_cds_on_cds_and_cdnskey_match_the_ds_and_dnskey_and_validate() {
    let Some([unbound, delv_bin]) = tools("cds_and_cdnskey_validate") else {
        return;
    };
    for keygen_args in [&[][..], &["--ksk-zsk"][..]] {
        let dir = TempDir::new("dnssec-cds");
        let (server, ds) = start(dir.path(), true, keygen_args);
        assert_eq!(ds.len(), 1, "one key-signing key: {ds:?}");

        // CDS: exactly the DS lines of `vigia dnssec ds`.
        let cds = signed_rrset(&ask_do(&server, CDS), CDS);
        let cds_lines: Vec<String> = cds
            .iter()
            .map(|r| format!("{ZONE} IN DS {}", ds_text(r)))
            .collect();
        assert_eq!(cds_lines, ds, "CDS vs `vigia dnssec ds` ({keygen_args:?})");

        // CDNSKEY: exactly the DNSKEYs with the SEP flag (257).
        let dnskeys = signed_rrset(&ask_do(&server, DNSKEY), DNSKEY);
        let sep: Vec<Vec<u8>> = dnskeys.iter().filter(|k| k[..2] == [1, 1]).cloned().collect();
        assert_eq!(sep.len(), 1, "{keygen_args:?}");
        if keygen_args.is_empty() {
            assert_eq!(dnskeys.len(), 1, "a combined key only");
        } else {
            assert_eq!(dnskeys.len(), 2, "a KSK and a ZSK");
        }
        let cdnskey = signed_rrset(&ask_do(&server, CDNSKEY), CDNSKEY);
        assert_eq!(cdnskey, sep, "CDNSKEY vs the SEP DNSKEY ({keygen_args:?})");

        // Without DO: the records, no signatures.
        let plain = parse(&server.udp(&Q::new(ZONE, CDS).build()).unwrap()).unwrap();
        assert_eq!(plain.answer_types(), vec![CDS], "{}", plain.dump());

        // AXFR carries them with their signatures.
        let axfr: Vec<u16> = common::axfr_tcp(server.addr, ZONE)
            .iter()
            .flat_map(|m| parse(m).unwrap().answer)
            .filter(|r| r.rtype == CDS || r.rtype == CDNSKEY)
            .map(|r| r.rtype)
            .collect();
        assert_eq!(axfr.len(), 2, "AXFR: {axfr:?}");

        // A validating resolver and BIND's delv find both secure.
        let u = Unbound::start_for(&unbound, server.addr, &ds, &[ZONE], 113);
        for t in [CDS, CDNSKEY, DNSKEY, SOA] {
            let m = secure(&u, ZONE, t, 0);
            assert!(m.answer.iter().any(|r| r.rtype == t), "{}", m.dump());
        }
        for t in ["CDS", "CDNSKEY"] {
            let text = delv(&delv_bin, server.addr, &ds, t, dir.path())
                .unwrap_or_else(|e| panic!("delv does not validate {ZONE} {t}:\n{e}"));
            assert!(
                text.contains(&format!("IN\t{t}")) || text.contains(&format!(" {t} ")),
                "{text}"
            );
        }
    }
}

#[test]
fn without_the_setting_there_is_no_cds_and_its_absence_validates() {
    let Some([unbound, delv_bin]) = tools("no_cds_by_default") else {
        return;
    };
    let dir = TempDir::new("dnssec-nocds");
    let (server, ds) = start(dir.path(), false, &[]);
    for t in [CDS, CDNSKEY] {
        let m = ask_do(&server, t);
        assert!(
            m.rcode == 0 && m.answer.is_empty(),
            "{t}: NODATA expected:\n{}",
            m.dump()
        );
        // The NODATA proof: the apex NSEC, whose bitmap has neither type.
        assert!(
            m.authority.iter().any(|r| r.rtype == 47) && m.authority.iter().any(|r| r.rtype == RRSIG),
            "{}",
            m.dump()
        );
    }
    let axfr: Vec<String> = common::axfr_tcp(server.addr, ZONE)
        .iter()
        .flat_map(|m| parse(m).unwrap().answer)
        .filter(|r| r.rtype == CDS || r.rtype == CDNSKEY)
        .map(|r| r.line())
        .collect();
    assert!(
        axfr.is_empty(),
        "CDS/CDNSKEY published without cds = true: {axfr:?}"
    );
    let u = Unbound::start_for(&unbound, server.addr, &ds, &[ZONE], 114);
    for t in [CDS, CDNSKEY] {
        let m = secure(&u, ZONE, t, 0);
        assert!(m.answer.is_empty(), "{}", m.dump());
    }
    delv(&delv_bin, server.addr, &ds, "CDS", dir.path())
        .unwrap_or_else(|e| panic!("delv does not validate the absence of CDS:\n{e}"));
}
