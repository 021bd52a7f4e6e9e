//! A small, self-contained DNS message parser ([`parse`]).

use std::fmt::Write as _;

use super::{type_name, A, AAAA, CAA, CNAME, DNAME, HINFO, MX, NAPTR, NS, OPT, PTR, RP, SOA, SRV, TXT};

// Wire parser
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    /// Presentation form, case as received.
    pub owner: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Presentation form (names decompressed, case as received).
    pub rdata: String,
    /// Uncompressed wire rdata.
    pub rdata_wire: Vec<u8>,
}

impl Rr {
    /// "owner ttl class type rdata", as received.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.owner,
            self.ttl,
            class_name(self.class),
            type_name(self.rtype),
            self.rdata
        )
    }
}

/// The mnemonic of class `c` (`CLASS<n>` for one without).
pub fn class_name(c: u16) -> String {
    match c {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        c => format!("CLASS{c}"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub udp_size: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub do_bit: bool,
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub wire: Vec<u8>,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, Debug)]
pub struct Msg {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// Full rcode (header 4 bits | OPT extended rcode << 4).
    pub rcode: u16,
    pub header_rcode: u8,
    pub counts: [u16; 4],
    pub question: Vec<Question>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// Without the OPT record.
    pub additional: Vec<Rr>,
    pub opt: Option<Opt>,
    pub opt_count: usize,
    /// Bytes of the whole message.
    pub size: usize,
    /// Offset where the question section ends.
    pub question_end: usize,
}

impl Msg {
    pub fn answer_types(&self) -> Vec<u16> {
        self.answer.iter().map(|r| r.rtype).collect()
    }
    pub fn rcode_name(&self) -> String {
        rcode_name(self.rcode)
    }
    /// The whole message, dig style, for failure messages.
    pub fn dump(&self) -> String {
        let mut s = String::new();
        writeln!(
            s,
            ";; id {} opcode {} rcode {} flags {} size {}",
            self.id,
            self.opcode,
            self.rcode_name(),
            flags_string(self),
            self.size
        )
        .unwrap();
        if let Some(o) = &self.opt {
            writeln!(
                s,
                ";; OPT udp {} version {} do {} ext {} options {:?}",
                o.udp_size, o.version, o.do_bit, o.ext_rcode, o.options
            )
            .unwrap();
        }
        for q in &self.question {
            writeln!(s, ";{} {} {}", q.name, class_name(q.qclass), type_name(q.qtype)).unwrap();
        }
        for (n, sec) in [
            ("ANSWER", &self.answer),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            writeln!(s, ";; {n}").unwrap();
            for r in sec {
                writeln!(s, "{}", r.line()).unwrap();
            }
        }
        s
    }
}

/// The name of rcode `r` (`RCODE<n>` for one without).
pub fn rcode_name(r: u16) -> String {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        9 => "NOTAUTH".into(),
        16 => "BADVERS".into(),
        23 => "BADCOOKIE".into(),
        r => format!("RCODE{r}"),
    }
}

/// The header flags that are set, in header order, as dig names them.
pub fn flag_names(m: &Msg) -> Vec<&'static str> {
    let flags = [
        (m.qr, "qr"),
        (m.aa, "aa"),
        (m.tc, "tc"),
        (m.rd, "rd"),
        (m.ra, "ra"),
        (m.z, "z"),
        (m.ad, "ad"),
        (m.cd, "cd"),
    ];
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect()
}

