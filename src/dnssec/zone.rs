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

mod input;
mod persist;
mod store;

use super::canonical::rrset_wire;
use super::keys::DnssecKey;
use super::nsec::{nsec_chain, DenialName};
use super::nsec3::{nsec3_chain, Nsec3Params};
use super::sign::{sign_body, verify_rrsig, CanonicalRrset, RrsigFields, SignError, Validity};
use super::text::name_to_text;
use crate::dns::hash::FxMap;
use crate::dns::message::RawRecord;
use crate::dns::name::{canonical_cmp, canonical_key, canonical_key_into, is_subdomain_wire, is_valid_wire};
use crate::dns::rtype;
use crate::dns::types::{type_name, BadRdata};
use input::{Input, SetRec};
use std::cmp::Ordering;
use std::collections::HashSet;
use store::{digest, Digest, Records, SetRef, SetStore, SigRef, Sigs, TooLarge};

pub use store::RecordRef;

/// One RRSIG and what the signer knows about it (an owned copy: the
/// signed zone keeps its signatures packed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub rrsig: RawRecord,
    pub algorithm: u8,
    pub key_tag: u16,
    /// Seconds since the epoch (not truncated to 32 bits).
    pub inception: u64,
    pub expiration: u64,
}

impl Signature {
    fn of(owner: &[u8], s: SigRef) -> Signature {
        Signature {
            rrsig: RawRecord {
                owner: owner.to_vec(),
                rtype: rtype::RRSIG,
                class: s.class,
                ttl: s.ttl,
                rdata: s.rdata.to_vec(),
            },
            algorithm: s.algorithm,
            key_tag: s.key_tag,
            inception: s.inception,
            expiration: s.expiration,
        }
    }

    fn as_sig_ref(&self) -> SigRef<'_> {
        SigRef {
            class: self.rrsig.class,
            ttl: self.rrsig.ttl,
            rdata: &self.rrsig.rdata,
            algorithm: self.algorithm,
            key_tag: self.key_tag,
            inception: self.inception,
            expiration: self.expiration,
        }
    }
}

fn too_large(_: TooLarge) -> SignError {
    SignError::Zone("too large to sign: over 4 GiB of signatures or records".into())
}

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

/// The RRset whose signatures expire first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// Lower-cased wire form.
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub at: u64,
}

/// The records signing adds to a zone, and the signatures of its RRsets.
#[derive(Debug)]
pub struct SignedZone {
    origin: Vec<u8>,
    /// DNSKEY, CDS, CDNSKEY, NSEC3PARAM (at the apex) and the NSEC/NSEC3
    /// chain, in that order; the chain in canonical or hash order.
    generated: Records,
    store: SetStore,
    stats: SignStats,
}

impl SignedZone {
    /// The zone apex, lower-cased wire form.
    pub fn origin(&self) -> &[u8] {
        &self.origin
    }

    /// DNSKEY, CDS, CDNSKEY, NSEC3PARAM and NSEC/NSEC3 records (no RRSIGs).
    pub fn generated(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        self.generated.iter()
    }

