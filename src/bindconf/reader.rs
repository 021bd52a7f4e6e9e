//! Reads named.conf's grammar: statements ending in `;`, nested `{ }`
//! blocks, quoted strings, `//`, `#` and `/* */` comments, and `include
//! "FILE";` wherever a statement may stand (BIND allows it inside `options`
//! too, as CentOS's crypto-policies include shows).
//!
//! The reader knows no statement's meaning (that is [`super::convert`]'s
//! job) except two: `include`, which it follows, and `options { directory
//! "..."; }`, which relative includes may be resolved against. Everything
//! it reads is untrusted: include depth, file count, total size and block
//! nesting are bounded, and every error names the file and line.

use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Bounds on what reading a configuration may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Includes nested deeper than this are refused.
    pub max_include_depth: usize,
    /// Bytes read in total, over named.conf and every include.
    pub max_total_bytes: usize,
    /// Files read in total (a file included twice counts twice).
    pub max_files: usize,
    /// `{` nested deeper than this is refused (bounds the recursion).
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_include_depth: 16,
            max_total_bytes: 16 << 20,
            max_files: 256,
            max_nesting: 32,
        }
    }
}

/// Where an item was read: an index into [`Conf::files`] and a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: u32,
    pub line: u32,
}

/// A word (`type`, `192.0.2.1`, `!`) or a quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub quoted: bool,
    pub loc: Loc,
}

/// A `{ ... }` block: the statements inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Word(Word),
    Block(Block),
}

/// One statement: everything up to its `;` (words and blocks in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    pub items: Vec<Item>,
    pub loc: Loc,
}

impl Stmt {
    /// The first word, lower-cased (BIND's keywords ignore case).
    pub fn keyword(&self) -> Option<String> {
        match self.items.first() {
            Some(Item::Word(w)) if !w.quoted => Some(w.text.to_ascii_lowercase()),
            _ => None,
        }
    }

    /// The words after the keyword, up to the first block.
    pub fn args(&self) -> impl Iterator<Item = &Word> {
        self.items.iter().skip(1).map_while(|i| match i {
            Item::Word(w) => Some(w),
            Item::Block(_) => None,
        })
    }

    /// The `i`th word after the keyword, before any block.
    pub fn arg(&self, i: usize) -> Option<&Word> {
        self.args().nth(i)
    }

    /// The first block of the statement.
    pub fn block(&self) -> Option<&Block> {
        self.items.iter().find_map(|i| match i {
            Item::Block(b) => Some(b),
            Item::Word(_) => None,
        })
    }

    /// The statement on one line, as it could be written in named.conf
    /// (for comments and messages), cut at `max` characters.
    pub fn render(&self, max: usize) -> String {
        let mut s = String::new();
        render_items(&self.items, &mut s);
        s.push(';');
        shorten(s, max)
    }
}

