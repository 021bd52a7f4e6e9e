//! The zone's records grouped by owner name (canonical order) and type.
//!
//! Everything lives in a few flat vectors (names, sets, RDATA references,
//! one byte arena for owners and sort keys): a 100,000-name zone is
//! grouped with a handful of allocations instead of several per name,
//! which otherwise dominates a re-signing after a failover.

use crate::dns::message::RawRecord;
use crate::dns::name::{canonical_key, canonical_key_into, is_subdomain_wire, is_valid_wire};
use crate::dns::rtype;
use crate::dns::types::type_name;
use crate::dnssec::sign::SignError;
use crate::dnssec::text::name_to_text;

/// A range of one of the flat vectors.
#[derive(Clone, Copy, Debug)]
struct Span {
    at: u32,
    len: u32,
}

impl Span {
    fn of<T>(v: &[T], at: usize) -> Span {
        Span {
            at: at as u32,
            len: (v.len() - at) as u32,
        }
    }
    fn get<'v, T>(&self, v: &'v [T]) -> &'v [T] {
        &v[self.at as usize..(self.at + self.len) as usize]
    }
}

/// One owner name: lower-cased wire form, canonical key, its RRsets.
struct NameRec {
    owner: Span,
    key: Span,
    sets: Span,
}

/// One RRset: the smallest TTL of its records is the TTL signed (RFC 2181
/// 5.2 wants one TTL per RRset; validators cap served TTLs at the
/// original TTL, so signing the smallest never makes an answer bogus).
pub(super) struct SetRec {
    pub rtype: u16,
    pub ttl: u32,
    rdatas: Span,
}

/// The zone's records, grouped.
pub(super) struct Input<'a> {
    bytes: Vec<u8>,
    names: Vec<NameRec>,
    sets: Vec<SetRec>,
    rdatas: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    /// Groups `records`, refusing the ones the signer cannot take.
    pub fn group(origin: &[u8], class: u16, records: &'a [RawRecord]) -> Result<Input<'a>, SignError> {
        let runs = Runs::of(origin, class, records)?;
        let mut input = Input {
            bytes: Vec::with_capacity(runs.keys.len() * 2),
            names: Vec::with_capacity(runs.starts.len()),
            sets: Vec::with_capacity(records.len()),
            rdatas: Vec::with_capacity(records.len()),
        };
        let name_of_run = input.name_runs(&runs, records);
        // (name, type, record), sorted: integer compares only.
        let mut order: Vec<(u32, u16, u32)> = (0..records.len())
            .map(|i| {
                (
                    name_of_run[runs.of_record[i] as usize],
                    records[i].rtype,
                    i as u32,
                )
            })
            .collect();
        order.sort_unstable();
        input.fill_sets(&order, records);
        Ok(input)
    }

    /// Creates one name per distinct key (runs sorted by key; equal keys
    /// are the same name written apart in the file). Returns each run's
    /// name index.
    fn name_runs(&mut self, runs: &Runs, records: &[RawRecord]) -> Vec<u32> {
        // Sorting compares integers first: the eight key octets after the
        // apex's (which every key shares), then whole keys on ties only.
        // Comparing keys in the arena each time costs cache misses that
        // made this sort most of a re-signing.
        let skip = runs.apex_key_len;
        let mut sorted: Vec<(u64, u32)> = (0..runs.starts.len() as u32)
            .map(|r| (prefix(runs.key(r), skip), r))
            .collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| runs.key(a.1).cmp(runs.key(b.1))));
        let mut name_of_run = vec![0u32; runs.starts.len()];
        let mut last: Option<u32> = None;
        for (_, run) in sorted {
            if last.map_or(true, |l| runs.key(l) != runs.key(run)) {
                let owner = &records[runs.starts[run as usize].2 as usize].owner;
                let at = self.bytes.len();
                self.bytes.extend_from_slice(owner);
                self.bytes[at..].make_ascii_lowercase();
                let owner = Span::of(&self.bytes, at);
                let at = self.bytes.len();
                self.bytes.extend_from_slice(runs.key(run));
                let key = Span::of(&self.bytes, at);
                let sets = Span { at: 0, len: 0 };
                self.names.push(NameRec { owner, key, sets });
            }
            name_of_run[run as usize] = self.names.len() as u32 - 1;
            last = Some(run);
        }
        name_of_run
    }

    fn fill_sets(&mut self, order: &[(u32, u16, u32)], records: &'a [RawRecord]) {
        let mut i = 0;
        while i < order.len() {
            let name = order[i].0;
            let sets_at = self.sets.len();
            while i < order.len() && order[i].0 == name {
                let t_now = order[i].1;
                let rd_at = self.rdatas.len();
                let mut ttl = u32::MAX;
                while i < order.len() && order[i].0 == name && order[i].1 == t_now {
                    let r = &records[order[i].2 as usize];
                    ttl = ttl.min(r.ttl);
                    self.rdatas.push(&r.rdata);
                    i += 1;
                }
                let rdatas = Span::of(&self.rdatas, rd_at);
                self.sets.push(SetRec {
                    rtype: t_now,
                    ttl,
                    rdatas,
                });
            }
            self.names[name as usize].sets = Span::of(&self.sets, sets_at);
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Owner name `i`, lower-cased wire form.
    pub fn owner(&self, i: usize) -> &[u8] {
        self.names[i].owner.get(&self.bytes)
    }

    /// Canonical sort key of name `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        self.names[i].key.get(&self.bytes)
    }

    /// RRsets of name `i`, by type.
    pub fn sets(&self, i: usize) -> &[SetRec] {
        self.names[i].sets.get(&self.sets)
    }

    pub fn rdatas(&self, set: &SetRec) -> &[&'a [u8]] {
        set.rdatas.get(&self.rdatas)
    }

    pub fn has(&self, i: usize, t: u16) -> bool {
        self.sets(i).iter().any(|s| s.rtype == t)
    }
}