    /// Every record signing adds: [`Self::generated`] and all RRSIGs.
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        let sigs = self.store.sets().flat_map(|s| s.rrsigs());
        self.generated.iter().chain(sigs)
    }

    /// The RRSIGs covering `(owner, rtype)` (owner in any case); empty for
    /// unsigned RRsets (glue, delegation NS) and unknown ones.
    pub fn rrsigs(&self, owner: &[u8], t: u16) -> Vec<Signature> {
        self.store.get(owner, t).map_or_else(Vec::new, |set| {
            set.sigs().map(|s| Signature::of(set.owner, s)).collect()
        })
    }

    /// Number of RRSIG records.
    pub fn signature_count(&self) -> usize {
        self.store.signature_count()
    }

    pub fn stats(&self) -> SignStats {
        self.stats
    }

    /// The signature that expires first (for monitoring: vigia exports it
    /// as `vigia_dnssec_signature_expiry_timestamp_seconds`).
    pub fn earliest_expiration(&self) -> Option<Expiry> {
        let (set, sig) = self
            .store
            .sets()
            .flat_map(|set| set.sigs().map(move |s| (set, s)))
            .min_by_key(|(_, s)| s.expiration)?;
        let (fields, _) = RrsigFields::parse(sig.rdata)?;
        Some(Expiry {
            owner: set.owner.to_vec(),
            rtype: fields.type_covered,
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
    pub fn diff<'a>(&'a self, old: &'a SignedZone) -> (Vec<RecordRef<'a>>, Vec<RecordRef<'a>>) {
        let (new_gen, old_gen): (Vec<_>, Vec<_>) = (self.generated().collect(), old.generated().collect());
        let (mut removed, mut added) = generated_changes(&new_gen, &old_gen);
        let (gone, new) = self.store.changes(&old.store);
        removed.extend(gone.iter().flat_map(|s| s.rrsigs()));
        added.extend(new.iter().flat_map(|s| s.rrsigs()));
        (removed, added)
    }
}

/// The generated records removed and added between two runs: the few
/// apex records by comparison, the chains (in canonical order of their
/// owners, which is hash order for NSEC3) by a merge.
fn generated_changes<'a>(
    new: &[RecordRef<'a>],
    old: &[RecordRef<'a>],
) -> (Vec<RecordRef<'a>>, Vec<RecordRef<'a>>) {
    let ((new_apex, new_chain), (old_apex, old_chain)) = (split_chain(new), split_chain(old));
    let mut removed: Vec<RecordRef> = old_apex
        .iter()
        .filter(|r| !new_apex.contains(r))
        .copied()
        .collect();
    let mut added: Vec<RecordRef> = new_apex
        .iter()
        .filter(|r| !old_apex.contains(r))
        .copied()
        .collect();
    let (mut i, mut j) = (0, 0);
    while i < new_chain.len() || j < old_chain.len() {
        let order = match (new_chain.get(i), old_chain.get(j)) {
            (Some(n), Some(o)) => canonical_cmp(n.owner, o.owner).then(n.rtype.cmp(&o.rtype)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => added.push(new_chain[i]),
            Ordering::Greater => removed.push(old_chain[j]),
            Ordering::Equal if new_chain[i] != old_chain[j] => {
                added.push(new_chain[i]);
                removed.push(old_chain[j]);
            }
            Ordering::Equal => {}
        }
        i += usize::from(order != Ordering::Greater);
        j += usize::from(order != Ordering::Less);
    }
    (removed, added)
}

/// The apex records and the chain.
fn split_chain<'g, 'a>(g: &'g [RecordRef<'a>]) -> (&'g [RecordRef<'a>], &'g [RecordRef<'a>]) {
    g.split_at(g.iter().position(is_chain).unwrap_or(g.len()))
}

