//! The query log: one line per query answered, as BIND's querylog
//! (`[log] queries`), switched on and off at run time ([`QueryLog::set_enabled`]).
//!
//! The query path pays as little as it can. Off, it is one relaxed atomic
//! load per UDP batch or TCP message. On, a worker copies the question and
//! a few numbers into a fixed-size [`Entry`] (no allocation) and hands it
//! to a bounded channel without blocking; a writer thread of its own wakes
//! every [`WRITE_INTERVAL`], formats what has arrived and writes it in one
//! batch. When the channel is full (the writer cannot keep up) the line is
//! dropped and counted in `vigia_querylog_dropped_total`: the log never
//! slows answers down. The channel and the thread exist only once the log
//! was first switched on.
//!
//! A line names the client (address and port), the question (name in
//! presentation format with BIND's escapes, type and class mnemonics from
//! the tables in [`crate::dns`]), the RCODE, the transport, the query's
//! EDNS payload size and DO bit, and the size of the answer sent in octets
//! (0: nothing was sent, the answer was dropped by RRL). Text lines are
//! `key=value` pairs separated by spaces (no value contains a space); JSON
//! lines are one object each. Without a file the lines go to the server's
//! log on standard error (target `vigia::queries`, level info), formatted
//! by the server's log format.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, SystemTime};

use prometheus::IntCounter;

use crate::config::LogFormat;
use crate::dns::name::{wire_name_len, WireName, MAX_NAME_LEN};
use crate::dns::{rcode, types};

/// Entries waiting for the writer at most (about 300 octets each).
const CAPACITY: usize = 4096;
/// How often the writer wakes to write what has arrived while the log is on.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(10);
/// Lines formatted before they are written out, at most.
const BATCH: usize = 512;

/// How a query came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Where query lines go and how they look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A file (appended to), else the server's log (`vigia::queries`).
    pub file: Option<PathBuf>,
    pub format: LogFormat,
}

/// One query, as the query path hands it over: fixed size, no allocation.
pub struct Entry {
    time: SystemTime,
    client: SocketAddr,
    transport: Transport,
    /// The question name as sent (wire format); `qname_len` 0: the query
    /// had no readable question.
    qname: [u8; MAX_NAME_LEN],
    qname_len: u8,
    qtype: u16,
    qclass: u16,
    rcode: u16,
    /// The query's EDNS payload size and DO bit.
    edns: Option<(u16, bool)>,
    /// Octets sent back.
    size: u32,
}

impl Entry {
    /// The entry for `query` (the message as received) from `client`,
    /// answered with `rcode` in `size` octets. Reads only the question.
    pub fn new(
        client: SocketAddr,
        transport: Transport,
        query: &[u8],
        rcode: u16,
        edns: Option<(u16, bool)>,
        size: usize,
    ) -> Entry {
        let mut e = Entry {
            time: SystemTime::now(),
            client,
            transport,
            qname: [0; MAX_NAME_LEN],
            qname_len: 0,
            qtype: 0,
            qclass: 0,
            rcode,
            edns,
            size: u32::try_from(size).unwrap_or(u32::MAX),
        };
        let has_question = query.len() > 12 && u16::from_be_bytes([query[4], query[5]]) > 0;
        if let Some(n) = has_question.then(|| wire_name_len(&query[12..])).flatten() {
            if let Some(tc) = query.get(12 + n..12 + n + 4) {
                e.qname[..n].copy_from_slice(&query[12..12 + n]);
                e.qname_len = n as u8;
                e.qtype = u16::from_be_bytes([tc[0], tc[1]]);
                e.qclass = u16::from_be_bytes([tc[2], tc[3]]);
            }
        }
        e
    }

    /// The question name (wire), if the query had a readable one.
    fn qname(&self) -> Option<WireName<'_>> {
        (self.qname_len > 0).then(|| WireName(&self.qname[..usize::from(self.qname_len)]))
    }
}