fn render_items(items: &[Item], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match item {
            Item::Word(w) if w.quoted => {
                out.push('"');
                out.push_str(&w.text.replace('\\', "\\\\").replace('"', "\\\""));
                out.push('"');
            }
            Item::Word(w) => out.push_str(&w.text),
            Item::Block(b) => {
                out.push('{');
                for st in &b.stmts {
                    out.push(' ');
                    render_items(&st.items, out);
                    out.push(';');
                }
                out.push_str(" }");
            }
        }
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn shorten(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut cut: String = s.chars().take(max.saturating_sub(4)).collect();
    cut.push_str(" ...");
    cut
}

/// A configuration as read: every statement of named.conf with its
/// includes spliced in, and the files they came from.
#[derive(Debug, Clone)]
pub struct Conf {
    /// Files in the order they were first read; `files[0]` is named.conf.
    pub files: Vec<PathBuf>,
    pub stmts: Vec<Stmt>,
}

impl Conf {
    /// `FILE:LINE` of a location.
    pub fn at(&self, loc: Loc) -> String {
        let file = self.files.get(loc.file as usize).map(|p| p.display().to_string());
        format!("{}:{}", file.unwrap_or_else(|| "?".into()), loc.line)
    }
}

/// A configuration that cannot be read, phrased for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub file: PathBuf,
    /// 0 when the problem is the file itself (it cannot be opened).
    pub line: u32,
    pub msg: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads `path` and everything it includes.
///
/// `root`, when given, is where absolute paths inside the configuration
/// are looked up (`include "/etc/named.rfc1912.zones"` reads
/// `ROOT/etc/named.rfc1912.zones`), as `named -t ROOT` would see them.
pub fn read(path: &Path, root: Option<&Path>, limits: Limits) -> Result<Conf, ReadError> {
    let mut r = Reader {
        files: Vec::new(),
        stack: Vec::new(),
        total: 0,
        root: root.map(Path::to_path_buf),
        directory: None,
        limits,
        includes: true,
    };
    let stmts = r.read_file(path, None)?;
    Ok(Conf {
        files: r.files,
        stmts,
    })
}

/// Parses text alone: an `include` is an error (it would read files).
/// For unit tests and the fuzz target.
pub fn parse_text(name: &str, text: &str, limits: Limits) -> Result<Conf, ReadError> {
    let mut r = Reader {
        files: vec![PathBuf::from(name)],
        stack: Vec::new(),
        total: text.len(),
        root: None,
        directory: None,
        limits,
        includes: false,
    };
    if text.len() > limits.max_total_bytes {
        return Err(r.err(0, 0, too_big(limits)));
    }
    let tokens = lex(text).map_err(|(line, msg)| r.err(0, line, msg))?;
    let mut p = Parser {
        tokens,
        pos: 0,
        file: 0,
    };
    let stmts = r.parse_stmts(&mut p, &[], 0, None)?;
    Ok(Conf {
        files: r.files,
        stmts,
    })
}

fn too_big(l: Limits) -> String {
    let n = l.max_total_bytes;
    let size = if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    };
    format!("named.conf and its includes are larger than {size} in total: refusing to read more")
}

struct Reader {
    files: Vec<PathBuf>,
    /// Canonical paths of the files being read, outermost first (loops).
    stack: Vec<(PathBuf, PathBuf)>,
    total: usize,
    root: Option<PathBuf>,
    /// `options { directory }` once read, as a path on this machine.
    directory: Option<PathBuf>,
    limits: Limits,
    /// False for text parsed alone ([`parse_text`]).
    includes: bool,
}

/// Where an include statement stands: (file index, line, the including
/// file's path), for messages and for resolving a relative name.
type IncludeSite<'a> = (u32, u32, &'a Path);

impl Reader {
    fn err(&self, file: u32, line: u32, msg: impl Into<String>) -> ReadError {
        ReadError {
            file: self.files.get(file as usize).cloned().unwrap_or_default(),
            line,
            msg: msg.into(),
        }
    }

    /// An absolute path inside the configuration, as a path on this machine.
    fn host_path(&self, p: &Path) -> PathBuf {
        match (&self.root, p.is_absolute()) {
            (Some(root), true) => root.join(p.strip_prefix("/").unwrap_or(p)),
            _ => p.to_path_buf(),
        }
    }

    fn read_file(&mut self, path: &Path, site: Option<IncludeSite<'_>>) -> Result<Vec<Stmt>, ReadError> {
        let fail = |r: &Self, msg: String| match site {
            Some((f, l, _)) => r.err(f, l, msg),
            None => ReadError {
                file: path.to_path_buf(),
                line: 0,
                msg,
            },
        };
        if self.files.len() >= self.limits.max_files {
            let msg = format!(
                "more than {} files included: refusing to read more",
                self.limits.max_files
            );
            return Err(fail(self, msg));
        }
        if self.stack.len() >= self.limits.max_include_depth {
            let msg = format!("includes nested more than {} deep", self.limits.max_include_depth);
            return Err(fail(self, msg));
        }
        let canon = std::fs::canonicalize(path).map_err(|e| {
            let msg = match site {
                Some(_) => format!("cannot read included file {}: {}", path.display(), io_reason(&e)),
                None => format!("cannot read: {}", io_reason(&e)),
            };
            fail(self, msg)
        })?;
        if let Some(i) = self.stack.iter().position(|(c, _)| *c == canon) {
            let chain: Vec<String> = self.stack[i..]
                .iter()
                .map(|(_, shown)| shown.display().to_string())
                .chain([path.display().to_string()])
                .collect();
            return Err(fail(self, format!("include loop: {}", chain.join(" includes "))));
        }
        let text = self.read_bounded(path, &canon).map_err(|m| fail(self, m))?;
        let file = self.files.len() as u32;
        self.files.push(path.to_path_buf());
        let tokens = lex(&text).map_err(|(line, msg)| self.err(file, line, msg))?;
        self.stack.push((canon, path.to_path_buf()));
        let mut p = Parser { tokens, pos: 0, file };
        let out = self.parse_stmts(&mut p, &[], 0, None);
        self.stack.pop();
        out
    }

