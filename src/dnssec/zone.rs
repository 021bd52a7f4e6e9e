//! Signs a whole zone, and re-signs it reusing what did not change.
//!
//! [`sign_zone`] takes the zone's records in wire form and the keys, and
//! returns a [`SignedZone`]: the records signing adds (DNSKEY, CDS/CDNSKEY
//! on request, NSEC3PARAM, the NSEC or NSEC3 chain) and an RRSIG set for
//! every authoritative RRset. Given the previous [`SignedZone`], it keeps
//! each signature whose RRset (owner, type, TTL, RDATA set) and signing
//! keys are unchanged and which is not due for refresh, so a failover that
//! rewrites one RRset costs the signatures of that RRset, the SOA and the
//! few NSEC/NSEC3 records whose bitmap or next name changed.
//!
//! What is signed (RFC 4035 2.2, 2.3): every RRset at or above the zone
//! cuts, except the NS RRset of a delegation; at a delegation only DS (and
//! NSEC). Names below a delegation (glue) or below a DNAME are occluded:
//! neither signed nor in the chain.

use super::canonical::{is_subdomain, is_valid_name, lower, name_key, rrset_wire};
use super::keys::DnssecKey;
use super::nsec::{nsec_chain, DenialName};
use super::nsec3::{nsec3_chain, Nsec3Params};
use super::sign::{sign_body, verify_rrsig, RrsigFields, SignError, Validity};
use super::text::{name_to_text, type_to_text};
use super::{rtype, Rr};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Denial of existence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// NSEC (RFC 4034), the default.
    Nsec,
    /// NSEC3 (RFC 5155), no opt-out.
    Nsec3(Nsec3Params),
}

/// How to sign.
#[derive(Clone, Debug)]
pub struct SignerConfig {
    pub denial: Denial,
    pub validity: Validity,
    /// TTL of DNSKEY, CDS and CDNSKEY; None: the SOA record's TTL.
    pub dnskey_ttl: Option<u32>,
    /// Publish CDS and CDNSKEY for the SEP keys (RFC 7344, RFC 8078).
    pub publish_cds: bool,
    /// Upper bounds on the TTL of the NSEC/NSEC3 record at or covering a
    /// name (wire form, TTL): a failover rule's names must not keep a
    /// NODATA or NXDOMAIN proof cached longer than the rule's answers.
    pub denial_ttl_caps: Vec<(Vec<u8>, u32)>,
    /// Threads signing in parallel (at least 1).
    pub threads: usize,
}

impl Default for SignerConfig {
    fn default() -> SignerConfig {
        SignerConfig {
            denial: Denial::Nsec,
            validity: Validity::default(),
            dnskey_ttl: None,
            publish_cds: false,
            denial_ttl_caps: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// What one signing run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignStats {
    /// RRsets that carry signatures (data, DNSKEY, NSEC/NSEC3...).
    pub rrsets: usize,
    /// RRsets signed afresh in this run.
    pub signed: usize,
    /// RRsets whose previous signatures were kept.
    pub reused: usize,
    /// Signatures made in this run.
    pub signatures: usize,
    /// NSEC or NSEC3 records in the chain.
    pub denial_records: usize,
}

/// One RRSIG and what the signer needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub rrsig: Rr,
    pub algorithm: u8,
    pub key_tag: u16,
    /// Seconds since the epoch (not truncated to 32 bits).
    pub inception: u64,
    pub expiration: u64,
}

/// The signatures of one RRset and the canonical data they sign, kept to
/// decide reuse by comparing bytes.
#[derive(Debug)]
struct SignedSet {
    body: Box<[u8]>,
    sigs: Vec<Signature>,
}

/// The RRset whose signatures expire first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub at: u64,
}

/// FxHash: the keys are the zone's own names, hashed a great many times.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// Map key of an RRset: lower-cased owner wire name, then the type.
fn set_id(owner_lower: &[u8], t: u16) -> Box<[u8]> {
    [owner_lower, &t.to_be_bytes()].concat().into_boxed_slice()
}