/// A number's mnemonic from the tables in [`crate::dns`], or its number
/// after `prefix` (`TYPE65280`, `CLASS7`, `RCODE4000`); `-` with no
/// question. Displayed without allocating.
struct Mnemonic {
    name: Option<&'static str>,
    prefix: &'static str,
    number: u16,
    absent: bool,
}

impl fmt::Display for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.absent, self.name) {
            (true, _) => f.write_str("-"),
            (false, Some(n)) => f.write_str(n),
            (false, None) => write!(f, "{}{}", self.prefix, self.number),
        }
    }
}

impl Entry {
    fn qtype_name(&self) -> Mnemonic {
        Mnemonic {
            name: types::info(self.qtype).map(|i| i.mnemonic),
            prefix: "TYPE",
            number: self.qtype,
            absent: self.qname_len == 0,
        }
    }
    fn class_name(&self) -> Mnemonic {
        Mnemonic {
            name: types::class_mnemonic(self.qclass),
            prefix: "CLASS",
            number: self.qclass,
            absent: self.qname_len == 0,
        }
    }
    fn rcode_name(&self) -> Mnemonic {
        Mnemonic {
            name: rcode::NAMES.get(usize::from(self.rcode)).copied(),
            prefix: "RCODE",
            number: self.rcode,
            absent: false,
        }
    }
    fn client(&self) -> IpAddr {
        self.client.ip()
    }
}

/// `-` or the question name in presentation format.
struct QName<'a>(Option<WireName<'a>>);

impl fmt::Display for QName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(n) => n.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// `none` or the EDNS payload size.
struct EdnsSize(Option<(u16, bool)>);

impl fmt::Display for EdnsSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((size, _)) => write!(f, "{size}"),
            None => f.write_str("none"),
        }
    }
}

/// RFC 3339 timestamps to the millisecond, the date and time of day made
/// once per second (a busy log writes thousands of lines per second).
#[derive(Default)]
struct Clock {
    secs: u64,
    /// `2026-12-03T04:05:06` for `secs`.
    prefix: String,
}

impl Clock {
    fn write(&mut self, t: SystemTime, out: &mut String) {
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        if d.as_secs() != self.secs || self.prefix.is_empty() {
            self.secs = d.as_secs();
            let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(self.secs);
            let full = crate::dns::time::rfc3339(whole);
            // `...T04:05:06.000Z` without `.000Z`.
            self.prefix = full
                .get(..full.len().saturating_sub(5))
                .unwrap_or_default()
                .to_string();
        }
        let _ = write!(out, "{}.{:03}Z", self.prefix, d.subsec_millis());
    }
}

/// Appends a text line (without the newline) to `out`:
/// `2026-12-03T04:05:06.789Z client=127.0.0.1 port=53000 qname=www.example. qtype=A class=IN rcode=NOERROR transport=UDP edns=1232 do=true size=97`.
fn write_text(e: &Entry, clock: &mut Clock, out: &mut String) {
    clock.write(e.time, out);
    let _ = write!(
        out,
        " client={} port={} qname={} qtype={} class={} rcode={} transport={} edns={} do={} size={}",
        e.client(),
        e.client.port(),
        QName(e.qname()),
        e.qtype_name(),
        e.class_name(),
        e.rcode_name(),
        e.transport.name(),
        EdnsSize(e.edns),
        e.edns.is_some_and(|x| x.1),
        e.size
    );
}