fn is_chain(r: &RecordRef) -> bool {
    matches!(r.rtype, rtype::NSEC | rtype::NSEC3)
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
fn classify(input: &Input) -> Vec<(usize, Kind)> {
    let mut out = Vec::with_capacity(input.len());
    let mut occluder: Option<&[u8]> = None;
    for i in 0..input.len() {
        let key = input.key(i);
        if let Some(o) = occluder {
            // Keys of descendants extend their ancestor's key.
            if key.len() > o.len() && key.starts_with(o) {
                continue;
            }
            occluder = None;
        }
        let kind = match i {
            0 => Kind::Apex,
            _ if input.has(i, rtype::NS) => Kind::Cut,
            _ => Kind::Auth,
        };
        if kind == Kind::Cut || input.has(i, rtype::DNAME) {
            occluder = Some(key);
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
    let published: Vec<&DnssecKey> = keys
        .iter()
        .filter(|k| k.zone() == origin && k.timing.is_published(now))
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
    let mut active: Vec<&DnssecKey> = published
        .iter()
        .copied()
        .filter(|k| k.timing.is_active(now) && k.has_private())
        .collect();
    // Key order is signature order, which reuse compares: make it fixed.
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

/// SOA TTL and MINIMUM, from the apex SOA, after checking there is one.
fn soa_numbers(origin: &[u8], input: &Input, records: &[RawRecord]) -> Result<(u32, u32), SignError> {
    let zone_err = |m: &str| SignError::Zone(format!("{}: {m}", name_to_text(origin)));
    let soa = records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
        .ok_or_else(|| zone_err("no SOA record at the apex"))?;
    let apex_first = input.len() > 0 && input.owner(0) == origin;
    if !apex_first || records.iter().filter(|r| r.rtype == rtype::SOA).count() != 1 {
        return Err(zone_err("a zone needs exactly one SOA record, at the apex"));
    }
    let min = soa
        .rdata
        .len()
        .checked_sub(4)
        .and_then(|at| soa.rdata.get(at..))
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| zone_err("malformed SOA RDATA"))?;
    Ok((soa.ttl, min))
}

/// Signs `records` (the whole zone at `origin`, SOA included, in wire
/// form) with `keys` at time `now` (seconds since the epoch). With
/// `previous`, signatures of unchanged RRsets are carried over.
pub fn sign_zone(
    origin: &[u8],
    records: &[RawRecord],
    keys: &[DnssecKey],
    config: &SignerConfig,
    now: u64,
    previous: Option<&SignedZone>,
) -> Result<SignedZone, SignError> {
    if !is_valid_wire(origin) {
        return Err(SignError::Zone("malformed zone name".into()));
    }
    let origin = origin.to_ascii_lowercase();
    if let Denial::Nsec3(p) = &config.denial {
        p.check().map_err(SignError::Zone)?;
    }
    let signers = signers(&origin, keys, now)?;
    let class = records
        .iter()
        .find(|r| r.rtype == rtype::SOA)
        .map_or(crate::dns::class::IN, |r| r.class);
    let input = Input::group(&origin, class, records)?;
    let (soa_ttl, soa_min) = soa_numbers(&origin, &input, records)?;
    let auth = classify(&input);
    let apex_extra = apex_records(&origin, &signers, config, config.dnskey_ttl.unwrap_or(soa_ttl));
    let zone = ZoneView {
        class,
        input: &input,
        auth: &auth,
        apex_extra: &apex_extra,
    };
    let denial_ttl = soa_ttl.min(soa_min); // RFC 9077 3
    let chain = denial_records(&origin, &zone, config, denial_ttl)?;
    let units = units(&zone, &chain);
    let (store, signed, signatures) = sign_units(&units, &signers, config, now, previous, class)?;
    let stats = SignStats {
        rrsets: units.len(),
        signed,
        reused: units.len() - signed,
        signatures,
        denial_records: chain.records.len(),
    };
    drop(units);
    let generated = pack(apex_extra.iter().chain(&chain.records)).map_err(too_large)?;
    Ok(SignedZone {
        origin,
        generated,
        store,
        stats,
    })
}

/// The zone as the signer sees it, before signing.
struct ZoneView<'z, 'a> {
    class: u16,
    input: &'z Input<'a>,
    auth: &'z [(usize, Kind)],
    apex_extra: &'z [RawRecord],
}

/// The apex records signing adds: DNSKEY for each published key, CDS and
/// CDNSKEY for each published SEP key on request, NSEC3PARAM for NSEC3.
fn apex_records(origin: &[u8], signers: &Signers, config: &SignerConfig, ttl: u32) -> Vec<RawRecord> {
    let mut out: Vec<RawRecord> = signers.published.iter().map(|k| k.dnskey_rr(ttl)).collect();
    if config.publish_cds {
        for k in signers.published.iter().filter(|k| k.is_sep()) {
            out.push(RawRecord::new(origin, rtype::CDS, ttl, k.cds_rdata()));
            out.push(RawRecord::new(origin, rtype::CDNSKEY, ttl, k.cdnskey_rdata()));
        }
    }
    if let Denial::Nsec3(p) = &config.denial {
        // BIND publishes NSEC3PARAM with TTL 0: only secondaries read it.
        out.push(RawRecord::new(origin, rtype::NSEC3PARAM, 0, p.param_rdata()));
    }
    out
}

/// Types at an authoritative name for its NSEC/NSEC3 bitmap (RRSIG
/// included when something there is signed; NSEC added by the chain).
fn bitmap_types(zone: &ZoneView, i: usize, kind: Kind) -> Vec<u16> {
    let sets = zone.input.sets(i).iter().map(|s| s.rtype);
    let mut types: Vec<u16> = match kind {
        // RFC 4035 2.3: at a delegation, NS and DS only.
        Kind::Cut => sets.filter(|&t| t == rtype::NS || t == rtype::DS).collect(),
        Kind::Apex => sets.chain(zone.apex_extra.iter().map(|r| r.rtype)).collect(),
        Kind::Auth => sets.collect(),
    };
    if kind != Kind::Cut || zone.input.has(i, rtype::DS) {
        types.push(rtype::RRSIG);
    }
    types.sort_unstable();
    types.dedup();
    types
}

/// The NSEC or NSEC3 records, and for NSEC3 the canonical keys of their
/// owners (NSEC records sit at the zone's own names, whose keys exist).
struct Chain {
    records: Vec<RawRecord>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
}

impl Chain {
    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.keys[start..self.key_ends[i]]
    }
}

fn denial_records(
    origin: &[u8],
    zone: &ZoneView,
    config: &SignerConfig,
    ttl: u32,
) -> Result<Chain, SignError> {
    let names: Vec<DenialName> = zone
        .auth
        .iter()
        .map(|&(i, kind)| DenialName {
            owner: zone.input.owner(i),
            key: zone.input.key(i),
            types: bitmap_types(zone, i, kind),
        })
        .collect();
    let caps: Vec<(Vec<u8>, u32)> = config
        .denial_ttl_caps
        .iter()
        .filter(|(n, _)| is_valid_wire(n) && is_subdomain_wire(n, origin))
        .map(|(n, t)| (n.to_ascii_lowercase(), *t))
        .collect();
    let records = match &config.denial {
        Denial::Nsec => {
            let caps: Vec<(Vec<u8>, u32)> = caps.into_iter().map(|(n, t)| (canonical_key(&n), t)).collect();
            nsec_chain(&names, zone.class, ttl, &caps)
        }
        Denial::Nsec3(params) => {
            nsec3_chain(origin, &names, params, zone.class, ttl, &caps).map_err(|c| {
                SignError::Zone(format!(
                    "NSEC3 hash collision between {} and {}; choose a salt",
                    name_to_text(&c.0),
                    name_to_text(&c.1)
                ))
            })?
        }
    };
    let mut chain = Chain {
        records,
        keys: Vec::new(),
        key_ends: Vec::new(),
    };
    if matches!(config.denial, Denial::Nsec3(_)) {
        for r in &chain.records {
            canonical_key_into(&r.owner, &mut chain.keys);
            chain.key_ends.push(chain.keys.len());
        }
    }
    Ok(chain)
}

/// The RDATA of an RRset to sign.
enum Rdatas<'a> {
    /// An RRset of the zone data.
    Set(&'a [&'a [u8]]),
    /// A generated record alone in its RRset (NSEC, NSEC3...).
    One(&'a [u8]),
    /// A generated apex RRset merged with the data's records of its type.
    Merged(Vec<&'a [u8]>),
}

/// An RRset that carries signatures, borrowed from the input or from the
/// generated records.
struct Unit<'a> {
    key: &'a [u8],
    owner: &'a [u8],
    rtype: u16,
    ttl: u32,
    rdatas: Rdatas<'a>,
    /// Signed by the KSKs (DNSKEY, CDS, CDNSKEY at the apex).
    keyset: bool,
}

impl Unit<'_> {
    /// Appends the canonical wire form of the RRset.
    fn wire(&self, class: u16, out: &mut Vec<u8>) -> Result<(), BadRdata> {
        let (o, t, ttl) = (self.owner, self.rtype, self.ttl);
        match &self.rdatas {
            Rdatas::Set(s) => rrset_wire(o, t, class, ttl, s, out),
            Rdatas::One(r) => rrset_wire(o, t, class, ttl, std::slice::from_ref(r), out),
            Rdatas::Merged(v) => rrset_wire(o, t, class, ttl, v, out),
        }
    }
}

