//! Packet hardening against a running vigia: every kind of malformed message
//! gets FORMERR (or NOTIMP/REFUSED where the question is well formed but not
//! served) or silence; never a crash, a hang, or an answer larger than the
//! query allows. Then a bounded, deterministic mutation loop over UDP and
//! TCP with the same invariants. Only loopback is ever a target.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;
/// The server's EDNS size (vigia's default).
const SERVER_EDNS: usize = 1232;
const SILENCE_WAIT: Duration = Duration::from_millis(300);

/// What a malformed message may get back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A response with one of these RCODEs.
    Rcode(&'static [u16]),
    /// No response at all.
    Silence,
    /// Either of the above.
    RcodeOrSilence(&'static [u16]),
}

/// The largest UDP response `query` may get: 512, or its EDNS size clamped
/// to 512..=1232 when the response carries an OPT (the server accepted the
/// query's).
fn udp_limit(query: &[u8], resp: &Msg) -> usize {
    if resp.opt.is_none() {
        return 512;
    }
    let asked = parse(query)
        .ok()
        .and_then(|m| m.opt)
        .map(|o| o.udp_size as usize)
        .unwrap_or(SERVER_EDNS);
    asked.clamp(512, SERVER_EDNS)
}

/// Checks what every response must be: parseable, QR set, the query's ID,
/// at most one OPT, no larger than the transport allows.
fn check_response(what: &str, query: &[u8], resp: &[u8], tcp: bool) -> Msg {
    let m = parse(resp).unwrap_or_else(|e| panic!("{what}: unparsable response ({e}): {resp:02x?}"));
    assert!(m.qr, "{what}: QR not set");
    if query.len() >= 2 {
        assert_eq!(
            m.id,
            u16::from_be_bytes([query[0], query[1]]),
            "{what}: ID not echoed"
        );
    }
    assert!(m.opt_count <= 1, "{what}: {} OPT records", m.opt_count);
    if !tcp {
        let limit = udp_limit(query, &m);
        assert!(
            resp.len() <= limit,
            "{what}: {} octets over UDP, limit {limit} (query {} octets)",
            resp.len(),
            query.len()
        );
    }
    if m.rcode == FORMERR {
        // An error echoes at most the question: never more than was sent.
        assert!(
            resp.len() <= query.len().max(12),
            "{what}: FORMERR of {} octets to a {}-octet query",
            resp.len(),
            query.len()
        );
    }
    m
}

fn udp_case(s: &Server, what: &str, q: &[u8], expect: Expect) {
    let got = udp_expect_silence(s.addr, q, SILENCE_WAIT);
    judge(what, q, got, expect, false);
}

fn judge(what: &str, q: &[u8], got: Option<Vec<u8>>, expect: Expect, tcp: bool) {
    let proto = if tcp { "TCP" } else { "UDP" };
    // Shown with --nocapture: what each case actually got.
    match got.as_deref().map(parse) {
        None => eprintln!("{what} over {proto}: silence"),
        Some(Ok(m)) => eprintln!("{what} over {proto}: {} ({} octets)", m.rcode_name(), m.size),
        Some(Err(e)) => eprintln!("{what} over {proto}: unparsable ({e})"),
    }
    match (got, expect) {
        (None, Expect::Silence | Expect::RcodeOrSilence(_)) => {}
        (None, Expect::Rcode(r)) => panic!("{what} over {proto}: no response, wanted rcode in {r:?}"),
        (Some(resp), Expect::Silence) => {
            panic!("{what} over {proto}: wanted silence, got {resp:02x?}")
        }
        (Some(resp), Expect::Rcode(r) | Expect::RcodeOrSilence(r)) => {
            let m = check_response(&format!("{what} over {proto}"), q, &resp, tcp);
            assert!(
                r.contains(&m.rcode),
                "{what} over {proto}: rcode {} not in {r:?}\n{}",
                m.rcode_name(),
                m.dump()
            );
        }
    }
}

/// Over TCP: the message, then a probe on the same connection. Answers come
/// in order, so whatever arrives before the probe's answer is the message's.
fn tcp_case(s: &Server, what: &str, q: &[u8], expect: Expect) {
    let probe = Q::new("no-paladar.com.br", SOA).id(0xbeef).build();
    let mut c = tcp_connect(s.addr).expect("tcp connect");
    let mut bytes = tcp_frame(q);
    bytes.extend_from_slice(&tcp_frame(&probe));
    c.write_all(&bytes).expect("tcp write");
    let first = tcp_read_msg(&mut c).unwrap_or_else(|| panic!("{what} over TCP: connection closed or hung"));
    let got = if first.len() >= 2 && first[..2] == [0xbe, 0xef] && !(q.len() >= 2 && q[..2] == [0xbe, 0xef]) {
        None
    } else {
        let probe_answer = tcp_read_msg(&mut c);
        assert!(
            probe_answer.is_some_and(|p| p.len() >= 2 && p[..2] == [0xbe, 0xef]),
            "{what} over TCP: no answer to the probe after it"
        );
        Some(first)
    };
    judge(what, q, got, expect, true);
}

fn still_serving(s: &mut Server, after: &str) {
    assert!(s.alive(), "vigia died after {after}\n{}", s.stderr());
    let m = s.ask(&Q::new("master.no-paladar.com.br", A));
    assert_eq!(m.rcode, 0, "after {after}: {}", m.dump());
    assert_eq!(m.answer.len(), 1, "after {after}: {}", m.dump());
}

/// A plain query for `name`/A with ID 0x4142 (whose header octets are not
/// a valid label or pointer when pointed at) and the given extra records.
fn query_with(name: &[u8], counts: [u16; 4], tail: &[u8]) -> Vec<u8> {
    let mut m = header_bytes(0x4142, 0x0100, counts);
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    m.extend_from_slice(tail);
    m
}

const WWW: &[u8] = b"\x03www\x0ano-paladar\x03com\x02br\x00";

/// One A record whose owner is `owner` (raw octets, may be a pointer).
fn answer_rr(owner: &[u8]) -> Vec<u8> {
    let mut v = owner.to_vec();
    v.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    v
}

/// The malformed kinds, each with what it may get back (same over UDP and
/// TCP unless the transport decides: see `udp_only`).
fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let formerr = Expect::Rcode(&[FORMERR]);
    let q_end = 12 + WWW.len() + 4;
    let mut v: Vec<(&'static str, Vec<u8>, Expect)> = Vec::new();

    // Compression pointers (only legal after the question).
    let loop_rr = answer_rr(&[0xC0, q_end as u8]);
    v.push(("pointer loop", query_with(WWW, [1, 1, 0, 0], &loop_rr), formerr));
    let fwd_rr = answer_rr(&[0xC0, (q_end + 20) as u8]);
    v.push(("forward pointer", query_with(WWW, [1, 1, 0, 0], &fwd_rr), formerr));
    let hdr_rr = answer_rr(&[0xC0, 0]);
    v.push((
        "pointer into the header",
        query_with(WWW, [1, 1, 0, 0], &hdr_rr),
        formerr,
    ));
    v.push((
        "pointer as the question name",
        query_with(&[0xC0, 0x0C], [1, 0, 0, 0], &[]),
        formerr,
    ));
    // Two records pointing at each other: the first forward, the second back.
    let mut pair = query_with(WWW, [1, 2, 0, 0], &[0xC0, (q_end + 12) as u8]);
    pair.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 0]);
    pair.extend_from_slice(&answer_rr(&[0xC0, q_end as u8]));
    v.push(("two-pointer loop", pair, formerr));

    // Labels and names.
    let mut l64 = vec![64u8];
    l64.extend_from_slice(&[b'a'; 64]);
    l64.extend_from_slice(b"\x03com\x00");
    v.push(("label of 64 octets", query_with(&l64, [1, 0, 0, 0], &[]), formerr));
    let mut l_reserved = vec![0x80u8 | 3];
    l_reserved.extend_from_slice(b"abc\x00");
    v.push((
        "label type 0b10",
        query_with(&l_reserved, [1, 0, 0, 0], &[]),
        formerr,
    ));
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63u8);
        long.extend_from_slice(&[b'x'; 63]);
    }
    long.push(0);
    v.push((
        "name of 321 octets",
        query_with(&long, [1, 0, 0, 0], &[]),
        formerr,
    ));
    let mut just_over = Vec::new();
    for _ in 0..4 {
        just_over.push(63u8);
        just_over.extend_from_slice(&[b'y'; 63]);
    }
    just_over.extend_from_slice(&[0]);
    // 4 * 64 + 1 = 257 octets.
    v.push((
        "name of 257 octets",
        query_with(&just_over, [1, 0, 0, 0], &[]),
        formerr,
    ));

    // Counts that lie.
    v.push(("qdcount 0", query_with(WWW, [0, 0, 0, 0], &[]), formerr));
    let mut two_q = query_with(WWW, [2, 0, 0, 0], &[]);
    two_q.extend_from_slice(WWW);
    two_q.extend_from_slice(&[0, 1, 0, 1]);
    v.push(("qdcount 2", two_q, formerr));
    v.push((
        "qdcount 2, one question",
        query_with(WWW, [2, 0, 0, 0], &[]),
        formerr,
    ));
    v.push(("ancount lies", query_with(WWW, [1, 1, 0, 0], &[]), formerr));
    v.push(("nscount lies", query_with(WWW, [1, 0, 3, 0], &[]), formerr));
    v.push(("arcount lies", query_with(WWW, [1, 0, 0, 1], &[]), formerr));
    v.push(("arcount 65535", query_with(WWW, [1, 0, 0, 0xFFFF], &[]), formerr));
    v.push(("qdcount 65535", query_with(WWW, [0xFFFF, 0, 0, 0], &[]), formerr));

    // Truncations and trailing garbage.
    let full = query_with(WWW, [1, 0, 0, 0], &[]);
    v.push(("question without class", full[..full.len() - 2].to_vec(), formerr));
    v.push(("question cut inside the name", full[..16].to_vec(), formerr));
    v.push((
        "trailing garbage",
        query_with(WWW, [1, 0, 0, 0], &[0xde, 0xad]),
        formerr,
    ));
    let rr = answer_rr(&[0xC0, 12]);
    v.push((
        "answer record cut short",
        query_with(WWW, [1, 1, 0, 0], &rr[..rr.len() - 3]),
        formerr,
    ));

    // OPT abuse.
    let opt = opt_rr(1232, 0, false, &[]);
    v.push(("truncated OPT", query_with(WWW, [1, 0, 0, 1], &opt[..7]), formerr));
    let mut past_end = opt_rr(1232, 0, false, &[]);
    past_end[9..11].copy_from_slice(&100u16.to_be_bytes());
    past_end.extend_from_slice(&[0, 10, 0, 8]);
    v.push((
        "OPT rdlen past the end",
        query_with(WWW, [1, 0, 0, 1], &past_end),
        formerr,
    ));
    v.push((
        "OPT in the answer section",
        query_with(WWW, [1, 1, 0, 0], &opt),
        formerr,
    ));
    v.push((
        "OPT in the authority section",
        query_with(WWW, [1, 0, 1, 0], &opt),
        formerr,
    ));
    let mut two_opt = opt.clone();
    two_opt.extend_from_slice(&opt);
    v.push((
        "two OPT records",
        query_with(WWW, [1, 0, 0, 2], &two_opt),
        formerr,
    ));
    let mut opt_owner = vec![1, b'a'];
    opt_owner.extend_from_slice(&opt);
    v.push((
        "OPT not owned by the root",
        query_with(WWW, [1, 0, 0, 1], &opt_owner),
        formerr,
    ));
    let bad_option = opt_rr(1232, 0, false, &[0, 10, 0, 200, 1, 2]);
    v.push((
        "OPT option longer than its RDATA",
        query_with(WWW, [1, 0, 0, 1], &bad_option),
        // The option list is not parsed: answered, or refused as malformed.
        Expect::Rcode(&[0, FORMERR]),
    ));

    // Classes.
    let class = |c: u16| {
        let mut m = query_with(WWW, [1, 0, 0, 0], &[]);
        let n = m.len();
        m[n - 2..].copy_from_slice(&c.to_be_bytes());
        m
    };
    let not_served = Expect::Rcode(&[FORMERR, NOTIMP, REFUSED]);
    v.push(("unknown class 7", class(7), not_served));
    // Class ANY is answered from the IN data (without AA), as Knot and NSD.
    v.push(("class ANY", class(255), Expect::Rcode(&[0])));
    v.push(("class NONE", class(254), not_served));
    v.push(("class CH", class(3), not_served));
    v.push(("class 0", class(0), not_served));

    // Things that must never be answered.
    let mut resp = query_with(WWW, [1, 0, 0, 0], &[]);
    resp[2] |= 0x80;
    v.push(("QR=1 (a response)", resp, Expect::Silence));
    let mut resp_err = query_with(WWW, [0, 0, 0, 0], &[]);
    resp_err[2] |= 0x80;
    resp_err[3] = 1;
    v.push(("QR=1 FORMERR response", resp_err, Expect::Silence));
    v.push(("11-octet message", vec![0x41; 11], Expect::Silence));
    v.push(("empty message", vec![], Expect::Silence));

    // Unknown opcode with garbage after the header: a bare NOTIMP at most.
    let mut op = query_with(WWW, [1, 0, 0, 0], &[0xff; 40]);
    op[2] = 3 << 3;
    v.push((
        "opcode 3 with garbage",
        op,
        Expect::RcodeOrSilence(&[NOTIMP, FORMERR]),
    ));
    v
}