    /// Reads a file, never more than what is left of the total budget.
    fn read_bounded(&mut self, path: &Path, canon: &Path) -> Result<String, String> {
        if canon.is_dir() {
            return Err(format!("{} is a directory, not a file", path.display()));
        }
        let left = self.limits.max_total_bytes.saturating_sub(self.total);
        let f = std::fs::File::open(canon)
            .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
        let mut bytes = Vec::new();
        f.take(left as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
        if bytes.len() > left {
            return Err(too_big(self.limits));
        }
        self.total += bytes.len();
        String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            format!("{} is not text (invalid UTF-8 on line {line})", path.display())
        })
    }

    /// Statements up to the end of a block (`}`) or of the file. `ctx` is
    /// the keywords of the enclosing statements; `open` is where the
    /// enclosing block's `{` stood.
    fn parse_stmts(
        &mut self,
        p: &mut Parser,
        ctx: &[String],
        depth: usize,
        open: Option<u32>,
    ) -> Result<Vec<Stmt>, ReadError> {
        let mut stmts = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        let mut start = 0u32;
        loop {
            let Some((tok, line)) = p.next() else {
                return match (open, items.is_empty()) {
                    (Some(l), _) => Err(self.err(p.file, l, "'{' is never closed")),
                    (None, false) => Err(self.err(
                        p.file,
                        start,
                        "statement has no ';' at its end (a block ends with '};')",
                    )),
                    (None, true) => Ok(stmts),
                };
            };
            if items.is_empty() {
                start = line;
            }
            match tok {
                Tok::Word(text, quoted) => items.push(Item::Word(Word {
                    text,
                    quoted,
                    loc: Loc { file: p.file, line },
                })),
                Tok::Open => {
                    if depth + 1 > self.limits.max_nesting {
                        let msg = format!("blocks nested more than {} deep", self.limits.max_nesting);
                        return Err(self.err(p.file, line, msg));
                    }
                    let mut inner = ctx.to_vec();
                    inner.push(keyword(&items));
                    let b = self.parse_stmts(p, &inner, depth + 1, Some(line))?;
                    items.push(Item::Block(Block {
                        stmts: b,
                        loc: Loc { file: p.file, line },
                    }));
                }
                Tok::Close if open.is_none() => {
                    return Err(self.err(p.file, line, "'}' without a matching '{'"))
                }
                Tok::Close if !items.is_empty() => {
                    return Err(self.err(p.file, line, "missing ';' before '}'"));
                }
                Tok::Close => return Ok(stmts),
                Tok::Semi if items.is_empty() => {}
                Tok::Semi => {
                    let st = Stmt {
                        items: std::mem::take(&mut items),
                        loc: Loc {
                            file: p.file,
                            line: start,
                        },
                    };
                    if st.keyword().as_deref() == Some("include") {
                        stmts.extend(self.include(&st)?);
                    } else {
                        self.note_directory(&st, ctx);
                        stmts.push(st);
                    }
                }
            }
        }
    }

    /// Remembers `options { directory "..."; }` for relative includes.
    fn note_directory(&mut self, st: &Stmt, ctx: &[String]) {
        if ctx != ["options"] || st.keyword().as_deref() != Some("directory") {
            return;
        }
        if let Some(w) = st.arg(0) {
            let dir = self.host_path(Path::new(&w.text));
            let base = self.including_dir(st.loc.file);
            self.directory = Some(if dir.is_absolute() { dir } else { base.join(dir) });
        }
    }

    fn including_dir(&self, file: u32) -> PathBuf {
        self.files
            .get(file as usize)
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Follows `include "FILE";`: absolute names (under the root, if any),
    /// relative names against BIND's `directory` if set, then against the
    /// including file's folder.
    fn include(&mut self, st: &Stmt) -> Result<Vec<Stmt>, ReadError> {
        let (file, line) = (st.loc.file, st.loc.line);
        let name = match (st.items.len(), st.arg(0)) {
            (2, Some(w)) => w.text.clone(),
            _ => return Err(self.err(file, line, "include needs one file name: include \"FILE\";")),
        };
        if !self.includes {
            return Err(self.err(file, line, format!("include \"{name}\" is not followed here")));
        }
        let wanted = Path::new(&name);
        let including = self.files[file as usize].clone();
        let path = if wanted.is_absolute() {
            self.host_path(wanted)
        } else {
            let mut candidates: Vec<PathBuf> = self.directory.iter().map(|d| d.join(wanted)).collect();
            candidates.push(self.including_dir(file).join(wanted));
            match candidates.iter().find(|c| c.exists()) {
                Some(c) => c.clone(),
                None => {
                    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
                    let msg = format!(
                        "cannot read included file \"{name}\": not found (tried {})",
                        tried.join(", ")
                    );
                    return Err(self.err(file, line, msg));
                }
            }
        };
        self.read_file(&normalise(&path), Some((file, line, &including)))
    }
}

