//! Layer 1 of the zone-file reader: cuts master-file bytes into *entries*,
//! the tokens of one logical line (a newline inside parentheses does not
//! end it), with comments dropped and quoted strings kept whole. Escapes
//! are left in the token text, because what they mean depends on where
//! the token is used ([`unescape_token`], [`name_text`]).

use super::quote::quote;
use crate::dns::name::unescape;

/// Most tokens in one entry: room for 65,535 octets of RDATA written as
/// one-digit hex tokens, while an unclosed parenthesis in a large file
/// cannot pile up millions of tokens (each costs more than its text).
const MAX_ENTRY_TOKENS: usize = 1 << 18;

// ---------------------------------------------------------------------------
// Errors inside the parser
// ---------------------------------------------------------------------------

/// A problem before the file name is attached: the line and the reason.
/// Helpers return this so they need not know which file they are reading.
#[derive(Debug)]
pub(super) struct Fail {
    pub line: usize,
    pub reason: String,
}

pub(super) type Res<T> = Result<T, Fail>;

pub(super) fn fail<T>(line: usize, reason: impl Into<String>) -> Res<T> {
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
pub(super) struct Token {
    pub text: Vec<u8>,
    pub quoted: bool,
    pub line: usize,
}

impl Token {
    /// The token as written, for error messages: escaped and cut short
    /// (the file may be anything, even `/proc/self/environ`).
    pub(super) fn show(&self) -> String {
        quote(&self.text)
    }

    pub(super) fn starts_with_digit(&self) -> bool {
        !self.quoted && self.text.first().is_some_and(u8::is_ascii_digit)
    }
}

/// The tokens of one logical line. `indented` is true when the line starts
/// with a blank, which means "same owner as the previous record".
pub(super) struct Entry {
    pub tokens: Vec<Token>,
    pub indented: bool,
}

/// Splits master-file bytes into entries.
pub(super) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a [u8], first_line: usize) -> Self {
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
    pub(super) fn next_entry(&mut self) -> Res<Option<Entry>> {
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
                // BIND calls this a syntax error too; saying so without
                // quoting keeps binary files (`/proc/self/environ`) out
                // of messages.
                0 => return fail(self.line, "NUL byte outside a quoted string: not zone-file text"),
                b'"' => tokens.push(self.quoted()?),
                _ => tokens.push(self.word()),
            }
            if tokens.len() > MAX_ENTRY_TOKENS {
                return fail(
                    open_line,
                    format!("more than {MAX_ENTRY_TOKENS} fields in one entry (is a '(' never closed?)"),
                );
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
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' | 0 => break,
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
pub(super) fn lex_all(src: &[u8], line: usize) -> Res<Vec<Token>> {
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
pub(super) fn unescape_token(tok: &Token) -> Res<Vec<u8>> {
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
pub(super) fn name_text(tok: &Token) -> String {
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
