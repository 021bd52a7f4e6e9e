//! Reads zone files the way BIND reads them (RFC 1035 section 5 master
//! format, plus BIND's `$TTL`, `$GENERATE` and TTL units).
//!
//! The work is done in three layers:
//! 1. [`Lexer`] cuts the bytes into *entries*: the tokens of one logical
//!    line (a newline inside parentheses does not end it), with comments
//!    dropped and quoted strings kept whole. Escapes are left in the token
//!    text, because what they mean depends on where the token is used.
//! 2. [`Parser`] handles the directives and the `owner TTL class type`
//!    prefix of each record, and keeps the state BIND keeps: current origin,
//!    current owner and default TTL.
//! 3. `rdata_from_text` and `rdata_from_wire` turn the rest of the entry
//!    (or RFC 3597 `\# len hex` data) into [`Rdata`] fields.
//!
//! Nothing here may panic on any input, because the parser is fuzzed: bytes
//! are read with `get`, numbers with checked arithmetic.

use super::rdata::compressible;
use super::{rtype, type_from_name, type_name, Field, Origin, Rdata, Record, SourceRecord, CLASS_IN};
use crate::name::{unescape, wire_name_len, Name};
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

/// Parses a zone file. `origin` is the zone apex; relative `$INCLUDE` paths
/// are resolved against `base_dir` (as BIND resolves them against its
/// `directory`, not against the including file).
pub fn parse_file(path: &Path, origin: &Name, base_dir: &Path) -> Result<Vec<SourceRecord>, ParseError> {
    let bytes = std::fs::read(path).map_err(|e| ParseError {
        file: path.to_path_buf(),
        line: 0,
        reason: format!("cannot read zone file: {e}"),
    })?;
    parse_bytes(&bytes, path, origin, base_dir)
}

/// Same as [`parse_file`], from text; `file` is only used in messages and
/// record origins.
pub fn parse_str(
    text: &str,
    file: &Path,
    origin: &Name,
    base_dir: &Path,
) -> Result<Vec<SourceRecord>, ParseError> {
    parse_bytes(text.as_bytes(), file, origin, base_dir)
}

/// Zone files are bytes, not UTF-8: BIND accepts any octet in a label or a
/// string, so the parser works on bytes throughout.
fn parse_bytes(
    src: &[u8],
    file: &Path,
    origin: &Name,
    base_dir: &Path,
) -> Result<Vec<SourceRecord>, ParseError> {
    let mut parser = Parser {
        base_dir,
        out: Vec::new(),
        default_ttl: None,
        last_ttl: None,
    };
    let mut state = FileState {
        file: Arc::new(file.to_path_buf()),
        origin: origin.clone(),
        owner: None,
        depth: 0,
    };
    parser.parse_entries(src, &mut state)?;
    Ok(parser.out)
}

/// `$INCLUDE` nesting limit; deeper means a file (indirectly) includes itself.
const MAX_INCLUDE_DEPTH: usize = 20;
/// TTLs above 2^31-1 are read as 0 (RFC 2181 section 8), as BIND does.
const MAX_TTL: u32 = 0x7fff_ffff;
/// Most records one `$GENERATE` may produce, so a typo cannot eat the memory.
const MAX_GENERATE: u64 = 65_536;
/// Longest character-string (RFC 1035 3.3).
const MAX_STRING: usize = 255;

// ---------------------------------------------------------------------------
// Errors inside the parser
// ---------------------------------------------------------------------------

/// A problem before the file name is attached: the line and the reason.
/// Helpers return this so they need not know which file they are reading.
#[derive(Debug)]
struct Fail {
    line: usize,
    reason: String,
}

type Res<T> = Result<T, Fail>;

fn fail<T>(line: usize, reason: impl Into<String>) -> Res<T> {
    Err(Fail {
        line,
        reason: reason.into(),
    })
}

// ---------------------------------------------------------------------------
// Layer 1: tokens
// ---------------------------------------------------------------------------

/// One word or quoted string. `text` still holds its escapes (`\.`, `\032`).
#[derive(Debug, Clone)]
struct Token {
    text: Vec<u8>,
    quoted: bool,
    line: usize,
}

impl Token {
    /// The token as written, for error messages.
    fn show(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    fn starts_with_digit(&self) -> bool {
        !self.quoted && self.text.first().is_some_and(u8::is_ascii_digit)
    }
}

/// The tokens of one logical line. `indented` is true when the line starts
/// with a blank, which means "same owner as the previous record".
struct Entry {
    tokens: Vec<Token>,
    indented: bool,
}

/// Splits master-file bytes into entries.
struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8], first_line: usize) -> Self {
        Lexer {
            src,
            pos: 0,
            line: first_line,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// The next entry with at least one token; blank and comment-only lines
    /// are skipped.
    fn next_entry(&mut self) -> Res<Option<Entry>> {
        while self.pos < self.src.len() {
            let indented = matches!(self.peek(), Some(b' ' | b'\t'));
            let tokens = self.read_entry()?;
            if !tokens.is_empty() {
                return Ok(Some(Entry { tokens, indented }));
            }
        }
        Ok(None)
    }

    /// Reads up to the newline that ends the logical line (one outside
    /// parentheses). Parentheses only group lines, they are not tokens.
    fn read_entry(&mut self) -> Res<Vec<Token>> {
        let mut tokens = Vec::new();
        let mut depth = 0usize;
        let mut open_line = self.line;
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    if depth == 0 {
                        return Ok(tokens);
                    }
                }
                // CR is a blank so CRLF files read like LF ones.
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => self.skip_comment(),
                b'(' => {
                    if depth == 0 {
                        open_line = self.line;
                    }
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        return fail(self.line, "unbalanced parentheses: ')' without '('");
                    }
                    depth -= 1;
                    self.pos += 1;
                }
                b'"' => tokens.push(self.quoted()?),
                _ => tokens.push(self.word()),
            }
        }
        if depth > 0 {
            return fail(open_line, "unbalanced parentheses: '(' is never closed");
        }
        Ok(tokens)
    }

    /// Skips to the end of the line, leaving the newline to end the entry.
    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// An unquoted word: ends at a blank, a newline or one of `;()"`
    /// unless escaped with a backslash.
    fn word(&mut self) -> Token {
        let line = self.line;
        let mut text = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                b'\\' => self.escape(&mut text, false),
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        Token {
            text,
            quoted: false,
            line,
        }
    }

    /// A quoted string; it must end on the line where it starts.
    fn quoted(&mut self) -> Res<Token> {
        let line = self.line;
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return fail(line, "unterminated quoted string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Token {
                        text,
                        quoted: true,
                        line,
                    });
                }
                Some(b'\\') => self.escape(&mut text, true),
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Copies a backslash and the byte it protects, so the escape reaches the
    /// code that knows what it means (names and strings decode `\DDD`).
    ///
    /// A backslash before a newline escapes it only inside quotes (as in
    /// BIND); outside, the lone backslash is kept and later refused.
    fn escape(&mut self, text: &mut Vec<u8>, quoted: bool) {
        text.push(b'\\');
        self.pos += 1;
        if let Some(c) = self.peek() {
            if c == b'\n' {
                if !quoted {
                    return;
                }
                self.line += 1;
            }
            text.push(c);
            self.pos += 1;
        }
    }
}