/// Every RRset that gets signatures, in (canonical key, type) order (the
/// order of the store, so reuse is a merge join): authoritative data, the
/// apex records signing adds (merged with any of the same type in the
/// data), and each NSEC or NSEC3 record.
fn units<'a>(zone: &ZoneView<'a, 'a>, chain: &'a Chain) -> Vec<Unit<'a>> {
    let input = zone.input;
    let extra_types: Vec<u16> = {
        let mut t: Vec<u16> = zone.apex_extra.iter().map(|r| r.rtype).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let nsec = chain.key_ends.is_empty();
    let mut out = Vec::with_capacity(input.len() * 2 + extra_types.len());
    for (k, &(i, kind)) in zone.auth.iter().enumerate() {
        let start = out.len();
        let (key, owner) = (input.key(i), input.owner(i));
        for set in input.sets(i) {
            if is_signed_data(kind, set, &extra_types) {
                out.push(Unit {
                    key,
                    owner,
                    rtype: set.rtype,
                    ttl: set.ttl,
                    rdatas: Rdatas::Set(input.rdatas(set)),
                    // RFC 7344 4.1: CDS/CDNSKEY are signed by a key the DS names.
                    keyset: kind == Kind::Apex && matches!(set.rtype, rtype::CDS | rtype::CDNSKEY),
                });
            }
        }
        if kind == Kind::Apex {
            out.extend(extra_types.iter().map(|&t| apex_unit(zone, t)));
        }
        if nsec {
            let r = &chain.records[k];
            out.push(Unit {
                key,
                owner,
                rtype: rtype::NSEC,
                ttl: r.ttl,
                rdatas: Rdatas::One(&r.rdata),
                keyset: false,
            });
        }
        out[start..].sort_unstable_by_key(|u| u.rtype);
    }
    if nsec {
        return out;
    }
    let nsec3 = chain.records.iter().enumerate().map(|(k, r)| Unit {
        key: chain.key(k),
        owner: &r.owner,
        rtype: rtype::NSEC3,
        ttl: r.ttl,
        rdatas: Rdatas::One(&r.rdata),
        keyset: false,
    });
    merge_by_key(out, nsec3.collect())
}