fn keyword(items: &[Item]) -> String {
    match items.first() {
        Some(Item::Word(w)) => w.text.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Removes `.` components and folds `x/..` (without touching the disk).
pub fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String, bool),
    Open,
    Close,
    Semi,
}

struct Parser {
    tokens: Vec<(Tok, u32)>,
    pos: usize,
    file: u32,
}

impl Parser {
    fn next(&mut self) -> Option<(Tok, u32)> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
}

/// Splits text into tokens with their line numbers; Err((line, message)).
fn lex(text: &str) -> Result<Vec<(Tok, u32)>, (u32, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1u32;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'#' => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                let end = text[i + 2..]
                    .find("*/")
                    .ok_or((start, "comment '/*' is never closed".to_string()))?;
                line += count_lines(&b[i..i + 2 + end]);
                i += end + 4;
            }
            b'{' => {
                out.push((Tok::Open, line));
                i += 1;
            }
            b'}' => {
                out.push((Tok::Close, line));
                i += 1;
            }
            b';' => {
                out.push((Tok::Semi, line));
                i += 1;
            }
            b'!' => {
                out.push((Tok::Word("!".into(), false), line));
                i += 1;
            }
            b'"' => {
                let (s, next, lines) =
                    quoted(b, i + 1).ok_or((line, "string '\"' is never closed".to_string()))?;
                out.push((Tok::Word(s, true), line));
                line += lines;
                i = next;
            }
            _ => {
                let start = i;
                while i < b.len() && !ends_word(b, i) {
                    i += 1;
                }
                out.push((Tok::Word(text[start..i].to_string(), false), line));
            }
        }
    }
    Ok(out)
}

fn ends_word(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'{' | b'}' | b';' | b'"' => true,
        b'/' => matches!(b.get(i + 1), Some(b'/' | b'*')),
        c => c.is_ascii_whitespace(),
    }
}

