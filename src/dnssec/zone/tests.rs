//! Tests of the zone signer: what gets signed and chained, key roles,
//! reuse across runs, refresh, TTL caps, restore and refusals.

use super::*;
use crate::dns::types::bitmap_types as decode_bitmap;
use crate::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
use crate::dnssec::sign::{verify_rrsig, RrsigFields};
use crate::dnssec::text::parse_name;

const NOW: u64 = 1_767_225_600; // 2026-01-01

fn w(s: &str) -> Vec<u8> {
    parse_name(s).unwrap()
}

fn rr(owner: &str, t: u16, ttl: u32, rdata: Vec<u8>) -> RawRecord {
    RawRecord::new(&w(owner), t, ttl, rdata)
}

fn soa(serial: u32) -> RawRecord {
    let mut rd = [w("ns.example."), w("host.example.")].concat();
    for n in [serial, 7200, 3600, 86_400, 300] {
        rd.extend_from_slice(&n.to_be_bytes());
    }
    rr("example.", rtype::SOA, 3600, rd)
}

/// A zone with one of everything the signer treats specially.
fn zone(serial: u32, www: [u8; 4]) -> Vec<RawRecord> {
    vec![
        soa(serial),
        rr("example.", rtype::NS, 3600, w("ns.example.")),
        rr("ns.example.", rtype::A, 3600, vec![192, 0, 2, 53]),
        rr("www.example.", rtype::A, 60, www.to_vec()),
        rr("WWW.example.", rtype::A, 60, vec![192, 0, 2, 2]),
        rr("*.wild.example.", rtype::TXT, 300, b"\x02hi".to_vec()),
        rr("deep.ent.example.", rtype::A, 300, vec![192, 0, 2, 9]),
        // A delegation with DS and glue, one without DS.
        rr("sub.example.", rtype::NS, 3600, w("ns.sub.example.")),
        rr("sub.example.", rtype::DS, 3600, vec![1, 2, 13, 2, 0xaa]),
        rr("ns.sub.example.", rtype::A, 3600, vec![192, 0, 2, 77]),
        rr("nods.example.", rtype::NS, 3600, w("ns.elsewhere.")),
        // A DNAME occludes what is below it.
        rr("old.example.", rtype::DNAME, 3600, w("new.example.")),
        rr("x.old.example.", rtype::A, 3600, vec![192, 0, 2, 99]),
    ]
}

fn config(threads: usize) -> SignerConfig {
    SignerConfig {
        threads,
        ..SignerConfig::default()
    }
}

fn csk(alg: Algorithm) -> Vec<DnssecKey> {
    generate_keys(&w("example."), alg, KeyScheme::Csk, NOW - 86_400).unwrap()
}

/// Every RRSIG verifies over the RRset it covers, with the key it names.
fn verify_all(data: &[RawRecord], signed: &SignedZone, keys: &[DnssecKey]) -> usize {
    let mut all: Vec<RawRecord> = data.to_vec();
    all.extend(signed.generated().map(|r| r.to_raw()));
    let mut checked = 0;
    for rrsig in signed.records().filter(|r| r.rtype == rtype::RRSIG) {
        let rrsig = &rrsig.to_raw();
        let (f, _) = RrsigFields::parse(&rrsig.rdata).unwrap();
        let set: Vec<RawRecord> = all
            .iter()
            .filter(|r| r.rtype == f.type_covered && r.owner.eq_ignore_ascii_case(&rrsig.owner))
            .map(|r| RawRecord {
                ttl: f.original_ttl,
                ..r.clone()
            })
            .collect();
        let key = keys.iter().find(|k| k.key_tag() == f.key_tag).unwrap();
        let res = verify_rrsig(rrsig, &set, &key.dnskey_rdata(), Some(NOW));
        assert_eq!(res, Ok(()), "{}", crate::dnssec::text::rr_to_text(rrsig));
        checked += 1;
    }
    checked
}

fn signed_types(signed: &SignedZone, owner: &str) -> Vec<u16> {
    let mut t: Vec<u16> = [1, 2, 6, 16, 39, 43, 47, 48]
        .into_iter()
        .filter(|&t| !signed.rrsigs(&w(owner), t).is_empty())
        .collect();
    t.sort_unstable();
    t
}