/// Merges two (key, type)-sorted unit lists (hash order is key order for
/// NSEC3 owners: same parent, same-length base32hex labels).
fn merge_by_key<'a>(a: Vec<Unit<'a>>, b: Vec<Unit<'a>>) -> Vec<Unit<'a>> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (x.key, x.rtype) <= (y.key, y.rtype),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

fn is_signed_data(kind: Kind, set: &SetRec, extra_types: &[u16]) -> bool {
    match kind {
        Kind::Cut => set.rtype == rtype::DS,
        Kind::Apex => !extra_types.contains(&set.rtype),
        Kind::Auth => true,
    }
}

/// A generated apex RRset, merged with the zone data's own records of
/// that type (a pre-published key kept elsewhere, say).
fn apex_unit<'a>(zone: &ZoneView<'a, 'a>, t: u16) -> Unit<'a> {
    let own = zone.apex_extra.iter().filter(|r| r.rtype == t);
    let ttl = own.clone().map(|r| r.ttl).min().unwrap_or(0);
    let mut rdatas: Vec<&[u8]> = own.map(|r| r.rdata.as_slice()).collect();
    if let Some(set) = zone.input.sets(0).iter().find(|s| s.rtype == t) {
        rdatas.extend(zone.input.rdatas(set).iter().copied());
    }
    Unit {
        key: zone.input.key(0),
        owner: zone.input.owner(0),
        rtype: t,
        ttl,
        rdatas: Rdatas::Merged(rdatas),
        keyset: matches!(t, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY),
    }
}