/// Appends a JSON line (without the newline) to `out`, fields in reading
/// order: `{"time":...,"client":...,...}`; no question: `qname`, `qtype`
/// and `class` are null; no EDNS: `edns` null. `scratch` is reused for the
/// name.
fn write_json(e: &Entry, clock: &mut Clock, scratch: &mut String, out: &mut String) {
    out.push_str("{\"time\":\"");
    clock.write(e.time, out);
    let _ = write!(
        out,
        "\",\"client\":\"{}\",\"port\":{}",
        e.client(),
        e.client.port()
    );
    match e.qname() {
        Some(name) => {
            scratch.clear();
            let _ = write!(scratch, "{name}");
            out.push_str(",\"qname\":\"");
            // Presentation format is printable ASCII: only `\` and `"`
            // need escaping in a JSON string.
            for c in scratch.chars() {
                if matches!(c, '\\' | '"') {
                    out.push('\\');
                }
                out.push(c);
            }
            let _ = write!(
                out,
                "\",\"qtype\":\"{}\",\"class\":\"{}\"",
                e.qtype_name(),
                e.class_name()
            );
        }
        None => out.push_str(",\"qname\":null,\"qtype\":null,\"class\":null"),
    }
    let _ = write!(
        out,
        ",\"rcode\":\"{}\",\"transport\":\"{}\"",
        e.rcode_name(),
        e.transport.name()
    );
    match e.edns {
        Some((size, dnssec_ok)) => {
            let _ = write!(out, ",\"edns\":{size},\"do\":{dnssec_ok}");
        }
        None => out.push_str(",\"edns\":null,\"do\":false"),
    }
    let _ = write!(out, ",\"size\":{}}}", e.size);
}

/// A text line (without the newline); see [`write_text`].
pub fn text_line(e: &Entry) -> String {
    let mut out = String::new();
    write_text(e, &mut Clock::default(), &mut out);
    out
}

/// A JSON line (without the newline); see [`write_json`].
pub fn json_line(e: &Entry) -> String {
    let mut out = String::new();
    write_json(e, &mut Clock::default(), &mut String::new(), &mut out);
    out
}

/// The query log's handle, shared by the sockets (which log) and the app
/// (which switches it). Cheap when off.
pub struct QueryLog {
    enabled: AtomicBool,
    inner: Arc<Inner>,
    /// The channel to the writer thread, made when first switched on.
    writer: OnceLock<Writer>,
    /// Held while the writer is started.
    starting: Mutex<()>,
}

/// What the writer thread shares with the handle.
struct Inner {
    settings: Mutex<Settings>,
    /// Bumped when the settings change or the file must be reopened.
    generation: AtomicU64,
    /// Set when the handle is dropped: the writer drains and ends.
    closed: AtomicBool,
    /// Lines dropped because the writer was behind.
    dropped: IntCounter,
    /// The handle's switch, read by the writer to know how long to sleep.
    on: AtomicBool,
}

struct Writer {
    tx: SyncSender<Msg>,
    thread: Thread,
}

impl QueryLog {
    /// A query log, off, that writes where `settings` say once on; lines
    /// dropped are counted in `dropped`.
    pub fn new(settings: Settings, dropped: IntCounter) -> QueryLog {
        QueryLog {
            enabled: AtomicBool::new(false),
            inner: Arc::new(Inner {
                settings: Mutex::new(settings),
                generation: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                dropped,
                on: AtomicBool::new(false),
            }),
            writer: OnceLock::new(),
            starting: Mutex::new(()),
        }
    }

    /// A query log that is off and has nowhere to write (tests, tools).
    pub fn off() -> QueryLog {
        let dropped = IntCounter::new("vigia_querylog_dropped_total", "unused").expect("valid metric");
        QueryLog::new(
            Settings {
                file: None,
                format: LogFormat::Text,
            },
            dropped,
        )
    }

    /// Is the log on? (One relaxed load: the query path asks this.)
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Switches the log on or off; the first time on starts the writer
    /// thread. Returns whether it is on (false if the thread could not be
    /// started, which is logged).
    pub fn set_enabled(&self, on: bool) -> bool {
        if on && self.start_writer().is_err() {
            return false;
        }
        let was = self.enabled.swap(on, Ordering::Relaxed);
        self.inner.on.store(on, Ordering::Relaxed);
        if let Some(w) = self.writer.get() {
            w.thread.unpark();
        }
        if was != on {
            let where_to = self.destination();
            tracing::info!(to = %where_to, "query log {}", if on { "on" } else { "off" });
        }
        on
    }

