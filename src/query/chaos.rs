//! Which server answered: CHAOS-class TXT queries for `id.server` and
//! `hostname.bind` (the configured identity) and for `version.server` and
//! `version.bind` (the configured version), answered as Knot and NSD
//! answer them: one TXT record of class CH, TTL 0, no AA, nothing in
//! AUTHORITY. Anything else in class CH, and these names when nothing is
//! configured (the default), is REFUSED, as Knot and NSD answer with
//! their identity and version hidden.

use crate::dns::message::Query;
use crate::dns::writer::{Owner, Section, Writer};
use crate::dns::{class, rcode, rtype};
use crate::snapshot::Settings;

/// Wire names (lower case) and the setting each one tells.
const NAMES: [(&[u8], Told); 4] = [
    (b"\x02id\x06server\x00", Told::Identity),
    (b"\x08hostname\x04bind\x00", Told::Identity),
    (b"\x07version\x06server\x00", Told::Version),
    (b"\x07version\x04bind\x00", Told::Version),
];

#[derive(Clone, Copy)]
enum Told {
    Identity,
    Version,
}

/// Answers a class CH query into `w`; returns its RCODE.
pub fn answer(settings: &Settings, q: &Query<'_>, w: &mut Writer<'_>) -> u8 {
    let Some(text) = text_for(settings, q.qname_lower.wire()) else {
        return rcode::REFUSED;
    };
    if !matches!(q.qtype, rtype::TXT | rtype::ANY) {
        return rcode::REFUSED;
    }
    let mut rdata = [0u8; 256];
    let len = text.len().min(255);
    rdata[0] = len as u8;
    rdata[1..=len].copy_from_slice(&text.as_bytes()[..len]);
    w.raw_record(
        Section::Answer,
        Owner::Question,
        rtype::TXT,
        class::CH,
        0,
        &rdata[..=len],
    );
    rcode::NOERROR
}

/// The configured text a CH name asks for, if any.
fn text_for<'s>(settings: &'s Settings, name: &[u8]) -> Option<&'s str> {
    let told = NAMES.iter().find(|(n, _)| *n == name)?.1;
    match told {
        Told::Identity => settings.identity.as_deref(),
        Told::Version => settings.version.as_deref(),
    }
}