#[test]
fn signs_authoritative_data_only_and_chains_the_right_names() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let signed = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    assert_eq!(signed_types(&signed, "example."), [2, 6, 47, 48]);
    assert_eq!(signed_types(&signed, "sub.example."), [43, 47]); // DS, not NS
    assert_eq!(signed_types(&signed, "nods.example."), [47]);
    assert_eq!(signed_types(&signed, "old.example."), [39, 47]);
    assert!(signed_types(&signed, "ns.sub.example.").is_empty()); // glue
    assert!(signed_types(&signed, "x.old.example.").is_empty()); // occluded
    assert_eq!(signed.rrsigs(&w("*.wild.example."), 16)[0].rrsig.rdata[3], 2); // labels
    let nsec: Vec<RecordRef> = signed.generated().filter(|r| r.rtype == rtype::NSEC).collect();
    let owners: Vec<Vec<u8>> = nsec.iter().map(|r| r.owner.to_vec()).collect();
    let want: Vec<Vec<u8>> = [
        "example.",
        "deep.ent.example.",
        "nods.example.",
        "ns.example.",
        "old.example.",
        "sub.example.",
        "*.wild.example.",
        "www.example.",
    ]
    .iter()
    .map(|n| w(n))
    .collect();
    assert_eq!(owners, want);
    let types = |i: usize| decode_bitmap(&nsec[i].rdata[nsec[(i + 1) % 8].owner.len()..]).unwrap();
    assert_eq!(types(0), [2, 6, 46, 47, 48]);
    assert_eq!(types(2), [2, 46, 47]); // delegation without DS: NS RRSIG NSEC
    assert_eq!(types(5), [2, 43, 46, 47]);
    // RFC 9077: min(SOA TTL, MINIMUM).
    assert!(nsec.iter().all(|r| r.ttl == 300));
    assert_eq!(signed.stats().denial_records, 8);
    assert_eq!(verify_all(&data, &signed, &keys), signed.signature_count());
}

#[test]
fn delegation_nsec_lists_rrsig_because_the_nsec_is_signed() {
    // RFC 4035 2.3: the NSEC at a delegation is authoritative and signed.
    let keys = csk(Algorithm::Ed25519);
    let data = zone(1, [192, 0, 2, 1]);
    let signed = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let nsec = signed
        .generated()
        .find(|r| r.rtype == rtype::NSEC && r.owner == w("nods.example."));
    let rdata = &nsec.unwrap().rdata;
    assert_eq!(
        decode_bitmap(&rdata[w("ns.example.").len()..]).unwrap(),
        [2, 46, 47]
    );
}

#[test]
fn ksk_signs_the_key_set_and_zsk_the_rest() {
    let keys = generate_keys(
        &w("example."),
        Algorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
        NOW - 10,
    )
    .unwrap();
    let (ksk, zsk) = (keys[0].key_tag(), keys[1].key_tag());
    let data = zone(1, [192, 0, 2, 1]);
    let signed = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let tags = |owner: &str, t| {
        signed
            .rrsigs(&w(owner), t)
            .iter()
            .map(|s| s.key_tag)
            .collect::<Vec<_>>()
    };
    assert_eq!(tags("example.", rtype::DNSKEY), [ksk]);
    assert_eq!(tags("example.", rtype::SOA), [zsk]);
    assert_eq!(tags("www.example.", rtype::A), [zsk]);
    assert_eq!(signed.generated().filter(|r| r.rtype == rtype::DNSKEY).count(), 2);
    verify_all(&data, &signed, &keys);
}

#[test]
fn a_failover_re_signs_only_the_changed_rrset_the_soa_and_nothing_else() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let first = sign_zone(
        &w("example."),
        &zone(1, [192, 0, 2, 1]),
        &keys,
        &config(2),
        NOW,
        None,
    )
    .unwrap();
    assert_eq!(first.stats().reused, 0);
    let data = zone(2, [192, 0, 2, 3]);
    let second = sign_zone(&w("example."), &data, &keys, &config(2), NOW + 60, Some(&first)).unwrap();
    let stats = second.stats();
    assert_eq!((stats.signed, stats.signatures), (2, 2), "{stats:?}"); // www A and SOA
    assert_eq!(stats.reused, stats.rrsets - 2);
    assert_eq!(
        second.rrsigs(&w("ns.example."), rtype::A),
        first.rrsigs(&w("ns.example."), rtype::A)
    );
    assert_ne!(
        second.rrsigs(&w("www.example."), rtype::A),
        first.rrsigs(&w("www.example."), rtype::A)
    );
    verify_all(&data, &second, &keys);
    // The IXFR difference: old and new RRSIGs of www A and the SOA.
    let (removed, added) = second.diff(&first);
    assert_eq!((removed.len(), added.len()), (2, 2));
    assert!(added.iter().all(|r| r.rtype == rtype::RRSIG));
}