/// The flags that are set, as dig prints them ("qr aa rd").
pub fn flags_string(m: &Msg) -> String {
    flag_names(m).join(" ")
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or("short read (u8)")?;
        self.pos += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(((self.u8()? as u16) << 8) | self.u8()? as u16)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(((self.u16()? as u32) << 16) | self.u16()? as u32)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.pos + n > self.b.len() {
            return Err(format!("short read ({n} bytes at {})", self.pos));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// A possibly compressed name: (uncompressed wire form).
    fn name(&mut self) -> Result<Vec<u8>, String> {
        let mut out = vec![];
        let mut pos = self.pos;
        let mut jumped = false;
        let mut hops = 0;
        loop {
            let len = *self.b.get(pos).ok_or("short name")?;
            if len & 0xc0 == 0xc0 {
                let lo = *self.b.get(pos + 1).ok_or("short pointer")?;
                if !jumped {
                    self.pos = pos + 2;
                    jumped = true;
                }
                let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                if target >= pos {
                    return Err("forward compression pointer".into());
                }
                pos = target;
                hops += 1;
                if hops > 128 {
                    return Err("pointer loop".into());
                }
                continue;
            }
            if len & 0xc0 != 0 {
                return Err("bad label type".into());
            }
            out.push(len);
            if len == 0 {
                if !jumped {
                    self.pos = pos + 1;
                }
                break;
            }
            let l = self.b.get(pos + 1..pos + 1 + len as usize).ok_or("short label")?;
            out.extend_from_slice(l);
            pos += 1 + len as usize;
            if out.len() > 255 {
                return Err("name too long".into());
            }
        }
        Ok(out)
    }
}

/// Presentation form of an uncompressed wire name.
pub fn name_to_string(wire: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < wire.len() {
        let len = wire[i] as usize;
        if len == 0 {
            break;
        }
        for &c in &wire[i + 1..(i + 1 + len).min(wire.len())] {
            match c {
                b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(c as char);
                }
                0x21..=0x7e => s.push(c as char),
                _ => write!(s, "\\{:03}", c).unwrap(),
            }
        }
        s.push('.');
        i += 1 + len;
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn txt_string(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => write!(s, "\\{:03}", c).unwrap(),
        }
    }
    s.push('"');
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn generic(b: &[u8]) -> String {
    if b.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {}", b.len(), hex(b))
    }
}

/// Rdata presentation and uncompressed wire form.
fn rdata(msg: &[u8], start: usize, len: usize, rtype: u16) -> Result<(String, Vec<u8>), String> {
    let end = start + len;
    if end > msg.len() {
        return Err("rdata past end".into());
    }
    let raw = &msg[start..end];
    let mut r = Rd { b: msg, pos: start };
    // types whose names may be compressed: decompress them
    let res: Result<(String, Vec<u8>), String> = (|| {
        Ok(match rtype {
            A if len == 4 => (
                format!("{}.{}.{}.{}", raw[0], raw[1], raw[2], raw[3]),
                raw.to_vec(),
            ),
            AAAA if len == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(raw);
                (std::net::Ipv6Addr::from(a).to_string(), raw.to_vec())
            }
            NS | CNAME | PTR | DNAME => {
                let n = r.name()?;
                (name_to_string(&n), n)
            }
            RP => {
                let m = r.name()?;
                let t = r.name()?;
                let mut w = m.clone();
                w.extend_from_slice(&t);
                (format!("{} {}", name_to_string(&m), name_to_string(&t)), w)
            }
            MX => {
                let p = r.u16()?;
                let n = r.name()?;
                let mut w = p.to_be_bytes().to_vec();
                w.extend_from_slice(&n);
                (format!("{p} {}", name_to_string(&n)), w)
            }
            SOA => {
                let m = r.name()?;
                let rn = r.name()?;
                let nums = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
                let mut w = m.clone();
                w.extend_from_slice(&rn);
                for x in nums {
                    w.extend_from_slice(&x.to_be_bytes());
                }
                (
                    format!(
                        "{} {} {} {} {} {} {}",
                        name_to_string(&m),
                        name_to_string(&rn),
                        nums[0],
                        nums[1],
                        nums[2],
                        nums[3],
                        nums[4]
                    ),
                    w,
                )
            }
            TXT | 99 | HINFO => {
                // <character-string>s, each quoted
                let mut parts = vec![];
                let mut i = 0;
                while i < len {
                    let l = raw[i] as usize;
                    if i + 1 + l > len {
                        return Err(format!("bad {}", type_name(rtype)));
                    }
                    parts.push(txt_string(&raw[i + 1..i + 1 + l]));
                    i += 1 + l;
                }
                (parts.join(" "), raw.to_vec())
            }
            SRV => {
                let (p, w, port) = (r.u16()?, r.u16()?, r.u16()?);
                let n = r.name()?;
                let mut wire = raw[..6].to_vec();
                wire.extend_from_slice(&n);
                (format!("{p} {w} {port} {}", name_to_string(&n)), wire)
            }
            NAPTR => {
                let (o, p) = (r.u16()?, r.u16()?);
                let mut strs = vec![];
                for _ in 0..3 {
                    let l = r.u8()? as usize;
                    strs.push(txt_string(r.bytes(l)?));
                }
                let start_n = r.pos;
                let n = r.name()?;
                let mut wire = msg[start..start_n].to_vec();
                wire.extend_from_slice(&n);
                (format!("{o} {p} {} {}", strs.join(" "), name_to_string(&n)), wire)
            }
            CAA if len >= 2 => {
                let flags = raw[0];
                let tl = raw[1] as usize;
                if 2 + tl > len {
                    return Err("bad CAA".into());
                }
                let tag = String::from_utf8_lossy(&raw[2..2 + tl]).into_owned();
                (
                    format!("{flags} {tag} {}", txt_string(&raw[2 + tl..])),
                    raw.to_vec(),
                )
            }
            _ => (generic(raw), raw.to_vec()),
        })
    })();
    let (s, w) = res?;
    if !matches!(rtype, A | AAAA | TXT | 99 | HINFO | CAA) && r.pos != end && r.pos != start {
        return Err(format!("rdata length mismatch for {}", type_name(rtype)));
    }
    Ok((s, w))
}