/// Eight key octets after `skip`, as a big-endian integer (zero-padded):
/// integer order is the keys' order on those octets.
fn prefix(key: &[u8], skip: usize) -> u64 {
    let mut buf = [0u8; 8];
    let tail = key.get(skip..).unwrap_or_default();
    let n = tail.len().min(8);
    buf[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(buf)
}

/// Consecutive records with the same owner (zone files list a name's
/// records together), so each owner's key is computed once.
struct Runs {
    keys: Vec<u8>,
    /// Per run: key offset, key length, first record.
    starts: Vec<(u32, u32, u32)>,
    of_record: Vec<u32>,
    /// Length of the apex's key, a prefix of every key in the zone.
    apex_key_len: usize,
}

impl Runs {
    fn of(origin: &[u8], class: u16, records: &[RawRecord]) -> Result<Runs, SignError> {
        let mut runs = Runs {
            keys: Vec::with_capacity(records.len() * 24),
            starts: Vec::new(),
            of_record: Vec::with_capacity(records.len()),
            apex_key_len: canonical_key(origin).len(),
        };
        for (i, r) in records.iter().enumerate() {
            check_record(origin, class, r)?;
            let same = i > 0 && records[i - 1].owner.eq_ignore_ascii_case(&r.owner);
            if !same {
                let at = runs.keys.len();
                canonical_key_into(&r.owner, &mut runs.keys);
                runs.starts
                    .push((at as u32, (runs.keys.len() - at) as u32, i as u32));
            }
            runs.of_record.push(runs.starts.len() as u32 - 1);
        }
        Ok(runs)
    }

    fn key(&self, run: u32) -> &[u8] {
        let (at, len, _) = self.starts[run as usize];
        &self.keys[at as usize..(at + len) as usize]
    }
}

fn check_record(origin: &[u8], class: u16, r: &RawRecord) -> Result<(), SignError> {
    let at = || format!("{} {}", name_to_text(&r.owner), type_name(r.rtype));
    if !is_valid_wire(&r.owner) {
        return Err(SignError::Record("record with a malformed owner name".into()));
    }
    if !is_subdomain_wire(&r.owner, origin) {
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