/// The records signing adds to a zone, and the signatures of its RRsets.
#[derive(Debug)]
pub struct SignedZone {
    origin: Vec<u8>,
    /// DNSKEY, CDS, CDNSKEY, NSEC3PARAM (at the apex) and the NSEC/NSEC3
    /// chain, in that order; the chain in canonical or hash order.
    generated: Vec<Rr>,
    sets: FxMap<Box<[u8]>, Arc<SignedSet>>,
    stats: SignStats,
}

impl SignedZone {
    /// The zone apex, lower-cased wire form.
    pub fn origin(&self) -> &[u8] {
        &self.origin
    }

    /// DNSKEY, CDS, CDNSKEY, NSEC3PARAM and NSEC/NSEC3 records (no RRSIGs).
    pub fn generated(&self) -> &[Rr] {
        &self.generated
    }

    /// Every record signing adds: [`Self::generated`] and all RRSIGs.
    pub fn records(&self) -> impl Iterator<Item = &Rr> {
        let sigs = self.sets.values().flat_map(|s| s.sigs.iter().map(|s| &s.rrsig));
        self.generated.iter().chain(sigs)
    }

    /// The RRSIGs covering `(owner, rtype)`; empty for unsigned RRsets
    /// (glue, delegation NS) and unknown ones.
    pub fn rrsigs(&self, owner: &[u8], t: u16) -> &[Signature] {
        self.sets.get(&set_id(&lower(owner), t)).map_or(&[], |s| &s.sigs)
    }

    /// Number of RRSIG records.
    pub fn signature_count(&self) -> usize {
        self.sets.values().map(|s| s.sigs.len()).sum()
    }

    pub fn stats(&self) -> SignStats {
        self.stats
    }

    /// The signature that expires first (for monitoring: vigia exports it
    /// as `vigia_dnssec_signature_expiry_timestamp_seconds`).
    pub fn earliest_expiration(&self) -> Option<Expiry> {
        let (id, sig) = self
            .sets
            .iter()
            .flat_map(|(id, s)| s.sigs.iter().map(move |sig| (id, sig)))
            .min_by_key(|(_, sig)| sig.expiration)?;
        let (owner, t) = id.split_at(id.len() - 2);
        Some(Expiry {
            owner: owner.to_vec(),
            rtype: u16::from_be_bytes([t[0], t[1]]),
            at: sig.expiration,
        })
    }

    /// When the next signing should run so that no signature gets closer
    /// to expiry than `refresh` seconds (the same threshold as
    /// [`Validity::refresh`]). A timer may wait a little past this to
    /// batch the RRsets whose jittered expirations fall close together.
    pub fn next_refresh(&self, refresh: u64) -> Option<u64> {
        self.earliest_expiration().map(|e| e.at.saturating_sub(refresh))
    }

    /// The records to remove and to add to go from `old` to `self` (an
    /// IXFR difference, RFC 1995): changed generated records and the
    /// RRSIGs of every RRset that was re-signed, appeared or went away.
    pub fn diff<'a>(&'a self, old: &'a SignedZone) -> (Vec<&'a Rr>, Vec<&'a Rr>) {
        let new_gen: HashSet<&Rr> = self.generated.iter().collect();
        let old_gen: HashSet<&Rr> = old.generated.iter().collect();
        let mut removed: Vec<&Rr> = old.generated.iter().filter(|r| !new_gen.contains(r)).collect();
        let mut added: Vec<&Rr> = self.generated.iter().filter(|r| !old_gen.contains(r)).collect();
        for (id, set) in &self.sets {
            match old.sets.get(id) {
                Some(o) if Arc::ptr_eq(o, set) => {}
                Some(o) => {
                    removed.extend(o.sigs.iter().map(|s| &s.rrsig));
                    added.extend(set.sigs.iter().map(|s| &s.rrsig));
                }
                None => added.extend(set.sigs.iter().map(|s| &s.rrsig)),
            }
        }
        for (id, o) in &old.sets {
            if !self.sets.contains_key(id) {
                removed.extend(o.sigs.iter().map(|s| &s.rrsig));
            }
        }
        (removed, added)
    }
}