/// All tokens of `src` as one entry (used for `$GENERATE` right-hand sides).
fn lex_all(src: &[u8], line: usize) -> Res<Vec<Token>> {
    let mut lexer = Lexer::new(src, line);
    let mut tokens = Vec::new();
    while let Some(entry) = lexer.next_entry()? {
        tokens.extend(entry.tokens.into_iter().map(|t| Token { line, ..t }));
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------
// Token decoding helpers
// ---------------------------------------------------------------------------

/// Decodes `\X` and `\DDD` escapes (character-strings, CAA values, paths).
fn unescape_token(tok: &Token) -> Res<Vec<u8>> {
    let text = &tok.text;
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'\\' {
            let rest = text.get(i + 1..).unwrap_or(&[]);
            let Some((b, used)) = unescape(rest) else {
                return fail(tok.line, format!("bad escape in '{}'", tok.show()));
            };
            out.push(b);
            i += 1 + used;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// `Name::parse` wants UTF-8 text; bytes outside ASCII are handed over as
/// `\DDD` so that any octet sequence survives (BIND accepts them too).
fn name_text(tok: &Token) -> String {
    let text = &tok.text;
    let mut s = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        match (c, text.get(i + 1)) {
            // `\` + non-ASCII byte means that byte: write it as `\DDD`.
            (b'\\', Some(&n)) if !n.is_ascii() => {
                s.push_str(&format!("\\{n:03}"));
                i += 2;
            }
            (b'\\', Some(&n)) => {
                s.push('\\');
                s.push(n as char);
                i += 2;
            }
            _ if !c.is_ascii() => {
                s.push_str(&format!("\\{c:03}"));
                i += 1;
            }
            _ => {
                s.push(c as char);
                i += 1;
            }
        }
    }
    s
}

/// A domain name token, completed with `origin` when relative.
fn parse_name(tok: &Token, origin: &Name, what: &str) -> Res<Name> {
    if tok.quoted {
        return fail(
            tok.line,
            format!(
                "bad {what} '\"{}\"': a domain name must not be quoted",
                tok.show()
            ),
        );
    }
    Name::parse(&name_text(tok), Some(origin))
        .or_else(|e| fail(tok.line, format!("bad {what} '{}': {e}", tok.show())))
}

/// A decimal number of at most `max`; only ASCII digits (no sign, no blanks).
fn parse_number(tok: &Token, max: u32) -> Option<u32> {
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
fn parse_duration(text: &[u8]) -> Option<u32> {
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

/// TTLs with the top bit set mean 0 (RFC 2181 section 8); BIND warns too.
fn clamp_ttl(ttl: u32, at: &str) -> u32 {
    if ttl > MAX_TTL {
        tracing::warn!("{at}: TTL {ttl} > MAXTTL, setting TTL to 0");
        0
    } else {
        ttl
    }
}

/// Class mnemonics BIND knows (`CLASSnnn` included), as numbers.
fn class_number(tok: &Token) -> Option<u16> {
    if tok.quoted {
        return None;
    }
    let upper = String::from_utf8_lossy(&tok.text).to_ascii_uppercase();
    match upper.as_str() {
        "IN" => Some(CLASS_IN),
        "CS" => Some(2),
        "CH" | "CHAOS" => Some(3),
        "HS" | "HESIOD" => Some(4),
        "NONE" => Some(254),
        "ANY" => Some(255),
        _ => {
            let digits = upper.strip_prefix("CLASS")?;
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        }
    }
}

/// Types that exist only in queries (RFC 6895 meta-types and QTYPEs).
fn is_meta_type(t: u16) -> bool {
    matches!(
        t,
        rtype::OPT | 249 | 250 | rtype::IXFR | rtype::AXFR | rtype::MAILB | rtype::MAILA | rtype::ANY
    )
}

/// A type mnemonic (any case) or `TYPEnnn`.
fn type_number(tok: &Token) -> Option<u16> {
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
    if is_meta_type(t) {
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
fn read_prefix(cur: &mut Cursor) -> Res<(Option<u32>, u16)> {
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
                if class != CLASS_IN {
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
struct FileState {
    file: Arc<PathBuf>,
    origin: Name,
    /// Owner of the previous record, for lines that start with a blank.
    owner: Option<Name>,
    depth: usize,
}

impl FileState {
    fn error(&self, f: Fail) -> ParseError {
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
struct Parser<'a> {
    base_dir: &'a Path,
    out: Vec<SourceRecord>,
    /// From `$TTL`, or from the SOA MINIMUM when nothing else was known.
    default_ttl: Option<u32>,
    /// The last TTL written on a record (RFC 1035 default).
    last_ttl: Option<u32>,
}

impl Parser<'_> {
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
        let name = first.show().to_ascii_uppercase();
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
        self.default_ttl = Some(clamp_ttl(ttl, &st.at(line)));
        Ok(())
    }

    /// `$INCLUDE file [origin]`: reads another file in place. The origin
    /// argument, and any `$ORIGIN` inside, apply only to that file.
    fn include(&mut self, args: &[Token], line: usize, st: &mut FileState) -> Result<(), ParseError> {
        let (path, origin) = self.include_args(args, line, st).map_err(|f| st.error(f))?;
        if st.depth >= MAX_INCLUDE_DEPTH {
            return Err(st.error(Fail {
                line,
                reason: format!(
                    "$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)"
                ),
            }));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            st.error(Fail {
                line,
                reason: format!("cannot read $INCLUDE file '{}': {e}", path.display()),
            })
        })?;
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
    fn push(
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
                let ttl = clamp_ttl(ttl, &st.at(line));
                self.last_ttl = Some(ttl);
                ttl
            }
            (None, Some(default), _) => default,
            (None, None, Some(last)) => last,
            (None, None, None) => match rdata.soa_minimum().filter(|_| t == rtype::SOA) {
                Some(minimum) => {
                    tracing::warn!("{}: no TTL specified; using SOA MINTTL instead", st.at(line));
                    let minimum = clamp_ttl(minimum, &st.at(line));
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
        self.out.push(SourceRecord {
            record: Record {
                owner,
                rtype: t,
                class: CLASS_IN,
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

    /// `$GENERATE range lhs [TTL] [class] type rhs` (BIND): one record per
    /// value of the range, with `$` in lhs and rhs replaced by the value.
    fn generate(&mut self, args: &[Token], line: usize, st: &mut FileState) -> Res<()> {
        let mut cur = Cursor::new(args, line, "$GENERATE");
        let range = parse_range(cur.next("range")?)?;
        let lhs = cur.next("owner template")?;
        let (ttl, t) = read_prefix(&mut cur)?;
        let rhs = cur.next("record data template")?;
        cur.finish()?;
        let what = format!("{} record", type_name(t));
        let (start, stop, step) = range;
        let mut value = u64::from(start);
        while value <= u64::from(stop) {
            let owner_text = substitute(&lhs.text, value, line)?;
            let owner_tok = Token {
                text: owner_text,
                quoted: false,
                line,
            };
            let owner = parse_name(&owner_tok, &st.origin, "$GENERATE owner name")?;
            // As in BIND, the substituted right-hand side is read again as
            // text, so a quoted template can hold several fields.
            let tokens = lex_all(&substitute(&rhs.text, value, line)?, line)?;
            let mut rd = Cursor::new(&tokens, line, &what);
            let rdata = rdata_from_text(t, &mut rd, &st.origin)?;
            self.push(owner, t, ttl, rdata, line, st)?;
            value += u64::from(step);
        }
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

/// `start-stop[/step]` of `$GENERATE`.
fn parse_range(tok: &Token) -> Res<(u32, u32, u32)> {
    let bad = |why: &str| fail(tok.line, format!("bad $GENERATE range '{}': {why}", tok.show()));
    let text = String::from_utf8_lossy(&tok.text).into_owned();
    let (span, step) = match text.split_once('/') {
        Some((span, step)) => (span, step),
        None => (text.as_str(), "1"),
    };
    let Some((start, stop)) = span.split_once('-') else {
        return bad("expected start-stop[/step]");
    };
    let num = |s: &str| {
        parse_number(
            &Token {
                text: s.as_bytes().to_vec(),
                quoted: false,
                line: tok.line,
            },
            u32::MAX,
        )
    };
    let (Some(start), Some(stop), Some(step)) = (num(start), num(stop), num(step)) else {
        return bad("expected start-stop[/step] with decimal numbers");
    };
    if start > stop {
        return bad("start is greater than stop");
    }
    if step == 0 {
        return bad("step must be at least 1");
    }
    if u64::from(stop - start) / u64::from(step) + 1 > MAX_GENERATE {
        return bad(&format!("more than {MAX_GENERATE} records"));
    }
    Ok((start, stop, step))
}

/// Replaces `$` in a `$GENERATE` template. `$$` and `\$` give a literal
/// `$`; `${offset,width,base}` shifts, zero-pads and picks the base
/// (d, o, x, X, or n/N for reversed nibble labels).
fn substitute(template: &[u8], value: u64, line: usize) -> Res<Vec<u8>> {
    let mut out = Vec::with_capacity(template.len() + 8);
    let mut i = 0;
    while let Some(&c) = template.get(i) {
        match (c, template.get(i + 1)) {
            (b'\\', next) => {
                out.push(c);
                out.extend(next);
                i += 2;
            }
            (b'$', Some(b'$')) => {
                out.push(b'$');
                i += 2;
            }
            (b'$', Some(b'{')) => {
                let rest = template.get(i + 2..).unwrap_or(&[]);
                let Some(close) = rest.iter().position(|&b| b == b'}') else {
                    return fail(line, "bad $GENERATE modifier: missing '}'");
                };
                let spec = String::from_utf8_lossy(rest.get(..close).unwrap_or(&[])).into_owned();
                out.extend(format_generated(value, &spec, line)?);
                i += 3 + close;
            }
            (b'$', _) => {
                out.extend(value.to_string().bytes());
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Formats `value` per a `${offset,width,base}` modifier.
fn format_generated(value: u64, spec: &str, line: usize) -> Res<Vec<u8>> {
    let bad = || {
        fail(
            line,
            format!("bad $GENERATE modifier '${{{spec}}}': expected ${{offset[,width[,base]]}}"),
        )
    };
    let mut parts = spec.split(',');
    let offset: i64 = match parts.next().map(str::trim) {
        Some("") | None => 0,
        Some(s) => match s.parse() {
            Ok(v) if s.len() <= 11 => v,
            _ => return bad(),
        },
    };
    let width: usize = match parts.next().map(str::trim) {
        None => 0,
        Some(s) => match s.parse() {
            Ok(v) if v <= 255 => v,
            _ => return bad(),
        },
    };
    let base = parts.next().unwrap_or("d");
    if parts.next().is_some() {
        return bad();
    }
    let Some(v) = i64::try_from(value).ok().and_then(|v| v.checked_add(offset)) else {
        return bad();
    };
    let Ok(v) = u64::try_from(v) else {
        return fail(
            line,
            format!("$GENERATE modifier '${{{spec}}}' gives a negative value for {value}"),
        );
    };
    let text = match base {
        "d" => format!("{v:0width$}"),
        "o" => format!("{v:0width$o}"),
        "x" => format!("{v:0width$x}"),
        "X" => format!("{v:0width$X}"),
        "n" => nibbles(v, width, false),
        "N" => nibbles(v, width, true),
        _ => return bad(),
    };
    Ok(text.into_bytes())
}

/// BIND's nibble format: hex digits lowest first, one per label, with the
/// width counting the dots too (`${0,4,n}` of 10 is `a.0.`).
fn nibbles(mut value: u64, mut width: usize, upper: bool) -> String {
    let mut out = String::new();
    loop {
        let digit = char::from_digit((value & 0xf) as u32, 16).unwrap_or('0');
        out.push(if upper { digit.to_ascii_uppercase() } else { digit });
        value >>= 4;
        width = width.saturating_sub(1);
        if width > 0 || value != 0 {
            out.push('.');
            width = width.saturating_sub(1);
        }
        if value == 0 && width == 0 {
            return out;
        }
    }
}

// ---------------------------------------------------------------------------
// Layer 3: record data
// ---------------------------------------------------------------------------

/// Walks the rdata tokens of one record; its messages name the record type
/// (`bad IPv4 address '1.2.3' in A record`).
struct Cursor<'t> {
    toks: &'t [Token],
    pos: usize,
    /// Line of the record, for "missing ..." when no token is left.
    line: usize,
    /// What is being read, e.g. "MX record".
    what: String,
}

impl<'t> Cursor<'t> {
    fn new(toks: &'t [Token], line: usize, what: &str) -> Self {
        Cursor {
            toks,
            pos: 0,
            line,
            what: what.to_string(),
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.toks.get(self.pos)
    }

    fn next_opt(&mut self) -> Option<&'t Token> {
        let tok = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    fn next(&mut self, field: &str) -> Res<&'t Token> {
        let line = self
            .toks
            .get(self.pos.wrapping_sub(1))
            .map_or(self.line, |t| t.line);
        match self.next_opt() {
            Some(tok) => Ok(tok),
            None => fail(line, format!("missing {field} in {}", self.what)),
        }
    }

    /// The tokens not read yet (hex and base64 may be split by blanks).
    fn rest(&mut self) -> &'t [Token] {
        let rest = self.toks.get(self.pos..).unwrap_or(&[]);
        self.pos = self.toks.len();
        rest
    }

    /// Fails if tokens are left over.
    fn finish(&self) -> Res<()> {
        match self.peek() {
            Some(tok) => fail(
                tok.line,
                format!("extra text '{}' after {}", tok.show(), self.what),
            ),
            None => Ok(()),
        }
    }

    fn number(&mut self, field: &str, max: u32) -> Res<u32> {
        let tok = self.next(field)?;
        parse_number(tok, max).map_or_else(
            || {
                fail(
                    tok.line,
                    format!(
                        "bad {field} '{}' in {}: expected a number from 0 to {max}",
                        tok.show(),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }

    fn u8(&mut self, field: &str) -> Res<u8> {
        Ok(self.number(field, u8::MAX.into())? as u8)
    }

    fn u16(&mut self, field: &str) -> Res<u16> {
        Ok(self.number(field, u16::MAX.into())? as u16)
    }

    /// A number or a BIND duration (SOA timers, RRSIG original TTL).
    fn duration(&mut self, field: &str) -> Res<u32> {
        let tok = self.next(field)?;
        match parse_duration(&tok.text).filter(|_| !tok.quoted) {
            Some(v) => Ok(v),
            None => fail(
                tok.line,
                format!(
                    "bad {field} '{}' in {}: not a number or BIND duration",
                    tok.show(),
                    self.what
                ),
            ),
        }
    }

    fn name(&mut self, field: &str, origin: &Name) -> Res<Name> {
        let tok = self.next(field)?;
        parse_name(tok, origin, &format!("{field} in {}", self.what))
    }

    /// Unescaped bytes of a quoted or unquoted token (CAA value).
    fn raw(&mut self, field: &str) -> Res<Vec<u8>> {
        unescape_token(self.next(field)?)
    }

    /// Like [`Cursor::raw`], but the token must be quoted (URI target, as
    /// BIND wants).
    fn quoted(&mut self, field: &str) -> Res<Vec<u8>> {
        let tok = self.next(field)?;
        if !tok.quoted {
            let reason = format!(
                "{field} '{}' in {} must be a quoted string",
                tok.show(),
                self.what
            );
            return fail(tok.line, reason);
        }
        unescape_token(tok)
    }

    /// A character-string: up to 255 octets once escapes are decoded.
    fn string(&mut self, field: &str) -> Res<Vec<u8>> {
        let tok = self.next(field)?;
        let bytes = unescape_token(tok)?;
        if bytes.len() > MAX_STRING {
            return fail(
                tok.line,
                format!(
                    "{field} in {} is {} octets long; a character-string holds at most {MAX_STRING}",
                    self.what,
                    bytes.len()
                ),
            );
        }
        Ok(bytes)
    }

    /// The remaining tokens as one hex string.
    fn hex(&mut self, field: &str, allow_empty: bool) -> Res<Vec<u8>> {
        let line = self.peek().map_or(self.line, |t| t.line);
        let toks = self.rest();
        let text: Vec<u8> = toks.iter().flat_map(|t| t.text.iter().copied()).collect();
        if toks.iter().any(|t| t.quoted) {
            return fail(line, format!("{field} in {} must not be quoted", self.what));
        }
        if text.is_empty() && !allow_empty {
            return fail(line, format!("missing {field} in {}", self.what));
        }
        decode_hex(&text).map_or_else(
            || {
                fail(
                    line,
                    format!(
                        "bad {field} '{}' in {}: not an even number of hex digits",
                        String::from_utf8_lossy(&text),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }

    /// The remaining tokens as one base64 string (RFC 4648, padded).
    fn base64(&mut self, field: &str, allow_empty: bool) -> Res<Vec<u8>> {
        let line = self.peek().map_or(self.line, |t| t.line);
        let toks = self.rest();
        let text: Vec<u8> = toks.iter().flat_map(|t| t.text.iter().copied()).collect();
        if text.is_empty() && !allow_empty {
            return fail(line, format!("missing {field} in {}", self.what));
        }
        decode_base64(&text).map_or_else(|| fail(line, format!("bad base64 {field} in {}", self.what)), Ok)
    }

    /// A DNSSEC algorithm: a number or a mnemonic (RFC 8624 names).
    fn algorithm(&mut self) -> Res<u8> {
        const NAMES: &[(&str, u8)] = &[
            ("RSAMD5", 1),
            ("DH", 2),
            ("DSA", 3),
            ("RSASHA1", 5),
            ("DSA-NSEC3-SHA1", 6),
            ("NSEC3RSASHA1", 7),
            ("RSASHA256", 8),
            ("RSASHA512", 10),
            ("ECC-GOST", 12),
            ("ECDSAP256SHA256", 13),
            ("ECDSAP384SHA384", 14),
            ("ED25519", 15),
            ("ED448", 16),
            ("INDIRECT", 252),
            ("PRIVATEDNS", 253),
            ("PRIVATEOID", 254),
        ];
        if let Some(tok) = self.peek() {
            let upper = tok.show().to_ascii_uppercase();
            if let Some((_, n)) = NAMES.iter().find(|(name, _)| *name == upper) {
                self.pos += 1;
                return Ok(*n);
            }
        }
        self.u8("algorithm")
    }

    /// A record type inside rdata (RRSIG type covered, NSEC bitmap).
    fn rr_type(&mut self, field: &str) -> Res<u16> {
        let tok = self.next(field)?;
        type_number(tok).map_or_else(
            || {
                fail(
                    tok.line,
                    format!("unknown record type '{}' in {}", tok.show(), self.what),
                )
            },
            Ok,
        )
    }

    /// An RRSIG time: `YYYYMMDDHHmmSS` (UTC) or seconds since 1970.
    fn sig_time(&mut self, field: &str) -> Res<u32> {
        let tok = self.next(field)?;
        let parsed = if tok.text.len() == 14 {
            parse_timestamp(&tok.text)
        } else {
            parse_number(tok, u32::MAX)
        };
        parsed.map_or_else(
            || {
                fail(
                    tok.line,
                    format!(
                        "bad {field} '{}' in {}: expected YYYYMMDDHHmmSS",
                        tok.show(),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }
}

/// Collects RDATA pieces; adjacent byte pieces are merged so that a record
/// read from text and the same record read from `\#` data compare equal.
struct Builder {
    t: u16,
    fields: Vec<Field>,
    pending: Vec<u8>,
}

impl Builder {
    fn new(t: u16) -> Self {
        Builder {
            t,
            fields: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.pending.extend_from_slice(b);
    }

    fn u8(&mut self, v: u8) {
        self.pending.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A length-prefixed character-string (the caller checked the length).
    fn string(&mut self, s: &[u8]) {
        self.pending.push(s.len().min(MAX_STRING) as u8);
        self.pending
            .extend_from_slice(s.get(..MAX_STRING.min(s.len())).unwrap_or(&[]));
    }

    /// A name; compressed on the wire only for the RFC 3597 section 4 types.
    fn name(&mut self, name: Name) {
        self.flush();
        self.fields.push(Field::Name {
            name,
            compress: compressible(self.t),
        });
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let bytes = std::mem::take(&mut self.pending);
            self.fields.push(Field::Bytes(bytes.into_boxed_slice()));
        }
    }

    /// The RDATA, which must fit the 16-bit RDLENGTH.
    fn finish(mut self, line: usize) -> Res<Rdata> {
        self.flush();
        let rdata = Rdata { fields: self.fields };
        if rdata.wire_len() > usize::from(u16::MAX) {
            return fail(
                line,
                format!(
                    "{} record data is {} octets; the limit is 65535",
                    type_name(self.t),
                    rdata.wire_len()
                ),
            );
        }
        Ok(rdata)
    }
}

/// Parses the presentation form of the record data of type `t`.
fn rdata_from_text(t: u16, cur: &mut Cursor, origin: &Name) -> Res<Rdata> {
    if cur.peek().is_some_and(|tok| !tok.quoted && tok.text == b"\\#") {
        return generic_rdata(t, cur);
    }
    let mut b = Builder::new(t);
    match t {
        rtype::A => b.bytes(&ipv4(cur)?),
        rtype::AAAA => b.bytes(&ipv6(cur)?),
        rtype::NS | 3 | 4 | rtype::CNAME | 7 | 8 | 9 | rtype::PTR | rtype::DNAME => b.name(cur.name("target name", origin)?),
        rtype::SOA => soa(cur, origin, &mut b)?,
        14 | rtype::RP => {
            b.name(cur.name("mailbox name", origin)?);
            b.name(cur.name("second name", origin)?);
        }
        rtype::HINFO => {
            b.string(&cur.string("CPU")?);
            b.string(&cur.string("OS")?);
        }
        rtype::MX | rtype::AFSDB | 21 | rtype::KX => {
            b.u16(cur.u16("preference")?);
            b.name(cur.name("host name", origin)?);
        }
        rtype::TXT | rtype::SPF => txt(cur, &mut b)?,
        rtype::SRV => {
            b.u16(cur.u16("priority")?);
            b.u16(cur.u16("weight")?);
            b.u16(cur.u16("port")?);
            b.name(cur.name("target name", origin)?);
        }
        rtype::NAPTR => naptr(cur, origin, &mut b)?,
        rtype::CAA => caa(cur, &mut b)?,
        rtype::SSHFP => {
            b.u8(cur.u8("algorithm")?);
            b.u8(cur.u8("fingerprint type")?);
            b.bytes(&cur.hex("fingerprint", false)?);
        }
        rtype::TLSA | 53 => {
            b.u8(cur.u8("certificate usage")?);
            b.u8(cur.u8("selector")?);
            b.u8(cur.u8("matching type")?);
            b.bytes(&cur.hex("certificate association data", false)?);
        }
        rtype::DS | 59 => {
            b.u16(cur.u16("key tag")?);
            b.u8(cur.algorithm()?);
            b.u8(cur.u8("digest type")?);
            b.bytes(&cur.hex("digest", false)?);
        }
        rtype::DNSKEY | 25 | 60 => {
            let flags = cur.u16("flags")?;
            b.u16(flags);
            b.u8(cur.u8("protocol")?);
            b.u8(cur.algorithm()?);
            // RFC 2535 3.1.2: a KEY with both NOKEY bits set has no key.
            let no_key = t == 25 && flags & 0xc000 == 0xc000;
            b.bytes(&cur.base64("public key", no_key)?);
        }
        61 => b.bytes(&cur.base64("public key", false)?),
        256 => {
            b.u16(cur.u16("priority")?);
            b.u16(cur.u16("weight")?);
            b.bytes(&cur.quoted("target URI")?);
        }
        rtype::NSEC => {
            b.name(cur.name("next name", origin)?);
            b.bytes(&type_bitmap(cur)?);
        }
        rtype::RRSIG | 24 => rrsig(cur, origin, &mut b)?,
        _ => {
            return fail(
                cur.line,
                format!(
                    "record type {} is not supported in presentation format; write its data as RFC 3597 '\\# length hex'",
                    type_name(t)
                ),
            )
        }
    }
    cur.finish()?;
    b.finish(cur.line)
}

/// A dotted quad, strictly (no leading zeros, four parts), as BIND wants.
fn ipv4(cur: &mut Cursor) -> Res<[u8; 4]> {
    let tok = cur.next("IPv4 address")?;
    let parsed = std::str::from_utf8(&tok.text)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok());
    match parsed.filter(|_| !tok.quoted) {
        Some(addr) => Ok(addr.octets()),
        None => fail(
            tok.line,
            format!("bad IPv4 address '{}' in {}", tok.show(), cur.what),
        ),
    }
}

fn ipv6(cur: &mut Cursor) -> Res<[u8; 16]> {
    let tok = cur.next("IPv6 address")?;
    let parsed = std::str::from_utf8(&tok.text)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok());
    match parsed.filter(|_| !tok.quoted) {
        Some(addr) => Ok(addr.octets()),
        None => fail(
            tok.line,
            format!("bad IPv6 address '{}' in {}", tok.show(), cur.what),
        ),
    }
}

/// `mname rname serial refresh retry expire minimum`; the five numbers are
/// one 20-octet piece, which `Rdata::soa_*` rely on.
fn soa(cur: &mut Cursor, origin: &Name, b: &mut Builder) -> Res<()> {
    b.name(cur.name("primary server name (MNAME)", origin)?);
    b.name(cur.name("mailbox name (RNAME)", origin)?);
    b.u32(cur.number("serial", u32::MAX)?);
    for field in ["refresh", "retry", "expire", "minimum"] {
        b.u32(cur.duration(field)?);
    }
    Ok(())
}

/// One or more character-strings.
fn txt(cur: &mut Cursor, b: &mut Builder) -> Res<()> {
    b.string(&cur.string("text")?);
    while cur.peek().is_some() {
        b.string(&cur.string("text")?);
    }
    Ok(())
}

/// RFC 3403: order preference flags services regexp replacement.
fn naptr(cur: &mut Cursor, origin: &Name, b: &mut Builder) -> Res<()> {
    b.u16(cur.u16("order")?);
    b.u16(cur.u16("preference")?);
    b.string(&cur.string("flags")?);
    b.string(&cur.string("services")?);
    b.string(&cur.string("regexp")?);
    b.name(cur.name("replacement name", origin)?);
    Ok(())
}

/// RFC 8659: `flags tag value`; on the wire the value has no length octet.
fn caa(cur: &mut Cursor, b: &mut Builder) -> Res<()> {
    b.u8(cur.u8("flags")?);
    let tag_tok = cur.next("tag")?;
    let tag = unescape_token(tag_tok)?;
    if tag_tok.quoted
        || tag.is_empty()
        || tag.len() > MAX_STRING
        || !tag.iter().all(u8::is_ascii_alphanumeric)
    {
        return fail(
            tag_tok.line,
            format!(
                "bad tag '{}' in CAA record: expected 1 to 255 letters and digits",
                tag_tok.show()
            ),
        );
    }
    b.string(&tag);
    b.bytes(&cur.raw("value")?);
    Ok(())
}

/// RFC 4034 3.2: type covered, algorithm, labels, original TTL, expiration,
/// inception, key tag, signer, signature.
fn rrsig(cur: &mut Cursor, origin: &Name, b: &mut Builder) -> Res<()> {
    b.u16(cur.rr_type("type covered")?);
    b.u8(cur.algorithm()?);
    b.u8(cur.u8("labels")?);
    b.u32(cur.duration("original TTL")?);
    b.u32(cur.sig_time("expiration")?);
    b.u32(cur.sig_time("inception")?);
    b.u16(cur.u16("key tag")?);
    b.name(cur.name("signer name", origin)?);
    b.bytes(&cur.base64("signature", false)?);
    Ok(())
}

/// The NSEC type bitmap (RFC 4034 4.1.2): per 256-type window, the window
/// number, the bitmap length and the bits of the types present.
fn type_bitmap(cur: &mut Cursor) -> Res<Vec<u8>> {
    let mut types = std::collections::BTreeSet::new();
    types.insert(cur.rr_type("type list")?);
    while cur.peek().is_some() {
        types.insert(cur.rr_type("type")?);
    }
    let mut out = Vec::new();
    let mut window_types: Vec<u16> = Vec::new();
    let mut flush = |types: &mut Vec<u16>| {
        let Some(&last) = types.last() else { return };
        let mut bits = vec![0u8; usize::from(last & 0xff) / 8 + 1];
        for t in types.drain(..) {
            let low = usize::from(t & 0xff);
            if let Some(byte) = bits.get_mut(low / 8) {
                *byte |= 0x80 >> (low % 8);
            }
        }
        out.push((last >> 8) as u8);
        out.push(bits.len() as u8);
        out.extend_from_slice(&bits);
    };
    for t in types {
        if window_types.first().is_some_and(|f| f >> 8 != t >> 8) {
            flush(&mut window_types);
        }
        window_types.push(t);
    }
    flush(&mut window_types);
    Ok(out)
}

/// `\# length hex` (RFC 3597 section 5), accepted for any type as BIND does.
fn generic_rdata(t: u16, cur: &mut Cursor) -> Res<Rdata> {
    cur.next("\\#")?;
    let len = cur.number("generic data length", u32::from(u16::MAX))? as usize;
    let data = cur.hex("generic data", true)?;
    if data.len() != len {
        return fail(
            cur.line,
            format!(
                "generic data length {len} does not match the {} octets of hex data in {}",
                data.len(),
                cur.what
            ),
        );
    }
    rdata_from_wire(t, &data)
        .or_else(|why| fail(cur.line, format!("bad generic data for {}: {why}", cur.what)))
}

/// The wire layout of the types vigia knows, enough to find the names in
/// generic data and to reject data of the wrong shape.
#[derive(Clone, Copy)]
enum Part {
    Fixed(usize),
    Name,
    Str,
    /// One or more character-strings (TXT).
    Strs,
    /// Everything left, possibly nothing.
    Rest,
}

fn wire_layout(t: u16) -> &'static [Part] {
    use Part::*;
    match t {
        rtype::A => &[Fixed(4)],
        rtype::AAAA => &[Fixed(16)],
        rtype::NS | 3 | 4 | rtype::CNAME | 7 | 8 | 9 | rtype::PTR | rtype::DNAME => &[Name],
        rtype::SOA => &[Name, Name, Fixed(20)],
        14 | rtype::RP => &[Name, Name],
        rtype::HINFO => &[Str, Str],
        rtype::MX | rtype::AFSDB | 21 | rtype::KX => &[Fixed(2), Name],
        rtype::TXT | rtype::SPF => &[Strs],
        rtype::SRV => &[Fixed(6), Name],
        rtype::NAPTR => &[Fixed(4), Str, Str, Str, Name],
        rtype::CAA => &[Fixed(1), Str, Rest],
        rtype::SSHFP => &[Fixed(2), Rest],
        rtype::TLSA | 53 => &[Fixed(3), Rest],
        rtype::DS | 59 | rtype::DNSKEY | 25 | 60 | 256 => &[Fixed(4), Rest],
        rtype::NSEC => &[Name, Rest],
        rtype::RRSIG | 24 => &[Fixed(18), Name, Rest],
        _ => &[Rest],
    }
}

/// Splits wire-format RDATA of type `t` into fields following its layout.
fn rdata_from_wire(t: u16, data: &[u8]) -> Result<Rdata, String> {
    let mut b = Builder::new(t);
    let mut rest = data;
    for part in wire_layout(t) {
        rest = match *part {
            Part::Fixed(n) => {
                let (head, tail) = rest.split_at_checked(n).ok_or("data too short")?;
                b.bytes(head);
                tail
            }
            Part::Name => {
                let len = wire_name_len(rest).ok_or("invalid or compressed domain name")?;
                let (head, tail) = rest.split_at_checked(len).ok_or("data too short")?;
                b.name(Name::from_wire(head).ok_or("invalid domain name")?);
                tail
            }
            Part::Str => wire_string(rest, &mut b)?,
            Part::Strs => {
                let mut tail = wire_string(rest, &mut b)?;
                while !tail.is_empty() {
                    tail = wire_string(tail, &mut b)?;
                }
                tail
            }
            Part::Rest => {
                b.bytes(rest);
                &[]
            }
        };
    }
    if !rest.is_empty() {
        return Err(format!("{} octets left over", rest.len()));
    }
    b.finish(0).map_err(|f| f.reason)
}

/// One length-prefixed character-string from wire data.
fn wire_string<'d>(data: &'d [u8], b: &mut Builder) -> Result<&'d [u8], String> {
    let (&len, tail) = data.split_first().ok_or("missing character-string")?;
    let (s, tail) = tail
        .split_at_checked(usize::from(len))
        .ok_or("character-string runs past the end")?;
    b.string(s);
    Ok(tail)
}

fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Strict RFC 4648 base64: padded to a multiple of 4, `=` only at the end,
/// and unused bits zero (BIND rejects the same inputs).
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    if text.len() % 4 != 0 {
        return None;
    }
    let quads = text.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut v = 0u32;
        for &c in quad.iter().take(4 - pad) {
            v = (v << 6) | value(c)?;
        }
        v <<= 6 * pad as u32;
        let unused = match pad {
            1 => 0xff,
            2 => 0xffff,
            _ => 0,
        };
        if v & unused != 0 {
            return None;
        }
        let bytes = v.to_be_bytes();
        out.extend_from_slice(bytes.get(1..4 - pad).unwrap_or(&[]));
    }
    Some(out)
}

/// `YYYYMMDDHHmmSS` (UTC) to seconds since 1970, modulo 2^32 as RFC 4034
/// 3.1.5 says.
fn parse_timestamp(text: &[u8]) -> Option<u32> {
    if !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        text.get(from..to)?
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hour, minute, second) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
    if year < 1970
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some((secs & 0xffff_ffff) as u32)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "db.test";

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    fn origin() -> Name {
        n("example.test.")
    }

    fn try_parse(text: &str) -> Result<Vec<SourceRecord>, ParseError> {
        parse_str(text, Path::new(FILE), &origin(), Path::new("/nonexistent-base"))
    }

    fn parse(text: &str) -> Vec<SourceRecord> {
        try_parse(text).unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    fn err(text: &str) -> String {
        match try_parse(text) {
            Ok(recs) => panic!("expected an error, got {} records", recs.len()),
            Err(e) => e.to_string(),
        }
    }

    /// The record data of a single record line (with a $TTL in front).
    fn rdata(line: &str) -> Rdata {
        let recs = parse(&format!("$TTL 300\n{line}\n"));
        assert_eq!(recs.len(), 1, "{line}");
        recs.into_iter().next().unwrap().record.rdata
    }

    fn wire(line: &str) -> Vec<u8> {
        rdata(line).to_wire()
    }

    fn name_field(name: &str, compress: bool) -> Field {
        Field::Name {
            name: n(name),
            compress,
        }
    }

    fn bytes_field(b: &[u8]) -> Field {
        Field::Bytes(b.into())
    }

    // ---- directives -----------------------------------------------------

    #[test]
    fn origin_directive_is_relative_to_current_origin() {
        let recs = parse(
            "$TTL 1\na A 1.2.3.4\n$ORIGIN sub\nb A 1.2.3.4\n$ORIGIN other.test.\nc A 1.2.3.4\n@ A 1.2.3.4\n",
        );
        let owners: Vec<String> = recs.iter().map(|r| r.record.owner.to_string()).collect();
        assert_eq!(
            owners,
            [
                "a.example.test.",
                "b.sub.example.test.",
                "c.other.test.",
                "other.test."
            ]
        );
    }

    #[test]
    fn ttl_directive_accepts_bind_units_in_any_case() {
        let recs = parse("$TTL 1w2d3h4m5s\na A 1.2.3.4\n$TTL 1H\nb A 1.2.3.4\n$TTL 90\nc A 1.2.3.4\n");
        let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
        assert_eq!(ttls, [604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5, 3_600, 90]);
    }

    #[test]
    fn duration_syntax_matches_bind() {
        assert_eq!(parse_duration(b"0"), Some(0));
        assert_eq!(parse_duration(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_duration(b"4294967296"), None);
        assert_eq!(
            parse_duration(b"1h30"),
            None,
            "BIND rejects a bare number after a unit"
        );
        assert_eq!(parse_duration(b"1x"), None);
        assert_eq!(parse_duration(b"h"), None);
        assert_eq!(parse_duration(b"2D"), Some(172_800));
        assert_eq!(parse_duration(b""), None);
    }

    #[test]
    fn ttl_above_maxttl_becomes_zero() {
        let recs = parse("a 3000000000 A 1.2.3.4\n$TTL 4294967295\nb A 1.2.3.4\n");
        assert_eq!(recs[0].record.ttl, 0);
        assert_eq!(recs[1].record.ttl, 0);
    }

    #[test]
    fn omitted_ttl_uses_last_explicit_ttl_without_ttl_directive() {
        let recs = parse("@ 3600 SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 100 A 1.2.3.4\nx A 1.2.3.5\n");
        let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
        assert_eq!(ttls, [3600, 3600, 100, 100]);
    }

    #[test]
    fn omitted_ttl_uses_soa_minimum_when_nothing_else_is_known() {
        // BIND: the SOA MINIMUM becomes the default, even after explicit TTLs.
        let recs = parse("@ SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 100 A 1.2.3.4\nx A 1.2.3.5\n");
        let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
        assert_eq!(ttls, [5, 5, 100, 5]);
    }

    #[test]
    fn ttl_directive_wins_over_last_explicit_ttl() {
        let recs = parse("$TTL 60\na 100 A 1.2.3.4\nb A 1.2.3.4\n");
        assert_eq!(recs[1].record.ttl, 60);
    }

    #[test]
    fn missing_ttl_is_an_error_at_the_record_line() {
        let e = err("; comment\n\nfoo A 1.2.3.4\n");
        assert!(e.starts_with("db.test:3: no TTL specified"), "{e}");
    }

    #[test]
    fn include_with_origin_argument_applies_only_inside() {
        let dir = temp_dir("include-origin");
        std::fs::write(
            dir.join("inc.db"),
            "$TTL 77\nfoo A 1.2.3.4\n$ORIGIN deeper\nbar A 1.2.3.5\n",
        )
        .unwrap();
        let text = "$TTL 300\nns1 A 10.0.0.1\n$INCLUDE inc.db sub\n  A 10.0.0.2\nafter A 10.0.0.3\n";
        let recs = parse_str(text, Path::new(FILE), &origin(), &dir).unwrap();
        let got: Vec<(String, u32, String, usize)> = recs
            .iter()
            .map(|r| {
                let file = r.at.file.file_name().unwrap().to_string_lossy().into_owned();
                (r.record.owner.to_string(), r.record.ttl, file, r.at.line)
            })
            .collect();
        let want = [
            ("ns1.example.test.", 300, "db.test", 2),
            ("foo.sub.example.test.", 77, "inc.db", 2),
            ("bar.deeper.sub.example.test.", 77, "inc.db", 4),
            // Owner and origin come back after the include; $TTL does not (BIND).
            ("ns1.example.test.", 77, "db.test", 4),
            ("after.example.test.", 77, "db.test", 5),
        ];
        let want: Vec<(String, u32, String, usize)> = want
            .iter()
            .map(|(o, t, f, l)| (o.to_string(), *t, f.to_string(), *l))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn include_inherits_the_current_owner() {
        let dir = temp_dir("include-owner");
        std::fs::write(dir.join("inc.db"), "   A 1.2.3.5\n").unwrap();
        let recs = parse_str(
            "$TTL 1\nns2 A 1.2.3.4\n$INCLUDE inc.db\n",
            Path::new(FILE),
            &origin(),
            &dir,
        )
        .unwrap();
        assert_eq!(recs[1].record.owner, n("ns2.example.test."));
    }

    #[test]
    fn include_errors_name_the_included_file_and_line() {
        let dir = temp_dir("include-error");
        let inc = dir.join("bad.db");
        std::fs::write(&inc, "ok A 1.2.3.4\nbad A 1.2.3\n").unwrap();
        let e = parse_str("$TTL 1\n$INCLUDE bad.db\n", Path::new(FILE), &origin(), &dir).unwrap_err();
        assert_eq!(e.file, inc);
        assert_eq!(e.line, 2);
        assert_eq!(e.reason, "bad IPv4 address '1.2.3' in A record");
    }

    #[test]
    fn missing_include_file_is_reported_at_the_include_line() {
        let e = err("$TTL 1\n\n$INCLUDE nope.db\n");
        assert!(
            e.starts_with("db.test:3: cannot read $INCLUDE file '/nonexistent-base/nope.db'"),
            "{e}"
        );
    }

    #[test]
    fn recursive_include_stops_at_depth_20() {
        let dir = temp_dir("include-loop");
        std::fs::write(dir.join("loop.db"), "$INCLUDE loop.db\n").unwrap();
        let e = parse_str("$INCLUDE loop.db\n", Path::new(FILE), &origin(), &dir).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("nested more than 20 deep"), "{e}");
        assert!(e.file.ends_with("loop.db"));
    }

    #[test]
    fn generate_expands_dollar_and_modifiers() {
        let recs = parse("$TTL 1\n$GENERATE 1-3 host$ A 10.0.0.$\n");
        let got: Vec<(String, Vec<u8>)> = recs
            .iter()
            .map(|r| (r.record.owner.to_string(), r.record.rdata.to_wire()))
            .collect();
        assert_eq!(
            got,
            [
                ("host1.example.test.".to_string(), vec![10, 0, 0, 1]),
                ("host2.example.test.".to_string(), vec![10, 0, 0, 2]),
                ("host3.example.test.".to_string(), vec![10, 0, 0, 3]),
            ]
        );
        // Same outputs as named-checkzone 9.18 for these templates.
        assert_eq!(substitute(b"h\\$${10,3,x}", 1, 1).unwrap(), b"h\\$00b");
        assert_eq!(substitute(b"h$$", 1, 1).unwrap(), b"h$");
        assert_eq!(substitute(b"${-1}", 5, 1).unwrap(), b"4");
        assert_eq!(substitute(b"${0,4,n}", 10, 1).unwrap(), b"a.0.");
        assert_eq!(substitute(b"${0,0,N}", 0xab, 1).unwrap(), b"B.A");
        assert_eq!(substitute(b"${0,6,o}", 8, 1).unwrap(), b"000010");
        assert!(substitute(b"${-10}", 5, 1).is_err());
        assert!(substitute(b"${1,2,q}", 5, 1).is_err());
        assert!(substitute(b"${1", 5, 1).is_err());
    }

    #[test]
    fn generate_with_step_ttl_class_and_quoted_rhs() {
        let recs = parse("$TTL 1\n$GENERATE 2-6/2 h$ 60 IN TXT \"foo $\"\n");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].record.owner, n("h6.example.test."));
        assert_eq!(recs[2].record.ttl, 60);
        // BIND reads the substituted text again: two strings.
        assert_eq!(recs[2].record.rdata.to_wire(), b"\x03foo\x016");
    }

    #[test]
    fn generate_errors() {
        assert!(err("$GENERATE 5-1 h$ A 10.0.0.$\n").starts_with("db.test:1: bad $GENERATE range '5-1'"));
        assert!(err("$GENERATE 0-100000 h$ A 10.0.0.$\n").contains("more than 65536 records"));
        assert!(err("$TTL 1\n$GENERATE 1-300 h$ A 10.0.0.$\n")
            .starts_with("db.test:2: bad IPv4 address '10.0.0.256'"));
    }

    #[test]
    fn unknown_directive_is_an_error() {
        assert_eq!(err("$TTL 1\n$FOO bar\n"), "db.test:2: unknown directive '$FOO'");
        assert_eq!(err("$TTL 1 2\n"), "db.test:1: extra text '2' after $TTL");
        assert_eq!(err("$ORIGIN\n"), "db.test:1: missing domain name in $ORIGIN");
    }

    // ---- lines, owners, TTL and class ------------------------------------

    #[test]
    fn omitted_owner_repeats_previous_owner() {
        let recs = parse("$TTL 1\nwww A 1.2.3.4\n\tAAAA ::1\n  TXT hi\n");
        assert!(recs.iter().all(|r| r.record.owner == n("www.example.test.")));
        assert_eq!(recs[2].record.rtype, rtype::TXT);
    }

    #[test]
    fn omitted_owner_at_start_is_an_error() {
        let e = err("$TTL 1\n  A 1.2.3.4\n");
        assert!(e.starts_with("db.test:2: no owner name"), "{e}");
    }

    #[test]
    fn ttl_and_class_in_either_order_and_optional() {
        let recs = parse("$TTL 5\na IN 60 A 1.2.3.4\nb 60 IN A 1.2.3.4\nc IN A 1.2.3.4\nd 1m A 1.2.3.4\ne A 1.2.3.4\nf CLASS1 A 1.2.3.4\n");
        let ttls: Vec<u32> = recs.iter().map(|r| r.record.ttl).collect();
        assert_eq!(ttls, [60, 60, 5, 60, 5, 5]);
        assert!(recs.iter().all(|r| r.record.class == CLASS_IN));
    }

    #[test]
    fn other_classes_are_rejected_by_name() {
        assert_eq!(
            err("$TTL 1\nfoo CH A 1.2.3.4\n"),
            "db.test:2: class 'CH' is not supported (only IN)"
        );
        assert_eq!(
            err("foo 5 hs TXT x\n"),
            "db.test:1: class 'hs' is not supported (only IN)"
        );
    }

    #[test]
    fn bad_ttl_names_the_token() {
        assert_eq!(
            err("foo 1x A 1.2.3.4\n"),
            "db.test:1: TTL '1x' is not a number or BIND duration (like 1w2d3h4m5s) up to 4294967295"
        );
        assert!(err("$TTL 1h30\n").starts_with("db.test:1: TTL '1h30' is not"));
    }

    #[test]
    fn type_mnemonics_any_case_and_typennn() {
        assert_eq!(parse("$TTL 1\na a 1.2.3.4\n")[0].record.rtype, rtype::A);
        assert_eq!(parse("$TTL 1\na Aaaa ::1\n")[0].record.rtype, rtype::AAAA);
        let r = &parse("$TTL 1\na TYPE1 1.2.3.4\n")[0].record;
        assert_eq!((r.rtype, r.rdata.to_wire()), (1, vec![1, 2, 3, 4]));
        assert_eq!(parse("$TTL 1\na spf x\n")[0].record.rtype, rtype::SPF);
    }

    #[test]
    fn unknown_and_meta_types_are_errors() {
        assert_eq!(
            err("$TTL 1\nfoo AAA 1.2.3.4\n"),
            "db.test:2: unknown record type 'AAA'"
        );
        assert_eq!(
            err("$TTL 1\nfoo TYPE70000 x\n"),
            "db.test:2: unknown record type 'TYPE70000'"
        );
        assert!(err("$TTL 1\nfoo ANY x\n").contains("class 'ANY' is not supported"));
        assert!(err("$TTL 1\nfoo IN AXFR x\n").contains("record type 'AXFR' is a query-only type"));
        assert!(err("$TTL 1\nfoo TYPE65280 00\n")
            .contains("record type TYPE65280 is not supported in presentation format"));
        assert_eq!(err("$TTL 1\nfoo\n"), "db.test:2: missing record type in record");
    }

    #[test]
    fn parentheses_span_lines_and_records_start_where_they_start() {
        let text =
            "$TTL 1\n@ IN SOA ns1 host (\n  2024 ; serial\n  1h 2h ( 3w ) ; nested\n  5m )\nnext A 1.2.3.4\n";
        let recs = parse(text);
        assert_eq!(recs[0].at.line, 2);
        assert_eq!(recs[0].record.rdata.soa_serial(), Some(2024));
        assert_eq!(recs[0].record.rdata.soa_expire(), Some(3 * 604_800));
        assert_eq!(recs[0].record.rdata.soa_minimum(), Some(300));
        assert_eq!(recs[1].at.line, 6);
    }

    #[test]
    fn unbalanced_parentheses_are_reported_where_they_are() {
        assert_eq!(
            err("$TTL 1\n\nfoo TXT ( a\n b\n"),
            "db.test:3: unbalanced parentheses: '(' is never closed"
        );
        assert_eq!(
            err("$TTL 1\nfoo TXT a )\n"),
            "db.test:2: unbalanced parentheses: ')' without '('"
        );
    }

    #[test]
    fn comments_blank_lines_crlf_and_tabs() {
        let text = "; header\r\n$TTL 1\r\n\r\n\t; only a comment\r\nfoo\tIN\tA\t1.2.3.4 ; trailing\r\nbar TXT \"a;b\"\r\n";
        let recs = parse(text);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].record.rdata.to_wire(), [1, 2, 3, 4]);
        assert_eq!(recs[0].at.line, 5);
        assert_eq!(recs[1].record.rdata.to_wire(), b"\x03a;b");
    }

    #[test]
    fn quoted_strings_with_escapes() {
        assert_eq!(
            wire(r#"t TXT "say \"hi\"" "back\\slash" "\065\032z" "" unq\032uoted"#),
            b"\x08say \"hi\"\x0aback\\slash\x03A z\x00\x09unq uoted"
        );
    }

    #[test]
    fn unterminated_quote_is_reported_at_its_line() {
        assert_eq!(
            err("$TTL 1\nfoo TXT \"abc\nbar A 1.2.3.4\n"),
            "db.test:2: unterminated quoted string"
        );
        assert_eq!(
            err("$TTL 1\nfoo TXT \"abc"),
            "db.test:2: unterminated quoted string"
        );
    }

    #[test]
    fn escapes_in_owner_names() {
        let recs = parse("$TTL 1\na\\032b TXT x\na\\.b TXT x\n\\@ TXT x\n");
        let first: Vec<Vec<u8>> = recs
            .iter()
            .map(|r| r.record.owner.labels().next().unwrap().to_vec())
            .collect();
        assert_eq!(first, [b"a b".to_vec(), b"a.b".to_vec(), b"@".to_vec()]);
        assert_eq!(recs[1].record.owner.label_count(), 3);
    }

    #[test]
    fn non_ascii_bytes_survive_in_names_and_strings() {
        let recs = parse_str(
            "$TTL 1\ncaf\u{e9} TXT \"\u{e9}\"\n",
            Path::new(FILE),
            &origin(),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(recs[0].record.owner.labels().next().unwrap(), "café".as_bytes());
        assert_eq!(recs[0].record.rdata.to_wire(), b"\x02\xc3\xa9");
        let raw = parse_bytes(
            b"$TTL 1\nx\\\xff TXT \xfe\n",
            Path::new(FILE),
            &origin(),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(raw[0].record.owner.labels().next().unwrap(), b"x\xff");
        assert_eq!(raw[0].record.rdata.to_wire(), b"\x01\xfe");
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        let long = "a".repeat(64);
        assert_eq!(
            err(&format!("$TTL 1\n{long} A 1.2.3.4\n")),
            format!("db.test:2: bad owner name '{long}': label longer than 63 octets")
        );
        let too_long = "abcdefghi.".repeat(26);
        assert_eq!(
            err(&format!("$TTL 1\nfoo CNAME {too_long}\n")),
            format!("db.test:2: bad target name in CNAME record '{too_long}': name longer than 255 octets")
        );
        assert!(err("$TTL 1\na..b A 1.2.3.4\n").starts_with("db.test:2: bad owner name 'a..b': empty label"));
        assert!(
            err("$TTL 1\na\\25x A 1.2.3.4\n").starts_with("db.test:2: bad owner name 'a\\25x': bad escape")
        );
        assert!(err("$TTL 1\n\"quoted\" A 1.2.3.4\n").contains("must not be quoted"));
    }

    // ---- record data ------------------------------------------------------

    #[test]
    fn a_records_are_strict_dotted_quads() {
        assert_eq!(wire("a A 192.0.2.1"), [192, 0, 2, 1]);
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.256",
            "a.b.c.d",
            "\"1.2.3.4\"",
        ] {
            let want = format!(
                "db.test:2: bad IPv4 address '{}' in A record",
                bad.trim_matches('"')
            );
            assert_eq!(err(&format!("$TTL 1\nfoo A {bad}\n")), want);
        }
    }

    #[test]
    fn aaaa_records() {
        let mut want = [0u8; 16];
        want[0] = 0x20;
        want[1] = 0x01;
        want[2] = 0x0d;
        want[3] = 0xb8;
        want[15] = 1;
        assert_eq!(wire("a AAAA 2001:db8::1"), want);
        assert_eq!(wire("a AAAA ::ffff:1.2.3.4")[12..], [1, 2, 3, 4]);
        assert_eq!(
            err("$TTL 1\nfoo AAAA 2001:db8:::1\n"),
            "db.test:2: bad IPv6 address '2001:db8:::1' in AAAA record"
        );
    }

    #[test]
    fn single_name_types_keep_case_and_compression_flag() {
        for (t, compress) in [
            ("NS", true),
            ("CNAME", true),
            ("PTR", true),
            ("DNAME", false),
            ("MB", true),
            ("MG", true),
            ("MR", true),
        ] {
            let rd = rdata(&format!("a {t} Target"));
            assert_eq!(rd.fields, [name_field("Target.example.test.", compress)], "{t}");
        }
        assert_eq!(rdata("a NS ns.other.").fields, [name_field("ns.other.", true)]);
    }

    #[test]
    fn soa_fields_and_accessors() {
        let rd = rdata("@ SOA ns1 hostmaster.example.test. 2024010101 1h 30m 2w 300");
        assert_eq!(rd.fields.len(), 3);
        assert_eq!(rd.fields[0], name_field("ns1.example.test.", true));
        assert_eq!(rd.fields[1], name_field("hostmaster.example.test.", true));
        assert_eq!(rd.soa_serial(), Some(2_024_010_101));
        assert_eq!(rd.soa_refresh(), Some(3600));
        assert_eq!(rd.soa_retry(), Some(1800));
        assert_eq!(rd.soa_expire(), Some(1_209_600));
        assert_eq!(rd.soa_minimum(), Some(300));
        assert_eq!(
            err("$TTL 1\n@ SOA ns1 host 1x 2 3 4 5\n"),
            "db.test:2: bad serial '1x' in SOA record: expected a number from 0 to 4294967295"
        );
        assert_eq!(
            err("$TTL 1\n@ SOA ns1 host 1 2 3 4\n"),
            "db.test:2: missing minimum in SOA record"
        );
    }

    #[test]
    fn mx_afsdb_kx_rt() {
        let rd = rdata("a MX 10 mail");
        assert_eq!(
            rd.fields,
            [bytes_field(&[0, 10]), name_field("mail.example.test.", true)]
        );
        for t in ["AFSDB", "KX", "RT"] {
            let rd = rdata(&format!("a {t} 1 host"));
            assert_eq!(
                rd.fields,
                [bytes_field(&[0, 1]), name_field("host.example.test.", false)],
                "{t}"
            );
        }
        assert_eq!(
            err("$TTL 1\na MX 70000 mail\n"),
            "db.test:2: bad preference '70000' in MX record: expected a number from 0 to 65535"
        );
    }

    #[test]
    fn txt_and_spf_strings() {
        assert_eq!(wire("a TXT \"v=spf1 -all\""), b"\x0bv=spf1 -all");
        assert_eq!(wire("a SPF one two"), b"\x03one\x03two");
        let max = "x".repeat(255);
        assert_eq!(wire(&format!("a TXT {max} \"{max}\"")).len(), 512);
        let e = err(&format!("$TTL 1\na TXT \"{max}y\"\n"));
        assert_eq!(
            e,
            "db.test:2: text in TXT record is 256 octets long; a character-string holds at most 255"
        );
        assert_eq!(err("$TTL 1\na TXT\n"), "db.test:2: missing text in TXT record");
        assert_eq!(
            err("$TTL 1\na TXT \"bad\\2\"\n"),
            "db.test:2: bad escape in 'bad\\2'"
        );
    }

    #[test]
    fn hinfo_rp_minfo() {
        assert_eq!(wire("a HINFO \"Intel x86\" Linux"), b"\x09Intel x86\x05Linux");
        let rd = rdata("a RP admin.example.test. txt");
        assert_eq!(
            rd.fields,
            [
                name_field("admin.example.test.", false),
                name_field("txt.example.test.", false)
            ]
        );
        assert_eq!(rdata("a MINFO r e").fields.len(), 2);
    }

    #[test]
    fn srv_target_is_not_compressed() {
        let rd = rdata("_sip._tcp SRV 10 60 5060 sip");
        assert_eq!(
            rd.fields,
            [
                bytes_field(&[0, 10, 0, 60, 0x13, 0xc4]),
                name_field("sip.example.test.", false)
            ]
        );
        assert_eq!(rdata("_x._tcp SRV 0 0 0 .").fields[1], name_field(".", false));
    }

    #[test]
    fn naptr() {
        let rd = rdata(r#"a NAPTR 100 10 "S" "SIP+D2T" "" _sip._tcp"#);
        assert_eq!(
            rd.fields,
            [
                bytes_field(b"\x00\x64\x00\x0a\x01S\x07SIP+D2T\x00"),
                name_field("_sip._tcp.example.test.", false)
            ]
        );
    }

    #[test]
    fn caa_value_is_stored_without_length() {
        assert_eq!(
            wire(r#"a CAA 0 issue "letsencrypt.org""#),
            b"\x00\x05issueletsencrypt.org"
        );
        assert_eq!(wire("a CAA 128 tbs unquoted"), b"\x80\x03tbsunquoted");
        assert_eq!(wire(r#"a CAA 0 iodef "mailto:a b""#), b"\x00\x05iodefmailto:a b");
        assert_eq!(
            err("$TTL 1\na CAA 0 is-sue x\n"),
            "db.test:2: bad tag 'is-sue' in CAA record: expected 1 to 255 letters and digits"
        );
        assert_eq!(
            err("$TTL 1\na CAA 0 issue\n"),
            "db.test:2: missing value in CAA record"
        );
    }

    #[test]
    fn sshfp_tlsa_ds_with_hex_split_by_blanks() {
        assert_eq!(
            wire("a SSHFP 1 2 0123 4567 89AB"),
            [1, 2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab]
        );
        assert_eq!(
            wire("_443._tcp TLSA 3 1 1 ( DEAD\n beef )"),
            [3, 1, 1, 0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(wire("a SMIMEA 3 1 1 00"), [3, 1, 1, 0]);
        assert_eq!(wire("a DS 12345 13 2 00FF"), [0x30, 0x39, 13, 2, 0, 0xff]);
        assert_eq!(
            wire("a CDS 12345 ECDSAP256SHA256 2 00FF"),
            [0x30, 0x39, 13, 2, 0, 0xff]
        );
        assert_eq!(
            err("$TTL 1\na DS 1 8 2 ABC\n"),
            "db.test:2: bad digest 'ABC' in DS record: not an even number of hex digits"
        );
        assert_eq!(
            err("$TTL 1\na DS 1 8 2\n"),
            "db.test:2: missing digest in DS record"
        );
        assert!(err("$TTL 1\na SSHFP 1 1 zz\n").starts_with("db.test:2: bad fingerprint 'zz'"));
    }

    #[test]
    fn dnskey_key_cdnskey_openpgpkey_base64() {
        assert_eq!(wire("a DNSKEY 257 3 13 AwEA AQ=="), [1, 1, 3, 13, 3, 1, 0, 1]);
        assert_eq!(wire("a CDNSKEY 256 3 RSASHA256 AQID"), [1, 0, 3, 8, 1, 2, 3]);
        assert_eq!(wire("a KEY 49152 3 8"), [0xc0, 0, 3, 8], "NOKEY: no key data");
        assert_eq!(
            err("$TTL 1\na KEY 256 3 8\n"),
            "db.test:2: missing public key in KEY record"
        );
        assert_eq!(wire("a OPENPGPKEY AAAA"), [0, 0, 0]);
        assert_eq!(
            err("$TTL 1\na DNSKEY 257 3 13 AwEAAa==\n"),
            "db.test:2: bad base64 public key in DNSKEY record"
        );
        assert!(err("$TTL 1\na DNSKEY 257 3 13 AwEAAQ\n").contains("bad base64"));
    }

    #[test]
    fn base64_decoder_is_strict() {
        assert_eq!(decode_base64(b""), Some(vec![]));
        assert_eq!(decode_base64(b"TWFu"), Some(b"Man".to_vec()));
        assert_eq!(decode_base64(b"TWE="), Some(b"Ma".to_vec()));
        assert_eq!(decode_base64(b"TQ=="), Some(b"M".to_vec()));
        assert_eq!(decode_base64(b"TR=="), None, "unused bits must be zero");
        assert_eq!(decode_base64(b"TQ==TQ=="), None, "padding only at the end");
        assert_eq!(decode_base64(b"T==="), None);
        assert_eq!(decode_base64(b"TQ"), None);
        assert_eq!(decode_base64(b"T!=="), None);
    }

    #[test]
    fn uri_nsec_rrsig() {
        assert_eq!(
            wire("a URI 10 1 \"https://example.test/\""),
            b"\x00\x0a\x00\x01https://example.test/"
        );
        // RFC 4034 section 4.3 example bitmap.
        let rd = rdata("host NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )");
        let mut bitmap = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        bitmap.extend([0u8; 26]);
        bitmap.push(0x20);
        assert_eq!(
            rd.fields,
            [name_field("host.example.com.", false), bytes_field(&bitmap)]
        );
        let rd = rdata("host RRSIG A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. AQID )");
        let mut head = vec![0, 1, 5, 3, 0, 1, 0x51, 0x80];
        head.extend(1_048_354_263u32.to_be_bytes());
        head.extend(1_045_762_263u32.to_be_bytes());
        head.extend(2642u16.to_be_bytes());
        assert_eq!(
            rd.fields,
            [
                bytes_field(&head),
                name_field("example.com.", false),
                bytes_field(&[1, 2, 3])
            ]
        );
        assert!(err("$TTL 1\nh RRSIG A 5 3 1 20031322173103 1 1 e. AQID\n")
            .contains("bad expiration '20031322173103'"));
    }

    #[test]
    fn extra_and_missing_fields() {
        assert_eq!(
            err("$TTL 1\na A 1.2.3.4 5.6.7.8\n"),
            "db.test:2: extra text '5.6.7.8' after A record"
        );
        assert_eq!(
            err("$TTL 1\na MX 10\n"),
            "db.test:2: missing host name in MX record"
        );
        assert_eq!(
            err("$TTL 1\na (\n MX 10\n )\n"),
            "db.test:3: missing host name in MX record"
        );
    }

    #[test]
    fn details_where_bind_is_strict() {
        // Each of these is refused by named-checkzone 9.18 as well.
        assert_eq!(
            err("$TTL 1\na TYPE0 \\# 0\n"),
            "db.test:2: record type 'TYPE0' (0) is reserved"
        );
        assert_eq!(
            err("$TTL 1\na URI 1 1 x\n"),
            "db.test:2: target URI 'x' in URI record must be a quoted string"
        );
        assert_eq!(
            err("$TTL 1\na NSEC b\n"),
            "db.test:2: missing type list in NSEC record"
        );
        assert!(err("$TTL 1\na CAA 0 \"issue\" x\n").starts_with("db.test:2: bad tag 'issue' in CAA record"));
        // A backslash escapes a newline only inside quotes.
        assert_eq!(err("$TTL 1\na TXT x\\\n b\n"), "db.test:2: bad escape in 'x\\'");
        let recs = parse("$TTL 1\na TXT \"x\\\ny\"\nb A 192.0.2.1\n");
        assert_eq!(recs[0].record.rdata.to_wire(), b"\x03x\ny");
        assert_eq!(recs[1].at.line, 4);
    }

    // ---- RFC 3597 generic data -------------------------------------------

    #[test]
    fn generic_data_for_known_and_unknown_types() {
        assert_eq!(rdata(r"a A \# 4 0A000001"), rdata("a A 10.0.0.1"));
        let rd = rdata(r"a TYPE65280 \# 3 ABCDEF");
        assert_eq!(rd.fields, [bytes_field(&[0xab, 0xcd, 0xef])]);
        assert_eq!(rdata(r"a TYPE65281 \# 0").wire_len(), 0);
        // Names inside generic data of known types become name fields.
        let rd = rdata(r"a NS \# 5 03 666f6f 00");
        assert_eq!(rd.fields, [name_field("foo.", true)]);
        assert_eq!(rdata(r"a MX \# 7 000a 03666F6F00"), rdata("a MX 10 foo."));
        let rec = &parse("$TTL 1\na TYPE65280 \\# 1 00\n")[0].record;
        assert_eq!(rec.rtype, 65280);
    }

    #[test]
    fn generic_data_errors() {
        assert_eq!(
            err("$TTL 1\na A \\# 3 0A000001\n"),
            "db.test:2: generic data length 3 does not match the 4 octets of hex data in A record"
        );
        assert_eq!(
            err("$TTL 1\na A \\# 3 0A0000\n"),
            "db.test:2: bad generic data for A record: data too short"
        );
        assert_eq!(
            err("$TTL 1\na NS \\# 2 C00C\n"),
            "db.test:2: bad generic data for NS record: invalid or compressed domain name"
        );
        assert_eq!(
            err("$TTL 1\na TXT \\# 2 0300\n"),
            "db.test:2: bad generic data for TXT record: character-string runs past the end"
        );
        assert!(err("$TTL 1\na A \\# x 00\n").contains("bad generic data length 'x'"));
    }

    /// Every type read from text, written as `\# len hex` and read again,
    /// gives the same fields: the text parsers and the wire layouts agree.
    #[test]
    fn every_type_round_trips_through_generic_syntax() {
        let lines = [
            "a A 192.0.2.1",
            "a AAAA 2001:db8::1",
            "a NS ns",
            "a CNAME c",
            "a PTR p",
            "a DNAME d",
            "a MB m",
            "a MG m",
            "a MR m",
            "a MINFO r e",
            "@ SOA ns1 host 1 2 3 4 5",
            "a MX 10 mail",
            "a TXT one \"two 2\"",
            "a SPF x",
            "a HINFO cpu os",
            "a RP m t",
            "a AFSDB 1 afs",
            "a RT 1 rt",
            "a KX 1 kx",
            "a SRV 1 2 3 t",
            "a NAPTR 1 2 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .",
            "a CAA 0 issue \"ca.test\"",
            "a SSHFP 1 1 0123456789abcdef0123456789abcdef01234567",
            "a TLSA 3 1 1 00112233",
            "a SMIMEA 3 1 1 00112233",
            "a DS 1 8 2 00112233",
            "a CDS 1 8 2 00112233",
            "a DNSKEY 256 3 8 AQID",
            "a CDNSKEY 256 3 8 AQID",
            "a KEY 256 3 8 AQID",
            "a OPENPGPKEY AQID",
            "a URI 1 2 \"u\"",
            "a NSEC n A NS TYPE1234",
            "a RRSIG A 8 2 300 20300101000000 20200101000000 1 s. AQID",
        ];
        for line in lines {
            let text = parse(&format!("$TTL 1\n{line}\n")).remove(0).record;
            let hex: String = text.rdata.to_wire().iter().map(|b| format!("{b:02x}")).collect();
            let generic = format!("a {} \\# {} {hex}", type_name(text.rtype), text.rdata.wire_len());
            assert_eq!(rdata(&generic), text.rdata, "{line}");
        }
    }

    // ---- robustness --------------------------------------------------------

    /// A small deterministic fuzz: random edits of a valid zone must give
    /// records or an error, never a panic, in the parser or the checks.
    #[test]
    fn never_panics_on_mutated_input() {
        let seed = b"$TTL 1h\n$ORIGIN example.test.\n@ IN SOA ns1 h ( 1 2 3 4 5 )\n NS ns1\nns1 A 1.2.3.4\n\
            t TXT \"a\\\"b\" c\\032d\nm MX 10 m\ng TYPE65280 \\# 2 ABCD\nc CAA 0 issue \"x\"\n\
            $GENERATE 1-3 h${0,2,x} AAAA ::$\nk DNSKEY 257 3 8 AwEAAQ==\nn NSEC a A\n";
        let specials = b"\\\"();$ \t\n\r@.#0123456789ABCabcxyz{},-/=";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // VIGIA_FUZZ_ITERS=1000000 for a longer run.
        let iterations = std::env::var("VIGIA_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        for _ in 0..iterations {
            let mut input = seed.to_vec();
            for _ in 0..(next() % 8 + 1) {
                let pos = (next() as usize) % (input.len() + 1);
                let byte = specials[(next() as usize) % specials.len()];
                match next() % 3 {
                    0 => input.insert(pos, byte),
                    1 if pos < input.len() => {
                        input.remove(pos);
                    }
                    _ if pos < input.len() => input[pos] = (next() & 0xff) as u8,
                    _ => {}
                }
            }
            // Whatever parses must also go through the zone checks unharmed.
            if let Ok(records) =
                parse_bytes(&input, Path::new(FILE), &origin(), Path::new("/nonexistent-base"))
            {
                let _ = super::super::check::check_zone(&origin(), records, Path::new(FILE));
            }
        }
    }

    /// A scratch directory for `$INCLUDE` tests, removed when dropped.
    struct TempDir(PathBuf);

    impl std::ops::Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vigia-parser-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}