/// Records packed into one arena, sized exactly.
fn pack<'r>(records: impl Iterator<Item = &'r RawRecord> + Clone) -> Result<Records, TooLarge> {
    let bytes = records.clone().map(|r| r.owner.len() + r.rdata.len()).sum();
    let mut out = Records::with_capacity(records.clone().count(), bytes);
    for r in records {
        out.push(r.into())?;
    }
    Ok(out)
}

/// An RRset to sign in this run.
struct Job<'a> {
    unit: &'a Unit<'a>,
    body: Vec<u8>,
    keys: &'a [&'a DnssecKey],
}

/// Where the signatures of a unit come from.
enum Source<'p> {
    /// The previous run's, still good.
    Kept(SetRef<'p>),
    /// The next job's, over data with this digest.
    Made(Digest),
}

/// Signs every unit, or carries its previous signatures over. Returns the
/// store, the number of RRsets signed and of signatures made.
fn sign_units(
    units: &[Unit],
    signers: &Signers,
    config: &SignerConfig,
    now: u64,
    previous: Option<&SignedZone>,
    class: u16,
) -> Result<(SetStore, usize, usize), SignError> {
    let mut cursor = previous.map(|p| p.store.cursor());
    let mut sources: Vec<Source> = Vec::with_capacity(units.len());
    let mut jobs = Vec::new();
    let mut body = Vec::new();
    for unit in units {
        let keys: &[&DnssecKey] = if unit.keyset { &signers.ksk } else { &signers.zsk };
        body.clear();
        unit.wire(class, &mut body).map_err(|e| {
            SignError::Record(format!(
                "{} {}: {e}",
                name_to_text(unit.owner),
                type_name(unit.rtype)
            ))
        })?;
        let digest = digest(&body);
        let old = cursor.as_mut().and_then(|c| c.seek(unit.owner, unit.rtype));
        match old {
            Some(old) if reusable(&old, &digest, keys, now, config.validity.refresh) => {
                sources.push(Source::Kept(old));
            }
            _ => {
                sources.push(Source::Made(digest));
                jobs.push(Job {
                    unit,
                    body: std::mem::take(&mut body),
                    keys,
                });
            }
        }
    }
    let signed = jobs.len();
    let made = run_jobs(jobs, config, now, class)?;
    let signatures: usize = made.iter().map(|m| m.sigs.len()).sum();
    // Sized exactly: this store lives as long as the zone is served.
    let (mut sigs, mut sig_bytes) = (signatures, made.iter().map(|m| m.sigs.bytes()).sum::<usize>());
    for src in &sources {
        if let Source::Kept(set) = src {
            sigs += set.sigs().len();
            sig_bytes += set.sigs().map(|s| s.rdata.len()).sum::<usize>();
        }
    }
    let owner_bytes = store::owner_bytes(units.iter().map(|u| u.owner));
    let mut store = SetStore::with_capacity(units.len(), owner_bytes, sigs, sig_bytes);
    let mut made_sets = made.iter().flat_map(Made::sets);
    for (unit, src) in units.iter().zip(&sources) {
        match src {
            Source::Kept(set) => store.push_copy(set),
            Source::Made(digest) => {
                let sigs = made_sets.next().expect("one signed set per job");
                store.push(unit.owner, unit.rtype, digest, sigs)
            }
        }
        .map_err(too_large)?;
    }
    Ok((store, signed, signatures))
}

/// Previous signatures are kept if they sign the same data (by digest)
/// with the same keys and are not due for refresh.
fn reusable(old: &SetRef, digest: &Digest, keys: &[&DnssecKey], now: u64, refresh: u64) -> bool {
    old.digest == digest
        && old.sigs().len() == keys.len()
        && old.sigs().zip(keys).all(|(s, k)| {
            s.algorithm == k.algorithm().number()
                && s.key_tag == k.key_tag()
                && s.inception <= now
                && s.expiration > now.saturating_add(refresh)
        })
}

