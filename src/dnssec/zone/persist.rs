//! A [`SignedZone`] as bytes, so that a restart with unchanged data reuses
//! the signatures served before it (same RRSIGs, same serial) instead of
//! making new ones. The file is input like any other: every length is
//! checked against what is left, the sets must come in order, and a file
//! that does not read back whole is refused (the zone is then signed
//! afresh).
//!
//! Version 2 keeps each RRset's digest; version 1 (still read) kept the
//! RRset's canonical bytes, whose digest is taken on reading.

use super::store::{digest, Digest, RecordRef, Records, SetRef, SetStore, SigRef};
use super::{SignStats, SignedZone};
use crate::dns::name::{canonical_key_in, is_valid_wire};
use crate::dns::rtype;

const MAGIC_V1: &[u8] = b"vigia-signed-zone 1\n";
const MAGIC: &[u8] = b"vigia-signed-zone 2\n";

pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

pub(super) fn put_record(out: &mut Vec<u8>, r: &RecordRef) {
    put_bytes(out, r.owner);
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&r.class.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    put_bytes(out, r.rdata);
}

/// Octets [`put_record`] writes.
fn record_len(r: &RecordRef) -> usize {
    4 + r.owner.len() + 8 + 4 + r.rdata.len()
}

/// Octets a set takes in version 2: owner, type, digest, count, and per
/// signature class, TTL, RDATA, algorithm, key tag and the two times.
pub(super) fn set_len(set: &SetRef) -> usize {
    4 + set.owner.len()
        + 2
        + 32
        + 4
        + set
            .sigs()
            .map(|s| 2 + 4 + 4 + s.rdata.len() + 1 + 2 + 16)
            .sum::<usize>()
}

/// Reads what [`SignedZone::to_bytes`] wrote.
struct Reader<'b>(&'b [u8]);

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], String> {
        if n > self.0.len() {
            return Err("truncated".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from(self.u32()?) << 32 | u64::from(self.u32()?))
    }
    fn bytes(&mut self) -> Result<&'b [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn rdata(&mut self) -> Result<&'b [u8], String> {
        let rdata = self.bytes()?;
        if rdata.len() > usize::from(u16::MAX) {
            return Err("RDATA too long".into());
        }
        Ok(rdata)
    }
    fn record(&mut self) -> Result<RecordRef<'b>, String> {
        let owner = self.bytes()?;
        if !is_valid_wire(owner) {
            return Err("malformed owner name".into());
        }
        let (rtype, class, ttl) = (self.u16()?, self.u16()?, self.u32()?);
        let rdata = self.rdata()?;
        Ok(RecordRef {
            owner,
            rtype,
            class,
            ttl,
            rdata,
        })
    }
    /// A count of items each at least `min` bytes long, checked against
    /// what is left (no allocation sized by a lying count).
    fn count(&mut self, min: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.0.len() {
            return Err("count past the end".into());
        }
        Ok(n)
    }
    /// Algorithm, key tag, inception and expiration of a signature.
    fn sig_tail(&mut self) -> Result<(u8, u16, u64, u64), String> {
        Ok((self.u8()?, self.u16()?, self.u64()?, self.u64()?))
    }

    /// A set as version 2 writes it (its signatures' owner is the set's);
    /// its signatures into `sigs`.
    fn set_v2(&mut self, sigs: &mut Vec<SigRef<'b>>) -> Result<(&'b [u8], u16, Digest), String> {
        let owner = self.bytes()?;
        if !is_valid_wire(owner) || owner.iter().any(u8::is_ascii_uppercase) {
            return Err("malformed owner name".into());
        }
        let rtype = self.u16()?;
        let digest: Digest = self.take(32)?.try_into().map_err(|_| "truncated")?;
        for _ in 0..self.count(29)? {
            let (class, ttl, rdata) = (self.u16()?, self.u32()?, self.rdata()?);
            let (algorithm, key_tag, inception, expiration) = self.sig_tail()?;
            sigs.push(SigRef {
                class,
                ttl,
                rdata,
                algorithm,
                key_tag,
                inception,
                expiration,
            });
        }
        Ok((owner, rtype, digest))
    }

    /// A set as version 1 wrote it: its canonical key and bytes, and its
    /// RRSIGs as whole records, whose owner (lower-cased into `owner`)
    /// must be the key's name.
    fn set_v1(&mut self, sigs: &mut Vec<SigRef<'b>>, owner: &mut Vec<u8>) -> Result<(u16, Digest), String> {
        let key = self.bytes()?;
        let rtype = self.u16()?;
        let digest = digest(self.bytes()?);
        owner.clear();
        for _ in 0..self.count(16)? {
            let rrsig = self.record()?;
            let (algorithm, key_tag, inception, expiration) = self.sig_tail()?;
            let lower = rrsig.owner.to_ascii_lowercase();
            if rrsig.rtype != rtype::RRSIG || canonical_key_in(&lower, &mut [0; 512]) != key {
                return Err("a signature that is not its set's RRSIG".into());
            }
            if !owner.is_empty() && *owner != lower {
                return Err("signatures of one set with different owners".into());
            }
            *owner = lower;
            sigs.push(SigRef {
                class: rrsig.class,
                ttl: rrsig.ttl,
                rdata: rrsig.rdata,
                algorithm,
                key_tag,
                inception,
                expiration,
            });
        }
        Ok((rtype, digest))
    }
}

