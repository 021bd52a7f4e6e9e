//! Applying an IXFR response (RFC 1995 4), record by record, to the copy
//! of a secondary zone: the serial chain and every deletion checked, any
//! inconsistency an error (the caller then falls back to AXFR).

use super::copy::Copy;
use crate::dns::message::{soa_serial_of, RawRecord};
use crate::dns::serial::serial_gt;
use crate::dns::types::{compressible, type_name};
use crate::dns::{class, rtype, Name};

/// Where an IXFR response is (RFC 1995 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Before the first record (the primary's current SOA).
    First,
    /// After it: the second record tells incremental from AXFR-style.
    Second,
    /// An AXFR-style response: the whole zone until the SOA again.
    Full,
    /// Deletions of one difference (after its old SOA).
    Deleting,
    /// Additions of one difference (after its new SOA).
    Adding,
    Done,
}

/// What an IXFR response amounted to.
#[derive(Debug)]
pub(super) enum Applied {
    /// A single SOA not newer than ours.
    UpToDate,
    /// The whole zone (AXFR-style response).
    Full(Vec<RawRecord>),
    /// The copy with every difference applied.
    Incremental(Vec<RawRecord>),
}

/// Applies an IXFR response, record by record, to the copy.
pub(super) struct Ixfr<'a> {
    origin: &'a [u8],
    /// The copy, being changed; at `serial`.
    records: Vec<RawRecord>,
    serial: u32,
    /// The primary's serial (the first SOA of the response).
    target: u32,
    stage: Stage,
    first: Option<RawRecord>,
    /// The new SOA of the difference being read, and its serial.
    new_soa: Option<(RawRecord, u32)>,
    full: Vec<RawRecord>,
    up_to_date: bool,
    pub deleted: usize,
    pub added: usize,
}

impl<'a> Ixfr<'a> {
    pub(super) fn new(origin: &'a [u8], copy: Copy) -> Ixfr<'a> {
        Ixfr {
            origin,
            records: copy.records,
            serial: copy.serial,
            target: copy.serial,
            stage: Stage::First,
            first: None,
            new_soa: None,
            full: Vec::new(),
            up_to_date: false,
            deleted: 0,
            added: 0,
        }
    }

    /// Takes the next answer record; Ok(true) once the response is complete.
    pub(super) fn push(&mut self, rec: RawRecord) -> Result<bool, String> {
        let is_soa = rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(self.origin);
        let serial = if is_soa {
            Some(soa_serial_of(&rec.rdata).ok_or("malformed SOA in the IXFR response")?)
        } else {
            None
        };
        match (self.stage, serial) {
            (Stage::First, None) => Err("the IXFR response does not start with the zone's SOA".into()),
            (Stage::First, Some(n)) => {
                self.target = n;
                if !serial_gt(n, self.serial) {
                    self.up_to_date = true;
                    self.stage = Stage::Done;
                    return Ok(true);
                }
                self.first = Some(rec);
                self.stage = Stage::Second;
                Ok(false)
            }
            // The SOA twice: an AXFR-style response of an SOA-only zone.
            (Stage::Second, Some(n)) if n == self.target => {
                self.full.extend(self.first.take());
                self.stage = Stage::Done;
                Ok(true)
            }
            (Stage::Second, Some(n)) => {
                if n != self.serial {
                    return Err(format!(
                        "the IXFR starts from serial {n} but our copy has serial {}",
                        self.serial
                    ));
                }
                self.stage = Stage::Deleting;
                Ok(false)
            }
            (Stage::Second, None) => {
                self.full.extend(self.first.take());
                self.stage = Stage::Full;
                self.push_full(rec);
                Ok(false)
            }
            (Stage::Full, Some(_)) => {
                self.stage = Stage::Done;
                Ok(true)
            }
            (Stage::Full, None) => {
                self.push_full(rec);
                Ok(false)
            }
            (Stage::Deleting, Some(n)) => {
                if !serial_gt(n, self.serial) {
                    return Err(format!(
                        "an IXFR difference goes from serial {} to {n}, not forward",
                        self.serial
                    ));
                }
                self.new_soa = Some((rec, n));
                self.stage = Stage::Adding;
                Ok(false)
            }
            (Stage::Deleting, None) => {
                if rec.class != class::IN {
                    return Ok(false);
                }
                let at = self
                    .records
                    .iter()
                    .position(|r| same_record(r, &rec, false))
                    .or_else(|| {
                        let loose = compressible(rec.rtype);
                        loose
                            .then(|| self.records.iter().position(|r| same_record(r, &rec, true)))
                            .flatten()
                    })
                    .ok_or_else(|| {
                        format!(
                            "the IXFR deletes a record our copy (serial {}) does not have: {} {}",
                            self.serial,
                            Name::from_wire(&rec.owner).map_or_else(|| "?".into(), |n| n.to_string()),
                            type_name(rec.rtype)
                        )
                    })?;
                self.records.remove(at);
                self.deleted += 1;
                Ok(false)
            }
            (Stage::Adding, Some(n)) => {
                // The difference is complete: its new SOA replaces ours.
                let Some((soa, new)) = self.new_soa.take() else {
                    return Err("IXFR difference without a new SOA".into());
                };
                let origin = self.origin;
                match self
                    .records
                    .iter_mut()
                    .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
                {
                    Some(old) => *old = soa,
                    None => self.records.insert(0, soa),
                }
                self.serial = new;
                if n == self.target && new == self.target {
                    self.stage = Stage::Done;
                    Ok(true)
                } else if n == new {
                    self.stage = Stage::Deleting;
                    Ok(false)
                } else {
                    Err(format!(
                        "broken IXFR sequence: SOA serial {n} after a difference ending at serial {new} (the primary announced {})",
                        self.target
                    ))
                }
            }
            (Stage::Adding, None) => {
                if rec.class != class::IN {
                    return Ok(false);
                }
                match self.records.iter_mut().find(|r| same_record(r, &rec, false)) {
                    Some(r) => r.ttl = rec.ttl,
                    None => self.records.push(rec),
                }
                self.added += 1;
                Ok(false)
            }
            (Stage::Done, _) => Ok(true),
        }
    }

    /// Records held so far (the copy being changed and any full zone):
    /// the caller holds a transfer to the zone's `max_records`.
    pub(super) fn held(&self) -> usize {
        self.records.len() + self.full.len()
    }

    fn push_full(&mut self, rec: RawRecord) {
        if rec.class == class::IN {
            self.full.push(rec);
        }
    }

    pub(super) fn finish(self) -> Result<Applied, String> {
        if self.stage != Stage::Done {
            return Err("the IXFR response ended before its final SOA".into());
        }
        Ok(if self.up_to_date {
            Applied::UpToDate
        } else if !self.full.is_empty() {
            Applied::Full(self.full)
        } else {
            Applied::Incremental(self.records)
        })
    }
}

/// Same owner (any case), type, class and RDATA (exactly, or with ASCII
/// case ignored when `loose`); TTLs do not matter (RFC 1995 4).
fn same_record(a: &RawRecord, b: &RawRecord, loose: bool) -> bool {
    a.rtype == b.rtype
        && a.class == b.class
        && a.owner.eq_ignore_ascii_case(&b.owner)
        && if loose {
            a.rdata.eq_ignore_ascii_case(&b.rdata)
        } else {
            a.rdata == b.rdata
        }
}
