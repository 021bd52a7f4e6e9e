//! Quoting input in error messages. A zone file may be anything, even
//! `$INCLUDE /proc/self/environ`: messages show at most a short token,
//! escaped, never a whole line of it.

/// Most characters of input a message quotes.
pub const MAX_QUOTE: usize = 40;
/// Most characters of a file name a message quotes (an `$INCLUDE`
/// argument that could not be opened).
pub const MAX_QUOTE_PATH: usize = 100;

/// `bytes` as printable text: bytes outside printable ASCII as `\DDD`
/// (decimal, as BIND prints them), at most `max` characters, then `...`
/// when cut. An escape is never split.
pub fn quote_max(bytes: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(max.min(bytes.len() * 4) + 3);
    for &b in bytes {
        let piece_len = if b.is_ascii_graphic() || b == b' ' { 1 } else { 4 };
        if out.len() + piece_len > max {
            out.push_str("...");
            return out;
        }
        if piece_len == 1 {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out
}

/// [`quote_max`] at [`MAX_QUOTE`] characters.
pub fn quote(bytes: &[u8]) -> String {
    quote_max(bytes, MAX_QUOTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_pass_unchanged() {
        assert_eq!(quote(b"www"), "www");
        assert_eq!(quote(b"a b\\032c"), "a b\\032c");
    }

    #[test]
    fn control_and_non_ascii_bytes_are_escaped() {
        assert_eq!(quote(b"a\0b\n\xff"), "a\\000b\\010\\255");
    }

    #[test]
    fn long_input_is_cut_with_an_ellipsis() {
        let long = vec![b'x'; 10_000];
        let q = quote(&long);
        assert_eq!(q, format!("{}...", "x".repeat(MAX_QUOTE)));
        // An escape that would pass the limit is left out whole.
        let q = quote(&[b'y'; 38].iter().copied().chain([0u8, 0]).collect::<Vec<_>>());
        assert_eq!(q, format!("{}...", "y".repeat(38)));
        assert!(quote(&[0u8; 100]).len() <= MAX_QUOTE + 3);
    }
}
