//! The signatures of a zone's RRsets, kept sorted by (owner in canonical
//! order, type), and the generated records, each in a few flat vectors.
//!
//! Sorted and flat, so that a re-signing walks the previous run's sets in
//! step with the new ones (a merge join: sequential reads, no hashing),
//! a lookup is a binary search, and an IXFR difference is one more merge.
//!
//! Flat also for memory: a signed zone stays alive beside the snapshot
//! that serves it (for the next re-signing and the state directory),
//! so each of its hundreds of thousands of RRsets costs one fixed-size
//! entry, one per signature, and their bytes in shared arenas: no heap
//! allocation per RRset or per record. An RRset is remembered by a digest
//! of what was signed, not by a copy of it (see [`Digest`]).

use crate::dns::message::RawRecord;
use crate::dns::name::canonical_cmp;
use crate::dns::rtype;
use std::cmp::Ordering;

/// SHA-256 of an RRset's canonical wire form (owner, type, class, TTL and
/// every RDATA, RFC 4034 6.3), which is what its RRSIGs sign.
///
/// Reuse of a previous signature is decided by comparing these digests
/// instead of the bytes themselves (which would keep a second copy of the
/// whole zone's data beside the snapshot's). A wrong match would serve a signature over other data
/// (bogus answers), so the digest must make that practically impossible
/// even for someone who chooses the zone data: a full SHA-256, for which
/// no collision is known and a generic search costs 2^128 work. Only the
/// digests of one (owner, type) in two consecutive runs are ever compared.
pub(super) type Digest = [u8; 32];

pub(super) fn digest(canonical_rrset: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, canonical_rrset);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A record whose owner and RDATA are borrowed (from a store's arenas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub owner: &'a [u8],
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
}

impl RecordRef<'_> {
    pub fn to_raw(&self) -> RawRecord {
        RawRecord {
            owner: self.owner.to_vec(),
            rtype: self.rtype,
            class: self.class,
            ttl: self.ttl,
            rdata: self.rdata.to_vec(),
        }
    }
}

impl<'a> From<&'a RawRecord> for RecordRef<'a> {
    fn from(r: &'a RawRecord) -> RecordRef<'a> {
        RecordRef {
            owner: &r.owner,
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: &r.rdata,
        }
    }
}

/// The store's offsets are 32-bit: a zone whose signatures or records
/// need more than 4 GiB of bytes is refused.
#[derive(Debug)]
pub(super) struct TooLarge;

fn offset(len: usize) -> Result<u32, TooLarge> {
    u32::try_from(len).map_err(|_| TooLarge)
}

/// One record: owner then RDATA at `at` in the arena.
#[derive(Clone, Copy, Debug)]
struct Packed {
    at: u32,
    ttl: u32,
    rdata_len: u16,
    rtype: u16,
    class: u16,
    owner_len: u8,
}

/// Records in one byte arena (the generated DNSKEY..., NSEC/NSEC3).
#[derive(Debug, Default)]
pub(super) struct Records {
    bytes: Vec<u8>,
    recs: Vec<Packed>,
}

impl Records {
    pub fn with_capacity(records: usize, bytes: usize) -> Records {
        Records {
            bytes: Vec::with_capacity(bytes),
            recs: Vec::with_capacity(records),
        }
    }

