//! Tests of the zone-file reader (lexer, directives, `$GENERATE`, RDATA).

use super::generate::substitute;
use super::parser::{parse_bytes, parse_duration, parse_str, ParseError};
use super::text::decode_base64;
use super::SourceRecord;
use crate::dns::class::IN as CLASS_IN;
use crate::dns::types::type_name;
use crate::dns::{rtype, Field, Name, Rdata};
use crate::reclaim::Reclaimer;
use std::path::{Path, PathBuf};

const FILE: &str = "db.test";

fn n(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

fn origin() -> Name {
    n("example.test.")
}

fn try_parse(text: &str) -> Result<Vec<SourceRecord>, ParseError> {
    parse_str(text, Path::new(FILE), &origin(), Path::new("/nonexistent-base"))
}

fn parse(text: &str) -> Vec<SourceRecord> {
    try_parse(text).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn err(text: &str) -> String {
    match try_parse(text) {
        Ok(recs) => panic!("expected an error, got {} records", recs.len()),
        Err(e) => e.to_string(),
    }
}

/// The record data of a single record line (with a $TTL in front).
fn rdata(line: &str) -> Rdata {
    let recs = parse(&format!("$TTL 300\n{line}\n"));
    assert_eq!(recs.len(), 1, "{line}");
    recs.into_iter().next().unwrap().record.rdata
}

fn wire(line: &str) -> Vec<u8> {
    rdata(line).to_wire()
}

fn name_field(name: &str, compress: bool) -> Field {
    Field::Name {
        name: n(name),
        compress,
    }
}

fn bytes_field(b: &[u8]) -> Field {
    Field::Bytes(b.into())
}

// ---- directives -----------------------------------------------------

#[test]
fn origin_directive_is_relative_to_current_origin() {
    let recs = parse(
        "$TTL 1\na A 1.2.3.4\n$ORIGIN sub\nb A 1.2.3.4\n$ORIGIN other.test.\nc A 1.2.3.4\n@ A 1.2.3.4\n",
    );
    let owners: Vec<String> = recs.iter().map(|r| r.record.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "a.example.test.",
            "b.sub.example.test.",
            "c.other.test.",
            "other.test."
        ]
    );
}

#[test]
fn ttl_directive_accepts_bind_units_in_any_case() {
    let recs = parse("$TTL 1w2d3h4m5s\na A 1.2.3.4\n$TTL 1H\nb A 1.2.3.4\n$TTL 90\nc A 1.2.3.4\n");
    let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
    assert_eq!(ttls, [604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5, 3_600, 90]);
}

#[test]
fn duration_syntax_matches_bind() {
    assert_eq!(parse_duration(b"0"), Some(0));
    assert_eq!(parse_duration(b"4294967295"), Some(u32::MAX));
    assert_eq!(parse_duration(b"4294967296"), None);
    assert_eq!(
        parse_duration(b"1h30"),
        None,
        "BIND rejects a bare number after a unit"
    );
    assert_eq!(parse_duration(b"1x"), None);
    assert_eq!(parse_duration(b"h"), None);
    assert_eq!(parse_duration(b"2D"), Some(172_800));
    assert_eq!(parse_duration(b""), None);
}

#[test]
fn ttl_above_maxttl_becomes_zero() {
    let recs = parse("a 3000000000 A 1.2.3.4\n$TTL 4294967295\nb A 1.2.3.4\n");
    assert_eq!(recs[0].record.ttl, 0);
    assert_eq!(recs[1].record.ttl, 0);
}

#[test]
fn omitted_ttl_uses_last_explicit_ttl_without_ttl_directive() {
    let recs = parse("@ 3600 SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 100 A 1.2.3.4\nx A 1.2.3.5\n");
    let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
    assert_eq!(ttls, [3600, 3600, 100, 100]);
}

#[test]
fn omitted_ttl_uses_soa_minimum_when_nothing_else_is_known() {
    // BIND: the SOA MINIMUM becomes the default, even after explicit TTLs.
    let recs = parse("@ SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 100 A 1.2.3.4\nx A 1.2.3.5\n");
    let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
    assert_eq!(ttls, [5, 5, 100, 5]);
}

#[test]
fn ttl_directive_wins_over_last_explicit_ttl() {
    let recs = parse("$TTL 60\na 100 A 1.2.3.4\nb A 1.2.3.4\n");
    assert_eq!(recs[1].record.ttl, 60);
}

#[test]
fn missing_ttl_is_an_error_at_the_record_line() {
    let e = err("; comment\n\nfoo A 1.2.3.4\n");
    assert!(e.starts_with("db.test:3: no TTL specified"), "{e}");
}

#[test]
fn include_with_origin_argument_applies_only_inside() {
    let dir = temp_dir("include-origin");
    std::fs::write(
        dir.join("inc.db"),
        "$TTL 77\nfoo A 1.2.3.4\n$ORIGIN deeper\nbar A 1.2.3.5\n",
    )
    .unwrap();
    let text = "$TTL 300\nns1 A 10.0.0.1\n$INCLUDE inc.db sub\n  A 10.0.0.2\nafter A 10.0.0.3\n";
    let recs = parse_str(text, Path::new(FILE), &origin(), &dir).unwrap();
    let got: Vec<(String, u32, String, usize)> = recs
        .iter()
        .map(|r| {
            let file = r.at.file.file_name().unwrap().to_string_lossy().into_owned();
            (r.record.owner.to_string(), r.record.ttl, file, r.at.line)
        })
        .collect();
    let want = [
        ("ns1.example.test.", 300, "db.test", 2),
        ("foo.sub.example.test.", 77, "inc.db", 2),
        ("bar.deeper.sub.example.test.", 77, "inc.db", 4),
        // Owner and origin come back after the include; $TTL does not (BIND).
        ("ns1.example.test.", 77, "db.test", 4),
        ("after.example.test.", 77, "db.test", 5),
    ];
    let want: Vec<(String, u32, String, usize)> = want
        .iter()
        .map(|(o, t, f, l)| (o.to_string(), *t, f.to_string(), *l))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn include_inherits_the_current_owner() {
    let dir = temp_dir("include-owner");
    std::fs::write(dir.join("inc.db"), "   A 1.2.3.5\n").unwrap();
    let recs = parse_str(
        "$TTL 1\nns2 A 1.2.3.4\n$INCLUDE inc.db\n",
        Path::new(FILE),
        &origin(),
        &dir,
    )
    .unwrap();
    assert_eq!(recs[1].record.owner, n("ns2.example.test."));
}

#[test]
fn include_errors_name_the_included_file_and_line() {
    let dir = temp_dir("include-error");
    let inc = dir.join("bad.db");
    std::fs::write(&inc, "ok A 1.2.3.4\nbad A 1.2.3\n").unwrap();
    let e = parse_str("$TTL 1\n$INCLUDE bad.db\n", Path::new(FILE), &origin(), &dir).unwrap_err();
    assert_eq!(e.file, inc);
    assert_eq!(e.line, 2);
    assert_eq!(e.reason, "bad IPv4 address '1.2.3' in A record");
}

#[test]
fn missing_include_file_is_reported_at_the_include_line() {
    let e = err("$TTL 1\n\n$INCLUDE nope.db\n");
    assert!(
        e.starts_with("db.test:3: cannot read $INCLUDE file '/nonexistent-base/nope.db'"),
        "{e}"
    );
}

#[test]
fn recursive_include_stops_at_depth_20() {
    let dir = temp_dir("include-loop");
    std::fs::write(dir.join("loop.db"), "$INCLUDE loop.db\n").unwrap();
    let e = parse_str("$INCLUDE loop.db\n", Path::new(FILE), &origin(), &dir).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.reason.contains("nested more than 20 deep"), "{e}");
    assert!(e.file.ends_with("loop.db"));
}

#[test]
fn generate_expands_dollar_and_modifiers() {
    let recs = parse("$TTL 1\n$GENERATE 1-3 host$ A 10.0.0.$\n");
    let got: Vec<(String, Vec<u8>)> = recs
        .iter()
        .map(|r| (r.record.owner.to_string(), r.record.rdata.to_wire()))
        .collect();
    assert_eq!(
        got,
        [
            ("host1.example.test.".to_string(), vec![10, 0, 0, 1]),
            ("host2.example.test.".to_string(), vec![10, 0, 0, 2]),
            ("host3.example.test.".to_string(), vec![10, 0, 0, 3]),
        ]
    );
    // Same outputs as named-checkzone 9.18 for these templates.
    assert_eq!(substitute(b"h\\$${10,3,x}", 1, 1).unwrap(), b"h\\$00b");
    assert_eq!(substitute(b"h$$", 1, 1).unwrap(), b"h$");
    assert_eq!(substitute(b"${-1}", 5, 1).unwrap(), b"4");
    assert_eq!(substitute(b"${0,4,n}", 10, 1).unwrap(), b"a.0.");
    assert_eq!(substitute(b"${0,0,N}", 0xab, 1).unwrap(), b"B.A");
    assert_eq!(substitute(b"${0,6,o}", 8, 1).unwrap(), b"000010");
    assert!(substitute(b"${-10}", 5, 1).is_err());
    assert!(substitute(b"${1,2,q}", 5, 1).is_err());
    assert!(substitute(b"${1", 5, 1).is_err());
}

#[test]
fn generate_with_step_ttl_class_and_quoted_rhs() {
    let recs = parse("$TTL 1\n$GENERATE 2-6/2 h$ 60 IN TXT \"foo $\"\n");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2].record.owner, n("h6.example.test."));
    assert_eq!(recs[2].record.ttl, 60);
    // BIND reads the substituted text again: two strings.
    assert_eq!(recs[2].record.rdata.to_wire(), b"\x03foo\x016");
}

