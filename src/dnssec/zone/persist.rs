//! A [`SignedZone`] as bytes, so that a restart with unchanged data reuses
//! the signatures served before it (same RRSIGs, same serial) instead of
//! making new ones. The file is input like any other: every length is
//! checked against what is left, the sets must come in order, and a file
//! that does not read back whole is refused (the zone is then signed
//! afresh).

use super::store::{SetStore, SignedSet};
use super::{SignStats, Signature, SignedZone};
use crate::dns::message::RawRecord;
use std::sync::Arc;

const MAGIC: &[u8] = b"vigia-signed-zone 1\n";

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_record(out: &mut Vec<u8>, r: &RawRecord) {
    put_bytes(out, &r.owner);
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&r.class.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    put_bytes(out, &r.rdata);
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
    fn record(&mut self) -> Result<RawRecord, String> {
        let owner = self.bytes()?;
        if !crate::dns::name::is_valid_wire(owner) {
            return Err("malformed owner name".into());
        }
        let (rtype, class, ttl) = (self.u16()?, self.u16()?, self.u32()?);
        let rdata = self.bytes()?;
        if rdata.len() > usize::from(u16::MAX) {
            return Err("RDATA too long".into());
        }
        Ok(RawRecord {
            owner: owner.to_vec(),
            rtype,
            class,
            ttl,
            rdata: rdata.to_vec(),
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
}

impl SignedZone {
    /// The signing result as bytes (see [`SignedZone::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_bytes(&mut out, &self.origin);
        out.extend_from_slice(&(self.generated.len() as u32).to_be_bytes());
        for r in &self.generated {
            put_record(&mut out, r);
        }
        let entries: Vec<_> = self.store.entries().collect();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (key, rtype, set) in entries {
            put_bytes(&mut out, key);
            out.extend_from_slice(&rtype.to_be_bytes());
            put_bytes(&mut out, &set.body);
            out.extend_from_slice(&(set.sigs.len() as u32).to_be_bytes());
            for s in &set.sigs {
                put_record(&mut out, &s.rrsig);
                out.push(s.algorithm);
                out.extend_from_slice(&s.key_tag.to_be_bytes());
                out.extend_from_slice(&s.inception.to_be_bytes());
                out.extend_from_slice(&s.expiration.to_be_bytes());
            }
        }
        out
    }

    /// A signing result read back, to be passed to
    /// [`super::sign_zone`] as the previous one. Refuses anything that is
    /// not a whole, well-formed file as [`SignedZone::to_bytes`] writes.
    pub fn from_bytes(b: &[u8]) -> Result<SignedZone, String> {
        let mut r = Reader(b);
        if r.take(MAGIC.len())? != MAGIC {
            return Err("not a vigia signed-zone file".into());
        }
        let origin = r.bytes()?.to_vec();
        if !crate::dns::name::is_valid_wire(&origin) {
            return Err("malformed zone name".into());
        }
        let n = r.count(16)?;
        let mut generated = Vec::with_capacity(n);
        for _ in 0..n {
            generated.push(r.record()?);
        }
        let n = r.count(14)?;
        let mut store = SetStore::with_capacity(n);
        let mut last: Option<(Vec<u8>, u16)> = None;
        for _ in 0..n {
            let key = r.bytes()?.to_vec();
            let rtype = r.u16()?;
            let body = r.bytes()?.into();
            let m = r.count(16)?;
            let mut sigs = Vec::with_capacity(m);
            for _ in 0..m {
                let rrsig = r.record()?;
                let (algorithm, key_tag) = (r.u8()?, r.u16()?);
                let (inception, expiration) = (r.u64()?, r.u64()?);
                sigs.push(Signature {
                    rrsig,
                    algorithm,
                    key_tag,
                    inception,
                    expiration,
                });
            }
            if last
                .as_ref()
                .is_some_and(|(k, t)| (k.as_slice(), *t) >= (key.as_slice(), rtype))
            {
                return Err("signed sets out of order".into());
            }
            store.push(&key, rtype, Arc::new(SignedSet { body, sigs }));
            last = Some((key, rtype));
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
