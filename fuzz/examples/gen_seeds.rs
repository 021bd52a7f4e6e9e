//! Writes the seed corpora under fuzz/seeds/: real queries for every owner
//! name of the repository's zones (plus misses, wildcards, meta-types, EDNS
//! variants, NOTIFY, transfers and the classic malformations), the zone
//! files themselves, and the example configs.
//!
//! Run from fuzz/: `cargo run --example gen_seeds` (deterministic output).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tiny deterministic generator (xorshift64*), so the seeds never change.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn opt(size: u16, version: u8, do_bit: bool, options: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 41];
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(&[0, version, if do_bit { 0x80 } else { 0 }, 0]);
    v.extend_from_slice(&(options.len() as u16).to_be_bytes());
    v.extend_from_slice(options);
    v
}

struct Query {
    id: u16,
    flags: u16,
    name: Vec<u8>,
    qtype: u16,
    class: u16,
    edns: Option<Vec<u8>>,
}

impl Query {
    fn build(&self) -> Vec<u8> {
        let mut m = self.id.to_be_bytes().to_vec();
        m.extend_from_slice(&self.flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, self.edns.is_some() as u8]);
        m.extend_from_slice(&self.name);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&self.class.to_be_bytes());
        if let Some(o) = &self.edns {
            m.extend_from_slice(o);
        }
        m
    }
}

fn mix_case(wire: &[u8], rng: &mut Rng) -> Vec<u8> {
    wire.iter()
        .map(|&b| {
            if b.is_ascii_alphabetic() && rng.next() & 1 == 1 {
                b ^ 0x20
            } else {
                b
            }
        })
        .collect()
}

fn prepend(label: &[u8], wire: &[u8]) -> Vec<u8> {
    let mut v = vec![label.len() as u8];
    v.extend_from_slice(label);
    v.extend_from_slice(wire);
    v
}

fn packet_seeds() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_f00d);
    let mut owners: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut apexes = Vec::new();
    for z in vigia_fuzz::zones() {
        apexes.push(z.origin.wire().to_vec());
        for r in &z.records {
            owners.insert(r.owner.wire().to_vec());
        }
    }
    let mut names: Vec<Vec<u8>> = owners.into_iter().collect();
    for apex in &apexes {
        names.push(prepend(b"nonexistent", apex));
        names.push(prepend(b"x", &prepend(b"y", apex)));
    }
    names.push(b"\x03foo\x04wild\x04edge\x04test\x00".to_vec());
    names.push(b"\x01z\x03ent\x04wild\x04edge\x04test\x00".to_vec());
    names.push(b"\x03www\x03sub\x04edge\x04test\x00".to_vec());
    names.push(b"\x01x\x02dn\x04edge\x04test\x00".to_vec());
    names.push(b"\x07example\x03org\x00".to_vec());
    names.push(b"\x00".to_vec());
    let types: [u16; 16] = [1, 28, 2, 6, 15, 16, 255, 5, 12, 33, 257, 43, 39, 13, 65, 99];
    let mut out = Vec::new();
    for name in &names {
        // Four queries per name: a mix of types, case, RD and EDNS.
        for _ in 0..4 {
            let t = types[(rng.next() % types.len() as u64) as usize];
            let edns = match rng.next() % 5 {
                0 => None,
                1 => Some(opt(1232, 0, false, &[])),
                2 => Some(opt(4096, 0, true, &[])),
                3 => Some(opt(512, 0, false, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])),
                _ => Some(opt(1400, 0, true, &[])),
            };
            let q = Query {
                id: rng.next() as u16,
                flags: if rng.next() & 1 == 1 { 0x0100 } else { 0 },
                name: mix_case(name, &mut rng),
                qtype: t,
                class: 1,
                edns,
            };
            out.push(q.build());
        }
    }
    // Meta-types, transfers, opcodes, classes, EDNS versions.
    let apex = &apexes[apexes.len() - 1];
    let base = |qtype: u16| Query {
        id: 0x4242,
        flags: 0,
        name: apex.clone(),
        qtype,
        class: 1,
        edns: None,
    };
    for t in [252, 251, 253, 254, 41, 249, 250, 0, 65280] {
        out.push(base(t).build());
    }
    for class in [3, 4, 7, 254, 255, 0] {
        out.push(Query { class, ..base(1) }.build());
    }
    for op in [1u16, 2, 4, 5, 6, 15] {
        out.push(
            Query {
                flags: op << 11,
                ..base(6)
            }
            .build(),
        );
    }
    out.push(
        Query {
            edns: Some(opt(1232, 1, false, &[])),
            ..base(1)
        }
        .build(),
    );
    out.push(
        Query {
            edns: Some(opt(100, 0, false, &[])),
            ..base(255)
        }
        .build(),
    );
    // Classic malformations.
    let good = base(1).build();
    let mut m = good.clone();
    m[5] = 0; // qdcount 0
    out.push(m);
    let mut m = good.clone();
    m[5] = 2; // qdcount 2, one question
    out.push(m);
    let mut m = good.clone();
    m[7] = 1; // ancount lies
    out.push(m);
    let mut m = good.clone();
    m[11] = 3; // arcount lies
    out.push(m);
    let mut m = good.clone();
    m.push(0xAA); // trailing garbage
    out.push(m);
    out.push(good[..good.len() - 2].to_vec()); // truncated question
    let mut m = good.clone();
    m[2] |= 0x80; // a response
    out.push(m);
    out.push(good[..11].to_vec());
    // Answer record with a self-pointer, a forward pointer, a header pointer.
    for ptr in [0u8, 12, 0xFF] {
        let mut m = good.clone();
        m[7] = 1;
        let at = m.len() as u8;
        let p = if ptr == 0 { at } else { ptr };
        m.extend_from_slice(&[0xC0, p, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        out.push(m);
    }
    // OPT with rdlen past the end; OPT in the answer section; two OPTs.
    let mut m = base(1).build();
    m[11] = 1;
    m.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 40, 0, 10]);
    out.push(m);
    let mut m = base(1).build();
    m[7] = 1;
    m.extend_from_slice(&opt(1232, 0, false, &[]));
    out.push(m);
    let mut m = base(1).build();
    m[11] = 2;
    m.extend_from_slice(&opt(1232, 0, false, &[]));
    m.extend_from_slice(&opt(1232, 0, false, &[]));
    out.push(m);
    out
}

