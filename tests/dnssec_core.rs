//! Interoperability of vigia's DNSSEC signing core with the reference
//! tools: zones signed by vigia pass BIND's `dnssec-verify` and ldns's
//! `ldns-verify-zone`; keys made by `dnssec-keygen` are read as they are
//! (same key tags, same DS as `dnssec-dsfromkey`); keys written by vigia
//! are used by `dnssec-signzone`; a re-signing after a failover keeps the
//! other signatures and still verifies.
//!
//! Needs bind9-utils and ldnsutils. Without them each test says loudly
//! that it was skipped (and fails when CI=true), like the BIND tests.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use vigia::config::ZoneLimits;
use vigia::dns::message::RawRecord;
use vigia::dns::rtype;
use vigia::dns::Name;
use vigia::dnssec::keyfile::{read_key_dir, write_key_pair};
use vigia::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
use vigia::dnssec::nsec3::Nsec3Params;
use vigia::dnssec::text::{name_to_text, rr_to_text};
use vigia::dnssec::{sign_zone, Denial, DnssecKey, SignedZone, SignerConfig};
use vigia::reclaim::Reclaimer;
use vigia::zone::check::load_zone;
use vigia::zone::Zone;

mod common;
use common::{tools, TempDir};

// ---- helpers ----------------------------------------------------------------

/// The tool's path, or None after a loud skip of `test` (a failure when
/// CI=true).
fn tool(test: &str, name: &str, package: &str) -> Option<PathBuf> {
    tools::require(test, [(name, package)]).map(|[path]| path)
}

/// A tool of bind9-utils, which the test has found present already.
fn bind_tool(name: &str) -> PathBuf {
    tools::find_bin(name).unwrap_or_else(|| panic!("{name} (bind9-utils) is missing"))
}

/// dnssec-verify and ldns-verify-zone, as [`tool`] finds them.
fn validators(test: &str) -> Option<(PathBuf, PathBuf)> {
    tools::require(
        test,
        [
            ("dnssec-verify", "bind9-utils"),
            ("ldns-verify-zone", "ldnsutils"),
        ],
    )
    .map(|[bind, ldns]| (bind, ldns))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A zone of the repository (`zones/`, or a path from the repository
/// root), in the signer's wire form.
fn site_zone(file: &str, origin: &str) -> (Vec<u8>, Vec<RawRecord>) {
    let dir = common::manifest_dir();
    let name = Name::parse(origin, None).unwrap();
    let path = if file.contains('/') {
        dir.join(file)
    } else {
        dir.join("zones").join(file)
    };
    let zone = load_zone(&path, &name, &dir, &ZoneLimits::default(), &Reclaimer::inline()).unwrap();
    (name.wire().to_vec(), signer_records(&zone))
}

/// A loaded zone's records in the signer's wire form.
fn signer_records(zone: &Zone) -> Vec<RawRecord> {
    zone.records
        .iter()
        .map(|r| RawRecord {
            owner: r.owner.wire().to_vec(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: r.rdata.to_wire(),
        })
        .collect()
}

const FORWARD: (&str, &str) = ("db.no-paladar.com.br", "no-paladar.com.br.");
const REVERSE: (&str, &str) = ("db.0.168.192.in-addr.arpa", "0.168.192.in-addr.arpa.");
/// Wildcards, empty non-terminals, a delegation with DS and glue, a DNAME,
/// mixed-case and escaped owners, multi-record RRsets, RFC 3597 data.
const EDGE: (&str, &str) = ("tests/data/zones/db.edge.test", "edge.test.");

/// The signed zone as a zone file, SOA first (dnssec-verify wants it so).
fn zone_text(data: &[RawRecord], signed: &SignedZone) -> String {
    let mut all: Vec<RawRecord> = data.to_vec();
    all.extend(signed.records().map(|r| r.to_raw()));
    all.sort_by_key(|r| {
        (
            r.rtype != rtype::SOA,
            vigia::dns::name::canonical_key(&r.owner),
            r.rtype,
        )
    });
    all.iter().map(|r| rr_to_text(r) + "\n").collect()
}

fn write_signed(dir: &Path, data: &[RawRecord], signed: &SignedZone) -> PathBuf {
    let path = dir.join("signed.zone");
    std::fs::write(&path, zone_text(data, signed)).unwrap();
    path
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}):\n{text}", out.status))
    }
}