/// One owner name of the input and its RRsets, sorted by type.
struct Node<'a> {
    owner: Vec<u8>,
    key: Vec<u8>,
    sets: Vec<InSet<'a>>,
}

/// One input RRset: the smallest TTL of its records is the TTL signed
/// (RFC 2181 5.2 wants one TTL per RRset; validators cap served TTLs at
/// the original TTL, so signing the smallest never makes answers bogus).
struct InSet<'a> {
    rtype: u16,
    ttl: u32,
    rdatas: Vec<&'a [u8]>,
}

impl Node<'_> {
    fn has(&self, t: u16) -> bool {
        self.sets.iter().any(|s| s.rtype == t)
    }
}

/// Groups records by owner (canonical order) and type, refusing records
/// the signer cannot take.
fn group<'a>(origin: &[u8], class: u16, records: &'a [Rr]) -> Result<Vec<Node<'a>>, SignError> {
    let mut keyed: Vec<(Vec<u8>, u16, usize)> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        check_record(origin, class, r)?;
        // Zone files list a name's records together: reuse the last key.
        let key = match keyed.last() {
            Some((k, _, j)) if records[*j].owner.eq_ignore_ascii_case(&r.owner) => k.clone(),
            _ => name_key(&r.owner),
        };
        keyed.push((key, r.rtype, i));
    }
    keyed.sort_unstable();
    let mut nodes: Vec<Node> = Vec::new();
    for (key, t, i) in keyed {
        let r = &records[i];
        if nodes.last().is_none_or(|n| n.key != key) {
            nodes.push(Node {
                owner: lower(&r.owner),
                key,
                sets: Vec::new(),
            });
        }
        let node = nodes.last_mut().expect("pushed above");
        match node.sets.last_mut() {
            Some(set) if set.rtype == t => {
                set.ttl = set.ttl.min(r.ttl);
                set.rdatas.push(&r.rdata);
            }
            _ => node.sets.push(InSet {
                rtype: t,
                ttl: r.ttl,
                rdatas: vec![&r.rdata],
            }),
        }
    }
    Ok(nodes)
}

fn check_record(origin: &[u8], class: u16, r: &Rr) -> Result<(), SignError> {
    let at = || format!("{} {}", name_to_text(&r.owner), type_to_text(r.rtype));
    if !is_valid_name(&r.owner) {
        return Err(SignError::Record("record with a malformed owner name".into()));
    }
    if !is_subdomain(&r.owner, origin) {
        return Err(SignError::Record(format!(
            "{}: outside the zone {}",
            at(),
            name_to_text(origin)
        )));
    }
    if r.class != class {
        return Err(SignError::Record(format!(
            "{}: class {} differs from the SOA's",
            at(),
            r.class
        )));
    }
    if matches!(
        r.rtype,
        rtype::RRSIG | rtype::NSEC | rtype::NSEC3 | rtype::NSEC3PARAM
    ) {
        return Err(SignError::Record(format!(
            "{}: the zone data holds DNSSEC records the signer makes itself; remove them",
            at()
        )));
    }
    Ok(())
}

/// Where a name stands in the zone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Apex,
    /// A delegation point: only DS (and NSEC) are authoritative there.
    Cut,
    Auth,
}

/// The authoritative names and their kind, in canonical order; names
/// below a delegation or a DNAME are skipped. The apex sorts first.
fn classify(nodes: &[Node]) -> Vec<(usize, Kind)> {
    let mut out = Vec::with_capacity(nodes.len());
    let mut occluder: Option<&[u8]> = None;
    for (i, node) in nodes.iter().enumerate() {
        if let Some(o) = occluder {
            // Keys of descendants extend their ancestor's key.
            if node.key.len() > o.len() && node.key.starts_with(o) {
                continue;
            }
            occluder = None;
        }
        let kind = match i {
            0 => Kind::Apex,
            _ if node.has(rtype::NS) => Kind::Cut,
            _ => Kind::Auth,
        };
        if kind == Kind::Cut || node.has(rtype::DNAME) {
            occluder = Some(&node.key);
        }
        out.push((i, kind));
    }
    out
}

