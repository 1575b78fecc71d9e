//! Kafka's default key partitioner hash: the Java client's `Utils.murmur2` (aiokafka's
//! `partitioner.murmur2`, which the tests compare this with), so a key lands on the partition every
//! other client picks: `(murmur2(key) & 0x7FFFFFFF) % partitions`.

use pyo3::prelude::*;

/// MurmurHash2 (seed `0x9747B28C`) of `data` as an unsigned 32-bit integer.
#[pyfunction]
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5BD1_E995;
    const R: u32 = 24;
    // The Java client mixes the length in as a 32-bit int.
    let mut h: u32 = 0x9747_B28C ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}