/// Both validators accept the signed zone file. `csk`: the zone has no
/// separate ZSK, which dnssec-verify needs told with -z.
fn assert_validators_accept(tools: &(PathBuf, PathBuf), origin: &[u8], path: &Path, csk: bool) {
    let mut bind = Command::new(&tools.0);
    bind.arg("-o").arg(name_to_text(origin));
    if csk {
        bind.arg("-z");
    }
    bind.arg(path);
    let bind_out =
        run(&mut bind).unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(path).unwrap()));
    assert!(bind_out.contains("Zone fully signed"), "{bind_out}");
    let mut ldns = Command::new(&tools.1);
    ldns.arg(path);
    let ldns_out =
        run(&mut ldns).unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(path).unwrap()));
    assert!(ldns_out.contains("Zone is verified and complete"), "{ldns_out}");
}

fn nsec3() -> Denial {
    Denial::Nsec3(Nsec3Params::default())
}

fn config(denial: Denial) -> SignerConfig {
    SignerConfig {
        denial,
        ..SignerConfig::default()
    }
}

/// `dnssec-keygen` run in `dir`; returns the key's file stem.
fn bind_keygen(dir: &Path, args: &[&str]) -> String {
    let keygen = bind_tool("dnssec-keygen");
    let out = run(Command::new(keygen).arg("-q").arg("-K").arg(dir).args(args)).unwrap();
    out.trim().to_string()
}

// ---- tests --------------------------------------------------------------------

#[test]
fn zones_signed_by_vigia_pass_dnssec_verify_and_ldns() {
    let Some(tools) = validators("zones_signed_by_vigia_pass_dnssec_verify_and_ldns") else {
        return;
    };
    let tmp = TempDir::new("site");
    for (file, origin) in [FORWARD, REVERSE, EDGE] {
        let (apex, data) = site_zone(file, origin);
        let key_sets = [
            (
                generate_keys(&apex, Algorithm::EcdsaP256Sha256, KeyScheme::Csk, now()).unwrap(),
                true,
            ),
            (
                generate_keys(&apex, Algorithm::Ed25519, KeyScheme::Csk, now()).unwrap(),
                true,
            ),
            (
                generate_keys(&apex, Algorithm::EcdsaP256Sha256, KeyScheme::KskZsk, now()).unwrap(),
                false,
            ),
        ];
        for (keys, csk) in &key_sets {
            for denial in [Denial::Nsec, nsec3()] {
                let signed = sign_zone(&apex, &data, keys, &config(denial.clone()), now(), None).unwrap();
                let path = write_signed(&tmp.0, &data, &signed);
                eprintln!(
                    "{origin} {:?} {denial:?}: {:?}",
                    keys[0].algorithm(),
                    signed.stats()
                );
                assert_validators_accept(&tools, &apex, &path, *csk);
            }
        }
    }
}

#[test]
fn upper_case_names_inside_rdata_are_signed_in_canonical_form() {
    // RFC 4034 6.2 / RFC 6840 5.1: names inside MX, SRV, NAPTR, RP, CNAME,
    // PTR, DNAME... RDATA are lower-cased in the signed data. Validators
    // rebuild that form from what they receive, so a signer that got it
    // wrong would be caught here.
    let Some(tools) = validators("upper_case_names_inside_rdata_are_signed_in_canonical_form") else {
        return;
    };
    let tmp = TempDir::new("case");
    let text = "$ORIGIN Case.Test.\n$TTL 300\n\
        @ SOA NS1.Case.Test. HostMaster.Case.Test. 1 7200 900 86400 300\n\
        @ NS NS1\nNS1 A 192.0.2.1\n@ MX 10 Mail.CASE.test.\nMail A 192.0.2.2\n\
        _sip._tcp SRV 1 2 5060 Sip.Case.Test.\nSip A 192.0.2.3\n\
        Naptr NAPTR 100 10 \"S\" \"SIP+D2T\" \"\" _Sip._Tcp.Case.Test.\n\
        Rp RP HostMaster.Case.Test. Txt.Case.Test.\nTxt TXT \"Keep This Case\"\n\
        Alias CNAME Mail.Case.TEST.\nPtr PTR Mail.Case.Test.\nOld DNAME New.Case.Test.\n";
    let origin = Name::parse("Case.Test.", None).unwrap();
    let file = tmp.0.join("case.zone");
    let parsed = vigia::zone::parser::parse_str(text, &file, &origin, &tmp.0).unwrap();
    let zone = vigia::zone::check::check_zone(&origin, parsed, &file, &Reclaimer::inline()).unwrap();
    let data = signer_records(&zone);
    assert!(data
        .iter()
        .any(|r| r.rtype == rtype::MX && r.rdata.windows(4).any(|w| w == b"CASE")));
    let apex = origin.wire().to_vec();
    let keys = generate_keys(&apex, Algorithm::Ed25519, KeyScheme::Csk, now()).unwrap();
    for denial in [Denial::Nsec, nsec3()] {
        let signed = sign_zone(&apex, &data, &keys, &config(denial), now(), None).unwrap();
        assert_validators_accept(&tools, &apex, &write_signed(&tmp.0, &data, &signed), true);
    }
}