impl SignedZone {
    /// The signing result as bytes (see [`SignedZone::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Sized exactly: one allocation, given back whole when freed.
        let len = MAGIC.len()
            + 4
            + self.origin.len()
            + 4
            + self.generated.iter().map(|r| record_len(&r)).sum::<usize>()
            + 4
            + self.store.sets().map(|s| set_len(&s)).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(MAGIC);
        put_bytes(&mut out, &self.origin);
        out.extend_from_slice(&(self.generated.len() as u32).to_be_bytes());
        for r in self.generated.iter() {
            put_record(&mut out, &r);
        }
        out.extend_from_slice(&(self.store.len() as u32).to_be_bytes());
        for set in self.store.sets() {
            put_bytes(&mut out, set.owner);
            out.extend_from_slice(&set.rtype.to_be_bytes());
            out.extend_from_slice(set.digest);
            out.extend_from_slice(&(set.sigs().len() as u32).to_be_bytes());
            for s in set.sigs() {
                out.extend_from_slice(&s.class.to_be_bytes());
                out.extend_from_slice(&s.ttl.to_be_bytes());
                put_bytes(&mut out, s.rdata);
                out.push(s.algorithm);
                out.extend_from_slice(&s.key_tag.to_be_bytes());
                out.extend_from_slice(&s.inception.to_be_bytes());
                out.extend_from_slice(&s.expiration.to_be_bytes());
            }
        }
        debug_assert_eq!(out.len(), len);
        out
    }

    /// A signing result read back, to be passed to
    /// [`super::sign_zone`] as the previous one. Refuses anything that is
    /// not a whole, well-formed file as [`SignedZone::to_bytes`] writes
    /// (or as version 1 wrote).
    pub fn from_bytes(b: &[u8]) -> Result<SignedZone, String> {
        let mut r = Reader(b);
        let v1 = match r.take(MAGIC.len())? {
            m if m == MAGIC => false,
            m if m == MAGIC_V1 => true,
            _ => return Err("not a vigia signed-zone file".into()),
        };
        let origin = r.bytes()?.to_vec();
        if !is_valid_wire(&origin) {
            return Err("malformed zone name".into());
        }
        let too_large = |_| "too large".to_string();
        let n = r.count(16)?;
        let mut generated = Records::with_capacity(n, 0);
        for _ in 0..n {
            generated.push(r.record()?).map_err(too_large)?;
        }
        let n = r.count(14)?;
        let mut store = SetStore::with_capacity(n, 0, 0, 0);
        let (mut sigs, mut owner_v1) = (Vec::new(), Vec::new());
        for _ in 0..n {
            sigs.clear();
            let (owner, rtype, digest) = if v1 {
                let (rtype, digest) = r.set_v1(&mut sigs, &mut owner_v1)?;
                (owner_v1.as_slice(), rtype, digest)
            } else {
                r.set_v2(&mut sigs)?
            };
            if sigs.is_empty() {
                continue; // nothing to reuse
            }
            if !store.follows(owner, rtype) {
                return Err("signed sets out of order".into());
            }
            store
                .push(owner, rtype, &digest, sigs.drain(..))
                .map_err(too_large)?;
        }
        if !r.0.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(SignedZone {
            origin,
            generated,
            store,
            stats: SignStats::default(),
        })
    }
}