/// The keys that sign the DNSKEY/CDS/CDNSKEY RRsets (`ksk`) and the rest
/// (`zsk`). With no active ZSK the KSKs sign everything (a CSK).
struct Signers<'k> {
    ksk: Vec<&'k DnssecKey>,
    zsk: Vec<&'k DnssecKey>,
    published: Vec<&'k DnssecKey>,
}

fn signers<'k>(origin: &[u8], keys: &'k [DnssecKey], now: u64) -> Result<Signers<'k>, SignError> {
    let zone_err = |m: String| Err(SignError::Zone(format!("{}: {m}", name_to_text(origin))));
    let mine: Vec<&DnssecKey> = keys.iter().filter(|k| k.zone() == origin).collect();
    let published: Vec<&DnssecKey> = mine
        .iter()
        .copied()
        .filter(|k| k.timing.is_published(now))
        .collect();
    let active: Vec<&DnssecKey> = published
        .iter()
        .copied()
        .filter(|k| k.timing.is_active(now) && k.has_private())
        .collect();
    let mut seen = HashSet::new();
    if let Some(k) = published
        .iter()
        .find(|k| !seen.insert((k.algorithm(), k.key_tag())))
    {
        return zone_err(format!(
            "two published keys share algorithm and key tag ({})",
            k.file_stem()
        ));
    }
    // Key order is signature order, which reuse compares: make it fixed.
    let mut active = active;
    active.sort_by_key(|k| (k.algorithm().number(), k.key_tag()));
    let mut ksk: Vec<&DnssecKey> = active.iter().copied().filter(|k| k.is_sep()).collect();
    let mut zsk: Vec<&DnssecKey> = active.iter().copied().filter(|k| !k.is_sep()).collect();
    if zsk.is_empty() {
        zsk = ksk.clone();
    }
    if ksk.is_empty() {
        ksk = zsk.clone();
    }
    if zsk.is_empty() {
        return zone_err("no active key with its private key: nothing can sign the zone".into());
    }
    // RFC 4035 2.2: every algorithm in the DNSKEY RRset signs every RRset.
    for k in &published {
        let covers = |set: &[&DnssecKey]| set.iter().any(|s| s.algorithm() == k.algorithm());
        if !covers(&zsk) || !covers(&ksk) {
            return zone_err(format!(
                "key {} is published but no active key of algorithm {} signs with it",
                k.file_stem(),
                k.algorithm()
            ));
        }
    }
    Ok(Signers { ksk, zsk, published })
}

/// SOA TTL, MINIMUM and class, from the apex SOA.
fn soa_numbers(origin: &[u8], nodes: &[Node], records: &[Rr]) -> Result<(u32, u32, u16), SignError> {
    let zone_err = |m: &str| SignError::Zone(format!("{}: {m}", name_to_text(origin)));
    let soa = records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
        .ok_or_else(|| zone_err("no SOA record at the apex"))?;
    let apex_ok = nodes.first().is_some_and(|n| n.owner == origin);
    if !apex_ok || records.iter().filter(|r| r.rtype == rtype::SOA).count() != 1 {
        return Err(zone_err("a zone needs exactly one SOA record, at the apex"));
    }
    let min = soa
        .rdata
        .len()
        .checked_sub(4)
        .and_then(|at| soa.rdata.get(at..))
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| zone_err("malformed SOA RDATA"))?;
    Ok((soa.ttl, min, soa.class))
}

/// An RRset to carry signatures, borrowed from the input or from the
/// generated records.
struct Unit<'a> {
    owner: &'a [u8],
    rtype: u16,
    ttl: u32,
    rdatas: Vec<&'a [u8]>,
    /// Signed by the KSKs (DNSKEY, CDS, CDNSKEY at the apex).
    keyset: bool,
}