#[test]
fn the_validators_do_catch_a_broken_signature_or_chain() {
    // The harness must be able to fail: a tampered RRSIG and a missing
    // NSEC are both refused by each tool.
    let Some(tools) = validators("the_validators_do_catch_a_broken_signature_or_chain") else {
        return;
    };
    let tmp = TempDir::new("broken");
    let (apex, data) = site_zone(FORWARD.0, FORWARD.1);
    let keys = generate_keys(&apex, Algorithm::Ed25519, KeyScheme::Csk, now()).unwrap();
    let signed = sign_zone(&apex, &data, &keys, &config(Denial::Nsec), now(), None).unwrap();
    let text = zone_text(&data, &signed);
    let sig_line = text.lines().find(|l| l.contains(" RRSIG A ")).unwrap();
    // Flip one base64 character of the signature.
    let flipped = sig_line[..sig_line.len() - 4].to_string()
        + if &sig_line[sig_line.len() - 4..sig_line.len() - 3] == "A" {
            "B"
        } else {
            "A"
        }
        + &sig_line[sig_line.len() - 3..];
    let nsec_line = text
        .lines()
        .find(|l| l.contains(" NSEC ") && l.starts_with("master."))
        .unwrap();
    for broken in [
        text.replace(sig_line, &flipped),
        text.replace(&format!("{nsec_line}\n"), ""),
    ] {
        let path = tmp.0.join("broken.zone");
        std::fs::write(&path, &broken).unwrap();
        let bind = run(Command::new(&tools.0).args(["-z", "-o", FORWARD.1]).arg(&path));
        assert!(bind.is_err(), "dnssec-verify accepted:\n{broken}");
        assert!(
            run(Command::new(&tools.1).arg(&path)).is_err(),
            "ldns accepted:\n{broken}"
        );
    }
}

#[test]
fn a_failover_re_signing_reuses_the_other_signatures_and_still_verifies() {
    let Some(tools) = validators("a_failover_re_signing_reuses_the_other_signatures_and_still_verifies")
    else {
        return;
    };
    let tmp = TempDir::new("failover");
    let (apex, data) = site_zone(FORWARD.0, FORWARD.1);
    let keys = generate_keys(&apex, Algorithm::EcdsaP256Sha256, KeyScheme::Csk, now()).unwrap();
    for denial in [Denial::Nsec, nsec3()] {
        let cfg = config(denial);
        let before = sign_zone(&apex, &data, &keys, &cfg, now(), None).unwrap();
        // The failover: www goes to webserver, and the serial moves.
        let www = Name::parse("www.no-paladar.com.br.", None).unwrap();
        let after_data: Vec<RawRecord> = data.iter().map(|r| failover(r, www.wire())).collect();
        let after = sign_zone(&apex, &after_data, &keys, &cfg, now() + 1, Some(&before)).unwrap();
        let stats = after.stats();
        assert_eq!((stats.signed, stats.reused), (2, stats.rrsets - 2), "{stats:?}");
        for r in &data {
            let same = before.rrsigs(&r.owner, r.rtype) == after.rrsigs(&r.owner, r.rtype);
            let changed = r.rtype == rtype::SOA || r.owner.eq_ignore_ascii_case(www.wire());
            assert_eq!(same, !changed, "{}", rr_to_text(r));
        }
        let path = write_signed(&tmp.0, &after_data, &after);
        assert_validators_accept(&tools, &apex, &path, true);
    }
}