/// The signatures made for a run of jobs: job `k`'s end at `ends[k]`.
struct Made {
    sigs: Sigs,
    ends: Vec<usize>,
}

impl Made {
    fn sets(&self) -> impl Iterator<Item = impl Iterator<Item = SigRef<'_>>> + '_ {
        (0..self.ends.len()).map(|k| {
            let start = if k == 0 { 0 } else { self.ends[k - 1] };
            self.sigs.range(start..self.ends[k])
        })
    }
}

/// Signs the jobs, on `config.threads` threads; results in job order.
fn run_jobs(jobs: Vec<Job>, config: &SignerConfig, now: u64, class: u16) -> Result<Vec<Made>, SignError> {
    let threads = config.threads.max(1);
    if threads == 1 || jobs.len() < 64 {
        return Ok(vec![run_chunk(jobs, config, now, class)?]);
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
            .map(|chunk| scope.spawn(move || run_chunk(chunk, config, now, class)))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            let made = h
                .join()
                .map_err(|_| SignError::Zone("a signing thread panicked".into()))??;
            out.push(made);
        }
        Ok(out)
    })
}

fn run_chunk(jobs: Vec<Job>, config: &SignerConfig, now: u64, class: u16) -> Result<Made, SignError> {
    let count: usize = jobs.iter().map(|j| j.keys.len()).sum();
    let mut made = Made {
        sigs: Sigs::with_capacity(count, count * 100),
        ends: Vec::with_capacity(jobs.len()),
    };
    for job in jobs {
        let u = job.unit;
        let (inception, expiration) = config.validity.window(now, u.owner, u.rtype);
        let set = CanonicalRrset {
            owner: u.owner,
            rtype: u.rtype,
            class,
            ttl: u.ttl,
            body: &job.body,
        };
        for k in job.keys {
            let rrsig = sign_body(k, &set, inception, expiration)?;
            let sig = SigRef {
                class: rrsig.class,
                ttl: rrsig.ttl,
                rdata: &rrsig.rdata,
                algorithm: k.algorithm().number(),
                key_tag: k.key_tag(),
                inception,
                expiration,
            };
            made.sigs.push(sig).map_err(too_large)?;
        }
        made.ends.push(made.sigs.len());
    }
    Ok(made)
}

/// A 32-bit RRSIG time as seconds since the epoch: the instant nearest
/// `now` with those low 32 bits (RFC 4034 3.1.5 serial arithmetic).
fn serial_to_epoch(t: u32, now: u64) -> u64 {
    let delta = i64::from(t.wrapping_sub(now as u32) as i32);
    now.saturating_add_signed(delta)
}

/// Records of a stored signed zone grouped by (lower-cased owner, type).
type Grouped<'r> = FxMap<(Vec<u8>, u16), Vec<&'r RawRecord>>;