/// Text name to wire form ("www.edge.test." -> \x03www\x04edge\x04test\x00).
fn wire(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// Seeds of `packet_dnssec`: DO=1 queries for what a signed zone answers
/// with proofs or signatures (positive, NXDOMAIN, NODATA, wildcard,
/// delegation, DS, DNSKEY, ANY, CNAME chains, DNAME, the DNSSEC types
/// themselves), each with every EDNS buffer size that truncates some of
/// them (512, 600, 1232, 4096); the same without DO, and without EDNS.
fn packet_dnssec_seeds() -> Vec<Vec<u8>> {
    const A: u16 = 1;
    const NS: u16 = 2;
    const SOA: u16 = 6;
    const MX: u16 = 15;
    const TXT: u16 = 16;
    const AAAA: u16 = 28;
    const DS: u16 = 43;
    const RRSIG: u16 = 46;
    const NSEC: u16 = 47;
    const DNSKEY: u16 = 48;
    const NSEC3: u16 = 50;
    const NSEC3PARAM: u16 = 51;
    const CDS: u16 = 59;
    const CDNSKEY: u16 = 60;
    const ANY: u16 = 255;
    let cases: &[(&str, u16)] = &[
        // Positive answers, apex and below.
        ("ns1.edge.test.", A),
        ("www.edge.test.", AAAA),
        ("edge.test.", SOA),
        ("edge.test.", NS),
        ("edge.test.", MX),
        ("no-paladar.com.br.", A),
        ("master.no-paladar.com.br.", A),
        ("108.0.168.192.in-addr.arpa.", 12),
        // NXDOMAIN, at several depths, and below an empty non-terminal.
        ("nonexistent.edge.test.", A),
        ("a.b.nonexistent.edge.test.", AAAA),
        ("zz.b.c.edge.test.", A),
        ("nonexistent.no-paladar.com.br.", A),
        ("nonexistent.0.168.192.in-addr.arpa.", 12),
        // NODATA: other types at a name, an empty non-terminal, a
        // failover marker (mail AAAA withheld), DS at the apex.
        ("ns1.edge.test.", MX),
        ("b.c.edge.test.", A),
        ("ent.wild.edge.test.", A),
        ("mail.edge.test.", AAAA),
        ("edge.test.", DS),
        ("www.no-paladar.com.br.", AAAA),
        // SERVFAIL marker.
        ("www.edge.test.", A),
        // Wildcard: an answer, a NODATA from it, the blocked name.
        ("foo.wild.edge.test.", A),
        ("foo.wild.edge.test.", TXT),
        ("foo.wild.edge.test.", MX),
        ("a.b.foo.wild.edge.test.", A),
        ("block.wild.edge.test.", A),
        // Delegation: referral with DS, below it, the DS itself, glue.
        ("sub.edge.test.", A),
        ("www.sub.edge.test.", A),
        ("sub.edge.test.", DS),
        ("sub.edge.test.", NS),
        ("ns.sub.edge.test.", A),
        // Keys and the DNSSEC types asked for by name.
        ("edge.test.", DNSKEY),
        ("edge.test.", CDS),
        ("edge.test.", CDNSKEY),
        ("edge.test.", NSEC3PARAM),
        ("edge.test.", RRSIG),
        ("edge.test.", NSEC),
        ("ns1.edge.test.", NSEC),
        ("ns1.edge.test.", NSEC3),
        ("nonexistent.edge.test.", RRSIG),
        ("no-paladar.com.br.", DNSKEY),
        // ANY.
        ("edge.test.", ANY),
        ("ns1.edge.test.", ANY),
        ("nonexistent.edge.test.", ANY),
        // CNAME chains: in zone, to a wildcard, a loop, out of the zone,
        // and a CNAME to a name that does not exist.
        ("c1.edge.test.", A),
        ("c1.edge.test.", AAAA),
        ("loop1.edge.test.", A),
        ("out.edge.test.", A),
        ("www.no-paladar.com.br.", A),
        // DNAME.
        ("x.dn.edge.test.", A),
        ("y.dn.edge.test.", A),
        // Large RRsets that truncate at small buffers.
        ("big.edge.test.", A),
        ("big.edge.test.", ANY),
    ];
    let mut rng = Rng(0xd0_5eed);
    let mut out = Vec::new();
    for &(name, qtype) in cases {
        for size in [512u16, 600, 1232, 4096] {
            out.push(
                Query {
                    id: rng.next() as u16,
                    flags: 0,
                    name: mix_case(&wire(name), &mut rng),
                    qtype,
                    class: 1,
                    edns: Some(opt(size, 0, true, &[])),
                }
                .build(),
            );
        }
        for edns in [Some(opt(1232, 0, false, &[])), None] {
            out.push(
                Query {
                    id: rng.next() as u16,
                    flags: 0x0100,
                    name: wire(name),
                    qtype,
                    class: 1,
                    edns,
                }
                .build(),
            );
        }
    }
    // AD and CD set by the query, and transfers of the signed zones.
    for flags in [0x0020u16, 0x0010] {
        out.push(
            Query {
                id: 7,
                flags,
                name: wire("nonexistent.edge.test."),
                qtype: A,
                class: 1,
                edns: Some(opt(1232, 0, true, &[])),
            }
            .build(),
        );
    }
    for (name, t) in [
        ("edge.test.", 252u16),
        ("no-paladar.com.br.", 252),
        ("edge.test.", 251),
    ] {
        out.push(
            Query {
                id: 9,
                flags: 0,
                name: wire(name),
                qtype: t,
                class: 1,
                edns: None,
            }
            .build(),
        );
    }
    out
}

fn write_dir(dir: &Path, seeds: &[(String, Vec<u8>)]) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes).unwrap();
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn main() {
    let root = root();
    let seeds = root.join("fuzz/seeds");

    let packets: Vec<(String, Vec<u8>)> = packet_seeds()
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("q{i:04}"), b))
        .collect();
    write_dir(&seeds.join("packet"), &packets);

    let signed: Vec<(String, Vec<u8>)> = packet_dnssec_seeds()
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("do{i:04}"), b))
        .collect();
    write_dir(&seeds.join("packet_dnssec"), &signed);

    // Zone seeds: selector octet (the origin, see fuzz_targets/zone.rs) + text.
    let mut zones = Vec::new();
    let mut add = |sel: u8, path: PathBuf| {
        let mut b = vec![sel];
        b.extend_from_slice(&fs::read(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        zones.push((name, b));
    };
    add(0, root.join("tests/data/zones/db.edge.test"));
    add(1, root.join("zones/db.no-paladar.com.br"));
    add(2, root.join("zones/db.0.168.192.in-addr.arpa"));
    // DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, DS, CDS, CDNSKEY text.
    add(
        1,
        root.join("tests/data/zones/dnssec/db.no-paladar.com.br.signed"),
    );
    for sub in ["bad", "warn"] {
        let mut files: Vec<PathBuf> = fs::read_dir(root.join("tests/data/zones").join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            add(3, f);
        }
    }
    zones.push((
        "generate.db".into(),
        b"\x03$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n$GENERATE 1-20/2 host$ A 10.0.0.$\n$GENERATE 1-4 ${0,3,x}.r CNAME host$\n".to_vec(),
    ));
    // With the high selector bit: small limits, $INCLUDE allowed.
    let head = "$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
    for (name, body) in [
        ("limits-generate.db", "$GENERATE 1-40 host$ A 10.0.0.$\n"),
        (
            "limits-rrset.db",
            "m A 10.0.0.1\nm A 10.0.0.2\nm A 10.0.0.3\nm A 10.0.0.4\nm A 10.0.0.5\n",
        ),
        (
            "limits-include.db",
            "$INCLUDE /dev/zero\n$INCLUDE /proc/self/status\n$INCLUDE /etc/hostname\n",
        ),
    ] {
        let mut b = vec![0x83];
        b.extend_from_slice(format!("{head}{body}").as_bytes());
        zones.push((name.into(), b));
    }
    write_dir(&seeds.join("zone"), &zones);

    let mut configs = Vec::new();
    for f in ["config.toml", "examples/local.toml"] {
        let name = f.replace('/', "_");
        configs.push((name, fs::read(root.join(f)).unwrap()));
    }
    write_dir(&seeds.join("config"), &configs);

    // named.conf seeds: every file of the test trees' etc/ (import-bind).
    let mut confs = Vec::new();
    for shape in ["thesis", "debian", "centos"] {
        let mut stack = vec![root.join("tests/data/bind").join(shape).join("etc")];
        while let Some(dir) = stack.pop() {
            let mut entries: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    stack.push(p);
                } else if !p.is_symlink() {
                    let name = format!("{shape}_{}", p.file_name().unwrap().to_string_lossy());
                    confs.push((name, fs::read(&p).unwrap()));
                }
            }
        }
    }
    write_dir(&seeds.join("bindconf"), &confs);
}
