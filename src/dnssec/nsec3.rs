//! NSEC3 chains (RFC 5155) with RFC 9276's parameters by default: SHA-1,
//! no extra iterations, no salt, no opt-out.
//!
//! Every authoritative name and every empty non-terminal above one gets an
//! NSEC3 record (RFC 5155 7.1); the chain is ordered by hash.

use super::nsec::DenialName;
use super::text::base32hex;
use crate::dns::hash::FxSet;
use crate::dns::message::RawRecord;
use crate::dns::name::{is_subdomain_wire, parent_wire};
use crate::dns::rtype;
use crate::dns::types::type_bitmap;

/// Hash algorithm 1, SHA-1 (RFC 5155 11), the only one defined.
pub const HASH_SHA1: u8 = 1;

/// NSEC3 parameters. Opt-out is not offered: RFC 9276 3.1 advises
/// against it for zones with few delegations, which is vigia's case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nsec3Params {
    /// Additional hash iterations; RFC 9276 3.1 says 0.
    pub iterations: u16,
    /// Salt; RFC 9276 3.1 says none.
    pub salt: Vec<u8>,
}

impl Nsec3Params {
    /// NSEC3PARAM RDATA: algorithm, flags 0, iterations, salt.
    pub fn param_rdata(&self) -> Vec<u8> {
        let mut rd = vec![HASH_SHA1, 0];
        rd.extend_from_slice(&self.iterations.to_be_bytes());
        rd.push(self.salt.len() as u8);
        rd.extend_from_slice(&self.salt);
        rd
    }

    /// The parameters an NSEC3PARAM RDATA gives (what [`Self::param_rdata`]
    /// writes); None for another hash algorithm, flags set (RFC 5155
    /// 4.1.2: such a record is not for servers) or a malformed record.
    pub fn from_param_rdata(rd: &[u8]) -> Option<Nsec3Params> {
        let [alg, flags, i0, i1, salt_len, ..] = *rd else {
            return None;
        };
        let salt = rd.get(5..5 + usize::from(salt_len))?.to_vec();
        (alg == HASH_SHA1 && flags == 0).then(|| Nsec3Params {
            iterations: u16::from_be_bytes([i0, i1]),
            salt,
        })
    }

    /// Refuses what RFC 9276 forbids signers to use or validators accept.
    pub fn check(&self) -> Result<(), String> {
        if self.salt.len() > 255 {
            return Err("NSEC3 salt longer than 255 octets".into());
        }
        // RFC 9276 3.2: validators may treat more iterations as insecure.
        if self.iterations > 100 {
            return Err(format!(
                "NSEC3 iterations {} is above what validators accept (RFC 9276 says 0)",
                self.iterations
            ));
        }
        Ok(())
    }
}

/// The RFC 5155 5 hash of a name (lower-cased first).
pub fn nsec3_hash(name: &[u8], params: &Nsec3Params) -> [u8; 20] {
    let sha1 = |parts: &[&[u8]]| {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    };
    // Lower-cased on the stack: a wire name is at most 255 octets.
    let mut lower = [0u8; 255];
    let n = name.len().min(lower.len());
    lower[..n].copy_from_slice(&name[..n]);
    lower[..n].make_ascii_lowercase();
    let mut h = sha1(&[&lower[..n], &params.salt]);
    for _ in 0..params.iterations {
        h = sha1(&[&h, &params.salt]);
    }
    h
}

/// The NSEC3 owner name of a hash: `<base32hex>.<origin>`.
pub fn hashed_owner(hash: &[u8; 20], origin: &[u8]) -> Vec<u8> {
    let label = base32hex(hash);
    let mut owner = Vec::with_capacity(1 + label.len() + origin.len());
    owner.push(label.len() as u8);
    owner.extend_from_slice(label.as_bytes());
    owner.extend_from_slice(origin);
    owner
}

/// Empty non-terminals: names between the apex and an authoritative name
/// that own no records themselves (RFC 5155 7.1 gives them NSEC3s).
pub fn empty_non_terminals(origin: &[u8], names: &[DenialName]) -> Vec<Vec<u8>> {
    let mut known: FxSet<&[u8]> = FxSet::with_capacity_and_hasher(names.len() * 2, Default::default());
    known.extend(names.iter().map(|n| n.owner));
    let mut found: Vec<Vec<u8>> = Vec::new();
    for name in names {
        let mut cur = name.owner;
        while let Some(up) = parent_wire(cur) {
            if up.len() < origin.len() || !is_subdomain_wire(up, origin) || known.contains(up) {
                break;
            }
            known.insert(up);
            found.push(up.to_vec());
            cur = up;
        }
    }
    found
}

/// Two names hashing alike: cannot be chained (never seen with SHA-1,
/// but a signer must not emit a broken chain if it happens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashCollision(pub Vec<u8>, pub Vec<u8>);