/// The record as the failover rule rewrites it: www CNAME webserver, and
/// the SOA serial incremented.
fn failover(r: &RawRecord, www: &[u8]) -> RawRecord {
    let mut r = r.clone();
    if r.rtype == rtype::CNAME && r.owner.eq_ignore_ascii_case(www) {
        r.rdata = Name::parse("webserver.no-paladar.com.br.", None)
            .unwrap()
            .wire()
            .to_vec();
    }
    if r.rtype == rtype::SOA {
        let at = r.rdata.len() - 20;
        let serial = u32::from_be_bytes(r.rdata[at..at + 4].try_into().unwrap()) + 1;
        r.rdata[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    }
    r
}

#[test]
fn keys_made_by_dnssec_keygen_are_read_as_they_are_and_sign_valid_zones() {
    let Some(tools) = validators("keys_made_by_dnssec_keygen_are_read_as_they_are_and_sign_valid_zones")
    else {
        return;
    };
    let dsfromkey = bind_tool("dnssec-dsfromkey");
    let (apex, data) = site_zone(FORWARD.0, FORWARD.1);
    let cases: [(&[&[&str]], bool); 2] = [
        // KSK + ZSK, ECDSA P-256.
        (
            &[
                &["-a", "ECDSAP256SHA256", "-f", "KSK"],
                &["-a", "ECDSAP256SHA256"],
            ],
            false,
        ),
        // A single Ed25519 KSK, used as a CSK.
        (&[&["-a", "ED25519", "-f", "KSK"]], true),
    ];
    for (keygens, csk) in cases {
        let tmp = TempDir::new("keygen");
        let mut stems = Vec::new();
        for args in keygens {
            let mut a = args.to_vec();
            a.push(FORWARD.1);
            stems.push(bind_keygen(&tmp.0, &a));
        }
        let keys = read_key_dir(&tmp.0, &apex).unwrap();
        assert_eq!(keys.len(), stems.len());
        for key in &keys {
            assert!(
                stems.contains(&key.file_stem()),
                "{} not in {stems:?}",
                key.file_stem()
            );
            let file = tmp.0.join(format!("{}.key", key.file_stem()));
            let bind_ds = run(Command::new(&dsfromkey).arg("-2").arg(&file)).unwrap();
            assert_eq!(bind_ds.trim(), key.ds_line());
        }
        let signed = sign_zone(&apex, &data, &keys, &config(Denial::Nsec), now(), None).unwrap();
        assert_validators_accept(&tools, &apex, &write_signed(&tmp.0, &data, &signed), csk);
    }
}

#[test]
fn keys_written_by_vigia_are_used_by_dnssec_signzone() {
    let Some(tools) = validators("keys_written_by_vigia_are_used_by_dnssec_signzone") else {
        return;
    };
    let signzone = bind_tool("dnssec-signzone");
    let dsfromkey = bind_tool("dnssec-dsfromkey");
    let tmp = TempDir::new("signzone");
    let (apex, _) = site_zone(FORWARD.0, FORWARD.1);
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = DnssecKey::generate(&apex, alg, 257, now() - 60).unwrap();
        let (key_file, private_file) = write_key_pair(&key, &tmp.0).unwrap();
        let mode = std::fs::metadata(&private_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let bind_ds = run(Command::new(&dsfromkey).arg("-2").arg(&key_file)).unwrap();
        assert_eq!(bind_ds.trim(), key.ds_line());
        // BIND signs the site zone with vigia's key files (-S: the keys
        // in -K's directory, by their timing metadata).
        let out = tmp.0.join("bind-signed.zone");
        let zone = common::manifest_dir().join("zones").join(FORWARD.0);
        run(Command::new(&signzone)
            .current_dir(&tmp.0) // it writes a dsset- file in the working directory
            .arg("-S")
            .arg("-K")
            .arg(&tmp.0)
            .args(["-z", "-O", "full", "-o", FORWARD.1, "-f"])
            .arg(&out)
            .arg(&zone))
        .unwrap();
        let signed = std::fs::read_to_string(&out).unwrap();
        let soa_sig = format!("SOA {} 3 86400 ", alg.number());
        let by_our_key = format!(" {} {} ", key.key_tag(), FORWARD.1);
        let found = signed
            .lines()
            .any(|l| l.contains(&soa_sig) && l.contains(&by_our_key));
        assert!(found, "no SOA RRSIG by key {}:\n{signed}", key.key_tag());
        assert_validators_accept(&tools, &apex, &out, true);
        std::fs::remove_file(&key_file).unwrap();
        std::fs::remove_file(&private_file).unwrap();
    }
}

/// What a signed zone file holds besides its data, type numbers instead
/// of mnemonics and names lower-cased: one line per NSEC/NSEC3 (owner,
/// TTL, next, bitmap), NSEC3PARAM and DNSKEY, and one per RRSIG (owner,
/// type covered, key tag) -- what two signers of one zone with one key
/// must agree on (signature bytes differ: ECDSA is randomized).
fn dnssec_summary(zone_text: &str) -> BTreeSet<String> {
    let num = |t: &str| vigia::dns::types::type_from_name(t).unwrap_or_else(|| panic!("type {t}"));
    let mut out = BTreeSet::new();
    for line in zone_text.lines().filter(|l| !l.starts_with(';')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let (owner, ttl, rtype, rest) = (f[0].to_ascii_lowercase(), f[1], f[3], &f[4..]);
        let types = |from: usize| {
            rest[from..]
                .iter()
                .map(|t| num(t).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let entry = match rtype {
            "NSEC" => format!("{owner} {ttl} NSEC {} {}", rest[0].to_ascii_lowercase(), types(1)),
            "NSEC3" => {
                let params = rest[..5].join(" ").to_ascii_lowercase();
                format!("{owner} {ttl} NSEC3 {params} {}", types(5))
            }
            "RRSIG" => format!("{owner} RRSIG {} {}", num(rest[0]), rest[6]),
            "NSEC3PARAM" => format!("{owner} {ttl} NSEC3PARAM {}", rest.join(" ")),
            // BIND splits the base64 key with spaces: compare it joined.
            "DNSKEY" => format!(
                "{owner} {ttl} DNSKEY {} {}",
                rest[..3].join(" "),
                rest[3..].concat()
            ),
            _ => continue,
        };
        out.insert(entry);
    }
    out
}

#[test]
fn denial_chain_and_signed_rrsets_match_dnssec_signzone() {
    // The edge zone signed by BIND and by vigia with the same key: the same
    // NSEC/NSEC3 records (owners, next names, bitmaps, TTLs) and RRSIGs
    // over the same RRsets, including at the delegation, the DNAME, the
    // wildcard and the empty non-terminals.
    let Some(signzone) = tool(
        "denial_chain_and_signed_rrsets_match_dnssec_signzone",
        "dnssec-signzone",
        "bind9-utils",
    ) else {
        return;
    };
    let (apex, data) = site_zone(EDGE.0, EDGE.1);
    let zone_file = common::manifest_dir().join(EDGE.0);
    for (denial, nsec3_args) in [(Denial::Nsec, &[][..]), (nsec3(), &["-3", "-", "-H", "0"][..])] {
        let tmp = TempDir::new("differential");
        let key = DnssecKey::generate(&apex, Algorithm::EcdsaP256Sha256, 257, now() - 60).unwrap();
        write_key_pair(&key, &tmp.0).unwrap();
        let out = tmp.0.join("bind.zone");
        run(Command::new(&signzone)
            .current_dir(&tmp.0)
            .args(["-S", "-K", ".", "-z", "-O", "full", "-o", EDGE.1])
            .args(nsec3_args)
            .arg("-f")
            .arg(&out)
            .arg(&zone_file))
        .unwrap();
        let bind = dnssec_summary(&std::fs::read_to_string(&out).unwrap());
        let signed = sign_zone(&apex, &data, &[key], &config(denial.clone()), now(), None).unwrap();
        let ours = dnssec_summary(&zone_text(&data, &signed));
        let only_bind: Vec<&String> = bind.difference(&ours).collect();
        let only_ours: Vec<&String> = ours.difference(&bind).collect();
        assert!(
            only_bind.is_empty() && only_ours.is_empty(),
            "{denial:?}: only BIND: {only_bind:#?}\nonly vigia: {only_ours:#?}"
        );
        assert!(bind.len() > 80, "{}", bind.len());
    }
}

#[test]
fn a_readable_bind_private_key_is_refused_naming_file_and_fix() {
    if tool(
        "a_readable_bind_private_key_is_refused_naming_file_and_fix",
        "dnssec-keygen",
        "bind9-utils",
    )
    .is_none()
    {
        return;
    }
    let tmp = TempDir::new("perm");
    let stem = bind_keygen(&tmp.0, &["-a", "ECDSAP256SHA256", "-f", "KSK", FORWARD.1]);
    let private = tmp.0.join(format!("{stem}.private"));
    let (apex, _) = site_zone(FORWARD.0, FORWARD.1);
    assert_eq!(read_key_dir(&tmp.0, &apex).unwrap().len(), 1);
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = read_key_dir(&tmp.0, &apex).unwrap_err().to_string();
    assert!(err.contains(&private.display().to_string()), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    let secret = std::fs::read_to_string(&private).unwrap();
    let secret = secret
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey: "))
        .unwrap();
    assert!(!err.contains(secret));
}
