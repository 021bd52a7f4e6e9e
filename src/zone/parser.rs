//! Reads zone files the way BIND reads them (RFC 1035 section 5 master
//! format, plus BIND's `$TTL`, `$GENERATE` and TTL units).
//!
//! The work is done in three layers:
//! 1. [`super::lexer`] cuts the bytes into entries (the tokens of one
//!    logical line);
//! 2. this file handles the directives (`$ORIGIN`, `$TTL`, `$INCLUDE`;
//!    `$GENERATE` is in [`super::generate`]) and the `owner TTL class type`
//!    prefix of each record, and keeps the state BIND keeps: current
//!    origin, current owner and default TTL;
//! 3. [`super::text`] turns the rest of the entry (or RFC 3597 `\# len hex`
//!    data) into [`Rdata`] fields, using the record-type table of
//!    [`crate::dns::types`].
//!
//! Nothing here may panic on any input, because the parser is fuzzed: bytes
//! are read with `get`, numbers with checked arithmetic.

use super::lexer::{fail, name_text, unescape_token, Entry, Fail, Lexer, Res, Token};
use super::quote::{quote_max, MAX_QUOTE_PATH};
use super::source::{read_regular, ReadError};
use super::text::{rdata_from_text, Cursor};
use super::{over_limit, Origin, SourceRecord, Warning};
use crate::config::ZoneLimits;
use crate::dns::name::NameError;
use crate::dns::types::{class_from_name, is_meta, type_from_name, type_name};
use crate::dns::{class, rtype, Name, Rdata, Record};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A zone file that cannot be read; shown as `FILE:LINE: reason`.
///
/// `line` is 0 when the problem is not on any line (the file cannot be
/// opened).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{}: {}", .file.display(), .line, .reason)]
pub struct ParseError {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

/// Parses a zone file within `limits`. `origin` is the zone apex; relative
/// `$INCLUDE` paths are resolved against `base_dir` (as BIND resolves them
/// against its `directory`, not against the including file).
pub fn parse_file(
    path: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
) -> Result<Vec<SourceRecord>, ParseError> {
    let (records, warnings) = parse_file_warned(path, origin, base_dir, limits)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(records)
}

/// [`parse_file`], returning the warnings (no `$TTL`, TTLs over 2^31-1)
/// instead of logging them.
pub fn parse_file_warned(
    path: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
) -> Result<(Vec<SourceRecord>, Vec<Warning>), ParseError> {
    let bytes = read_regular(path, limits.max_zone_bytes).map_err(|e| ParseError {
        file: path.to_path_buf(),
        line: 0,
        reason: match e {
            ReadError::OverBudget { .. } => over_limit(
                "max_zone_bytes",
                limits.max_zone_bytes,
                "the zone file is larger than the zone's byte budget",
            ),
            e => format!("cannot read zone file: {e}"),
        },
    })?;
    parse_bytes_warned(&bytes, path, origin, base_dir, limits)
}

/// Same as [`parse_file`], from text, with the default limits; `file` is
/// only used in messages and record origins.
pub fn parse_str(
    text: &str,
    file: &Path,
    origin: &Name,
    base_dir: &Path,
) -> Result<Vec<SourceRecord>, ParseError> {
    parse_bytes(text.as_bytes(), file, origin, base_dir, &ZoneLimits::default())
}

/// [`parse_str`] within `limits`.
pub fn parse_str_limited(
    text: &str,
    file: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
) -> Result<Vec<SourceRecord>, ParseError> {
    parse_bytes(text.as_bytes(), file, origin, base_dir, limits)
}

/// Zone files are bytes, not UTF-8: BIND accepts any octet in a label or a
/// string, so the parser works on bytes throughout.
pub(super) fn parse_bytes(
    src: &[u8],
    file: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
) -> Result<Vec<SourceRecord>, ParseError> {
    let (records, warnings) = parse_bytes_warned(src, file, origin, base_dir, limits)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(records)
}

fn parse_bytes_warned(
    src: &[u8],
    file: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
) -> Result<(Vec<SourceRecord>, Vec<Warning>), ParseError> {
    let mut parser = Parser {
        base_dir,
        out: Vec::new(),
        default_ttl: None,
        last_ttl: None,
        limits: *limits,
        bytes: 0,
        warnings: Vec::new(),
    };
    let mut state = FileState {
        file: Arc::new(file.to_path_buf()),
        origin: origin.clone(),
        owner: None,
        depth: 0,
    };
    parser
        .charge(
            src.len(),
            0,
            "the zone file is larger than the zone's byte budget",
        )
        .map_err(|f| state.error(f))?;
    parser.parse_entries(src, &mut state)?;
    Ok((parser.out, parser.warnings))
}

/// TTLs above 2^31-1 are read as 0 (RFC 2181 section 8), as BIND does.
const MAX_TTL: u32 = 0x7fff_ffff;

/// A domain name token, completed with `origin` when relative.
pub(super) fn parse_name(tok: &Token, origin: &Name, what: &str) -> Res<Name> {
    if tok.quoted {
        return fail(
            tok.line,
            format!(
                "bad {what} '\"{}\"': a domain name must not be quoted",
                tok.show()
            ),
        );
    }
    Name::parse(&name_text(tok), Some(origin)).or_else(|e| {
        fail(
            tok.line,
            format!("bad {what} '{}': {}", tok.show(), name_error(&e)),
        )
    })
}

/// Why a name was refused, without the name's text (the caller quotes
/// a short form of it).
fn name_error(e: &NameError) -> String {
    match e {
        NameError::EmptyLabel(_) => "empty label".into(),
        NameError::BadEscape(_) => "bad escape".into(),
        NameError::NoOrigin(_) => "relative name with no origin".into(),
        other => other.to_string(),
    }
}

/// A decimal number of at most `max`; only ASCII digits (no sign, no blanks).
pub(super) fn parse_number(tok: &Token, max: u32) -> Option<u32> {
    let t = &tok.text;
    if tok.quoted || t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = t.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(v).ok().filter(|v| *v <= max)
}

/// BIND's TTL syntax: seconds (`3600`), or number+unit groups
/// (`1w2d3h4m5s`, any case). A bare number after a unit (`1h30`) is an
/// error in BIND, so it is here too.
pub(super) fn parse_duration(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 63 {
        return None;
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            let n = number
                .unwrap_or(0)
                .checked_mul(10)?
                .checked_add(u64::from(c - b'0'))?;
            number = Some(n);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    match number {
        Some(n) if text.iter().all(u8::is_ascii_digit) => u32::try_from(n).ok(),
        Some(_) => None,
        None => u32::try_from(total).ok(),
    }
}

/// A TTL token; the message names the token so a typo is easy to find.
fn parse_ttl(tok: &Token) -> Res<u32> {
    match parse_duration(&tok.text).filter(|_| !tok.quoted) {
        Some(v) => Ok(v),
        None => fail(
            tok.line,
            format!(
                "TTL '{}' is not a number or BIND duration (like 1w2d3h4m5s) up to 4294967295",
                tok.show()
            ),
        ),
    }
}

/// Class mnemonics BIND knows (`CLASSnnn` included), as numbers.
fn class_number(tok: &Token) -> Option<u16> {
    if tok.quoted {
        return None;
    }
    class_from_name(&String::from_utf8_lossy(&tok.text))
}

/// A type mnemonic (any case) or `TYPEnnn`.
pub(super) fn type_number(tok: &Token) -> Option<u16> {
    if tok.quoted {
        return None;
    }
    let text = std::str::from_utf8(&tok.text).ok()?;
    let upper = text.to_ascii_uppercase();
    if let Some(digits) = upper.strip_prefix("TYPE") {
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return digits.parse().ok();
    }
    if upper == "*" {
        return None;
    }
    type_from_name(&upper)
}

/// A record type token, rejecting query-only types.
fn parse_type(tok: &Token) -> Res<u16> {
    let Some(t) = type_number(tok) else {
        return fail(tok.line, format!("unknown record type '{}'", tok.show()));
    };
    if t == 0 {
        return fail(tok.line, format!("record type '{}' (0) is reserved", tok.show()));
    }
    if is_meta(t) {
        return fail(
            tok.line,
            format!(
                "record type '{}' is a query-only type and cannot appear in a zone file",
                tok.show()
            ),
        );
    }
    Ok(t)
}

/// Reads the `[TTL] [class] type` prefix of a record; RFC 1035 5.1 allows
/// TTL and class in either order and both are optional.
pub(super) fn read_prefix(cur: &mut Cursor) -> Res<(Option<u32>, u16)> {
    let mut ttl = None;
    let mut class_seen = false;
    loop {
        let tok = cur.next("record type")?;
        if ttl.is_none() && tok.starts_with_digit() {
            ttl = Some(parse_ttl(tok)?);
            continue;
        }
        if !class_seen {
            if let Some(class) = class_number(tok) {
                if class != class::IN {
                    return fail(
                        tok.line,
                        format!("class '{}' is not supported (only IN)", tok.show()),
                    );
                }
                class_seen = true;
                continue;
            }
        }
        return Ok((ttl, parse_type(tok)?));
    }
}

// ---------------------------------------------------------------------------
// Layer 2: directives and records
// ---------------------------------------------------------------------------

/// What is known while reading one file. Each `$INCLUDE` gets its own copy,
/// so `$ORIGIN` and owner changes inside it end with it (as in BIND).
pub(super) struct FileState {
    file: Arc<PathBuf>,
    pub origin: Name,
    /// Owner of the previous record, for lines that start with a blank.
    owner: Option<Name>,
    depth: u64,
}

impl FileState {
    pub(super) fn error(&self, f: Fail) -> ParseError {
        ParseError {
            file: self.file.to_path_buf(),
            line: f.line,
            reason: f.reason,
        }
    }

    fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.file.display())
    }
}

