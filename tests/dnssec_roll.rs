//! The manual CSK roll of docs/operations.md section 13, step by step,
//! with a running vigia and validating unbounds (issue 14): at every step
//! the answers through a resolver holding the DS in force are secure.
//!
//! 1. `vigia dnssec keygen` makes a second CSK; a reload (SIGHUP, what
//!    `systemctl reload` sends) publishes it, and both keys sign every
//!    RRset;
//! 2. wait for the DNSKEY TTL: a resolver that cached the old DNSKEY RRset
//!    sees the new one;
//! 3. `vigia dnssec ds` prints two DS lines; the new one goes to the
//!    registry (here: a resolver with the new DS as its trust anchor);
//! 4. the old key's files leave the key directory; a reload: one DNSKEY,
//!    one signature per RRset, still secure for the new DS (and bogus
//!    for a resolver that only has the old one, once its cache expires).
//!
//! Needs unbound; without it the test says loudly it was skipped (and
//! fails when CI=true).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::unbound::{secure, Unbound};
use common::wait::until_found as wait_for;
use common::{parse, run_vigia, Msg, Server, ServerOpts, TempDir, ZoneSpec, A, Q, SOA, TXT};

const ZONE: &str = "roll.example.";
const RRSIG: u16 = 46;
const DNSKEY: u16 = 48;

/// The questions asked through the resolvers at every step: positive,
/// the apex, NXDOMAIN, NODATA, the keys.
const QUESTIONS: &[(&str, u16, u16)] = &[
    ("www.roll.example.", A, 0),
    (ZONE, SOA, 0),
    ("nothere.roll.example.", A, 3),
    ("www.roll.example.", TXT, 0),
    (ZONE, DNSKEY, 0),
];

fn all_secure(u: &Unbound) {
    for &(name, qtype, rcode) in QUESTIONS {
        secure(u, name, qtype, rcode);
    }
}

fn vigia_cli(args: &[&str]) -> String {
    let (code, out, err) = run_vigia(args);
    assert_eq!(code, 0, "vigia {args:?}: {out}{err}");
    out
}