#[test]
fn a_type_change_re_signs_the_nsec_whose_bitmap_changed() {
    let keys = csk(Algorithm::Ed25519);
    let data = zone(1, [192, 0, 2, 1]);
    let first = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let mut changed: Vec<RawRecord> = zone(2, [192, 0, 2, 1])
        .into_iter()
        .filter(|r| !r.owner.eq_ignore_ascii_case(&w("www.example.")))
        .collect();
    changed.push(rr("www.example.", rtype::CNAME, 60, w("ns.example.")));
    let second = sign_zone(&w("example."), &changed, &keys, &config(1), NOW + 1, Some(&first)).unwrap();
    // www CNAME, SOA, www NSEC (bitmap A -> CNAME).
    assert_eq!(second.stats().signed, 3, "{:?}", second.stats());
    let (removed, added) = second.diff(&first);
    assert_eq!(removed.iter().filter(|r| r.rtype == rtype::NSEC).count(), 1);
    assert_eq!(added.iter().filter(|r| r.rtype == rtype::NSEC).count(), 1);
    assert!(second.rrsigs(&w("www.example."), rtype::A).is_empty());
    verify_all(&changed, &second, &keys);
}

#[test]
fn signatures_near_expiry_are_replaced_and_expiry_is_reported() {
    let keys = csk(Algorithm::Ed25519);
    let data = zone(1, [192, 0, 2, 1]);
    let cfg = config(1);
    let v = cfg.validity;
    let first = sign_zone(&w("example."), &data, &keys, &cfg, NOW, None).unwrap();
    let earliest = first.earliest_expiration().unwrap();
    assert!(earliest.at >= NOW + v.lifetime - v.jitter && earliest.at <= NOW + v.lifetime);
    let due = first.next_refresh(v.refresh).unwrap();
    assert_eq!(due, earliest.at - v.refresh);
    // Just before the refresh point nothing is re-signed; just after, at
    // least the earliest RRset is, and the earliest expiry moves on.
    let before = sign_zone(&w("example."), &data, &keys, &cfg, due - 1, Some(&first)).unwrap();
    assert_eq!(before.stats().signed, 0);
    let after = sign_zone(&w("example."), &data, &keys, &cfg, due, Some(&first)).unwrap();
    assert!(after.stats().signed >= 1);
    assert!(after.rrsigs(&earliest.owner, earliest.rtype)[0].expiration > earliest.at);
    assert!(after.earliest_expiration().unwrap().at > earliest.at);
}

#[test]
fn ttl_caps_apply_to_the_denial_record_at_or_covering_a_name() {
    let keys = csk(Algorithm::Ed25519);
    let data = zone(1, [192, 0, 2, 1]);
    for denial in [Denial::Nsec, Denial::Nsec3(Default::default())] {
        let cfg = SignerConfig {
            denial: denial.clone(),
            denial_ttl_caps: vec![(w("www.example."), 30), (w("gone.example."), 20)],
            ..config(1)
        };
        let signed = sign_zone(&w("example."), &data, &keys, &cfg, NOW, None).unwrap();
        let ttls: Vec<u32> = signed
            .generated()
            .filter(|r| matches!(r.rtype, rtype::NSEC | rtype::NSEC3))
            .map(|r| r.ttl)
            .collect();
        assert_eq!(
            ttls.iter().filter(|&&t| t == 30).count(),
            1,
            "{denial:?} {ttls:?}"
        );
        assert_eq!(
            ttls.iter().filter(|&&t| t == 20).count(),
            1,
            "{denial:?} {ttls:?}"
        );
        if denial == Denial::Nsec {
            // NSEC: "gone" sorts after "deep.ent", before "nods".
            let at = |n: &str| signed.generated().find(|r| r.owner == w(n)).unwrap().ttl;
            assert_eq!((at("www.example."), at("deep.ent.example.")), (30, 20));
        }
        verify_all(&data, &signed, &keys);
    }
}