fn read_rr(r: &mut Rd, msg: &[u8]) -> Result<(Rr, bool, u32, u16), String> {
    let owner = r.name()?;
    let rtype = r.u16()?;
    let class = r.u16()?;
    let ttl = r.u32()?;
    let rdlen = r.u16()? as usize;
    let start = r.pos;
    r.bytes(rdlen)?;
    let (rdata_s, rdata_wire) = rdata(msg, start, rdlen, rtype)?;
    Ok((
        Rr {
            owner: name_to_string(&owner),
            rtype,
            class,
            ttl,
            rdata: rdata_s,
            rdata_wire,
        },
        rtype == OPT,
        ttl,
        class,
    ))
}

/// Parses a whole DNS message; errors on anything malformed (including
/// trailing garbage).
pub fn parse(b: &[u8]) -> Result<Msg, String> {
    let mut r = Rd { b, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    let mut m = Msg {
        id,
        qr: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: flags & 0x0040 != 0,
        ad: flags & 0x0020 != 0,
        cd: flags & 0x0010 != 0,
        rcode: flags & 0xf,
        header_rcode: (flags & 0xf) as u8,
        counts,
        question: vec![],
        answer: vec![],
        authority: vec![],
        additional: vec![],
        opt: None,
        opt_count: 0,
        size: b.len(),
        question_end: 0,
    };
    for _ in 0..counts[0] {
        let n = r.name()?;
        let qtype = r.u16()?;
        let qclass = r.u16()?;
        m.question.push(Question {
            name: name_to_string(&n),
            wire: n,
            qtype,
            qclass,
        });
    }
    m.question_end = r.pos;
    for (sec, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            let (rr, is_opt, ttl, class) = read_rr(&mut r, b)?;
            if is_opt {
                if sec != 2 {
                    return Err("OPT outside ADDITIONAL".into());
                }
                m.opt_count += 1;
                let mut options = vec![];
                let w = &rr.rdata_wire;
                let mut i = 0;
                while i + 4 <= w.len() {
                    let code = u16::from_be_bytes([w[i], w[i + 1]]);
                    let l = u16::from_be_bytes([w[i + 2], w[i + 3]]) as usize;
                    options.push((code, w[i + 4..(i + 4 + l).min(w.len())].to_vec()));
                    i += 4 + l;
                }
                m.opt = Some(Opt {
                    udp_size: class,
                    ext_rcode: (ttl >> 24) as u8,
                    version: (ttl >> 16) as u8,
                    do_bit: ttl & 0x8000 != 0,
                    z: (ttl & 0x7fff) as u16,
                    options,
                });
                continue;
            }
            match sec {
                0 => m.answer.push(rr),
                1 => m.authority.push(rr),
                _ => m.additional.push(rr),
            }
        }
    }
    if r.pos != b.len() {
        return Err(format!("{} bytes of trailing garbage", b.len() - r.pos));
    }
    if let Some(o) = &m.opt {
        m.rcode |= (o.ext_rcode as u16) << 4;
    }
    Ok(m)
}