fn keygen(config: &Path) -> PathBuf {
    let out = vigia_cli(&["dnssec", "keygen", "--config", config.to_str().unwrap(), ZONE]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one CSK: {out}");
    PathBuf::from(lines[0])
}

fn ds_lines(config: &Path) -> Vec<String> {
    vigia_cli(&["dnssec", "ds", "--config", config.to_str().unwrap(), ZONE])
        .lines()
        .map(str::to_string)
        .collect()
}

fn ask_do(vigia: SocketAddr, name: &str, qtype: u16) -> Msg {
    let r = common::query_udp_timeout(
        vigia,
        &Q::new(name, qtype).edns(4096).do_bit().build(),
        Duration::from_secs(2),
    )
    .unwrap_or_else(|| panic!("vigia did not answer {name}/{qtype}"));
    parse(&r).unwrap()
}

/// The key tags of the DNSKEYs vigia publishes, sorted.
fn published(vigia: SocketAddr) -> Vec<u16> {
    let mut tags: Vec<u16> = ask_do(vigia, ZONE, DNSKEY)
        .answer
        .iter()
        .filter(|r| r.rtype == DNSKEY)
        .map(|r| key_tag(&r.rdata_wire))
        .collect();
    tags.sort();
    tags
}

/// RFC 4034 appendix B.
fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            u32::from(b)
        } else {
            u32::from(b) << 8
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// The key tags of the RRSIGs over `name`/`qtype` as vigia serves it, sorted.
fn signers(vigia: SocketAddr, name: &str, qtype: u16) -> Vec<u16> {
    let mut tags: Vec<u16> = ask_do(vigia, name, qtype)
        .answer
        .iter()
        .filter(|r| r.rtype == RRSIG && r.rdata_wire.get(0..2) == Some(&qtype.to_be_bytes()[..]))
        .map(|r| u16::from_be_bytes([r.rdata_wire[16], r.rdata_wire[17]]))
        .collect();
    tags.sort();
    tags
}

fn tag_of(ds: &str) -> u16 {
    ds.split_whitespace().nth(3).and_then(|t| t.parse().ok()).unwrap()
}

fn reload(vigia: &Server, want: &[u16], what: &str) {
    let mut want = want.to_vec();
    want.sort();
    vigia.signal(libc::SIGHUP);
    wait_for(
        Duration::from_secs(15),
        what,
        || (published(vigia.addr) == want).then_some(()),
        || format!("vigia publishes {:?}:\n{}", published(vigia.addr), vigia.stderr()),
    );
}

#[test]
fn a_manual_csk_roll_as_documented_stays_secure_at_every_step() {
    let Some([unbound]) = common::tools::require("a_manual_csk_roll", [("unbound", "unbound")]) else {
        return;
    };
    let dir = TempDir::new("dnssec-roll");
    // TTLs of 2 s: the waits of the procedure (the DNSKEY TTL, the
    // parent's DS TTL) are seconds here, a day on the site.
    let zone = dir.path().join("db.roll");
    std::fs::write(
        &zone,
        "$TTL 2\n@ SOA ns hostmaster 1 3600 600 86400 2\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.80\n",
    )
    .unwrap();
    let keys = dir.path().join("keys");
    let dnssec = format!("\n[dnssec]\nkey_dir = \"{}\"\n", keys.display());
    let pre = dir.path().join("keygen.toml");
    std::fs::write(
        &pre,
        format!(
            "[server]\nstate_dir = \"{}\"\n[[zone]]\nname = \"{ZONE}\"\nfile = \"{}\"\ndnssec = true\n{dnssec}",
            dir.path().join("st").display(),
            zone.display()
        ),
    )
    .unwrap();
    let old_key = keygen(&pre);
    let old_ds = ds_lines(&pre);
    assert_eq!(old_ds.len(), 1);
    let old_tag = tag_of(&old_ds[0]);
    let vigia = Server::start(ServerOpts {
        zones: vec![ZoneSpec::new(ZONE, zone.clone()).with_extra("dnssec = true\n")],
        extra: dnssec,
        ..ServerOpts::default()
    });
    // The resolver holding the DS the registry has before the roll.
    let before = Unbound::start_for(&unbound, vigia.addr, &old_ds, &[ZONE], 117);
    all_secure(&before);

    // Step 1: a second CSK, published and signing after a reload.
    let new_key = keygen(&vigia.config);
    let two = ds_lines(&vigia.config);
    assert_eq!(two.len(), 2, "{two:?}");
    let new_ds: Vec<String> = two.iter().filter(|l| **l != old_ds[0]).cloned().collect();
    assert_eq!(new_ds.len(), 1, "the old DS line is unchanged: {two:?}");
    let new_tag = tag_of(&new_ds[0]);
    reload(
        &vigia,
        &[old_tag, new_tag],
        "both keys published after the reload",
    );
    let mut both = vec![old_tag, new_tag];
    both.sort();
    for (name, qtype) in [("www.roll.example.", A), (ZONE, SOA), (ZONE, DNSKEY)] {
        assert_eq!(
            signers(vigia.addr, name, qtype),
            both,
            "{name}/{qtype} signed by both keys"
        );
    }
    all_secure(&before);

    // Step 2: the DNSKEY TTL passes; the resolver sees both keys.
    wait_for(
        Duration::from_secs(15),
        "the resolver's DNSKEY RRset holds both keys",
        || {
            let m = secure(&before, ZONE, DNSKEY, 0);
            (m.answer.iter().filter(|r| r.rtype == DNSKEY).count() == 2).then_some(())
        },
        || secure(&before, ZONE, DNSKEY, 0).dump(),
    );
    all_secure(&before);

    // Step 3: the registry gets the new DS: resolvers that learn it (here
    // one with it as its anchor) validate, and so do those that still
    // hold the old one.
    let after = Unbound::start_for(&unbound, vigia.addr, &new_ds, &[ZONE], 118);
    all_secure(&after);
    all_secure(&before);

    // Step 4: the old key leaves the key directory; after a reload one
    // key publishes and signs, and the new DS's resolver stays secure,
    // with what it cached before the reload and after.
    let out = dir.path().join("retired");
    std::fs::create_dir_all(&out).unwrap();
    for f in [old_key.clone(), old_key.with_extension("private")] {
        std::fs::rename(&f, out.join(f.file_name().unwrap())).unwrap();
    }
    assert!(new_key.exists());
    reload(&vigia, &[new_tag], "only the new key published after the reload");
    for (name, qtype) in [("www.roll.example.", A), (ZONE, SOA), (ZONE, DNSKEY)] {
        assert_eq!(
            signers(vigia.addr, name, qtype),
            [new_tag],
            "{name}/{qtype} signed by the new key only"
        );
    }
    // Until every TTL of the old data has passed and a few more seconds,
    // every answer through the new DS's resolver is secure.
    let until = std::time::Instant::now() + Duration::from_secs(6);
    let mut answers = 0;
    while std::time::Instant::now() < until {
        all_secure(&after);
        answers += QUESTIONS.len();
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = secure(&after, ZONE, DNSKEY, 0);
    assert_eq!(
        m.answer.iter().filter(|r| r.rtype == DNSKEY).count(),
        1,
        "{}",
        m.dump()
    );
    assert_eq!(ds_lines(&vigia.config), new_ds);
    // Why step 3 must come first: a resolver still holding only the old
    // DS finds the zone bogus (SERVFAIL) once its cached keys expire.
    wait_for(
        Duration::from_secs(15),
        "the old DS's resolver fails once the old key is gone",
        || (before.ask(ZONE, SOA)?.rcode == 2).then_some(()),
        || format!("{:?}", before.ask(ZONE, SOA).map(|m| m.dump())),
    );
    eprintln!("CSK roll {old_tag} -> {new_tag}: {answers} secure answers after the old key left");
}