/// The NSEC3 chain over `names` (authoritative names with their bitmap
/// types, RRSIG included where signed) plus the empty non-terminals.
/// `caps` (wire names and TTLs) lower the TTL of the NSEC3 matching or
/// covering each capped name's hash.
pub fn nsec3_chain(
    origin: &[u8],
    names: &[DenialName],
    params: &Nsec3Params,
    class: u16,
    ttl: u32,
    caps: &[(Vec<u8>, u32)],
) -> Result<Vec<RawRecord>, HashCollision> {
    let ents = empty_non_terminals(origin, names);
    let mut hashed: Vec<([u8; 20], &[u8], Vec<u8>)> = names
        .iter()
        .map(|n| (nsec3_hash(n.owner, params), n.owner, type_bitmap(&n.types)))
        .chain(
            ents.iter()
                .map(|e| (nsec3_hash(e, params), e.as_slice(), Vec::new())),
        )
        .collect();
    hashed.sort_unstable_by_key(|e| e.0);
    if let Some(w) = hashed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(HashCollision(w[0].1.to_vec(), w[1].1.to_vec()));
    }
    let mut ttls = vec![ttl; hashed.len()];
    for (name, cap) in caps {
        let h = nsec3_hash(name, params);
        let i = match hashed.binary_search_by(|e| e.0.cmp(&h)) {
            Ok(i) => i,
            Err(0) => hashed.len() - 1, // covered by the last, which wraps
            Err(i) => i - 1,
        };
        ttls[i] = ttls[i].min(*cap);
    }
    let head = params.param_rdata();
    let records = hashed.iter().enumerate().map(|(i, (hash, _, bitmap))| {
        let next = &hashed[(i + 1) % hashed.len()].0;
        let mut rdata = Vec::with_capacity(head.len() + 21 + bitmap.len());
        rdata.extend_from_slice(&head);
        rdata.push(20);
        rdata.extend_from_slice(next);
        rdata.extend_from_slice(bitmap);
        RawRecord {
            owner: hashed_owner(hash, origin),
            rtype: rtype::NSEC3,
            class,
            ttl: ttls[i],
            rdata,
        }
    });
    Ok(records.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::canonical_key as name_key;
    use crate::dnssec::text::parse_name;

    /// RFC 5155 appendix A uses salt AABBCCDD and 12 iterations.
    fn rfc5155_params() -> Nsec3Params {
        Nsec3Params {
            iterations: 12,
            salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
        }
    }

    #[test]
    fn hashes_match_rfc5155_appendix_a() {
        let cases = [
            ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
            ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
            ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
        ];
        for (name, want) in cases {
            let h = nsec3_hash(&parse_name(name).unwrap(), &rfc5155_params());
            assert_eq!(base32hex(&h), want, "{name}");
        }
        // Case does not change the hash.
        let upper = nsec3_hash(&parse_name("A.EXAMPLE.").unwrap(), &rfc5155_params());
        assert_eq!(base32hex(&upper), "35mthgpgcu1qg68fab165klnsnk3dpvl");
    }

    #[test]
    fn chain_includes_empty_non_terminals_and_wraps() {
        let origin = parse_name("example.").unwrap();
        let owners: Vec<Vec<u8>> = ["example.", "x.y.w.example.", "a.example."]
            .iter()
            .map(|n| parse_name(n).unwrap())
            .collect();
        let keys: Vec<Vec<u8>> = owners.iter().map(|o| name_key(o)).collect();
        let names: Vec<DenialName> = owners
            .iter()
            .zip(&keys)
            .map(|(o, k)| DenialName {
                owner: o,
                key: k,
                types: vec![rtype::A, rtype::RRSIG],
            })
            .collect();
        let ents = empty_non_terminals(&origin, &names);
        assert_eq!(
            ents,
            [
                parse_name("y.w.example.").unwrap(),
                parse_name("w.example.").unwrap()
            ]
        );
        let params = Nsec3Params::default();
        let caps = [(parse_name("a.example.").unwrap(), 30)];
        let chain = nsec3_chain(&origin, &names, &params, 1, 3600, &caps).unwrap();
        assert_eq!(chain.len(), 5);
        // Sorted by owner hash, each pointing at the next, the last at the first.
        for (i, rr) in chain.iter().enumerate() {
            let next_owner = &chain[(i + 1) % chain.len()].owner;
            let next_hash = &rr.rdata[6..26];
            assert_eq!(hashed_owner(next_hash.try_into().unwrap(), &origin), *next_owner);
        }
        let a_owner = hashed_owner(&nsec3_hash(&owners[2], &params), &origin);
        for rr in &chain {
            let want = if rr.owner == a_owner { 30 } else { 3600 };
            assert_eq!(rr.ttl, want);
        }
        // Empty non-terminals have an empty bitmap.
        let ent_owner = hashed_owner(&nsec3_hash(&ents[0], &params), &origin);
        let ent = chain.iter().find(|r| r.owner == ent_owner).unwrap();
        assert_eq!(ent.rdata.len(), 26);
    }

    /// What param_rdata writes, from_param_rdata reads back; a record with
    /// flags set, another algorithm or a short salt gives no parameters.
    #[test]
    fn nsec3param_rdata_round_trips() {
        for p in [rfc5155_params(), Nsec3Params::default()] {
            assert_eq!(Nsec3Params::from_param_rdata(&p.param_rdata()), Some(p));
        }
        let rd = rfc5155_params().param_rdata();
        let with = |i: usize, v: u8| {
            let mut r = rd.clone();
            r[i] = v;
            r
        };
        assert_eq!(Nsec3Params::from_param_rdata(&with(1, 1)), None);
        assert_eq!(Nsec3Params::from_param_rdata(&with(0, 2)), None);
        assert_eq!(Nsec3Params::from_param_rdata(&rd[..rd.len() - 1]), None);
        assert_eq!(Nsec3Params::from_param_rdata(&rd[..3]), None);
    }
}
