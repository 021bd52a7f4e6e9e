//! FxHash (as in rustc) for the signer's maps and sets.
//!
//! The keys are the zone's own names and records, hashed hundreds of
//! thousands of times per signing; SipHash's resistance to chosen keys is
//! not needed for data the operator wrote, and costs several times more.

use std::hash::Hasher;

#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

pub type FxBuild = std::hash::BuildHasherDefault<Fx>;
