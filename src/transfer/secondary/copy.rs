//! The copy of a secondary zone on disk: BIND-format text with RFC 3597
//! generic RDATA (every type round-trips exactly), written atomically, read
//! back at start-up and to apply an IXFR to.

use std::path::{Path, PathBuf};

use super::Task;
use crate::dns::message::RawRecord;
use crate::dns::types::type_name;
use crate::dns::{class, rtype, Field, Name, Rdata, Record};
use crate::reclaim::Reclaimer;
use crate::zone::Zone;

/// The stand-in for a secondary zone with no copy yet: an SOA only, never
/// answered from (the zone is down until the first transfer).
pub fn placeholder(origin: &Name) -> Zone {
    let rdata = Rdata {
        fields: vec![
            Field::Name {
                name: origin.clone(),
                compress: true,
            },
            Field::Name {
                name: origin.clone(),
                compress: true,
            },
            Field::Bytes(vec![0u8; 20].into()),
        ],
    };
    Zone {
        origin: origin.clone(),
        records: vec![Record {
            owner: origin.clone(),
            rtype: rtype::SOA,
            class: class::IN,
            ttl: 0,
            rdata,
        }],
    }
}

/// The zone text of `records` and the checked zone parsed from it.
pub(super) fn build(t: &Task, records: &[RawRecord]) -> Result<(String, Zone), String> {
    let origin = &t.state.origin;
    let text = zone_text(origin, records)?;
    // The same limits as the zone's files: the copy written here must
    // load again at the next start.
    let limits = t.limits();
    let parsed = crate::zone::parser::parse_str_limited(&text, &t.file, origin, &t.base_dir, &limits)
        .map_err(|e| format!("transferred zone does not parse: {e}"))?;
    let zone = crate::zone::check::check_zone_limited(origin, parsed, &t.file, &limits, &Reclaimer::inline())
        .map_err(|e| format!("transferred zone fails checks: {e}"))?;
    Ok((text, zone))
}

/// The copy on disk, as records to apply an IXFR to.
pub(super) struct Copy {
    pub serial: u32,
    pub records: Vec<RawRecord>,
}

pub(super) fn load_copy(t: &Task) -> Result<Copy, String> {
    let zone = crate::zone::check::load_zone(
        &t.file,
        &t.state.origin,
        &t.base_dir,
        &t.limits(),
        &Reclaimer::inline(),
    )
    .map_err(|e| e.to_string())?;
    let records = zone
        .records
        .iter()
        .map(|r| RawRecord {
            owner: r.owner.wire().to_vec(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: r.rdata.to_wire(),
        })
        .collect();
    Ok(Copy {
        serial: zone.serial(),
        records,
    })
}

/// BIND-format text of the records, RDATA in RFC 3597 generic form (the
/// names in it uncompressed), so every type round-trips exactly.
pub(super) fn zone_text(origin: &Name, records: &[RawRecord]) -> Result<String, String> {
    use std::fmt::Write;
    let mut out = format!("; vigia secondary copy of {origin}\n");
    for r in records {
        let owner = Name::from_wire(&r.owner).ok_or("bad owner name in the transfer")?;
        let hex: String = r.rdata.iter().map(|b| format!("{b:02X}")).collect();
        let _ = writeln!(
            out,
            "{owner} {} IN {} \\# {} {hex}",
            r.ttl,
            type_name(r.rtype),
            r.rdata.len()
        );
    }
    Ok(out)
}

/// Writes beside `path` then renames over it, so a reader (or a crash)
/// never sees half a file.
pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".vigia-tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