    /// Appends `r`; its owner must be a valid name (at most 255 octets)
    /// and its RDATA at most 65,535 octets, as every record's.
    pub fn push(&mut self, r: RecordRef) -> Result<(), TooLarge> {
        let (owner_len, rdata_len) = match (u8::try_from(r.owner.len()), u16::try_from(r.rdata.len())) {
            (Ok(o), Ok(d)) => (o, d),
            _ => return Err(TooLarge),
        };
        let at = offset(self.bytes.len())?;
        offset(self.bytes.len() + r.owner.len() + r.rdata.len())?;
        self.bytes.extend_from_slice(r.owner);
        self.bytes.extend_from_slice(r.rdata);
        self.recs.push(Packed {
            at,
            ttl: r.ttl,
            rdata_len,
            rtype: r.rtype,
            class: r.class,
            owner_len,
        });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn get(&self, i: usize) -> RecordRef<'_> {
        let p = &self.recs[i];
        let at = p.at as usize;
        let rdata_at = at + usize::from(p.owner_len);
        RecordRef {
            owner: &self.bytes[at..rdata_at],
            rtype: p.rtype,
            class: p.class,
            ttl: p.ttl,
            rdata: &self.bytes[rdata_at..rdata_at + usize::from(p.rdata_len)],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// One RRSIG as kept: its owner is its set's, its type RRSIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigRef<'a> {
    pub class: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
    pub algorithm: u8,
    pub key_tag: u16,
    /// Seconds since the epoch (not truncated to 32 bits).
    pub inception: u64,
    pub expiration: u64,
}

#[derive(Clone, Copy, Debug)]
struct Sig {
    inception: u64,
    expiration: u64,
    rdata_at: u32,
    ttl: u32,
    rdata_len: u16,
    class: u16,
    key_tag: u16,
    algorithm: u8,
}

/// Signatures, their RDATA in one byte arena.
#[derive(Debug, Default)]
pub(super) struct Sigs {
    rdata: Vec<u8>,
    sigs: Vec<Sig>,
}

impl Sigs {
    pub fn with_capacity(sigs: usize, bytes: usize) -> Sigs {
        Sigs {
            rdata: Vec::with_capacity(bytes),
            sigs: Vec::with_capacity(sigs),
        }
    }

    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    /// Octets of RDATA.
    pub fn bytes(&self) -> usize {
        self.rdata.len()
    }

    pub fn push(&mut self, s: SigRef) -> Result<(), TooLarge> {
        let rdata_len = u16::try_from(s.rdata.len()).map_err(|_| TooLarge)?;
        let rdata_at = offset(self.rdata.len())?;
        offset(self.rdata.len() + s.rdata.len())?;
        self.rdata.extend_from_slice(s.rdata);
        self.sigs.push(Sig {
            inception: s.inception,
            expiration: s.expiration,
            rdata_at,
            ttl: s.ttl,
            rdata_len,
            class: s.class,
            key_tag: s.key_tag,
            algorithm: s.algorithm,
        });
        Ok(())
    }

    pub fn get(&self, i: usize) -> SigRef<'_> {
        let s = &self.sigs[i];
        let at = s.rdata_at as usize;
        SigRef {
            class: s.class,
            ttl: s.ttl,
            rdata: &self.rdata[at..at + usize::from(s.rdata_len)],
            algorithm: s.algorithm,
            key_tag: s.key_tag,
            inception: s.inception,
            expiration: s.expiration,
        }
    }

    /// Signatures `range`, in order.
    pub fn range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = SigRef<'_>> + Clone + '_ {
        range.map(|i| self.get(i))
    }
}

/// Octets the owners of sets pushed in this order take in a store (the
/// sets of one name share them).
pub(super) fn owner_bytes<'a>(owners: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut last: Option<&[u8]> = None;
    let mut sum = 0;
    for o in owners {
        if !last.is_some_and(|l| l.eq_ignore_ascii_case(o)) {
            sum += o.len();
        }
        last = Some(o);
    }
    sum
}

#[derive(Debug)]
struct Entry {
    owner_at: u32,
    /// First signature; the set's run ends at the next entry's.
    sigs_at: u32,
    digest: Digest,
    rtype: u16,
    owner_len: u8,
}

/// Signed RRsets in canonical (owner, type) order; owners (lower-cased
/// wire form) in one byte arena, signatures in [`Sigs`].
#[derive(Debug, Default)]
pub(super) struct SetStore {
    owners: Vec<u8>,
    entries: Vec<Entry>,
    sigs: Sigs,
}

/// One signed RRset of a [`SetStore`].
#[derive(Clone, Copy, Debug)]
pub(super) struct SetRef<'s> {
    /// Lower-cased wire form.
    pub owner: &'s [u8],
    pub rtype: u16,
    pub digest: &'s Digest,
    store: &'s SetStore,
    sigs: (u32, u32),
}

impl<'s> SetRef<'s> {
    pub fn sigs(&self) -> impl ExactSizeIterator<Item = SigRef<'s>> + Clone + 's {
        self.store.sigs.range(self.sigs.0 as usize..self.sigs.1 as usize)
    }

    /// Its RRSIG records.
    pub fn rrsigs(&self) -> impl Iterator<Item = RecordRef<'s>> + 's {
        let owner = self.owner;
        self.sigs().map(move |s| RecordRef {
            owner,
            rtype: rtype::RRSIG,
            class: s.class,
            ttl: s.ttl,
            rdata: s.rdata,
        })
    }

    /// The same data signed by the same signatures (what an IXFR need
    /// not carry again).
    fn same(&self, other: &SetRef) -> bool {
        self.digest == other.digest && self.sigs().eq(other.sigs())
    }
}

impl SetStore {
    /// Room for `sets` sets whose owners take `owner_bytes`, and `sigs`
    /// signatures whose RDATA take `sig_bytes`.
    pub fn with_capacity(sets: usize, owner_bytes: usize, sigs: usize, sig_bytes: usize) -> SetStore {
        SetStore {
            owners: Vec::with_capacity(owner_bytes),
            entries: Vec::with_capacity(sets),
            sigs: Sigs::with_capacity(sigs, sig_bytes),
        }
    }