/// The zone as the signer sees it, before signing.
struct Plan<'a> {
    class: u16,
    nodes: Vec<Node<'a>>,
    auth: Vec<(usize, Kind)>,
    apex_extra: Vec<Rr>,
}

/// Signs `records` (the whole zone at `origin`, SOA included, in wire
/// form) with `keys` at time `now` (seconds since the epoch). With
/// `previous`, signatures of unchanged RRsets are carried over.
pub fn sign_zone(
    origin: &[u8],
    records: &[Rr],
    keys: &[DnssecKey],
    config: &SignerConfig,
    now: u64,
    previous: Option<&SignedZone>,
) -> Result<SignedZone, SignError> {
    if !is_valid_name(origin) {
        return Err(SignError::Zone("malformed zone name".into()));
    }
    let origin = lower(origin);
    if let Denial::Nsec3(p) = &config.denial {
        p.check().map_err(SignError::Zone)?;
    }
    let signers = signers(&origin, keys, now)?;
    let class = records
        .iter()
        .find(|r| r.rtype == rtype::SOA)
        .map_or(super::CLASS_IN, |r| r.class);
    let nodes = group(&origin, class, records)?;
    let (soa_ttl, soa_min, class) = soa_numbers(&origin, &nodes, records)?;
    let auth = classify(&nodes);
    let dnskey_ttl = config.dnskey_ttl.unwrap_or(soa_ttl);
    let plan = Plan {
        class,
        nodes,
        auth,
        apex_extra: apex_records(&origin, &signers, config, dnskey_ttl),
    };
    let denial_ttl = soa_ttl.min(soa_min); // RFC 9077 3
    let chain = denial_records(&origin, &plan, config, denial_ttl)?;
    let units = units(&origin, &plan, &chain);
    let (sets, signed, signatures) = sign_units(&units, &signers, config, now, previous, class)?;
    let stats = SignStats {
        rrsets: units.len(),
        signed,
        reused: units.len() - signed,
        signatures,
        denial_records: chain.len(),
    };
    drop(units);
    let mut generated = plan.apex_extra;
    generated.extend(chain);
    Ok(SignedZone {
        origin,
        generated,
        sets,
        stats,
    })
}

/// The apex records signing adds: DNSKEY for each published key, CDS and
/// CDNSKEY for each published SEP key on request, NSEC3PARAM for NSEC3.
fn apex_records(origin: &[u8], signers: &Signers, config: &SignerConfig, ttl: u32) -> Vec<Rr> {
    let mut out: Vec<Rr> = signers.published.iter().map(|k| k.dnskey_rr(ttl)).collect();
    if config.publish_cds {
        for k in signers.published.iter().filter(|k| k.is_sep()) {
            out.push(Rr::new(origin, rtype::CDS, ttl, k.cds_rdata()));
            out.push(Rr::new(origin, rtype::CDNSKEY, ttl, k.cdnskey_rdata()));
        }
    }
    if let Denial::Nsec3(p) = &config.denial {
        // BIND publishes NSEC3PARAM with TTL 0: only secondaries read it.
        out.push(Rr::new(origin, rtype::NSEC3PARAM, 0, p.param_rdata()));
    }
    out
}

/// Types at an authoritative name for its NSEC/NSEC3 bitmap (RRSIG
/// included when something there is signed; NSEC added by the chain).
fn bitmap_types(node: &Node, kind: Kind, apex_extra: &[Rr]) -> Vec<u16> {
    let mut types: Vec<u16> = match kind {
        // RFC 4035 2.3: at a delegation, NS and DS only.
        Kind::Cut => node
            .sets
            .iter()
            .map(|s| s.rtype)
            .filter(|&t| t == rtype::NS || t == rtype::DS)
            .collect(),
        Kind::Apex => node
            .sets
            .iter()
            .map(|s| s.rtype)
            .chain(apex_extra.iter().map(|r| r.rtype))
            .collect(),
        Kind::Auth => node.sets.iter().map(|s| s.rtype).collect(),
    };
    let signed = kind != Kind::Cut || node.has(rtype::DS);
    if signed {
        types.push(rtype::RRSIG);
    }
    types.sort_unstable();
    types.dedup();
    types
}

