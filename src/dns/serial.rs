//! RFC 1982 serial number arithmetic, as SOA serials compare.

/// True if serial `a` is greater than `b` (RFC 1982 3.2).
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::serial_gt;

    #[test]
    fn wraps_around() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 1));
        assert!(serial_gt(0, u32::MAX));
        assert!(!serial_gt(u32::MAX, 0));
    }
}
