//! Command line: `vigia serve`, `vigia check`, `vigia query`, `vigia import-bind`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// vigia: an authoritative DNS server that replaces BIND for small sites and
/// moves names away from web servers that stop answering.
///
/// It serves BIND-format zone files over UDP and TCP, probes the web servers
/// named in config.toml over HTTP or TCP, and rewrites A/CNAME answers while
/// one is down. Metrics, status and the drain API are on [metrics] listen.
#[derive(Parser)]
#[command(name = "vigia", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones in the config (runs until SIGTERM; SIGHUP reloads).
    Serve {
        /// Configuration file (zone paths in it are relative to its folder).
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Check the config and every zone file like named-checkconf -z, then exit.
    ///
    /// Prints `zone NAME/IN: loaded serial N (K records)` per zone; on any
    /// error prints `FILE:LINE: reason` and exits with status 1. Starts no
    /// health checks and opens no sockets.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Send one DNS query and print the answer, like a tiny dig.
    ///
    /// Prints the status (rcode), the header flags and every section in
    /// presentation form. Exits with status 0 when an answer with NOERROR or
    /// NXDOMAIN arrives, and 1 on a timeout, a network error, a malformed
    /// answer or any other rcode (SERVFAIL, REFUSED, ...). Used by the
    /// container's HEALTHCHECK, e.g. `vigia query no-paladar.com.br SOA`.
    ///
    /// The query is non-recursive with EDNS(0) (UDP payload 1232); a
    /// truncated UDP answer is retried over TCP.
    Query {
        /// Name to ask for (a final dot is optional: names are absolute).
        name: String,
        /// Record type: A, AAAA, CNAME, MX, NS, SOA, TXT, PTR, SRV, CAA, ANY,
        /// ... or TYPEnnn.
        #[arg(default_value = "A", value_name = "TYPE")]
        rtype: String,
        /// Server to ask, ADDRESS:PORT (or a bare address for port 53).
        #[arg(short, long, default_value = "127.0.0.1:53", value_name = "ADDR:PORT")]
        server: String,
        /// Ask over TCP instead of UDP.
        #[arg(long)]
        tcp: bool,
        /// How long to wait for the answer ("500ms", "2s", ...).
        #[arg(long, default_value = "2s", value_parser = parse_timeout)]
        timeout: Duration,
        /// Print only the answer records' data, one per line (like dig +short).
        #[arg(long)]
        short: bool,
    },
    /// Convert a BIND named.conf (and the files it includes) to a config.toml.
    ///
    /// Carries listen-on, zones (primary and secondary: file, allow-transfer,
    /// also-notify, masters) and the TSIG keys they use. Writes the config to
    /// standard output or --out; prints what it cannot carry (recursion,
    /// views, DNSSEC, logging, ...) to standard error as
    /// `FILE:LINE: warning: ...` and lists it in the config. Exits 1 if
    /// named.conf cannot be read or no zone can be carried.
    ImportBind {
        /// BIND's configuration, e.g. /etc/named.conf or /etc/bind/named.conf.
        #[arg(value_name = "NAMED_CONF")]
        named_conf: PathBuf,
        /// Write the config to FILE (zone files under its folder are then
        /// named relative to it; otherwise paths are absolute).
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read absolute paths inside named.conf under DIR, as `named -t DIR`
        /// does (for a copy of another host's /etc and /var/named).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match vigia::config::parse_duration(s)? {
        d if d.is_zero() => Err("the timeout must be greater than zero".into()),
        d => Ok(d),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => match vigia::app::serve(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigia: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Check { config } => match vigia::app::check(&config) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                // A named.conf given by mistake: point at import-bind.
                eprintln!("{}", vigia::bindconf::hint_for(&config).unwrap_or(e));
                ExitCode::FAILURE
            }
        },
        Command::ImportBind {
            named_conf,
            out,
            root,
        } => match vigia::bindconf::cli(&named_conf, out.as_deref(), root.as_deref()) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        },
        Command::Query {
            name,
            rtype,
            server,
            tcp,
            timeout,
            short,
        } => {
            let opts = query::Opts {
                name,
                rtype,
                server,
                tcp,
                timeout,
                short,
            };
            match query::run(&opts) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("vigia query: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `vigia query`: one query, one answer, printed like dig prints it.
mod query {
    use std::fmt::Write as _;
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
    use std::str::FromStr;
    use std::time::{Duration, Instant};

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

    /// The EDNS UDP payload size asked for (the DNS Flag Day 2020 value).
    const EDNS_PAYLOAD: u16 = 1232;

    pub struct Opts {
        pub name: String,
        pub rtype: String,
        pub server: String,
        pub tcp: bool,
        pub timeout: Duration,
        pub short: bool,
    }

    /// Sends the query and prints the answer. Ok(true) if the answer's rcode
    /// is NOERROR or NXDOMAIN, Ok(false) for any other rcode; Err when no
    /// usable answer came back.
    pub fn run(o: &Opts) -> Result<bool, String> {
        let mut name =
            Name::from_str(&o.name).map_err(|e| format!("'{}' is not a domain name: {e}", o.name))?;
        name.set_fqdn(true);
        let rtype = parse_type(&o.rtype)?;
        let server = parse_server(&o.server)?;
        let id: u16 = rand::random();
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = false;
        msg.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        msg.set_edns(edns);
        let wire = msg
            .to_vec()
            .map_err(|e| format!("cannot encode the query: {e}"))?;

        let started = Instant::now();
        let (mut transport, mut bytes) = if o.tcp {
            ("tcp", ask_tcp(server, &wire, o.timeout)?)
        } else {
            ("udp", ask_udp(server, &wire, id, o.timeout)?)
        };
        let mut answer = decode(&bytes, id, &name, rtype)?;
        if transport == "udp" && answer.metadata.truncation {
            eprintln!(";; Truncated, retrying in TCP mode.");
            transport = "tcp";
            bytes = ask_tcp(server, &wire, o.timeout)?;
            answer = decode(&bytes, id, &name, rtype)?;
        }
        let elapsed = started.elapsed();

        let rcode = answer.metadata.response_code;
        if o.short {
            for r in &answer.answers {
                println!("{}", rdata_text(r));
            }
        } else {
            print!("{}", render(&answer, server, transport, bytes.len(), elapsed));
        }
        let ok = matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain);
        if !ok {
            eprintln!(
                "vigia query: {server} answered {name} {} with status {}",
                type_text(rtype),
                rcode_name(rcode)
            );
        }
        Ok(ok)
    }

    fn parse_type(s: &str) -> Result<RecordType, String> {
        let up = s.to_ascii_uppercase();
        let t = match up.strip_prefix("TYPE") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => RecordType::from(
                n.parse::<u16>()
                    .map_err(|_| format!("'{s}' is not a record type"))?,
            ),
            _ => RecordType::from_str(&up).map_err(|_| {
                format!("'{s}' is not a record type (e.g. A, AAAA, MX, SOA, TXT or TYPE65280)")
            })?,
        };
        if matches!(t, RecordType::AXFR | RecordType::IXFR) {
            return Err(format!(
                "{up} is a zone transfer, not a query: use `dig @SERVER ZONE {up}`"
            ));
        }
        if t == RecordType::OPT {
            return Err("OPT is a pseudo-record and cannot be asked for".into());
        }
        Ok(t)
    }

    fn parse_server(s: &str) -> Result<SocketAddr, String> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(a);
        }
        let bare = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
        bare.parse::<IpAddr>()
            .map(|ip| SocketAddr::new(ip, 53))
            .map_err(|_| {
                format!("--server '{s}' is not ADDRESS:PORT (e.g. 127.0.0.1:53 or [::1]:5353); names are not resolved")
            })
    }

    fn ask_udp(server: SocketAddr, wire: &[u8], id: u16, timeout: Duration) -> Result<Vec<u8>, String> {
        let local: IpAddr = if server.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let sock = UdpSocket::bind((local, 0)).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
        sock.connect(server)
            .map_err(|e| format!("cannot send to {server}: {e}"))?;
        sock.send(wire)
            .map_err(|e| format!("cannot send to {server}: {e}"))?;
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65535];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(no_answer(server, "udp", timeout));
            }
            sock.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
            match sock.recv(&mut buf) {
                // A stray datagram (an answer to someone else's query) is skipped.
                Ok(n) if n < 2 || u16::from_be_bytes([buf[0], buf[1]]) != id => continue,
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(no_answer(server, "udp", timeout))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // ECONNREFUSED: an ICMP port unreachable came back.
                Err(e) => return Err(format!("no answer from {server} over udp: {e}")),
            }
        }
    }

    fn ask_tcp(server: SocketAddr, wire: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + timeout;
        let mut s = TcpStream::connect_timeout(&server, timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                no_answer(server, "tcp", timeout)
            } else {
                format!("cannot connect to {server} over tcp: {e}")
            }
        })?;
        let left = || Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero());
        let io = |e: std::io::Error| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                no_answer(server, "tcp", timeout)
            } else {
                format!("no answer from {server} over tcp: {e}")
            }
        };
        let _ = s.set_nodelay(true);
        let len = u16::try_from(wire.len()).map_err(|_| "query too long".to_string())?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(wire);
        s.set_write_timeout(left()).map_err(io)?;
        s.write_all(&framed).map_err(io)?;
        let mut head = [0u8; 2];
        s.set_read_timeout(Some(left().ok_or_else(|| no_answer(server, "tcp", timeout))?))
            .map_err(io)?;
        s.read_exact(&mut head).map_err(io)?;
        let mut body = vec![0u8; u16::from_be_bytes(head) as usize];
        s.set_read_timeout(Some(left().ok_or_else(|| no_answer(server, "tcp", timeout))?))
            .map_err(io)?;
        s.read_exact(&mut body).map_err(io)?;
        Ok(body)
    }

    fn no_answer(server: SocketAddr, transport: &str, timeout: Duration) -> String {
        format!("no answer from {server} over {transport} within {timeout:?} (timed out)")
    }

    /// Decodes the answer and checks it is the answer to our question.
    fn decode(bytes: &[u8], id: u16, name: &Name, rtype: RecordType) -> Result<Message, String> {
        let m =
            Message::from_vec(bytes).map_err(|e| format!("malformed answer ({} bytes): {e}", bytes.len()))?;
        if m.metadata.id != id {
            return Err(format!("answer has id {} but the query had {id}", m.metadata.id));
        }
        if m.metadata.message_type != MessageType::Response {
            return Err("the server sent back a query, not a response".into());
        }
        // Some error answers (FORMERR) carry no question; if one is there, it must be ours.
        if let Some(q) = m.queries.first() {
            if q.name() != name || q.query_type() != rtype || q.query_class() != DNSClass::IN {
                return Err(format!(
                    "the answer is for another question ({} {} {})",
                    q.name(),
                    q.query_class(),
                    q.query_type()
                ));
            }
        }
        Ok(m)
    }

    pub fn rcode_name(r: ResponseCode) -> String {
        match u16::from(r) {
            0 => "NOERROR".into(),
            1 => "FORMERR".into(),
            2 => "SERVFAIL".into(),
            3 => "NXDOMAIN".into(),
            4 => "NOTIMP".into(),
            5 => "REFUSED".into(),
            6 => "YXDOMAIN".into(),
            7 => "YXRRSET".into(),
            8 => "NXRRSET".into(),
            9 => "NOTAUTH".into(),
            10 => "NOTZONE".into(),
            16 => "BADVERS".into(),
            23 => "BADCOOKIE".into(),
            n => format!("RCODE{n}"),
        }
    }

    fn flags(m: &Message) -> String {
        let h = &m.metadata;
        [
            (h.message_type == MessageType::Response, "qr"),
            (h.authoritative, "aa"),
            (h.truncation, "tc"),
            (h.recursion_desired, "rd"),
            (h.recursion_available, "ra"),
            (h.authentic_data, "ad"),
            (h.checking_disabled, "cd"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
    }

    fn type_text(t: RecordType) -> String {
        match t {
            RecordType::Unknown(n) => format!("TYPE{n}"),
            t => t.to_string(),
        }
    }

    fn class_text(c: DNSClass) -> String {
        match c {
            DNSClass::Unknown(n) => format!("CLASS{n}"),
            c => c.to_string(),
        }
    }

    /// RFC 3597 generic form, `\# LEN HEX`.
    fn generic(b: &[u8]) -> String {
        let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
        if b.is_empty() {
            "\\# 0".into()
        } else {
            format!("\\# {} {hex}", b.len())
        }
    }

    fn rdata_text(r: &Record) -> String {
        match &r.data {
            RData::Unknown { rdata, .. } | RData::NULL(rdata) => generic(&rdata.anything),
            d => {
                let mut s = String::new();
                match write!(s, "{d}") {
                    Ok(()) => s,
                    Err(_) => "; (rdata cannot be shown)".into(),
                }
            }
        }
    }

    fn rr_line(r: &Record) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}",
            r.name,
            r.ttl,
            class_text(r.dns_class),
            type_text(r.record_type()),
            rdata_text(r)
        )
    }

    /// The answer in dig's layout.
    fn render(m: &Message, server: SocketAddr, transport: &str, size: usize, elapsed: Duration) -> String {
        let h = &m.metadata;
        let mut s = String::new();
        let _ = writeln!(
            s,
            ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
            h.op_code,
            rcode_name(h.response_code),
            h.id
        );
        let _ = writeln!(
            s,
            ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
            flags(m),
            m.queries.len(),
            m.answers.len(),
            m.authorities.len(),
            m.additionals.len() + usize::from(m.edns.is_some())
        );
        if let Some(e) = &m.edns {
            let _ = writeln!(
                s,
                ";; EDNS: version: {}, flags:{}; udp: {}",
                e.version(),
                if e.flags().dnssec_ok { " do" } else { "" },
                e.max_payload()
            );
        }
        let _ = writeln!(s, "\n;; QUESTION SECTION:");
        for q in &m.queries {
            let _ = writeln!(
                s,
                ";{}\t\t{}\t{}",
                q.name(),
                class_text(q.query_class()),
                type_text(q.query_type())
            );
        }
        for (title, rrs) in [
            ("ANSWER", &m.answers),
            ("AUTHORITY", &m.authorities),
            ("ADDITIONAL", &m.additionals),
        ] {
            if rrs.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n;; {title} SECTION:");
            for r in rrs {
                let _ = writeln!(s, "{}", rr_line(r));
            }
        }
        let _ = writeln!(s, "\n;; Query time: {} msec", elapsed.as_millis());
        let _ = writeln!(s, ";; SERVER: {server} ({transport})");
        let _ = writeln!(s, ";; MSG SIZE  rcvd: {size}");
        s
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn types_and_servers() {
            assert_eq!(parse_type("soa").unwrap(), RecordType::SOA);
            assert_eq!(parse_type("TYPE65280").unwrap(), RecordType::Unknown(65280));
            assert_eq!(parse_type("type1").unwrap(), RecordType::A);
            assert!(parse_type("AXFR").unwrap_err().contains("zone transfer"));
            assert!(parse_type("BOGUS").is_err());
            assert_eq!(
                parse_server("127.0.0.1").unwrap(),
                "127.0.0.1:53".parse().unwrap()
            );
            assert_eq!(parse_server("[::1]").unwrap(), "[::1]:53".parse().unwrap());
            assert_eq!(parse_server("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
            assert!(parse_server("localhost:53").unwrap_err().contains("ADDRESS:PORT"));
            assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
            assert_eq!(generic(&[1, 0xab]), "\\# 2 01AB");
        }
    }
}