impl SignedZone {
    /// Rebuilds a [`SignedZone`] from a signed zone's records (its data,
    /// the DNSSEC records and the RRSIGs, as kept in vigia's state
    /// directory), so that the next [`sign_zone`] reuses those signatures
    /// and a restart with unchanged data serves the same ones. With
    /// `verify`, each RRSIG is checked against its key and dropped if it
    /// fails; RRSIGs by keys not in `keys` are dropped either way, so the
    /// next run makes them afresh. The RRSIGs kept have lower-cased owners,
    /// as [`sign_zone`] makes them.
    pub fn restore(
        origin: &[u8],
        records: &[RawRecord],
        keys: &[DnssecKey],
        verify: bool,
        now: u64,
    ) -> SignedZone {
        let mut data: Grouped = FxMap::default();
        let mut rrsigs: Vec<(&RawRecord, RrsigFields)> = Vec::new();
        let mut generated = Vec::new();
        for r in records {
            if r.rtype == rtype::RRSIG {
                rrsigs.extend(RrsigFields::parse(&r.rdata).map(|(f, _)| (r, f)));
                continue;
            }
            let made_by_signer = [
                rtype::DNSKEY,
                rtype::CDS,
                rtype::CDNSKEY,
                rtype::NSEC,
                rtype::NSEC3,
                rtype::NSEC3PARAM,
            ];
            if made_by_signer.contains(&r.rtype) {
                generated.push(r.clone());
            }
            data.entry((r.owner.to_ascii_lowercase(), r.rtype))
                .or_default()
                .push(r);
        }
        let mut sets: FxMap<(Vec<u8>, u16), (Digest, Vec<Signature>)> = FxMap::default();
        for (rrsig, f) in rrsigs {
            let id = (rrsig.owner.to_ascii_lowercase(), f.type_covered);
            let Some(rrset) = data.get(&id) else { continue };
            let Some(sig) = restored_signature(rrsig, &f, rrset, keys, verify, now) else {
                continue;
            };
            let rdatas: Vec<&[u8]> = rrset.iter().map(|r| r.rdata.as_slice()).collect();
            let mut body = Vec::new();
            if rrset_wire(&id.0, id.1, rrsig.class, f.original_ttl, &rdatas, &mut body).is_err() {
                continue;
            }
            let entry = sets.entry(id).or_insert_with(|| (digest(&body), Vec::new()));
            entry.1.push(sig);
        }
        let mut sorted: Vec<_> = sets.into_iter().collect();
        sorted.sort_by(|((a, at), _), ((b, bt), _)| canonical_cmp(a, b).then(at.cmp(bt)));
        let owner_bytes = store::owner_bytes(sorted.iter().map(|((owner, _), _)| owner.as_slice()));
        let sigs = sorted.iter().flat_map(|(_, (_, sigs))| sigs);
        let sig_bytes = sigs.clone().map(|s| s.rrsig.rdata.len()).sum();
        let mut store = SetStore::with_capacity(sorted.len(), owner_bytes, sigs.count(), sig_bytes);
        for ((owner, t), (digest, sigs)) in &mut sorted {
            // Signatures in the order sign_zone makes them: by key.
            sigs.sort_by_key(|s| (s.algorithm, s.key_tag));
            // Past 4 GiB a set is left out: the next run signs it afresh.
            let _ = store.push(owner, *t, digest, sigs.iter().map(Signature::as_sig_ref));
        }
        // The order sign_zone gives: apex records, then the chain in
        // canonical order of owners (what diff's merge expects).
        generated.sort_by(|a, b| {
            let (a, b) = (RecordRef::from(a), RecordRef::from(b));
            let chain = is_chain(&a).cmp(&is_chain(&b));
            chain.then_with(|| match is_chain(&a) {
                true => canonical_cmp(a.owner, b.owner).then(a.rtype.cmp(&b.rtype)),
                false => Ordering::Equal,
            })
        });
        SignedZone {
            origin: origin.to_ascii_lowercase(),
            generated: pack(generated.iter()).unwrap_or_default(),
            store,
            stats: SignStats::default(),
        }
    }
}

/// A stored RRSIG as a [`Signature`], if one of `keys` made it (and, with
/// `verify`, if it verifies).
fn restored_signature(
    rrsig: &RawRecord,
    f: &RrsigFields,
    rrset: &[&RawRecord],
    keys: &[DnssecKey],
    verify: bool,
    now: u64,
) -> Option<Signature> {
    let key = keys
        .iter()
        .find(|k| k.key_tag() == f.key_tag && k.algorithm().number() == f.algorithm)?;
    if verify {
        let owned: Vec<RawRecord> = rrset.iter().map(|r| (*r).clone()).collect();
        verify_rrsig(rrsig, &owned, &key.dnskey_rdata(), Some(now)).ok()?;
    }
    Some(Signature {
        rrsig: rrsig.clone(),
        algorithm: f.algorithm,
        key_tag: f.key_tag,
        inception: serial_to_epoch(f.inception, now),
        expiration: serial_to_epoch(f.expiration, now),
    })
}

#[cfg(test)]
mod tests;