#[test]
fn generate_errors() {
    assert!(err("$GENERATE 5-1 h$ A 10.0.0.$\n").starts_with("db.test:1: bad $GENERATE range '5-1'"));
    assert!(err("$GENERATE 0-100000 h$ A 10.0.0.$\n").contains("gives 100001 records, more than 65536"));
    assert!(err("$TTL 1\n$GENERATE 1-300 h$ A 10.0.0.$\n")
        .starts_with("db.test:2: bad IPv4 address '10.0.0.256'"));
}

#[test]
fn unknown_directive_is_an_error() {
    assert_eq!(err("$TTL 1\n$FOO bar\n"), "db.test:2: unknown directive '$FOO'");
    assert_eq!(err("$TTL 1 2\n"), "db.test:1: extra text '2' after $TTL");
    assert_eq!(err("$ORIGIN\n"), "db.test:1: missing domain name in $ORIGIN");
}

// ---- lines, owners, TTL and class ------------------------------------

#[test]
fn omitted_owner_repeats_previous_owner() {
    let recs = parse("$TTL 1\nwww A 1.2.3.4\n\tAAAA ::1\n  TXT hi\n");
    assert!(recs.iter().all(|r| r.record.owner == n("www.example.test.")));
    assert_eq!(recs[2].record.rtype, rtype::TXT);
}