    /// Appends a set; callers push in canonical (owner, type) order.
    pub fn push<'a>(
        &mut self,
        owner: &[u8],
        rtype: u16,
        digest: &Digest,
        sigs: impl Iterator<Item = SigRef<'a>>,
    ) -> Result<(), TooLarge> {
        debug_assert!(self.follows(owner, rtype));
        let owner_len = u8::try_from(owner.len()).map_err(|_| TooLarge)?;
        let sigs_at = offset(self.sigs.len())?;
        for s in sigs {
            self.sigs.push(s)?;
        }
        offset(self.sigs.len())?;
        // The sets of one name share its owner's bytes.
        let owner_at = match self.entries.last() {
            Some(e) if self.owner_of(e).eq_ignore_ascii_case(owner) => e.owner_at,
            _ => {
                let at = self.owners.len();
                self.owners.extend_from_slice(owner);
                self.owners[at..].make_ascii_lowercase();
                offset(at)?
            }
        };
        self.entries.push(Entry {
            owner_at,
            sigs_at,
            digest: *digest,
            rtype,
            owner_len,
        });
        Ok(())
    }

    /// Whether `(owner, rtype)` sorts after every set in the store.
    pub fn follows(&self, owner: &[u8], rtype: u16) -> bool {
        self.entries.last().map_or(true, |e| {
            cmp_set(self.owner_of(e), e.rtype, owner, rtype) == Ordering::Less
        })
    }

    /// Appends `set` of another store (signatures kept).
    pub fn push_copy(&mut self, set: &SetRef) -> Result<(), TooLarge> {
        self.push(set.owner, set.rtype, set.digest, set.sigs())
    }

    fn owner_of(&self, e: &Entry) -> &[u8] {
        &self.owners[e.owner_at as usize..e.owner_at as usize + usize::from(e.owner_len)]
    }

    fn set(&self, i: usize) -> SetRef<'_> {
        let e = &self.entries[i];
        let end = self
            .entries
            .get(i + 1)
            .map_or(self.sigs.len() as u32, |n| n.sigs_at);
        SetRef {
            owner: self.owner_of(e),
            rtype: e.rtype,
            digest: &e.digest,
            store: self,
            sigs: (e.sigs_at, end),
        }
    }

    fn cmp_at(&self, i: usize, owner: &[u8], rtype: u16) -> Ordering {
        let e = &self.entries[i];
        cmp_set(self.owner_of(e), e.rtype, owner, rtype)
    }

    /// The set at `(owner, rtype)`, owner in any case.
    pub fn get(&self, owner: &[u8], rtype: u16) -> Option<SetRef<'_>> {
        let i = self
            .entries
            .binary_search_by(|e| cmp_set(self.owner_of(e), e.rtype, owner, rtype))
            .ok()?;
        Some(self.set(i))
    }

    /// Every set, in order.
    pub fn sets(&self) -> impl Iterator<Item = SetRef<'_>> + '_ {
        (0..self.entries.len()).map(|i| self.set(i))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn signature_count(&self) -> usize {
        self.sigs.len()
    }

    /// A cursor for looking up sets in increasing order.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor { store: self, at: 0 }
    }

    /// Sets present in `self` and not (as the same data with the same
    /// signatures) in `old`, and the other way round: what an IXFR has to
    /// carry.
    pub fn changes<'a>(&'a self, old: &'a SetStore) -> (Vec<SetRef<'a>>, Vec<SetRef<'a>>) {
        let (mut gone, mut new) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < self.entries.len() || j < old.entries.len() {
            let order = match (i < self.entries.len(), j < old.entries.len()) {
                (true, true) => {
                    let e = &self.entries[i];
                    old.cmp_at(j, self.owner_of(e), e.rtype).reverse()
                }
                (true, false) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => new.push(self.set(i)),
                Ordering::Greater => gone.push(old.set(j)),
                Ordering::Equal => {
                    let (n, o) = (self.set(i), old.set(j));
                    if !n.same(&o) {
                        gone.push(o);
                        new.push(n);
                    }
                }
            }
            i += usize::from(order != Ordering::Greater);
            j += usize::from(order != Ordering::Less);
        }
        (gone, new)
    }
}

/// Canonical order of (owner, type). Equal bytes (the usual case in a
/// merge of two runs) need no label walk.
fn cmp_set(a: &[u8], at: u16, b: &[u8], bt: u16) -> Ordering {
    let names = if a == b {
        Ordering::Equal
    } else {
        canonical_cmp(a, b)
    };
    names.then(at.cmp(&bt))
}

/// Looks up sets in increasing order in linear total time.
pub(super) struct Cursor<'s> {
    store: &'s SetStore,
    at: usize,
}

impl<'s> Cursor<'s> {
    /// The set at `(owner, rtype)`; later calls must ask for larger pairs.
    pub fn seek(&mut self, owner: &[u8], rtype: u16) -> Option<SetRef<'s>> {
        let n = self.store.entries.len();
        while self.at < n && self.store.cmp_at(self.at, owner, rtype) == Ordering::Less {
            self.at += 1;
        }
        let found = self.at < n && self.store.cmp_at(self.at, owner, rtype) == Ordering::Equal;
        found.then(|| self.store.set(self.at))
    }
}