#[test]
fn nsec3_covers_empty_non_terminals_and_publishes_its_parameters() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let cfg = SignerConfig {
        denial: Denial::Nsec3(Default::default()),
        ..config(1)
    };
    let signed = sign_zone(&w("example."), &data, &keys, &cfg, NOW, None).unwrap();
    let nsec3: Vec<RecordRef> = signed.generated().filter(|r| r.rtype == rtype::NSEC3).collect();
    // 8 authoritative names + ent.example + wild.example.
    assert_eq!(nsec3.len(), 10);
    let param = signed.generated().find(|r| r.rtype == rtype::NSEC3PARAM).unwrap();
    assert_eq!(param.rdata, [1, 0, 0, 0, 0]);
    assert_eq!(signed.rrsigs(&w("example."), rtype::NSEC3PARAM).len(), 1);
    assert!(nsec3.iter().all(|r| r.rdata[..5] == [1, 0, 0, 0, 0]));
    verify_all(&data, &signed, &keys);
}

#[test]
fn restored_signatures_are_reused_after_a_restart() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let cfg = config(1);
    let first = sign_zone(&w("example."), &data, &keys, &cfg, NOW, None).unwrap();
    let mut stored: Vec<RawRecord> = data.clone();
    stored.extend(first.records().map(|r| r.to_raw()));
    let restored = SignedZone::restore(&w("example."), &stored, &keys, true, NOW + 5);
    assert_eq!(restored.signature_count(), first.signature_count());
    let again = sign_zone(&w("example."), &data, &keys, &cfg, NOW + 10, Some(&restored)).unwrap();
    assert_eq!(again.stats().signed, 0, "{:?}", again.stats());
    let (removed, added) = again.diff(&restored);
    assert!(removed.is_empty() && added.is_empty(), "{removed:?} {added:?}");
    // A tampered stored signature is dropped by verification and re-made.
    let mut tampered = stored.clone();
    let victim = tampered
        .iter_mut()
        .find(|r| r.rtype == rtype::RRSIG && r.owner == w("ns.example."))
        .unwrap();
    let last = victim.rdata.len() - 1;
    victim.rdata[last] ^= 1;
    let restored = SignedZone::restore(&w("example."), &tampered, &keys, true, NOW + 5);
    assert_eq!(restored.signature_count(), first.signature_count() - 1);
    let again = sign_zone(&w("example."), &data, &keys, &cfg, NOW + 10, Some(&restored)).unwrap();
    assert_eq!(again.stats().signed, 1);
}

#[test]
fn parallel_and_serial_signing_cover_the_same_rrsets() {
    let keys = csk(Algorithm::Ed25519);
    let mut data = zone(1, [192, 0, 2, 1]);
    for i in 0..300u16 {
        data.push(rr(
            &format!("h{i}.example."),
            rtype::A,
            300,
            vec![10, 0, (i >> 8) as u8, i as u8],
        ));
    }
    let one = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let four = sign_zone(&w("example."), &data, &keys, &config(4), NOW, None).unwrap();
    // Ed25519 is deterministic: the same inputs give the same signatures.
    let sorted = |z: &SignedZone| {
        let mut v: Vec<RawRecord> = z.records().map(|r| r.to_raw()).collect();
        v.sort_by(|a, b| (&a.owner, a.rtype, &a.rdata).cmp(&(&b.owner, b.rtype, &b.rdata)));
        v
    };
    assert_eq!(sorted(&one), sorted(&four));
    assert_eq!(verify_all(&data, &four, &keys), four.signature_count());
}

#[test]
fn unusable_input_is_refused_with_a_reason() {
    let keys = csk(Algorithm::Ed25519);
    let cfg = config(1);
    let origin = w("example.");
    let err = |data: &[RawRecord], keys: &[DnssecKey]| {
        sign_zone(&origin, data, keys, &cfg, NOW, None)
            .unwrap_err()
            .to_string()
    };
    let mut data = zone(1, [192, 0, 2, 1]);
    data.push(rr("www.example.", rtype::RRSIG, 60, vec![0; 30]));
    assert!(err(&data, &keys).contains("www.example. RRSIG: the zone data holds DNSSEC records"));
    let mut data = zone(1, [192, 0, 2, 1]);
    data.push(rr("www.other.", rtype::A, 60, vec![1, 2, 3, 4]));
    assert!(err(&data, &keys).contains("www.other. A: outside the zone example."));
    let data: Vec<RawRecord> = zone(1, [192, 0, 2, 1]).into_iter().skip(1).collect();
    assert!(err(&data, &keys).contains("no SOA"));
    assert!(err(&zone(1, [192, 0, 2, 1]), &[]).contains("no active key"));
    // A published key of another algorithm that nothing signs with.
    let mut mixed = keys.clone();
    let mut standby = csk(Algorithm::EcdsaP256Sha256).remove(0);
    standby.timing.activate = Some(NOW + 86_400);
    mixed.push(standby);
    assert!(err(&zone(1, [192, 0, 2, 1]), &mixed).contains("no active key of algorithm 13"));
}