#[test]
fn omitted_owner_at_start_is_an_error() {
    let e = err("$TTL 1\n  A 1.2.3.4\n");
    assert!(e.starts_with("db.test:2: no owner name"), "{e}");
}

#[test]
fn ttl_and_class_in_either_order_and_optional() {
    let recs = parse("$TTL 5\na IN 60 A 1.2.3.4\nb 60 IN A 1.2.3.4\nc IN A 1.2.3.4\nd 1m A 1.2.3.4\ne A 1.2.3.4\nf CLASS1 A 1.2.3.4\n");
    let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
    assert_eq!(ttls, [60, 60, 5, 60, 5, 5]);
    assert!(recs.iter().all(|r| r.record.class == CLASS_IN));
}

#[test]
fn other_classes_are_rejected_by_name() {
    assert_eq!(
        err("$TTL 1\nfoo CH A 1.2.3.4\n"),
        "db.test:2: class 'CH' is not supported (only IN)"
    );
    assert_eq!(
        err("foo 5 hs TXT x\n"),
        "db.test:1: class 'hs' is not supported (only IN)"
    );
}

#[test]
fn bad_ttl_names_the_token() {
    assert_eq!(
        err("foo 1x A 1.2.3.4\n"),
        "db.test:1: TTL '1x' is not a number or BIND duration (like 1w2d3h4m5s) up to 4294967295"
    );
    assert!(err("$TTL 1h30\n").starts_with("db.test:1: TTL '1h30' is not"));
}

#[test]
fn type_mnemonics_any_case_and_typennn() {
    assert_eq!(parse("$TTL 1\na a 1.2.3.4\n")[0].record.rtype, rtype::A);
    assert_eq!(parse("$TTL 1\na Aaaa ::1\n")[0].record.rtype, rtype::AAAA);
    let r = &parse("$TTL 1\na TYPE1 1.2.3.4\n")[0].record;
    assert_eq!((r.rtype, r.rdata.to_wire()), (1, vec![1, 2, 3, 4]));
    assert_eq!(parse("$TTL 1\na spf x\n")[0].record.rtype, rtype::SPF);
}

#[test]
fn unknown_and_meta_types_are_errors() {
    assert_eq!(
        err("$TTL 1\nfoo AAA 1.2.3.4\n"),
        "db.test:2: unknown record type 'AAA'"
    );
    assert_eq!(
        err("$TTL 1\nfoo TYPE70000 x\n"),
        "db.test:2: unknown record type 'TYPE70000'"
    );
    assert!(err("$TTL 1\nfoo ANY x\n").contains("class 'ANY' is not supported"));
    assert!(err("$TTL 1\nfoo IN AXFR x\n").contains("record type 'AXFR' is a query-only type"));
    assert!(err("$TTL 1\nfoo TYPE65280 00\n")
        .contains("record type TYPE65280 is not supported in presentation format"));
    assert_eq!(err("$TTL 1\nfoo\n"), "db.test:2: missing record type in record");
}