/// State shared by a file and everything it includes. BIND keeps the TTL
/// state in its load context, so a `$TTL` inside an included file stays in
/// force after it (verified with named-checkzone 9.18).
pub(super) struct Parser<'a> {
    base_dir: &'a Path,
    out: Vec<SourceRecord>,
    /// From `$TTL`, or from the SOA MINIMUM when nothing else was known.
    default_ttl: Option<u32>,
    /// The last TTL written on a record (RFC 1035 default).
    last_ttl: Option<u32>,
    limits: ZoneLimits,
    /// Bytes read from files and generated by `$GENERATE` so far, all
    /// files together (against `max_zone_bytes`).
    bytes: u64,
    /// What BIND warns about while reading.
    warnings: Vec<Warning>,
}

impl Parser<'_> {
    /// TTLs with the top bit set mean 0 (RFC 2181 section 8); BIND warns too.
    fn clamp_ttl(&mut self, ttl: u32, at: String) -> u32 {
        if ttl > MAX_TTL {
            self.warn(at, format!("TTL {ttl} > MAXTTL, setting TTL to 0"));
            0
        } else {
            ttl
        }
    }

    fn warn(&mut self, at: String, reason: String) {
        self.warnings.push(Warning { at, reason });
    }

    /// Counts `n` more bytes read or generated; fails at `line` once the
    /// zone's byte budget is passed, saying `what` passed it.
    pub(super) fn charge(&mut self, n: usize, line: usize, what: &str) -> Res<()> {
        let total = self.bytes.saturating_add(n as u64);
        if total > self.limits.max_zone_bytes {
            return fail(
                line,
                over_limit("max_zone_bytes", self.limits.max_zone_bytes, what),
            );
        }
        self.bytes = total;
        Ok(())
    }

    /// Bytes left of the zone's budget.
    fn bytes_left(&self) -> u64 {
        self.limits.max_zone_bytes.saturating_sub(self.bytes)
    }

    /// Most values one `$GENERATE` may have.
    pub(super) fn max_generate(&self) -> u64 {
        self.limits.max_generate
    }

    fn parse_entries(&mut self, src: &[u8], st: &mut FileState) -> Result<(), ParseError> {
        let mut lexer = Lexer::new(src, 1);
        while let Some(entry) = lexer.next_entry().map_err(|f| st.error(f))? {
            self.entry(entry, st)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: Entry, st: &mut FileState) -> Result<(), ParseError> {
        let Some((first, args)) = entry.tokens.split_first() else {
            return Ok(());
        };
        if !entry.indented && !first.quoted && first.text.first() == Some(&b'$') {
            return self.directive(first, args, st);
        }
        self.record(&entry, st).map_err(|f| st.error(f))
    }

    fn directive(&mut self, first: &Token, args: &[Token], st: &mut FileState) -> Result<(), ParseError> {
        let name = String::from_utf8_lossy(&first.text).to_ascii_uppercase();
        let line = first.line;
        let result = match name.as_str() {
            "$ORIGIN" => self.origin_directive(args, line, st),
            "$TTL" => self.ttl_directive(args, line, st),
            "$INCLUDE" => return self.include(args, line, st),
            "$GENERATE" => self.generate(args, line, st),
            _ => fail(line, format!("unknown directive '{}'", first.show())),
        };
        result.map_err(|f| st.error(f))
    }

    /// `$ORIGIN name`: relative names are completed with the current origin.
    fn origin_directive(&mut self, args: &[Token], line: usize, st: &mut FileState) -> Res<()> {
        let mut cur = Cursor::new(args, line, "$ORIGIN");
        let tok = cur.next("domain name")?;
        let origin = parse_name(tok, &st.origin, "$ORIGIN name")?;
        cur.finish()?;
        st.origin = origin;
        Ok(())
    }

    /// `$TTL ttl`: the TTL of records that do not give one (RFC 2308).
    fn ttl_directive(&mut self, args: &[Token], line: usize, st: &FileState) -> Res<()> {
        let mut cur = Cursor::new(args, line, "$TTL");
        let ttl = parse_ttl(cur.next("TTL")?)?;
        cur.finish()?;
        self.default_ttl = Some(self.clamp_ttl(ttl, st.at(line)));
        Ok(())
    }

    /// `$INCLUDE file [origin]`: reads another file in place. The origin
    /// argument, and any `$ORIGIN` inside, apply only to that file.
    fn include(&mut self, args: &[Token], line: usize, st: &mut FileState) -> Result<(), ParseError> {
        let (path, origin) = self.include_args(args, line, st).map_err(|f| st.error(f))?;
        let depth = self.limits.max_include_depth;
        if st.depth >= depth {
            let what = format!("$INCLUDE nested more than {depth} deep (does a file include itself?)");
            return Err(st.error(Fail {
                line,
                reason: over_limit("max_include_depth", depth, &what),
            }));
        }
        let shown = quote_max(path.as_os_str().as_encoded_bytes(), MAX_QUOTE_PATH);
        let bytes = read_regular(&path, self.bytes_left()).map_err(|e| {
            let reason = match e {
                ReadError::OverBudget { .. } => over_limit(
                    "max_zone_bytes",
                    self.limits.max_zone_bytes,
                    &format!("$INCLUDE '{shown}' passes the zone's byte budget (all files and $GENERATE text together)"),
                ),
                e => format!("cannot read $INCLUDE file '{shown}': {e}"),
            };
            st.error(Fail { line, reason })
        })?;
        self.charge(bytes.len(), line, "$INCLUDE passes the zone's byte budget")
            .map_err(|f| st.error(f))?;
        let mut inner = FileState {
            file: Arc::new(path),
            origin,
            owner: st.owner.clone(),
            depth: st.depth + 1,
        };
        self.parse_entries(&bytes, &mut inner)
    }

    fn include_args(&self, args: &[Token], line: usize, st: &FileState) -> Res<(PathBuf, Name)> {
        let mut cur = Cursor::new(args, line, "$INCLUDE");
        let file = unescape_token(cur.next("file name")?)?;
        let origin = match cur.next_opt() {
            Some(tok) => parse_name(tok, &st.origin, "$INCLUDE origin")?,
            None => st.origin.clone(),
        };
        cur.finish()?;
        let rel = PathBuf::from(String::from_utf8_lossy(&file).into_owned());
        let path = if rel.is_absolute() {
            rel
        } else {
            self.base_dir.join(rel)
        };
        Ok((path, origin))
    }

    /// An ordinary record line: `[owner] [TTL] [class] type rdata`.
    fn record(&mut self, entry: &Entry, st: &mut FileState) -> Res<()> {
        let (owner, rest, line) = record_owner(entry, st)?;
        st.owner = Some(owner.clone());
        let mut cur = Cursor::new(rest, line, "record");
        let (ttl, t) = read_prefix(&mut cur)?;
        cur.what = format!("{} record", type_name(t));
        let rdata = rdata_from_text(t, &mut cur, &st.origin)?;
        self.push(owner, t, ttl, rdata, line, st)
    }

    /// Picks the TTL the way BIND does: written TTL, else `$TTL`, else the
    /// last written TTL, else (for the SOA only) its MINIMUM, which then
    /// becomes the default.
    pub(super) fn push(
        &mut self,
        owner: Name,
        t: u16,
        ttl: Option<u32>,
        rdata: Rdata,
        line: usize,
        st: &FileState,
    ) -> Res<()> {
        let ttl = match (ttl, self.default_ttl, self.last_ttl) {
            (Some(ttl), _, _) => {
                let ttl = self.clamp_ttl(ttl, st.at(line));
                self.last_ttl = Some(ttl);
                ttl
            }
            (None, Some(default), _) => default,
            (None, None, Some(last)) => last,
            (None, None, None) => match rdata.soa_minimum().filter(|_| t == rtype::SOA) {
                Some(minimum) => {
                    // named-checkzone's warning, and its fallback.
                    self.warn(st.at(line), "no TTL specified; using SOA MINTTL instead".into());
                    let minimum = self.clamp_ttl(minimum, st.at(line));
                    self.default_ttl = Some(minimum);
                    minimum
                }
                None => {
                    return fail(
                        line,
                        "no TTL specified: give one on the record or put a $TTL directive before it",
                    )
                }
            },
        };
        let max = self.limits.max_records;
        if self.out.len() as u64 >= max {
            let what = format!("more than {max} records in the zone (all files and $GENERATE together)");
            return fail(line, over_limit("max_records", max, &what));
        }
        self.out.push(SourceRecord {
            record: Record {
                owner,
                rtype: t,
                class: class::IN,
                ttl,
                rdata,
            },
            at: Origin {
                file: st.file.clone(),
                line,
            },
        });
        Ok(())
    }
}

/// The owner of a record line, the tokens after it, and the line it starts
/// on. A line that starts with a blank has the previous record's owner.
fn record_owner<'e>(entry: &'e Entry, st: &FileState) -> Res<(Name, &'e [Token], usize)> {
    let Some((first, rest)) = entry.tokens.split_first() else {
        return fail(0, "empty entry");
    };
    if !entry.indented {
        return Ok((parse_name(first, &st.origin, "owner name")?, rest, first.line));
    }
    match &st.owner {
        Some(owner) => Ok((owner.clone(), &entry.tokens, first.line)),
        None => fail(
            first.line,
            "no owner name: the line starts with a blank but no record before it gave an owner",
        ),
    }
}
