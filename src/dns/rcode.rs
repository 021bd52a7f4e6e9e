//! Response codes and opcodes, with their mnemonics (RFC 6895 registry).

pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;
pub const YXDOMAIN: u8 = 6;
pub const NOTAUTH: u8 = 9;
/// Extended RCODE 16, carried in the OPT record (RFC 6891 6.1.3).
pub const BADVERS: u16 = 16;
/// Extended RCODE 23 (RFC 7873).
pub const BADCOOKIE: u16 = 23;

/// Mnemonics of RCODEs 0 to 23 (TSIG's errors share 16 to 22 with them:
/// 16 is BADVERS in an OPT and BADSIG in a TSIG, see [`tsig_error_name`]).
pub const NAMES: [&str; 24] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
    "BADVERS",
    "BADKEY",
    "BADTIME",
    "BADMODE",
    "BADNAME",
    "BADALG",
    "BADTRUNC",
    "BADCOOKIE",
];

/// The mnemonic of an RCODE (`RCODE4000` past the registry's names).
pub fn name(rc: u16) -> String {
    match NAMES.get(usize::from(rc)) {
        Some(n) => (*n).to_string(),
        None => format!("RCODE{rc}"),
    }
}

/// TSIG error codes (RFC 8945 3).
pub const BADSIG: u16 = 16;
pub const BADKEY: u16 = 17;
pub const BADTIME: u16 = 18;
pub const BADTRUNC: u16 = 22;

/// The mnemonic of a TSIG error code.
pub fn tsig_error_name(code: u16) -> String {
    match code {
        BADSIG => "BADSIG".into(),
        BADKEY => "BADKEY".into(),
        BADTIME => "BADTIME".into(),
        BADTRUNC => "BADTRUNC".into(),
        c => format!("TSIG error {c}"),
    }
}

/// Opcodes.
pub mod opcode {
    pub const QUERY: u8 = 0;
    pub const NOTIFY: u8 = 4;
    pub const UPDATE: u8 = 5;
}
