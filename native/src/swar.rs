//! Eight bytes at a time: byte tests as masks over a `u64` (0x80 in each byte that holds), exact
//! (no carry or borrow crosses bytes).

/// The bytes of `word` that are spaces (0x20), as 0x80 in each (exact: no borrow crosses bytes).
#[inline]
pub fn space_bytes(word: u64) -> u64 {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ 0x2020_2020_2020_2020;
    !(((x & LOW) + LOW) | x | LOW)
}

/// Up to 8 bytes of `hay` from `at`, little-endian, zero-padded past its end, and how many are
/// the text's.
#[inline]
pub fn load(hay: &[u8], at: usize) -> (u64, usize) {
    if let Some(bytes) = hay.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        return (u64::from_le_bytes(word), 8);
    }
    let rest = hay.get(at..).unwrap_or(&[]);
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    (u64::from_le_bytes(word), rest.len())
}

/// The bytes of `word` with the high bit set, as 0x80 in each.
#[inline]
pub fn high_bytes(word: u64) -> u64 {
    word & 0x8080_8080_8080_8080
}

/// The bytes of `word` in `lo..=hi` (ASCII bounds), as 0x80 in each (exact: no borrow crosses bytes).
#[inline]
pub fn in_range(word: u64, lo: u8, hi: u8) -> u64 {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let seven = word & LOW; // the high bit of each byte is tested apart
    let at_least = (seven + ONES * u64::from(0x80 - lo)) & !LOW; // byte >= lo
    let above = (seven + ONES * u64::from(0x7F - hi)) & !LOW; // byte > hi
    at_least & !above & !word & !LOW
}