#[test]
fn malformed_messages_get_formerr_or_silence() {
    let mut s = Server::start_default();
    for (what, q, expect) in cases() {
        udp_case(&s, what, &q, expect);
        tcp_case(&s, what, &q, expect);
    }
    still_serving(&mut s, "the malformed cases");

    // Huge OPT: options filling 4 KB. vigia reads any datagram whole (as
    // BIND does), so over UDP too it is a query like any other, answered
    // within the EDNS size.
    let mut options = Vec::new();
    while options.len() < 4096 {
        options.extend_from_slice(&[0xFD, 0xE9, 0, 60]); // local/experimental
        options.extend_from_slice(&[0x5A; 60]);
    }
    let huge = query_with(WWW, [1, 0, 0, 1], &opt_rr(4096, 0, false, &options));
    udp_case(
        &s,
        "huge OPT (4 KB of options)",
        &huge,
        Expect::Rcode(&[0, FORMERR]),
    );
    tcp_case(
        &s,
        "huge OPT (4 KB of options)",
        &huge,
        Expect::Rcode(&[0, FORMERR]),
    );
    // Exactly 4096 octets: must be answered, within 1232 octets.
    let room = 4096 - (12 + WWW.len() + 4 + 11);
    let fitting = query_with(
        WWW,
        [1, 0, 0, 1],
        &opt_rr(4096, 0, true, &{
            let mut o = vec![0xFD, 0xE9];
            o.extend_from_slice(&((room - 4) as u16).to_be_bytes());
            o.resize(room, 0x33);
            o
        }),
    );
    assert_eq!(fitting.len(), 4096);
    udp_case(
        &s,
        "OPT filling a 4096-octet datagram",
        &fitting,
        Expect::Rcode(&[0]),
    );

    // 64 KB of garbage in one datagram: silence.
    let mut rng = Rng(0x6a7b_a9e5);
    let garbage: Vec<u8> = (0..65_000).map(|_| rng.next() as u8).collect();
    udp_case(&s, "64 KB datagram of garbage", &garbage, Expect::Silence);
    let mut big_query = query_with(WWW, [1, 0, 0, 0], &[]);
    big_query.resize(65_000, 0);
    udp_case(
        &s,
        "64 KB datagram with a query header",
        &big_query,
        Expect::Rcode(&[FORMERR]),
    );

    // TCP framing abuse: a zero-length message, a length that promises more
    // than is sent (then close), a message cut mid-frame.
    tcp_case(&s, "zero-length TCP message", &[], Expect::Silence);
    {
        let mut c = tcp_connect(s.addr).expect("tcp connect");
        c.write_all(&[0xFF, 0xFF, 0x41, 0x42, 0x01]).unwrap();
        drop(c);
        let mut c = tcp_connect(s.addr).expect("tcp connect");
        c.write_all(&[0x00]).unwrap();
        drop(c);
    }
    still_serving(&mut s, "the size and framing cases");
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let names = [
        "no-paladar.com.br",
        "www.no-paladar.com.br",
        "master.no-paladar.com.br",
        "nope.no-paladar.com.br",
        "108.0.168.192.in-addr.arpa",
        "big.edge.test",
        "c1.edge.test",
        "x.dn.edge.test",
        "foo.wild.edge.test",
        "www.sub.edge.test",
        "example.org",
    ];
    let mut v = Vec::new();
    for (i, n) in names.iter().enumerate() {
        for (j, t) in [A, AAAA, ANY, MX, TXT, SOA, NS].iter().enumerate() {
            let q = Q::new(n, *t).rd(i % 2 == 0);
            v.push(match (i + j) % 3 {
                0 => q.build(),
                1 => q.edns(1232).build(),
                _ => q.edns(4096).do_bit().build(),
            });
        }
    }
    // Seeds that already carry records after the question.
    v.push(query_with(WWW, [1, 1, 0, 0], &answer_rr(&[0xC0, 12])));
    v.push(query_with(
        WWW,
        [1, 0, 0, 1],
        &opt_rr(1232, 0, false, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
    ));
    v
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = m.len().max(1);
        match rng.below(10) {
            0 => {
                let i = rng.below(len);
                if let Some(b) = m.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                if let Some(b) = m.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                let i = rng.below(m.len() + 1);
                m.insert(i, rng.next() as u8);
            }
            3 if !m.is_empty() => {
                let i = rng.below(m.len());
                m.remove(i);
            }
            4 => m.truncate(rng.below(len)),
            5 => {
                // A count (QD, AN, NS or AR) set to something small or huge.
                let at = 4 + 2 * rng.below(4);
                let val: u16 = if rng.below(2) == 0 {
                    rng.below(4) as u16
                } else {
                    rng.next() as u16
                };
                if m.len() >= at + 2 {
                    m[at..at + 2].copy_from_slice(&val.to_be_bytes());
                }
            }
            6 => {
                // A compression pointer somewhere.
                let i = rng.below(m.len() + 1);
                let p = rng.below(m.len() + 16) as u16 | 0xC000;
                m.splice(i..i, p.to_be_bytes());
            }
            7 => {
                // A label length octet changed.
                if m.len() > 12 {
                    let i = 12 + rng.below(m.len() - 12);
                    m[i] = [0, 1, 63, 64, 0x7F, 0xBF, 0xFF][rng.below(7)];
                }
            }
            8 => {
                let n = rng.below(64);
                m.extend((0..n).map(|_| rng.next() as u8));
            }
            _ => {
                // A chunk duplicated (repeated labels, records, OPTs).
                if m.len() > 2 {
                    let a = rng.below(m.len());
                    let b = (a + 1 + rng.below(32)).min(m.len());
                    let chunk = m[a..b].to_vec();
                    let at = rng.below(m.len() + 1);
                    m.splice(at..at, chunk);
                }
            }
        }
    }
    if rng.below(16) == 0 && m.len() > 2 {
        m[2] |= 0x80; // sometimes a response: must stay unanswered
    }
    m
}

