//! The signatures of a zone's RRsets, kept sorted by (canonical owner
//! key, type).
//!
//! Sorted and flat, so that a re-signing walks the previous run's sets in
//! step with the new ones (a merge join: sequential reads, no hashing),
//! a lookup is a binary search, and an IXFR difference is one more merge.

use crate::dns::message::RawRecord;
use std::cmp::Ordering;
use std::sync::Arc;

/// One RRSIG and what the signer needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub rrsig: RawRecord,
    pub algorithm: u8,
    pub key_tag: u16,
    /// Seconds since the epoch (not truncated to 32 bits).
    pub inception: u64,
    pub expiration: u64,
}

/// The signatures of one RRset and the canonical data they sign, kept to
/// decide reuse by comparing bytes.
#[derive(Debug)]
pub(super) struct SignedSet {
    pub body: Box<[u8]>,
    pub sigs: Vec<Signature>,
}

#[derive(Debug)]
struct Entry {
    key_at: u32,
    key_len: u32,
    rtype: u16,
    set: Arc<SignedSet>,
}

/// Signed RRsets in (key, type) order; keys in one byte arena.
#[derive(Debug, Default)]
pub(super) struct SetStore {
    keys: Vec<u8>,
    entries: Vec<Entry>,
}

impl SetStore {
    pub fn with_capacity(sets: usize) -> SetStore {
        SetStore {
            keys: Vec::with_capacity(sets * 24),
            entries: Vec::with_capacity(sets),
        }
    }

    /// Appends a set; callers push in (key, type) order.
    pub fn push(&mut self, key: &[u8], rtype: u16, set: Arc<SignedSet>) {
        debug_assert!(self
            .entries
            .last()
            .map_or(true, |e| (self.key_of(e), e.rtype) < (key, rtype)));
        let key_at = self.keys.len() as u32;
        self.keys.extend_from_slice(key);
        self.entries.push(Entry {
            key_at,
            key_len: key.len() as u32,
            rtype,
            set,
        });
    }

    fn key_of(&self, e: &Entry) -> &[u8] {
        &self.keys[e.key_at as usize..(e.key_at + e.key_len) as usize]
    }

    fn cmp_at(&self, i: usize, key: &[u8], rtype: u16) -> Ordering {
        let e = &self.entries[i];
        self.key_of(e).cmp(key).then(e.rtype.cmp(&rtype))
    }

    /// The set at `(key, rtype)`.
    pub fn get(&self, key: &[u8], rtype: u16) -> Option<&Arc<SignedSet>> {
        let i = self
            .entries
            .binary_search_by(|e| self.key_of(e).cmp(key).then(e.rtype.cmp(&rtype)))
            .ok()?;
        Some(&self.entries[i].set)
    }

    /// Every set with its key and type, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u16, &Arc<SignedSet>)> {
        self.entries.iter().map(|e| (self.key_of(e), e.rtype, &e.set))
    }

    pub fn sets(&self) -> impl Iterator<Item = &Arc<SignedSet>> {
        self.entries.iter().map(|e| &e.set)
    }

    /// A cursor for looking up keys in increasing order.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor { store: self, at: 0 }
    }

    /// Sets present in `self` and not (as the same shared set) in `old`,
    /// and the other way round: what an IXFR has to carry.
    pub fn changes<'a>(&'a self, old: &'a SetStore) -> (Vec<&'a SignedSet>, Vec<&'a SignedSet>) {
        let (mut gone, mut new) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < self.entries.len() || j < old.entries.len() {
            let order = match (self.entries.get(i), old.entries.get(j)) {
                (Some(e), Some(_)) => old.cmp_at(j, self.key_of(e), e.rtype).reverse(),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    new.push(&*self.entries[i].set);
                    i += 1;
                }
                Ordering::Greater => {
                    gone.push(&*old.entries[j].set);
                    j += 1;
                }
                Ordering::Equal => {
                    let (n, o) = (&self.entries[i].set, &old.entries[j].set);
                    if !Arc::ptr_eq(n, o) {
                        gone.push(&**o);
                        new.push(&**n);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        (gone, new)
    }
}

/// Looks up keys in increasing order in linear total time.
pub(super) struct Cursor<'s> {
    store: &'s SetStore,
    at: usize,
}

impl<'s> Cursor<'s> {
    /// The set at `(key, rtype)`; later calls must ask for larger pairs.
    pub fn seek(&mut self, key: &[u8], rtype: u16) -> Option<&'s Arc<SignedSet>> {
        let n = self.store.entries.len();
        while self.at < n && self.store.cmp_at(self.at, key, rtype) == Ordering::Less {
            self.at += 1;
        }
        let found = self.at < n && self.store.cmp_at(self.at, key, rtype) == Ordering::Equal;
        found.then(|| &self.store.entries[self.at].set)
    }
}
