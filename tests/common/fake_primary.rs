//! A stand-in primary for the tests of vigia as a secondary, for what a
//! real one cannot be made to do (answer unsigned, never move its serial):
//! it answers every query over TCP with one SOA record of the zone asked
//! (a fixed serial and timers), and records when each query came.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{encode_name, parse, question_bytes, tcp_frame, tcp_read_msg, SOA, TIMEOUT};

/// The SOA record a [`FakePrimary`] answers with.
#[derive(Clone, Copy, Debug)]
pub struct FakeSoa {
    pub serial: u32,
    /// refresh, retry, expire, minimum.
    pub timers: [u32; 4],
    pub ttl: u32,
}

/// One query it received: when, for which zone (lower case, no trailing
/// dot), of which type.
#[derive(Clone, Debug)]
pub struct Asked {
    pub at: Instant,
    pub zone: String,
    pub qtype: u16,
}

/// The fake primary, on a free port of a loopback address; its thread
/// ends with the test.
pub struct FakePrimary {
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl FakePrimary {
    /// Listens on `ip` (loopback), answering with `soa`, never signed.
    pub fn start(ip: Ipv4Addr, soa: FakeSoa) -> FakePrimary {
        assert!(ip.is_loopback(), "only loopback addresses may be used");
        let listener = TcpListener::bind((ip, 0)).expect("bind the fake primary");
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(s) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || answer(s, soa, &log));
            }
        });
        FakePrimary { addr, asked }
    }

    /// When each SOA query for `zone` came, in order.
    pub fn times(&self, zone: &str) -> Vec<Instant> {
        self.soa_queries(|a| a.zone == zone)
    }

    /// When each SOA query came, for any zone.
    pub fn all_times(&self) -> Vec<Instant> {
        self.soa_queries(|_| true)
    }

    fn soa_queries(&self, keep: impl Fn(&Asked) -> bool) -> Vec<Instant> {
        let asked = self.asked.lock().unwrap();
        asked
            .iter()
            .filter(|a| a.qtype == SOA && keep(a))
            .map(|a| a.at)
            .collect()
    }
}

/// Answers one query on `s`, records it, and waits for the client to
/// close (or the read deadline).
fn answer(mut s: TcpStream, soa: FakeSoa, log: &Mutex<Vec<Asked>>) {
    let _ = s.set_read_timeout(Some(TIMEOUT));
    let Some(q) = tcp_read_msg(&mut s) else { return };
    let Some((reply, asked)) = soa_reply(&q, soa) else {
        return;
    };
    log.lock().unwrap().push(asked);
    let _ = s.write_all(&tcp_frame(&reply));
    let _ = s.read(&mut [0u8; 1]);
}

/// The reply to `q`: its question, and the asked zone's SOA as the answer.
fn soa_reply(q: &[u8], soa: FakeSoa) -> Option<(Vec<u8>, Asked)> {
    let m = parse(q).ok()?;
    let question = m.question.first()?;
    let zone = question.name.trim_end_matches('.').to_ascii_lowercase();
    // QR and AA, one question, one answer.
    let mut r = q.get(..2)?.to_vec();
    r.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(&question_bytes(&zone, question.qtype));
    let mut rdata = encode_name(&format!("ns.{zone}"));
    rdata.extend(encode_name(&format!("hostmaster.{zone}")));
    for v in [soa.serial].into_iter().chain(soa.timers) {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    r.extend_from_slice(&encode_name(&zone));
    r.extend_from_slice(&[0, 6, 0, 1]);
    r.extend_from_slice(&soa.ttl.to_be_bytes());
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(&rdata);
    let asked = Asked {
        at: Instant::now(),
        zone,
        qtype: question.qtype,
    };
    Some((r, asked))
}