/// The NSEC or NSEC3 chain.
fn denial_records(origin: &[u8], plan: &Plan, config: &SignerConfig, ttl: u32) -> Result<Vec<Rr>, SignError> {
    let names: Vec<DenialName> = plan
        .auth
        .iter()
        .map(|&(i, kind)| {
            let node = &plan.nodes[i];
            DenialName {
                owner: &node.owner,
                key: &node.key,
                types: bitmap_types(node, kind, &plan.apex_extra),
            }
        })
        .collect();
    let caps: Vec<(Vec<u8>, u32)> = config
        .denial_ttl_caps
        .iter()
        .filter(|(n, _)| is_valid_name(n) && is_subdomain(n, origin))
        .map(|(n, t)| (lower(n), *t))
        .collect();
    match &config.denial {
        Denial::Nsec => {
            let caps: Vec<(Vec<u8>, u32)> = caps.into_iter().map(|(n, t)| (name_key(&n), t)).collect();
            Ok(nsec_chain(&names, plan.class, ttl, &caps))
        }
        Denial::Nsec3(params) => nsec3_chain(origin, &names, params, plan.class, ttl, &caps).map_err(|c| {
            SignError::Zone(format!(
                "NSEC3 hash collision between {} and {}; choose a salt",
                name_to_text(&c.0),
                name_to_text(&c.1)
            ))
        }),
    }
}

/// Every RRset that gets signatures: authoritative data, the apex
/// records signing adds (merged with any of the same type in the data),
/// and each NSEC/NSEC3 record.
fn units<'a>(origin: &'a [u8], plan: &'a Plan, chain: &'a [Rr]) -> Vec<Unit<'a>> {
    let mut out = Vec::with_capacity(plan.nodes.len() * 2);
    let extra_types: HashSet<u16> = plan.apex_extra.iter().map(|r| r.rtype).collect();
    for &(i, kind) in &plan.auth {
        let node = &plan.nodes[i];
        for set in &node.sets {
            let skip = match kind {
                Kind::Cut => set.rtype != rtype::DS,
                Kind::Apex => extra_types.contains(&set.rtype),
                Kind::Auth => false,
            };
            if !skip {
                out.push(Unit {
                    owner: &node.owner,
                    rtype: set.rtype,
                    ttl: set.ttl,
                    rdatas: set.rdatas.clone(),
                    // RFC 7344 4.1: CDS/CDNSKEY are signed by a key the DS names.
                    keyset: kind == Kind::Apex && matches!(set.rtype, rtype::CDS | rtype::CDNSKEY),
                });
            }
        }
    }
    for t in sorted(extra_types) {
        out.push(apex_unit(origin, plan, t));
    }
    out.extend(chain.iter().map(|r| Unit {
        owner: &r.owner,
        rtype: r.rtype,
        ttl: r.ttl,
        rdatas: vec![&r.rdata],
        keyset: false,
    }));
    out
}

fn sorted(set: HashSet<u16>) -> Vec<u16> {
    let mut v: Vec<u16> = set.into_iter().collect();
    v.sort_unstable();
    v
}

/// A generated apex RRset, merged with the zone data's own records of
/// that type (a pre-published key kept elsewhere, say).
fn apex_unit<'a>(origin: &'a [u8], plan: &'a Plan, t: u16) -> Unit<'a> {
    let own = plan.apex_extra.iter().filter(|r| r.rtype == t);
    let ttl = own.clone().map(|r| r.ttl).min().unwrap_or(0);
    let mut rdatas: Vec<&[u8]> = own.map(|r| r.rdata.as_slice()).collect();
    if let Some(set) = plan.nodes[0].sets.iter().find(|s| s.rtype == t) {
        rdatas.extend(set.rdatas.iter().copied());
    }
    Unit {
        owner: origin,
        rtype: t,
        ttl,
        rdatas,
        keyset: matches!(t, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY),
    }
}