#[test]
fn parentheses_span_lines_and_records_start_where_they_start() {
    let text =
        "$TTL 1\n@ IN SOA ns1 host (\n  2024 ; serial\n  1h 2h ( 3w ) ; nested\n  5m )\nnext A 1.2.3.4\n";
    let recs = parse(text);
    assert_eq!(recs[0].at.line, 2);
    assert_eq!(recs[0].record.rdata.soa_serial(), Some(2024));
    assert_eq!(recs[0].record.rdata.soa_expire(), Some(3 * 604_800));
    assert_eq!(recs[0].record.rdata.soa_minimum(), Some(300));
    assert_eq!(recs[1].at.line, 6);
}

#[test]
fn unbalanced_parentheses_are_reported_where_they_are() {
    assert_eq!(
        err("$TTL 1\n\nfoo TXT ( a\n b\n"),
        "db.test:3: unbalanced parentheses: '(' is never closed"
    );
    assert_eq!(
        err("$TTL 1\nfoo TXT a )\n"),
        "db.test:2: unbalanced parentheses: ')' without '('"
    );
}

#[test]
fn comments_blank_lines_crlf_and_tabs() {
    let text = "; header\r\n$TTL 1\r\n\r\n\t; only a comment\r\nfoo\tIN\tA\t1.2.3.4 ; trailing\r\nbar TXT \"a;b\"\r\n";
    let recs = parse(text);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].record.rdata.to_wire(), [1, 2, 3, 4]);
    assert_eq!(recs[0].at.line, 5);
    assert_eq!(recs[1].record.rdata.to_wire(), b"\x03a;b");
}

#[test]
fn quoted_strings_with_escapes() {
    assert_eq!(
        wire(r#"t TXT "say \"hi\"" "back\\slash" "\065\032z" "" unq\032uoted"#),
        b"\x08say \"hi\"\x0aback\\slash\x03A z\x00\x09unq uoted"
    );
}

#[test]
fn unterminated_quote_is_reported_at_its_line() {
    assert_eq!(
        err("$TTL 1\nfoo TXT \"abc\nbar A 1.2.3.4\n"),
        "db.test:2: unterminated quoted string"
    );
    assert_eq!(
        err("$TTL 1\nfoo TXT \"abc"),
        "db.test:2: unterminated quoted string"
    );
}

#[test]
fn escapes_in_owner_names() {
    let recs = parse("$TTL 1\na\\032b TXT x\na\\.b TXT x\n\\@ TXT x\n");
    let first: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| r.record.owner.labels().next().unwrap().to_vec())
        .collect();
    assert_eq!(first, [b"a b".to_vec(), b"a.b".to_vec(), b"@".to_vec()]);
    assert_eq!(recs[1].record.owner.label_count(), 3);
}