    /// Where lines go, for messages: the file or "the server's log".
    pub fn destination(&self) -> String {
        match &self.inner.lock_settings().file {
            Some(p) => p.display().to_string(),
            None => "the server's log (vigia::queries)".into(),
        }
    }

    /// Takes new settings (a reload) and reopens the file, so a rotated
    /// log is let go of.
    pub fn configure(&self, settings: Settings) {
        *self.inner.lock_settings() = settings;
        self.inner.generation.fetch_add(1, Ordering::Release);
        if let Some(w) = self.writer.get() {
            w.thread.unpark();
        }
    }

    /// Hands one query to the writer, never blocking: when the writer is
    /// behind, the line is dropped and counted. Call only when
    /// [`QueryLog::enabled`].
    pub fn log(&self, entry: Entry) {
        let Some(w) = self.writer.get() else { return };
        match w.tx.try_send(Msg::Query(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.inner.dropped.inc(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Waits (at most `within`) until every line handed over so far is
    /// written; true if it was. For shutdown and tests.
    pub fn flush(&self, within: Duration) -> bool {
        let Some(w) = self.writer.get() else {
            return true;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let marker = Msg::Flush(tx);
        let deadline = std::time::Instant::now() + within;
        let mut marker = Some(marker);
        while let Some(m) = marker.take() {
            match w.tx.try_send(m) {
                Ok(()) => {}
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    marker = Some(m);
                    w.thread.unpark();
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return false,
            }
        }
        w.thread.unpark();
        rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .is_ok()
    }

    fn start_writer(&self) -> std::io::Result<()> {
        if self.writer.get().is_some() {
            return Ok(());
        }
        let _g = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        if self.writer.get().is_some() {
            return Ok(());
        }
        let (tx, rx) = sync_channel(CAPACITY);
        let inner = self.inner.clone();
        let handle = std::thread::Builder::new()
            .name("vigia-querylog".into())
            .spawn(move || write_loop(&rx, &inner))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the query log's writer thread: the query log stays off");
                e
            })?;
        let _ = self.writer.set(Writer {
            tx,
            thread: handle.thread().clone(),
        });
        Ok(())
    }
}

impl Drop for QueryLog {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Some(w) = self.writer.get() {
            w.thread.unpark();
        }
    }
}

impl Inner {
    fn lock_settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What travels to the writer: a query, or a request to write out
/// everything before it and say so. (Boxing the query would cost an
/// allocation per query; flushes are rare.)
#[allow(clippy::large_enum_variant)]
enum Msg {
    Query(Entry),
    Flush(std::sync::mpsc::Sender<()>),
}

/// Where the writer writes.
enum Output {
    /// The server's log (tracing).
    Log,
    File {
        out: BufWriter<File>,
        path: PathBuf,
        format: LogFormat,
        clock: Clock,
        /// The line being made, and a name being escaped (reused).
        line: String,
        scratch: String,
        /// A write failed: reported once until one succeeds again.
        failing: bool,
    },
}

impl Output {
    /// The output `settings` name; a file that cannot be opened is
    /// reported and the server's log used instead.
    fn open(settings: &Settings) -> Output {
        let Some(path) = &settings.file else {
            return Output::Log;
        };
        match open_append(path) {
            Ok(f) => Output::File {
                out: BufWriter::with_capacity(64 * 1024, f),
                path: path.clone(),
                format: settings.format,
                clock: Clock::default(),
                line: String::with_capacity(256),
                scratch: String::with_capacity(256),
                failing: false,
            },
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot open the query log file: query lines go to the server's log instead");
                Output::Log
            }
        }
    }

    fn write(&mut self, e: &Entry) {
        match self {
            Output::Log => log_event(e),
            Output::File {
                out,
                format,
                clock,
                line,
                scratch,
                ..
            } => {
                line.clear();
                match format {
                    LogFormat::Text => write_text(e, clock, line),
                    LogFormat::Json => write_json(e, clock, scratch, line),
                }
                line.push('\n');
                // Errors surface at flush (the buffer holds many lines).
                let _ = out.write_all(line.as_bytes());
            }
        }
    }

    fn flush(&mut self) {
        if let Output::File {
            out, path, failing, ..
        } = self
        {
            match out.flush() {
                Ok(()) => *failing = false,
                Err(e) if !*failing => {
                    *failing = true;
                    tracing::error!(file = %path.display(), error = %e, "cannot write the query log file: query lines are lost until it works again");
                }
                Err(_) => {}
            }
        }
    }
}

/// Opens `path` for appending (created mode 0640).
fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// One query as an event of the server's log (fields displayed, not
/// debugged: no quotes, so a text line reads as the file's do).
fn log_event(e: &Entry) {
    tracing::info!(
        target: "vigia::queries",
        client = %e.client(),
        port = e.client.port(),
        qname = %QName(e.qname()),
        qtype = %e.qtype_name(),
        class = %e.class_name(),
        rcode = %e.rcode_name(),
        transport = %e.transport.name(),
        edns = %EdnsSize(e.edns),
        "do" = e.edns.is_some_and(|x| x.1),
        size = e.size,
        "query"
    );
}

/// The writer thread: wakes every [`WRITE_INTERVAL`] while the log is on
/// (parked while it is off), writes what arrived, reopens its output when
/// the settings change, and ends once the handle is gone.
fn write_loop(rx: &Receiver<Msg>, inner: &Inner) {
    let mut generation = inner.generation.load(Ordering::Acquire);
    let mut output = Output::open(&inner.lock_settings());
    loop {
        let mut n = 0;
        let disconnected = loop {
            match rx.try_recv() {
                Ok(Msg::Flush(done)) => {
                    output.flush();
                    let _ = done.send(());
                }
                Ok(Msg::Query(e)) => {
                    // New settings apply to every line handed over after
                    // them (a rotated file is let go of at once).
                    let now = inner.generation.load(Ordering::Acquire);
                    if now != generation {
                        output.flush();
                        generation = now;
                        output = Output::open(&inner.lock_settings());
                    }
                    output.write(&e);
                    n += 1;
                    if n % BATCH == 0 {
                        output.flush();
                    }
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        output.flush();
        if disconnected || inner.closed.load(Ordering::SeqCst) && n == 0 {
            return;
        }
        if inner.on.load(Ordering::Relaxed) {
            std::thread::park_timeout(WRITE_INTERVAL);
        } else if n == 0 {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `qname` (wire) of `qtype`, class IN, with an OPT of
    /// `edns` (size, DO) if given.
    fn query(qname: &[u8], qtype: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            u8::from(edns.is_some()),
        ];
        m.extend_from_slice(qname);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        if let Some((size, dnssec_ok)) = edns {
            m.extend_from_slice(&[0, 0, 41]);
            m.extend_from_slice(&size.to_be_bytes());
            m.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        m
    }

    fn client() -> SocketAddr {
        "127.0.0.1:53000".parse().unwrap()
    }

    #[test]
    fn a_text_line_names_every_field() {
        let q = query(b"\x03www\x0ano-paladar\x03com\x02br\x00", 1, Some((1232, true)));
        let e = Entry::new(client(), Transport::Udp, &q, 0, Some((1232, true)), 97);
        let line = text_line(&e);
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 24, "{line}");
        assert_eq!(
            rest,
            "client=127.0.0.1 port=53000 qname=www.no-paladar.com.br. qtype=A class=IN rcode=NOERROR transport=UDP edns=1232 do=true size=97"
        );
        let e = Entry::new(client(), Transport::Tcp, &query(b"\x00", 48, None), 5, None, 17);
        let line = text_line(&e);
        assert!(
            line.ends_with(
                " qname=. qtype=DNSKEY class=IN rcode=REFUSED transport=TCP edns=none do=false size=17"
            ),
            "{line}"
        );
        // Unknown type, extended RCODE.
        let e = Entry::new(
            client(),
            Transport::Udp,
            &query(b"\x01a\x00", 65280, None),
            16,
            None,
            0,
        );
        assert!(text_line(&e).contains("qtype=TYPE65280 class=IN rcode=BADVERS"));
    }

    #[test]
    fn odd_names_are_escaped_and_lines_stay_parseable() {
        // Bytes that are not UTF-8, a space, a dot and a quote inside labels.
        let q = query(b"\x04\xff\xfe a\x03b.\"\x00", 16, None);
        let e = Entry::new(client(), Transport::Udp, &q, 3, None, 40);
        let line = text_line(&e);
        assert!(
            line.contains(" qname=\\255\\254\\032a.b\\.\\\". qtype=TXT "),
            "{line}"
        );
        assert_eq!(line.split(' ').count(), 11, "one space per field: {line}");
        let v: serde_json::Value = serde_json::from_str(&json_line(&e)).unwrap();
        assert_eq!(v["qname"], "\\255\\254\\032a.b\\.\\\".");
        assert_eq!(v["rcode"], "NXDOMAIN");
        // No readable question (garbage, a compression pointer, a cut
        // message): a line all the same, without one.
        for bad in [
            &[0u8; 5][..],
            &query(b"\xc0\x0c", 1, None),
            &query(b"\x03www", 1, None)[..16],
        ] {
            let e = Entry::new(client(), Transport::Udp, bad, 1, None, 12);
            assert!(text_line(&e).contains(" qname=- qtype=- class=- rcode=FORMERR "));
            let v: serde_json::Value = serde_json::from_str(&json_line(&e)).unwrap();
            assert!(v["qname"].is_null() && v["qtype"].is_null());
        }
    }

    #[test]
    fn a_json_line_is_one_object() {
        let q = query(b"\x03www\x07example\x00", 28, Some((4096, false)));
        let e = Entry::new(
            "[::1]:4000".parse().unwrap(),
            Transport::Tcp,
            &q,
            0,
            Some((4096, false)),
            120,
        );
        let v: serde_json::Value = serde_json::from_str(&json_line(&e)).unwrap();
        assert_eq!(v["client"], "::1");
        assert_eq!(v["port"], 4000);
        assert_eq!(v["qname"], "www.example.");
        assert_eq!(v["qtype"], "AAAA");
        assert_eq!(v["class"], "IN");
        assert_eq!(v["transport"], "TCP");
        assert_eq!(v["edns"], 4096);
        assert_eq!(v["do"], false);
        assert_eq!(v["size"], 120);
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn the_file_gets_lines_only_while_the_log_is_on() {
        let dir = std::env::temp_dir().join(format!("vigia-querylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queries.log");
        let settings = Settings {
            file: Some(path.clone()),
            format: LogFormat::Json,
        };
        let dropped = IntCounter::new("d_total", "d").unwrap();
        let log = QueryLog::new(settings, dropped.clone());
        let q = query(b"\x01a\x00", 1, None);
        assert!(!log.enabled());
        // Off: handing lines over writes nothing (there is no writer).
        log.log(Entry::new(client(), Transport::Udp, &q, 0, None, 10));
        assert!(log.flush(Duration::from_secs(5)));
        assert!(!path.exists());
        assert!(log.set_enabled(true));
        for i in 0..3 {
            log.log(Entry::new(client(), Transport::Udp, &q, 0, None, i));
        }
        assert!(log.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        let sizes: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["size"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(sizes, [0, 1, 2]);
        // Rotated away and reconfigured (a reload): a new file, in text.
        let rotated = dir.join("queries.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.configure(Settings {
            file: Some(path.clone()),
            format: LogFormat::Text,
        });
        log.log(Entry::new(client(), Transport::Tcp, &q, 0, None, 7));
        assert!(log.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with(" transport=TCP edns=none do=false size=7\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
        log.set_enabled(false);
        assert_eq!(dropped.get(), 0);
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
