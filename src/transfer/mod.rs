//! Zone transfers and change propagation, both ways:
//! - out: [`out`] answers AXFR and IXFR requests (RFC 5936, RFC 1995) from
//!   the snapshot and the IXFR [`journal`]; [`notify`] tells secondaries of
//!   every serial change (RFC 1996);
//! - in: [`secondary`] follows zones of other primaries (refresh, client,
//!   IXFR apply, the copy on disk).

pub mod journal;
pub mod notify;
pub mod out;
pub mod secondary;