#[test]
fn non_ascii_bytes_survive_in_names_and_strings() {
    let recs = parse_str(
        "$TTL 1\ncaf\u{e9} TXT \"\u{e9}\"\n",
        Path::new(FILE),
        &origin(),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(recs[0].record.owner.labels().next().unwrap(), "café".as_bytes());
    assert_eq!(recs[0].record.rdata.to_wire(), b"\x02\xc3\xa9");
    let raw = parse_bytes(
        b"$TTL 1\nx\\\xff TXT \xfe\n",
        Path::new(FILE),
        &origin(),
        Path::new("/"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(raw[0].record.owner.labels().next().unwrap(), b"x\xff");
    assert_eq!(raw[0].record.rdata.to_wire(), b"\x01\xfe");
}

#[test]
fn bad_names_say_what_is_wrong() {
    let long = "a".repeat(64);
    assert_eq!(
        err(&format!("$TTL 1\n{long} A 1.2.3.4\n")),
        // Quoted input is cut at 40 characters.
        format!(
            "db.test:2: bad owner name '{}...': label longer than 63 octets",
            &long[..40]
        )
    );
    let too_long = "abcdefghi.".repeat(26);
    assert_eq!(
        err(&format!("$TTL 1\nfoo CNAME {too_long}\n")),
        format!(
            "db.test:2: bad target name in CNAME record '{}...': name longer than 255 octets",
            &too_long[..40]
        )
    );
    assert!(err("$TTL 1\na..b A 1.2.3.4\n").starts_with("db.test:2: bad owner name 'a..b': empty label"));
    assert!(err("$TTL 1\na\\25x A 1.2.3.4\n").starts_with("db.test:2: bad owner name 'a\\25x': bad escape"));
    assert!(err("$TTL 1\n\"quoted\" A 1.2.3.4\n").contains("must not be quoted"));
}

// ---- record data ------------------------------------------------------

#[test]
fn a_records_are_strict_dotted_quads() {
    assert_eq!(wire("a A 192.0.2.1"), [192, 0, 2, 1]);
    for bad in [
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3.256",
        "a.b.c.d",
        "\"1.2.3.4\"",
    ] {
        let want = format!(
            "db.test:2: bad IPv4 address '{}' in A record",
            bad.trim_matches('"')
        );
        assert_eq!(err(&format!("$TTL 1\nfoo A {bad}\n")), want);
    }
}

#[test]
fn aaaa_records() {
    let mut want = [0u8; 16];
    want[0] = 0x20;
    want[1] = 0x01;
    want[2] = 0x0d;
    want[3] = 0xb8;
    want[15] = 1;
    assert_eq!(wire("a AAAA 2001:db8::1"), want);
    assert_eq!(wire("a AAAA ::ffff:1.2.3.4")[12..], [1, 2, 3, 4]);
    assert_eq!(
        err("$TTL 1\nfoo AAAA 2001:db8:::1\n"),
        "db.test:2: bad IPv6 address '2001:db8:::1' in AAAA record"
    );
}

#[test]
fn single_name_types_keep_case_and_compression_flag() {
    for (t, compress) in [
        ("NS", true),
        ("CNAME", true),
        ("PTR", true),
        ("DNAME", false),
        ("MB", true),
        ("MG", true),
        ("MR", true),
    ] {
        let rd = rdata(&format!("a {t} Target"));
        assert_eq!(rd.fields, [name_field("Target.example.test.", compress)], "{t}");
    }
    assert_eq!(rdata("a NS ns.other.").fields, [name_field("ns.other.", true)]);
}

#[test]
fn soa_fields_and_accessors() {
    let rd = rdata("@ SOA ns1 hostmaster.example.test. 2024010101 1h 30m 2w 300");
    assert_eq!(rd.fields.len(), 3);
    assert_eq!(rd.fields[0], name_field("ns1.example.test.", true));
    assert_eq!(rd.fields[1], name_field("hostmaster.example.test.", true));
    assert_eq!(rd.soa_serial(), Some(2_024_010_101));
    assert_eq!(rd.soa_refresh(), Some(3600));
    assert_eq!(rd.soa_retry(), Some(1800));
    assert_eq!(rd.soa_expire(), Some(1_209_600));
    assert_eq!(rd.soa_minimum(), Some(300));
    assert_eq!(
        err("$TTL 1\n@ SOA ns1 host 1x 2 3 4 5\n"),
        "db.test:2: bad serial '1x' in SOA record: expected a number from 0 to 4294967295"
    );
    assert_eq!(
        err("$TTL 1\n@ SOA ns1 host 1 2 3 4\n"),
        "db.test:2: missing minimum in SOA record"
    );
}

#[test]
fn mx_afsdb_kx_rt() {
    let rd = rdata("a MX 10 mail");
    assert_eq!(
        rd.fields,
        [bytes_field(&[0, 10]), name_field("mail.example.test.", true)]
    );
    for t in ["AFSDB", "KX", "RT"] {
        let rd = rdata(&format!("a {t} 1 host"));
        assert_eq!(
            rd.fields,
            [bytes_field(&[0, 1]), name_field("host.example.test.", false)],
            "{t}"
        );
    }
    assert_eq!(
        err("$TTL 1\na MX 70000 mail\n"),
        "db.test:2: bad preference '70000' in MX record: expected a number from 0 to 65535"
    );
}

#[test]
fn txt_and_spf_strings() {
    assert_eq!(wire("a TXT \"v=spf1 -all\""), b"\x0bv=spf1 -all");
    assert_eq!(wire("a SPF one two"), b"\x03one\x03two");
    let max = "x".repeat(255);
    assert_eq!(wire(&format!("a TXT {max} \"{max}\"")).len(), 512);
    let e = err(&format!("$TTL 1\na TXT \"{max}y\"\n"));
    assert_eq!(
        e,
        "db.test:2: text in TXT record is 256 octets long; a character-string holds at most 255"
    );
    assert_eq!(err("$TTL 1\na TXT\n"), "db.test:2: missing text in TXT record");
    assert_eq!(
        err("$TTL 1\na TXT \"bad\\2\"\n"),
        "db.test:2: bad escape in 'bad\\2'"
    );
}

#[test]
fn hinfo_rp_minfo() {
    assert_eq!(wire("a HINFO \"Intel x86\" Linux"), b"\x09Intel x86\x05Linux");
    let rd = rdata("a RP admin.example.test. txt");
    assert_eq!(
        rd.fields,
        [
            name_field("admin.example.test.", false),
            name_field("txt.example.test.", false)
        ]
    );
    assert_eq!(rdata("a MINFO r e").fields.len(), 2);
}

#[test]
fn srv_target_is_not_compressed() {
    let rd = rdata("_sip._tcp SRV 10 60 5060 sip");
    assert_eq!(
        rd.fields,
        [
            bytes_field(&[0, 10, 0, 60, 0x13, 0xc4]),
            name_field("sip.example.test.", false)
        ]
    );
    assert_eq!(rdata("_x._tcp SRV 0 0 0 .").fields[1], name_field(".", false));
}

#[test]
fn naptr() {
    let rd = rdata(r#"a NAPTR 100 10 "S" "SIP+D2T" "" _sip._tcp"#);
    assert_eq!(
        rd.fields,
        [
            bytes_field(b"\x00\x64\x00\x0a\x01S\x07SIP+D2T\x00"),
            name_field("_sip._tcp.example.test.", false)
        ]
    );
}

#[test]
fn caa_value_is_stored_without_length() {
    assert_eq!(
        wire(r#"a CAA 0 issue "letsencrypt.org""#),
        b"\x00\x05issueletsencrypt.org"
    );
    assert_eq!(wire("a CAA 128 tbs unquoted"), b"\x80\x03tbsunquoted");
    assert_eq!(wire(r#"a CAA 0 iodef "mailto:a b""#), b"\x00\x05iodefmailto:a b");
    assert_eq!(
        err("$TTL 1\na CAA 0 is-sue x\n"),
        "db.test:2: bad tag 'is-sue' in CAA record: expected 1 to 255 letters and digits"
    );
    assert_eq!(
        err("$TTL 1\na CAA 0 issue\n"),
        "db.test:2: missing value in CAA record"
    );
}

#[test]
fn sshfp_tlsa_ds_with_hex_split_by_blanks() {
    assert_eq!(
        wire("a SSHFP 1 2 0123 4567 89AB"),
        [1, 2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab]
    );
    assert_eq!(
        wire("_443._tcp TLSA 3 1 1 ( DEAD\n beef )"),
        [3, 1, 1, 0xde, 0xad, 0xbe, 0xef]
    );
    assert_eq!(wire("a SMIMEA 3 1 1 00"), [3, 1, 1, 0]);
    assert_eq!(wire("a DS 12345 13 2 00FF"), [0x30, 0x39, 13, 2, 0, 0xff]);
    assert_eq!(
        wire("a CDS 12345 ECDSAP256SHA256 2 00FF"),
        [0x30, 0x39, 13, 2, 0, 0xff]
    );
    assert_eq!(
        err("$TTL 1\na DS 1 8 2 ABC\n"),
        "db.test:2: bad digest 'ABC' in DS record: not an even number of hex digits"
    );
    assert_eq!(
        err("$TTL 1\na DS 1 8 2\n"),
        "db.test:2: missing digest in DS record"
    );
    assert!(err("$TTL 1\na SSHFP 1 1 zz\n").starts_with("db.test:2: bad fingerprint 'zz'"));
}

#[test]
fn dnskey_key_cdnskey_openpgpkey_base64() {
    assert_eq!(wire("a DNSKEY 257 3 13 AwEA AQ=="), [1, 1, 3, 13, 3, 1, 0, 1]);
    assert_eq!(wire("a CDNSKEY 256 3 RSASHA256 AQID"), [1, 0, 3, 8, 1, 2, 3]);
    assert_eq!(wire("a KEY 49152 3 8"), [0xc0, 0, 3, 8], "NOKEY: no key data");
    assert_eq!(
        err("$TTL 1\na KEY 256 3 8\n"),
        "db.test:2: missing public key in KEY record"
    );
    assert_eq!(wire("a OPENPGPKEY AAAA"), [0, 0, 0]);
    assert_eq!(
        err("$TTL 1\na DNSKEY 257 3 13 AwEAAa==\n"),
        "db.test:2: bad base64 public key in DNSKEY record"
    );
    assert!(err("$TTL 1\na DNSKEY 257 3 13 AwEAAQ\n").contains("bad base64"));
}

#[test]
fn base64_decoder_is_strict() {
    assert_eq!(decode_base64(b""), Some(vec![]));
    assert_eq!(decode_base64(b"TWFu"), Some(b"Man".to_vec()));
    assert_eq!(decode_base64(b"TWE="), Some(b"Ma".to_vec()));
    assert_eq!(decode_base64(b"TQ=="), Some(b"M".to_vec()));
    assert_eq!(decode_base64(b"TR=="), None, "unused bits must be zero");
    assert_eq!(decode_base64(b"TQ==TQ=="), None, "padding only at the end");
    assert_eq!(decode_base64(b"T==="), None);
    assert_eq!(decode_base64(b"TQ"), None);
    assert_eq!(decode_base64(b"T!=="), None);
}

#[test]
fn nsec3_as_rfc5155_appendix_a_writes_it() {
    // RFC 5155 appendix A: the apex's NSEC3 and the NSEC3PARAM.
    let rd = wire(
        "a NSEC3 1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )",
    );
    assert_eq!(&rd[..10], b"\x01\x01\x00\x0c\x04\xaa\xbb\xcc\xdd\x14");
    // 2t7b4g4v... is the hash of example. in the RFC.
    assert_eq!(&rd[10..14], &[0x17, 0x4e, 0xb2, 0x40]);
    assert_eq!(&rd[30..], crate::dns::types::type_bitmap(&[2, 6, 15, 46, 48, 51]));
    assert_eq!(
        wire("a NSEC3PARAM 1 0 12 aabbccdd"),
        b"\x01\x00\x00\x0c\x04\xaa\xbb\xcc\xdd"
    );
    assert_eq!(wire("a NSEC3PARAM 1 0 0 -"), b"\x01\x00\x00\x00\x00");
    // An empty non-terminal's NSEC3 lists no types.
    assert_eq!(wire("a NSEC3 1 0 0 - 00").len(), 7);
    for (bad, why) in [
        ("a NSEC3 1 0 0 - 0w", "bad next hashed owner name"),
        ("a NSEC3 1 0 0 xyz 00", "bad salt"),
        ("a NSEC3 1 0 0 - 01", "bad next hashed owner name"),
        ("a NSEC3PARAM 1 0 0", "missing salt"),
    ] {
        let e = err(&format!("$TTL 1\n{bad}\n"));
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn uri_nsec_rrsig() {
    assert_eq!(
        wire("a URI 10 1 \"https://example.test/\""),
        b"\x00\x0a\x00\x01https://example.test/"
    );
    // RFC 4034 section 4.3 example bitmap.
    let rd = rdata("host NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )");
    let mut bitmap = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
    bitmap.extend([0u8; 26]);
    bitmap.push(0x20);
    assert_eq!(
        rd.fields,
        [name_field("host.example.com.", false), bytes_field(&bitmap)]
    );
    let rd = rdata("host RRSIG A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. AQID )");
    let mut head = vec![0, 1, 5, 3, 0, 1, 0x51, 0x80];
    head.extend(1_048_354_263u32.to_be_bytes());
    head.extend(1_045_762_263u32.to_be_bytes());
    head.extend(2642u16.to_be_bytes());
    assert_eq!(
        rd.fields,
        [
            bytes_field(&head),
            name_field("example.com.", false),
            bytes_field(&[1, 2, 3])
        ]
    );
    assert!(err("$TTL 1\nh RRSIG A 5 3 1 20031322173103 1 1 e. AQID\n")
        .contains("bad expiration '20031322173103'"));
}

#[test]
fn extra_and_missing_fields() {
    assert_eq!(
        err("$TTL 1\na A 1.2.3.4 5.6.7.8\n"),
        "db.test:2: extra text '5.6.7.8' after A record"
    );
    assert_eq!(
        err("$TTL 1\na MX 10\n"),
        "db.test:2: missing host name in MX record"
    );
    assert_eq!(
        err("$TTL 1\na (\n MX 10\n )\n"),
        "db.test:3: missing host name in MX record"
    );
}

#[test]
fn details_where_bind_is_strict() {
    // Each of these is refused by named-checkzone 9.18 as well.
    assert_eq!(
        err("$TTL 1\na TYPE0 \\# 0\n"),
        "db.test:2: record type 'TYPE0' (0) is reserved"
    );
    assert_eq!(
        err("$TTL 1\na URI 1 1 x\n"),
        "db.test:2: target URI 'x' in URI record must be a quoted string"
    );
    assert_eq!(
        err("$TTL 1\na NSEC b\n"),
        "db.test:2: missing type list in NSEC record"
    );
    assert!(err("$TTL 1\na CAA 0 \"issue\" x\n").starts_with("db.test:2: bad tag 'issue' in CAA record"));
    // A backslash escapes a newline only inside quotes.
    assert_eq!(err("$TTL 1\na TXT x\\\n b\n"), "db.test:2: bad escape in 'x\\'");
    let recs = parse("$TTL 1\na TXT \"x\\\ny\"\nb A 192.0.2.1\n");
    assert_eq!(recs[0].record.rdata.to_wire(), b"\x03x\ny");
    assert_eq!(recs[1].at.line, 4);
}

// ---- RFC 3597 generic data -------------------------------------------

#[test]
fn generic_data_for_known_and_unknown_types() {
    assert_eq!(rdata(r"a A \# 4 0A000001"), rdata("a A 10.0.0.1"));
    let rd = rdata(r"a TYPE65280 \# 3 ABCDEF");
    assert_eq!(rd.fields, [bytes_field(&[0xab, 0xcd, 0xef])]);
    assert_eq!(rdata(r"a TYPE65281 \# 0").wire_len(), 0);
    // Names inside generic data of known types become name fields.
    let rd = rdata(r"a NS \# 5 03 666f6f 00");
    assert_eq!(rd.fields, [name_field("foo.", true)]);
    assert_eq!(rdata(r"a MX \# 7 000a 03666F6F00"), rdata("a MX 10 foo."));
    let rec = &parse("$TTL 1\na TYPE65280 \\# 1 00\n")[0].record;
    assert_eq!(rec.rtype, 65280);
}

#[test]
fn generic_data_errors() {
    assert_eq!(
        err("$TTL 1\na A \\# 3 0A000001\n"),
        "db.test:2: generic data length 3 does not match the 4 octets of hex data in A record"
    );
    assert_eq!(
        err("$TTL 1\na A \\# 3 0A0000\n"),
        "db.test:2: bad generic data for A record: data too short"
    );
    assert_eq!(
        err("$TTL 1\na NS \\# 2 C00C\n"),
        "db.test:2: bad generic data for NS record: invalid or compressed domain name"
    );
    assert_eq!(
        err("$TTL 1\na TXT \\# 2 0300\n"),
        "db.test:2: bad generic data for TXT record: character-string runs past the end"
    );
    assert!(err("$TTL 1\na A \\# x 00\n").contains("bad generic data length 'x'"));
}

/// Every type read from text, written as `\# len hex` and read again,
/// gives the same fields: the text parsers and the wire layouts agree.
#[test]
fn every_type_round_trips_through_generic_syntax() {
    let lines = [
        "a A 192.0.2.1",
        "a AAAA 2001:db8::1",
        "a NS ns",
        "a CNAME c",
        "a PTR p",
        "a DNAME d",
        "a MB m",
        "a MG m",
        "a MR m",
        "a MINFO r e",
        "@ SOA ns1 host 1 2 3 4 5",
        "a MX 10 mail",
        "a TXT one \"two 2\"",
        "a SPF x",
        "a HINFO cpu os",
        "a RP m t",
        "a AFSDB 1 afs",
        "a RT 1 rt",
        "a KX 1 kx",
        "a SRV 1 2 3 t",
        "a NAPTR 1 2 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .",
        "a CAA 0 issue \"ca.test\"",
        "a SSHFP 1 1 0123456789abcdef0123456789abcdef01234567",
        "a TLSA 3 1 1 00112233",
        "a SMIMEA 3 1 1 00112233",
        "a DS 1 8 2 00112233",
        "a CDS 1 8 2 00112233",
        "a DNSKEY 256 3 8 AQID",
        "a CDNSKEY 256 3 8 AQID",
        "a KEY 256 3 8 AQID",
        "a OPENPGPKEY AQID",
        "a URI 1 2 \"u\"",
        "a NSEC n A NS TYPE1234",
        "a RRSIG A 8 2 300 20300101000000 20200101000000 1 s. AQID",
        "a NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
        "a NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR",
        "a NSEC3PARAM 1 0 0 -",
        "a NSEC3PARAM 1 0 12 aabbccdd",
    ];
    for line in lines {
        let text = parse(&format!("$TTL 1\n{line}\n")).remove(0).record;
        let hex: String = text.rdata.to_wire().iter().map(|b| format!("{b:02x}")).collect();
        let generic = format!("a {} \\# {} {hex}", type_name(text.rtype), text.rdata.wire_len());
        assert_eq!(rdata(&generic), text.rdata, "{line}");
    }
}

// ---- robustness --------------------------------------------------------

/// A small deterministic fuzz: random edits of a valid zone must give
/// records or an error, never a panic, in the parser or the checks.
#[test]
fn never_panics_on_mutated_input() {
    let seed = b"$TTL 1h\n$ORIGIN example.test.\n@ IN SOA ns1 h ( 1 2 3 4 5 )\n NS ns1\nns1 A 1.2.3.4\n\
            t TXT \"a\\\"b\" c\\032d\nm MX 10 m\ng TYPE65280 \\# 2 ABCD\nc CAA 0 issue \"x\"\n\
            $GENERATE 1-3 h${0,2,x} AAAA ::$\nk DNSKEY 257 3 8 AwEAAQ==\nn NSEC a A\n";
    let specials = b"\\\"();$ \t\n\r@.#0123456789ABCabcxyz{},-/=";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // VIGIA_FUZZ_ITERS=1000000 for a longer run.
    let iterations = std::env::var("VIGIA_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for _ in 0..iterations {
        let mut input = seed.to_vec();
        for _ in 0..(next() % 8 + 1) {
            let pos = (next() as usize) % (input.len() + 1);
            let byte = specials[(next() as usize) % specials.len()];
            match next() % 3 {
                0 => input.insert(pos, byte),
                1 if pos < input.len() => {
                    input.remove(pos);
                }
                _ if pos < input.len() => input[pos] = (next() & 0xff) as u8,
                _ => {}
            }
        }
        // Whatever parses must also go through the zone checks unharmed.
        if let Ok(records) = parse_bytes(
            &input,
            Path::new(FILE),
            &origin(),
            Path::new("/nonexistent-base"),
            &Default::default(),
        ) {
            let _ = super::check::check_zone(&origin(), records, Path::new(FILE), &Reclaimer::inline());
        }
    }
}

/// A scratch directory for `$INCLUDE` tests, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("vigia-parser-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}