/// An RRset to sign in this run.
struct Job<'a> {
    id: Box<[u8]>,
    unit: &'a Unit<'a>,
    body: Vec<u8>,
    keys: &'a [&'a DnssecKey],
}

type SignedSets = (FxMap<Box<[u8]>, Arc<SignedSet>>, usize, usize);

/// Signs every unit, or carries its previous signatures over. Returns the
/// sets, the number of RRsets signed and of signatures made.
fn sign_units(
    units: &[Unit],
    signers: &Signers,
    config: &SignerConfig,
    now: u64,
    previous: Option<&SignedZone>,
    class: u16,
) -> Result<SignedSets, SignError> {
    let mut sets: FxMap<Box<[u8]>, Arc<SignedSet>> = FxMap::default();
    sets.reserve(units.len());
    let mut jobs = Vec::new();
    let mut body = Vec::new();
    for unit in units {
        let keys: &[&DnssecKey] = if unit.keyset { &signers.ksk } else { &signers.zsk };
        body.clear();
        rrset_wire(unit.owner, unit.rtype, class, unit.ttl, &unit.rdatas, &mut body).map_err(|e| {
            SignError::Record(format!(
                "{} {}: {e}",
                name_to_text(unit.owner),
                type_to_text(unit.rtype)
            ))
        })?;
        let id = set_id(unit.owner, unit.rtype);
        let old = previous.and_then(|p| p.sets.get(&id));
        match old {
            Some(old) if reusable(old, &body, keys, now, config.validity.refresh) => {
                sets.insert(id, Arc::clone(old));
            }
            _ => jobs.push(Job {
                id,
                unit,
                body: std::mem::take(&mut body),
                keys,
            }),
        }
    }
    let signed = jobs.len();
    let made = run_jobs(jobs, config, now, class)?;
    let signatures = made.iter().map(|(_, s)| s.sigs.len()).sum();
    sets.extend(made.into_iter().map(|(id, s)| (id, Arc::new(s))));
    Ok((sets, signed, signatures))
}

/// Previous signatures are kept if they sign the same bytes with the
/// same keys and are not due for refresh.
fn reusable(old: &SignedSet, body: &[u8], keys: &[&DnssecKey], now: u64, refresh: u64) -> bool {
    *old.body == *body
        && old.sigs.len() == keys.len()
        && old.sigs.iter().zip(keys).all(|(s, k)| {
            s.algorithm == k.algorithm().number()
                && s.key_tag == k.key_tag()
                && s.inception <= now
                && s.expiration > now.saturating_add(refresh)
        })
}