#[test]
fn a_prepublished_key_is_in_the_dnskey_set_but_does_not_sign() {
    let mut keys = csk(Algorithm::Ed25519);
    let mut next = csk(Algorithm::Ed25519).remove(0);
    next.timing.activate = Some(NOW + 86_400);
    keys.push(next.clone());
    let data = zone(1, [192, 0, 2, 1]);
    let signed = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let dnskeys = signed.generated().filter(|r| r.rtype == rtype::DNSKEY).count();
    assert_eq!(dnskeys, 2);
    let tags: Vec<u16> = signed
        .rrsigs(&w("example."), rtype::DNSKEY)
        .iter()
        .map(|s| s.key_tag)
        .collect();
    assert_eq!(tags, [keys[0].key_tag()]);
    // Once active it signs too, and the old signatures are replaced.
    let later = sign_zone(
        &w("example."),
        &data,
        &keys,
        &config(1),
        NOW + 86_400,
        Some(&signed),
    )
    .unwrap();
    assert_eq!(later.rrsigs(&w("www.example."), rtype::A).len(), 2);
    assert_eq!(later.stats().reused, 0);
}

#[test]
fn reuse_is_decided_by_the_digest_of_the_whole_rrset() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let first = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    // Same serial, only the TTL of ns A differs: that set alone is signed.
    let mut changed = data.clone();
    changed[2].ttl = 3599;
    let second = sign_zone(&w("example."), &changed, &keys, &config(1), NOW + 1, Some(&first)).unwrap();
    assert_eq!(second.stats().signed, 1, "{:?}", second.stats());
    let ns_a = second.rrsigs(&w("ns.example."), rtype::A);
    assert_ne!(ns_a, first.rrsigs(&w("ns.example."), rtype::A));
    assert_eq!(
        RrsigFields::parse(&ns_a[0].rrsig.rdata).unwrap().0.original_ttl,
        3599
    );
    verify_all(&changed, &second, &keys);
    // And back: the first data again is signed anew too (its digest is not
    // the second run's), everything else is kept.
    let third = sign_zone(&w("example."), &data, &keys, &config(1), NOW + 2, Some(&second)).unwrap();
    assert_eq!(third.stats().signed, 1);
    let (removed, added) = third.diff(&second);
    assert_eq!((removed.len(), added.len()), (1, 1));
    assert_eq!(added[0].owner, w("ns.example."));
    verify_all(&data, &third, &keys);
}

#[test]
fn saved_signatures_read_back_whole_and_are_reused() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let first = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let bytes = first.to_bytes();
    let read = SignedZone::from_bytes(&bytes).unwrap();
    assert_eq!(read.to_bytes(), bytes);
    assert_eq!(read.origin(), first.origin());
    assert_eq!(read.signature_count(), first.signature_count());
    assert!(read.records().eq(first.records()));
    assert_eq!(read.earliest_expiration(), first.earliest_expiration());
    let again = sign_zone(&w("example."), &data, &keys, &config(1), NOW + 10, Some(&read)).unwrap();
    assert_eq!(again.stats().signed, 0, "{:?}", again.stats());
    let (removed, added) = again.diff(&first);
    assert!(removed.is_empty() && added.is_empty(), "{removed:?} {added:?}");
    // A change after a restart re-signs what changed: www A and the SOA.
    let changed = zone(2, [192, 0, 2, 3]);
    let after = sign_zone(&w("example."), &changed, &keys, &config(1), NOW + 10, Some(&read)).unwrap();
    assert_eq!(after.stats().signed, 2, "{:?}", after.stats());
    verify_all(&changed, &after, &keys);
}

