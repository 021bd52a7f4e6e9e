//! The same queries and decoding through hickory-proto, as a cross-check of
//! the raw path.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::str::FromStr;

/// A query built with hickory-proto.
pub fn query(name: &str, rtype: RecordType, edns: Option<(u16, bool)>, rd: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(Name::from_str(name).unwrap(), rtype));
    if let Some((size, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// Decodes with hickory-proto.
pub fn decode(b: &[u8]) -> Result<Message, String> {
    Message::from_vec(b).map_err(|e| e.to_string())
}