/// Signs the jobs, on `config.threads` threads.
fn run_jobs(
    jobs: Vec<Job>,
    config: &SignerConfig,
    now: u64,
    class: u16,
) -> Result<Vec<(Box<[u8]>, SignedSet)>, SignError> {
    let threads = config.threads.max(1);
    if threads == 1 || jobs.len() < 64 {
        return jobs.into_iter().map(|j| run_job(j, config, now, class)).collect();
    }
    let per = jobs.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Job>> = Vec::new();
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        chunks.push(jobs.by_ref().take(per).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|j| run_job(j, config, now, class))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            let part = h
                .join()
                .map_err(|_| SignError::Zone("a signing thread panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

fn run_job(
    job: Job,
    config: &SignerConfig,
    now: u64,
    class: u16,
) -> Result<(Box<[u8]>, SignedSet), SignError> {
    let u = job.unit;
    let (inception, expiration) = config.validity.window(now, u.owner, u.rtype);
    let sigs = job
        .keys
        .iter()
        .map(|k| {
            let rrsig = sign_body(
                k, u.owner, u.rtype, class, u.ttl, &job.body, inception, expiration,
            )?;
            Ok(Signature {
                rrsig,
                algorithm: k.algorithm().number(),
                key_tag: k.key_tag(),
                inception,
                expiration,
            })
        })
        .collect::<Result<Vec<_>, SignError>>()?;
    Ok((
        job.id,
        SignedSet {
            body: job.body.into_boxed_slice(),
            sigs,
        },
    ))
}

/// A 32-bit RRSIG time as seconds since the epoch: the instant nearest
/// `now` with those low 32 bits (RFC 4034 3.1.5 serial arithmetic).
fn serial_to_epoch(t: u32, now: u64) -> u64 {
    let delta = i64::from(t.wrapping_sub(now as u32) as i32);
    now.saturating_add_signed(delta)
}

impl SignedZone {
    /// Rebuilds a [`SignedZone`] from a signed zone's records (its data,
    /// the DNSSEC records and the RRSIGs, as kept in vigia's state
    /// directory or read from a transfer), so that the next
    /// [`sign_zone`] reuses those signatures. With `keys`, each RRSIG is
    /// verified against the matching key and dropped if it fails; RRSIGs
    /// of no key in `keys` are dropped either way, so the next run makes
    /// them afresh.
    pub fn restore(origin: &[u8], records: &[Rr], keys: &[DnssecKey], verify: bool, now: u64) -> SignedZone {
        let origin = lower(origin);
        let mut data: FxMap<Box<[u8]>, Vec<&Rr>> = FxMap::default();
        let mut rrsigs: Vec<(&Rr, RrsigFields)> = Vec::new();
        let mut generated = Vec::new();
        for r in records {
            if r.rtype == rtype::RRSIG {
                if let Some((f, _)) = RrsigFields::parse(&r.rdata) {
                    rrsigs.push((r, f));
                }
                continue;
            }
            if matches!(
                r.rtype,
                rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC | rtype::NSEC3 | rtype::NSEC3PARAM
            ) {
                generated.push(r.clone());
            }
            data.entry(set_id(&lower(&r.owner), r.rtype)).or_default().push(r);
        }
        let mut sets: FxMap<Box<[u8]>, SignedSet> = FxMap::default();
        for (rrsig, f) in rrsigs {
            let id = set_id(&lower(&rrsig.owner), f.type_covered);
            let Some(rrset) = data.get(&id) else { continue };
            let Some(key) = keys
                .iter()
                .find(|k| k.key_tag() == f.key_tag && k.algorithm().number() == f.algorithm)
            else {
                continue;
            };
            let owned: Vec<Rr> = rrset.iter().map(|r| (*r).clone()).collect();
            if verify && verify_rrsig(rrsig, &owned, &key.dnskey_rdata(), Some(now)).is_err() {
                continue;
            }
            let rdatas: Vec<&[u8]> = rrset.iter().map(|r| r.rdata.as_slice()).collect();
            let mut body = Vec::new();
            if rrset_wire(
                &rrset[0].owner,
                f.type_covered,
                rrsig.class,
                f.original_ttl,
                &rdatas,
                &mut body,
            )
            .is_err()
            {
                continue;
            }
            let entry = sets.entry(id).or_insert_with(|| SignedSet {
                body: body.into_boxed_slice(),
                sigs: Vec::new(),
            });
            entry.sigs.push(Signature {
                rrsig: rrsig.clone(),
                algorithm: f.algorithm,
                key_tag: f.key_tag,
                inception: serial_to_epoch(f.inception, now),
                expiration: serial_to_epoch(f.expiration, now),
            });
        }
        // Signatures in the order sign_zone makes them: by key order.
        for set in sets.values_mut() {
            set.sigs.sort_by_key(|s| (s.algorithm, s.key_tag));
        }
        SignedZone {
            origin,
            generated,
            sets: sets.into_iter().map(|(id, s)| (id, Arc::new(s))).collect(),
            stats: SignStats::default(),
        }
    }
}
