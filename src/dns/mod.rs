//! The DNS protocol, with no I/O and no configuration: names, the
//! record-type table, RCODE and opcode tables, records and RDATA, the
//! message reader and the response writer, serial arithmetic, TSIG, DNS
//! cookies and calendar arithmetic. Nothing here imports the rest of the crate; every
//! other layer builds on it (as libknot does in Knot DNS).

pub mod cookie;
pub mod hash;
pub mod message;
pub mod name;
pub mod rcode;
pub mod rdata;
pub mod serial;
pub mod time;
pub mod tsig;
pub mod types;
pub mod writer;

pub use name::Name;
pub use rdata::{Field, Rdata, Record};
pub use types::{class, rtype};