fn skip_line(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn count_lines(b: &[u8]) -> u32 {
    b.iter().filter(|&&c| c == b'\n').count() as u32
}

/// A quoted string from just after its opening quote: (text, index after
/// the closing quote, newlines inside). A backslash escapes the next
/// character, as in BIND.
fn quoted(b: &[u8], mut i: usize) -> Option<(String, usize, u32)> {
    let mut s = Vec::new();
    let mut lines = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((String::from_utf8_lossy(&s).into_owned(), i + 1, lines)),
            b'\\' if i + 1 < b.len() => {
                lines += u32::from(b[i + 1] == b'\n');
                s.push(b[i + 1]);
                i += 2;
            }
            c => {
                lines += u32::from(c == b'\n');
                s.push(c);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindconf::tests::Scratch;

    fn parse(text: &str) -> Result<Conf, ReadError> {
        parse_text("named.conf", text, Limits::default())
    }

    fn words(st: &Stmt) -> Vec<String> {
        st.args().map(|w| w.text.clone()).collect()
    }

    #[test]
    fn comments_of_three_kinds_and_lines() {
        let c = parse(
            "// top\n# shell\n/* multi\n line */ options { // trailing\n  directory \"/var/named\"; # x\n};\nzone \"a\" { type master; };\n",
        )
        .unwrap();
        assert_eq!(c.stmts.len(), 2);
        assert_eq!(c.stmts[0].keyword().as_deref(), Some("options"));
        assert_eq!(c.stmts[0].loc.line, 4);
        let inner = &c.stmts[0].block().unwrap().stmts[0];
        assert_eq!(inner.keyword().as_deref(), Some("directory"));
        assert_eq!(inner.loc.line, 5);
        assert_eq!(words(inner), ["/var/named"]);
        assert!(inner.arg(0).unwrap().quoted);
        assert_eq!(c.stmts[1].loc.line, 7);
        assert_eq!(c.at(c.stmts[1].loc), "named.conf:7");
    }

    #[test]
    fn nesting_words_after_blocks_and_negation() {
        let c = parse(
            "controls { inet 127.0.0.1 port 953 allow { localhost; { 10/8; !10.1.0.0/16; }; } keys { \"rndc-key\"; }; };\nallow { !192.0.2.1; };",
        )
        .unwrap();
        let inet = &c.stmts[0].block().unwrap().stmts[0];
        assert_eq!(words(inet), ["127.0.0.1", "port", "953", "allow"]);
        let blocks: Vec<&Block> = inet
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(blocks.len(), 2);
        let nested = &blocks[0].stmts[1];
        assert!(nested.items.len() == 1 && matches!(nested.items[0], Item::Block(_)));
        let neg = &c.stmts[1].block().unwrap().stmts[0];
        let texts: Vec<&str> = neg
            .items
            .iter()
            .map(|i| match i {
                Item::Word(w) => w.text.as_str(),
                _ => "{}",
            })
            .collect();
        assert_eq!(texts, ["!", "192.0.2.1"]);
        assert_eq!(
            c.stmts[0].render(200),
            "controls { inet 127.0.0.1 port 953 allow { localhost; { 10/8; ! 10.1.0.0/16; }; } keys { \"rndc-key\"; }; };"
        );
    }

    #[test]
    fn strings_escape_and_span_lines() {
        let c = parse("key \"k\" { secret \"a\\\"b\nc\"; };\nzone x { };").unwrap();
        let secret = &c.stmts[0].block().unwrap().stmts[0];
        assert_eq!(words(secret), ["a\"b\nc"]);
        assert_eq!(c.stmts[1].loc.line, 3);
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("options {\n directory \"x\"\n};\n", 3, "missing ';' before '}'"),
            (
                "options {\n directory \"x\";\n}\n",
                1,
                "statement has no ';' at its end",
            ),
            ("options {\n directory \"x\";\n", 1, "'{' is never closed"),
            ("zone \"a\" { };\n};\n", 2, "'}' without a matching '{'"),
            ("\n/* never\n closed\n", 2, "comment '/*' is never closed"),
            (
                "\n\nkey \"k\" { secret \"abc; };\n",
                3,
                "string '\"' is never closed",
            ),
            ("zone \"a\" { type master; }\n", 1, "statement has no ';'"),
            ("\ninclude;\n", 2, "include needs one file name"),
            (
                "\n\ninclude \"/etc/passwd\";\n",
                3,
                "include \"/etc/passwd\" is not followed here",
            ),
        ];
        for (text, line, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(
                e.to_string().starts_with(&format!("named.conf:{line}: {msg}")),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = "a { ".repeat(40) + &"}; ".repeat(40);
        let e = parse(&deep).unwrap_err();
        assert!(e.msg.contains("nested more than 32 deep"), "{e}");
        let small = Limits {
            max_total_bytes: 10,
            ..Limits::default()
        };
        let e = parse_text("named.conf", "options { directory \"/x\"; };", small).unwrap_err();
        assert!(e.msg.contains("larger than"), "{e}");
    }

    #[test]
    fn garbage_never_panics() {
        // A tiny deterministic generator over the characters that matter.
        let alphabet = b"{};\"/*#!\\\n ab1.";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let len = (x % 64) as usize;
            let mut s = String::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
            }
            let _ = parse(&s);
        }
    }

    #[test]
    fn includes_are_followed_relative_to_directory_then_the_including_file() {
        let d = Scratch::new("incl");
        d.write("etc/named.conf", "options {\n directory \"/var/named\";\n include \"/etc/opts.conf\";\n};\ninclude \"local.conf\";\ninclude \"zones.conf\";\n");
        d.write("etc/opts.conf", "recursion no;\n");
        d.write(
            "var/named/local.conf",
            "zone \"in-directory\" { type master; };\n",
        );
        d.write(
            "etc/zones.conf",
            "// beside named.conf\nzone \"beside\" { type master; };\n",
        );
        let c = read(&d.0.join("etc/named.conf"), Some(&d.0), Limits::default()).unwrap();
        let opts = c.stmts[0].block().unwrap();
        assert_eq!(opts.stmts[1].keyword().as_deref(), Some("recursion"));
        assert_eq!(
            c.at(opts.stmts[1].loc),
            format!("{}:1", d.0.join("etc/opts.conf").display())
        );
        let zones: Vec<String> = c.stmts[1..]
            .iter()
            .map(|s| s.arg(0).unwrap().text.clone())
            .collect();
        assert_eq!(zones, ["in-directory", "beside"]);
        assert_eq!(
            c.at(c.stmts[2].loc),
            format!("{}:2", d.0.join("etc/zones.conf").display())
        );
        assert_eq!(c.files.len(), 4);
    }

    #[test]
    fn include_errors_loops_and_missing_files() {
        let d = Scratch::new("loop");
        d.write("a.conf", "options { };\ninclude \"b.conf\";\n");
        d.write("b.conf", "\n\ninclude \"a.conf\";\n");
        let e = read(&d.0.join("a.conf"), None, Limits::default()).unwrap_err();
        assert_eq!((e.file.clone(), e.line), (d.0.join("b.conf"), 3), "{e}");
        assert!(e.msg.starts_with("include loop: "), "{e}");
        assert!(
            e.msg.contains("a.conf includes") && e.msg.contains("b.conf includes"),
            "{e}"
        );

        d.write("self.conf", "include \"self.conf\";\n");
        let e = read(&d.0.join("self.conf"), None, Limits::default()).unwrap_err();
        assert!(e.msg.starts_with("include loop"), "{e}");

        d.write("missing.conf", "\ninclude \"/nowhere/x.conf\";\n");
        let e = read(&d.0.join("missing.conf"), None, Limits::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(
            e.msg
                .contains("cannot read included file /nowhere/x.conf: no such file"),
            "{e}"
        );

        d.write("rel.conf", "include \"nope.conf\";\n");
        let e = read(&d.0.join("rel.conf"), None, Limits::default()).unwrap_err();
        assert!(e.msg.contains("\"nope.conf\": not found (tried"), "{e}");

        let e = read(&d.0.join("absent.conf"), None, Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: cannot read: no such file", d.0.join("absent.conf").display())
        );

        // The same file twice is not a loop.
        d.write("twice.conf", "include \"one.conf\";\ninclude \"one.conf\";\n");
        d.write("one.conf", "zone \"a\" { };\n");
        let c = read(&d.0.join("twice.conf"), None, Limits::default()).unwrap();
        assert_eq!(c.stmts.len(), 2);
    }

    #[test]
    fn include_depth_files_and_total_size_are_bounded() {
        let d = Scratch::new("bounds");
        for i in 0..20 {
            d.write(&format!("{i}.conf"), &format!("include \"{}.conf\";\n", i + 1));
        }
        d.write("20.conf", "zone \"deep\" { };\n");
        let e = read(&d.0.join("0.conf"), None, Limits::default()).unwrap_err();
        assert!(e.msg.contains("nested more than 16 deep"), "{e}");
        assert_eq!(e.file, d.0.join("15.conf"));

        d.write("many.conf", &"include \"one.conf\";\n".repeat(300));
        d.write("one.conf", "\n");
        let e = read(&d.0.join("many.conf"), None, Limits::default()).unwrap_err();
        assert!(e.msg.contains("more than 256 files"), "{e}");

        d.write(
            "big.conf",
            &format!("# {}\ninclude \"one.conf\";\n", "x".repeat(100)),
        );
        let small = Limits {
            max_total_bytes: 100,
            ..Limits::default()
        };
        let e = read(&d.0.join("big.conf"), None, small).unwrap_err();
        assert!(e.msg.contains("larger than"), "{e}");
        let small = Limits {
            max_total_bytes: 130,
            ..Limits::default()
        };
        let c = read(&d.0.join("big.conf"), None, small).unwrap();
        assert_eq!(c.files.len(), 2);
    }

    #[test]
    fn normalise_folds_dots() {
        assert_eq!(
            normalise(Path::new("/var/named/./../named/db")),
            PathBuf::from("/var/named/db")
        );
        assert_eq!(normalise(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalise(Path::new("../a/./b")), PathBuf::from("../a/b"));
    }
}