#[test]
fn mutated_queries_keep_the_invariants() {
    let mut s = Server::start_default();
    let started = Instant::now();
    mutation_loop(&mut s, 0x00c0_ffee_d15e_a5e5, 200, 20);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// The same with response rate limiting on: what it drops is silence, what
/// it slips (TC=1, header and question) must keep the invariants too.
#[test]
fn mutated_queries_under_rate_limiting() {
    let rrl = "\n[rrl]\nenabled = true\nresponses_per_second = 5\nslip = 2\n";
    let mut s = Server::start(ServerOpts::new(all_zones()).with_extra(rrl));
    mutation_loop(&mut s, 0x0bad_5eed_f00d, 50, 0);
}

/// `udp_batches` x 100 mutated queries over UDP, then `tcp_batches` x 100
/// over one TCP connection; every answer checked, the server alive after.
fn mutation_loop(s: &mut Server, seed: u64, udp_batches: u16, tcp_batches: u16) {
    let seeds = seeds();
    let mut rng = Rng(seed);

    // UDP: batches of 100 with distinct IDs; answers matched by ID.
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sock.connect(s.addr).unwrap();
    let mut buf = vec![0u8; 65535];
    let (mut sent, mut answered) = (0usize, 0usize);
    // IDs are unique over the run, so a late answer is still matched.
    let mut out: HashMap<u16, Vec<u8>> = HashMap::new();
    for batch in 0..udp_batches {
        for k in 0..100u16 {
            let seed = &seeds[rng.below(seeds.len())];
            let mut m = mutate(&mut rng, seed);
            let id = batch * 100 + k;
            if m.len() >= 2 {
                m[..2].copy_from_slice(&id.to_be_bytes());
            }
            if sock.send(&m).is_ok() {
                sent += 1;
            }
            if m.len() >= 2 {
                out.insert(id, m);
            }
        }
        sock.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
        while let Ok(n) = sock.recv(&mut buf) {
            let resp = &buf[..n];
            assert!(n >= 2, "a {n}-octet datagram back");
            let id = u16::from_be_bytes([resp[0], resp[1]]);
            let q = out
                .remove(&id)
                .unwrap_or_else(|| panic!("answer with unknown or repeated ID {id}: {resp:02x?}"));
            assert!(q.len() >= 12 && q[2] & 0x80 == 0, "answered {q:02x?}");
            check_response(&format!("mutated {q:02x?}"), &q, resp, false);
            answered += 1;
        }
    }
    eprintln!("UDP: {sent} mutated queries, {answered} answered");
    still_serving(s, "the mutated UDP queries");

    // TCP: 2,000 more, pipelined in batches of 100 on one connection, each
    // batch closed by a probe; whatever precedes the probe's answer belongs
    // to the batch, in order.
    let mut c = tcp_connect(s.addr).expect("tcp connect");
    let probe = Q::new("no-paladar.com.br", SOA).id(0xffff).build();
    let mut tcp_answered = 0;
    for batch in 0..tcp_batches {
        let mut bytes = Vec::new();
        let mut out: HashMap<u16, Vec<u8>> = HashMap::new();
        for k in 0..100u16 {
            let seed = &seeds[rng.below(seeds.len())];
            let mut m = mutate(&mut rng, seed);
            let id = batch * 100 + k;
            if m.len() >= 2 {
                m[..2].copy_from_slice(&id.to_be_bytes());
                out.insert(id, m.clone());
            }
            bytes.extend_from_slice(&tcp_frame(&m));
        }
        bytes.extend_from_slice(&tcp_frame(&probe));
        c.write_all(&bytes).expect("tcp write");
        loop {
            let resp = tcp_read_msg(&mut c).expect("TCP connection closed or hung mid-batch");
            let id = u16::from_be_bytes([resp[0], resp[1]]);
            if id == 0xffff {
                break;
            }
            let q = out
                .remove(&id)
                .unwrap_or_else(|| panic!("TCP answer with unknown or repeated ID {id}"));
            assert!(q.len() >= 12 && q[2] & 0x80 == 0, "answered over TCP: {q:02x?}");
            check_response(&format!("mutated over TCP {q:02x?}"), &q, &resp, true);
            tcp_answered += 1;
        }
    }
    eprintln!(
        "TCP: {} mutated queries, {tcp_answered} answered",
        tcp_batches as usize * 100
    );
    still_serving(s, "the mutated TCP queries");
}