/// `zone` as version 1 of the state file kept it: per set its canonical
/// key and bytes (rebuilt from `all`, the zone's records and the
/// generated ones) and its RRSIGs as whole records.
fn version_1_bytes(zone: &SignedZone, all: &[RawRecord]) -> Vec<u8> {
    // Lengths and records are written as in version 2.
    use persist::{put_bytes as put, put_record};
    let mut out = b"vigia-signed-zone 1\n".to_vec();
    put(&mut out, zone.origin());
    out.extend_from_slice(&(zone.generated().count() as u32).to_be_bytes());
    zone.generated().for_each(|r| put_record(&mut out, &r));
    out.extend_from_slice(&(zone.store.len() as u32).to_be_bytes());
    for set in zone.store.sets() {
        put(&mut out, &canonical_key(set.owner));
        out.extend_from_slice(&set.rtype.to_be_bytes());
        let first = set.sigs().next().unwrap();
        let ttl = RrsigFields::parse(first.rdata).unwrap().0.original_ttl;
        let rdatas: Vec<&[u8]> = all
            .iter()
            .filter(|r| r.rtype == set.rtype && r.owner.eq_ignore_ascii_case(set.owner))
            .map(|r| r.rdata.as_slice())
            .collect();
        let mut body = Vec::new();
        rrset_wire(set.owner, set.rtype, first.class, ttl, &rdatas, &mut body).unwrap();
        put(&mut out, &body);
        out.extend_from_slice(&(set.sigs().len() as u32).to_be_bytes());
        for (rrsig, s) in set.rrsigs().zip(set.sigs()) {
            put_record(&mut out, &rrsig);
            out.push(s.algorithm);
            out.extend_from_slice(&s.key_tag.to_be_bytes());
            out.extend_from_slice(&s.inception.to_be_bytes());
            out.extend_from_slice(&s.expiration.to_be_bytes());
        }
    }
    out
}

#[test]
fn a_version_1_state_file_is_still_read_and_reused() {
    let keys = csk(Algorithm::EcdsaP256Sha256);
    let data = zone(1, [192, 0, 2, 1]);
    let first = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let mut all = data.clone();
    all.extend(first.generated().map(|r| r.to_raw()));
    let v1 = version_1_bytes(&first, &all);
    let read = SignedZone::from_bytes(&v1).unwrap();
    assert!(read.records().eq(first.records()));
    // What version 2 would have written: the digests are of the same bytes.
    assert_eq!(read.to_bytes(), first.to_bytes());
    let again = sign_zone(&w("example."), &data, &keys, &config(1), NOW + 10, Some(&read)).unwrap();
    assert_eq!(again.stats().signed, 0, "{:?}", again.stats());
    // A signature whose owner is not its set's name is refused.
    let at = v1
        .windows(w("ns.example.").len())
        .rposition(|x| x == w("ns.example."))
        .unwrap();
    let mut wrong = v1.clone();
    wrong[at + 1] = b'm';
    assert!(SignedZone::from_bytes(&wrong).is_err());
}

#[test]
fn a_damaged_state_file_is_refused() {
    let keys = csk(Algorithm::Ed25519);
    let data = zone(1, [192, 0, 2, 1]);
    let signed = sign_zone(&w("example."), &data, &keys, &config(1), NOW, None).unwrap();
    let bytes = signed.to_bytes();
    for cut in (0..bytes.len()).step_by(7) {
        assert!(SignedZone::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(SignedZone::from_bytes(&long).unwrap_err(), "trailing bytes");
    let mut magic = bytes.clone();
    magic[18] = b'3';
    assert!(SignedZone::from_bytes(&magic).is_err());
    // Sets out of order: the same file with the first two sets swapped.
    let store = &signed.store;
    let head = bytes.len() - store.sets().map(|s| persist::set_len(&s)).sum::<usize>();
    let (a, b) = {
        let mut sets = store.sets();
        (
            persist::set_len(&sets.next().unwrap()),
            persist::set_len(&sets.next().unwrap()),
        )
    };
    let mut swapped = bytes[..head].to_vec();
    swapped.extend_from_slice(&bytes[head + a..head + a + b]);
    swapped.extend_from_slice(&bytes[head..head + a]);
    swapped.extend_from_slice(&bytes[head + a + b..]);
    assert_eq!(
        SignedZone::from_bytes(&swapped).unwrap_err(),
        "signed sets out of order"
    );
}
