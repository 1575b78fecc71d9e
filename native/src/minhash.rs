//! Near-duplicate signatures: the word-shingle hashes and one-permutation MinHash of
//! `newswatch.processor.neardup`, which documents the scheme and passes its parameters in.
//!
//! A word is a run of bytes other than ASCII whitespace (as Python's `bytes.split()`), ASCII
//! punctuation counting as whitespace; a shingle hash is the top `hash_bits` bits of the CRC-32 (zlib's)
//! of `shingle_words` consecutive words concatenated; bin `b` of a signature holds the low 16 bits of
//! the smallest hash whose top `bin_bits` bits are `b`, an empty bin the value of the nearest filled
//! bin to its right (circular) plus `densify_step` per bin of distance.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::value_error;

/// Slice-by-8 tables: `CRC_TABLES[0]` is the byte-at-a-time table, `CRC_TABLES[k][i]` the CRC of
/// byte `i` followed by `k` zero bytes.
const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
}

/// zlib's `crc32(data, crc)`: the CRC-32 of what `crc` covered followed by `data` (eight bytes at a
/// time, then byte by byte).
fn crc32(crc: u32, data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let lo = c ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let hi = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][((hi >> 8) & 0xFF) as usize]
            ^ t[1][((hi >> 16) & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &byte in chunks.remainder() {
        c = t[0][((c ^ u32::from(byte)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') || byte.is_ascii_punctuation()
}

/// The words of `data` concatenated (separators dropped) and where each word ends in that buffer:
/// a shingle is then one contiguous slice.
fn words(data: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut joined = Vec::with_capacity(data.len());
    let mut ends = Vec::with_capacity(data.len() / 4);
    for word in data.split(|&b| is_separator(b)).filter(|w| !w.is_empty()) {
        joined.extend_from_slice(word);
        ends.push(joined.len());
    }
    (joined, ends)
}

fn hashes(data: &[u8], shingle_words: usize, hash_bits: u32) -> PyResult<Vec<u32>> {
    if shingle_words == 0 || !(1..=32).contains(&hash_bits) {
        return Err(value_error(
            "shingle_words must be >= 1 and hash_bits 1..32".into(),
        ));
    }
    let (joined, ends) = words(data);
    let count = (ends.len() + 1).saturating_sub(shingle_words);
    Ok((0..count)
        .map(|i| {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            let crc = crc32(0, &joined[start..ends[i + shingle_words - 1]]);
            crc >> (32 - hash_bits)
        })
        .collect())
}

/// The shingle hashes of `data` (a folded text as UTF-8), one per occurrence, in text order.
#[pyfunction]
pub fn shingle_hashes(data: &[u8], shingle_words: usize, hash_bits: u32) -> PyResult<Vec<u32>> {
    hashes(data, shingle_words, hash_bits)
}

/// The MinHash signature of `data` (2 bytes a bin, little-endian), or None below `min_shingles`
/// shingle occurrences.
#[pyfunction]
pub fn minhash_signature<'py>(
    py: Python<'py>,
    data: &[u8],
    shingle_words: usize,
    hash_bits: u32,
    bin_bits: u32,
    min_shingles: usize,
    densify_step: u64,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if bin_bits == 0 || bin_bits > hash_bits.min(16) {
        return Err(value_error(
            "bin_bits must be 1..=min(hash_bits, 16)".into(),
        ));
    }
    let all = hashes(data, shingle_words, hash_bits)?;
    if all.len() < min_shingles || all.is_empty() {
        return Ok(None);
    }
    let bins = 1usize << bin_bits;
    let mut smallest: Vec<Option<u32>> = vec![None; bins];
    for h in all {
        let slot = &mut smallest[(h >> (hash_bits - bin_bits)) as usize];
        if slot.is_none_or(|v| h < v) {
            *slot = Some(h);
        }
    }
    let mut out = Vec::with_capacity(2 * bins);
    for b in 0..bins {
        let value = match smallest[b] {
            Some(v) => u64::from(v),
            None => (1..bins)
                .find_map(|d| {
                    smallest[(b + d) % bins].map(|v| u64::from(v) + densify_step * d as u64)
                })
                .unwrap_or(0),
        };
        out.extend_from_slice(&((value & 0xFFFF) as u16).to_le_bytes());
    }
    Ok(Some(PyBytes::new(py, &out)))
}

/// How many 2-byte bins of two signatures hold the same value (0 when their lengths differ or are
/// odd): the numerator of the estimated Jaccard similarity.
#[pyfunction]
pub fn equal_bins(a: &[u8], b: &[u8]) -> usize {
    if a.len() != b.len() || !a.len().is_multiple_of(2) {
        return 0;
    }
    a.chunks_exact(2)
        .zip(b.chunks_exact(2))
        .filter(|(x, y)| x == y)
        .count()
}

/// The LSH band keys of a signature: per band `b < bands`, the bytes `sig[b * band_bytes..(b + 1) *
/// band_bytes]` (as many of them as `sig` holds) read as a little-endian integer, with `b` above them
/// (`b << 8 * band_bytes`): `neardup.band_keys`.
#[pyfunction]
pub fn band_keys(sig: &[u8], bands: usize, band_bytes: usize) -> PyResult<Vec<u64>> {
    if band_bytes == 0 || band_bytes > 7 || bands > 255 {
        return Err(value_error(
            "band_bytes must be 1..=7 and bands at most 255".into(),
        ));
    }
    Ok((0..bands)
        .map(|band| {
            let start = (band * band_bytes).min(sig.len());
            let end = ((band + 1) * band_bytes).min(sig.len());
            let value = sig[start..end]
                .iter()
                .rev()
                .fold(0u64, |acc, &byte| acc << 8 | u64::from(byte));
            value | (band as u64) << (8 * band_bytes)
        })
        .collect())
}
