//! Names found by hashing: the patterns that can only start at some word starts (see
//! [`crate::keys::KeyIndex`]), looked up from each such start as the text up to each following
//! space. A hash table holds every pattern and every *prefix* of one that ends just before one of
//! its spaces, so the lookups from a start stop at the first text no pattern begins with: about
//! two lookups per start, where an automaton walk takes one dependent load per byte.

use crate::fxhash::FxHashMap;
use crate::swar::{load, space_bytes};

/// One table entry (32 bytes, one per half cache line): a pattern, or a prefix of patterns, as
/// `bytes[start..start + len]` (`len` 0: a free slot; keys are never empty), with its first bytes
/// inline (most keys are whole there: a lookup takes no second cache miss).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    /// The high half of the key's hash (the low bits chose the slot).
    check: u32,
    start: u32,
    /// The key's length, and [`LONGER`] when some pattern is longer than these bytes and a space.
    len: u32,
    /// The pattern these bytes and a closing space are, or [`NONE`]; with [`MORE`] set, further
    /// patterns of the same bytes are in [`Names::more`].
    pattern: u32,
    /// The key's first [`HEAD`] bytes, zero-padded.
    head: [u8; HEAD],
}

const HEAD: usize = 16;

const NONE: u32 = u32::MAX;
const LONGER: u32 = 1 << 31;
const MORE: u32 = 1 << 31;
const FREE: Slot = Slot {
    check: 0,
    start: 0,
    len: 0,
    pattern: NONE,
    head: [0; HEAD],
};

/// Every pattern (framed by spaces) and its space-ended prefixes, in an open-addressing table, and
/// a bit set of the first words of the patterns (by hash, [`FILTER_BITS_PER_WORD`] bits each): most
/// words of a text start no pattern, and the bit set, small enough to stay in the CPU caches, turns
/// them away without a load from the large table.
pub struct Names {
    slots: Vec<Slot>,
    mask: usize,
    filter: Vec<u64>,
    filter_mask: u64,
    /// The patterns, one after another (entries point into them).
    bytes: Vec<u8>,
    /// The further patterns of a key several patterns share, by its first pattern.
    more: FxHashMap<u32, Vec<u32>>,
}

#[inline]
fn mix(state: u64, word: u64) -> u64 {
    (state.rotate_left(5) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The next word of `hay` from `from` (a space): the index of the first space after `from` (None:
/// the text ends first) and the hash state after `hay[from..that space]`, continuing `state`. The
/// bytes are hashed eight at a time; the state after a key depends only on its bytes and where its
/// spaces are, so the lookups and the table agree.
#[inline]
fn word(hay: &[u8], from: usize, mut state: u64) -> Option<(usize, u64)> {
    let mut at = from;
    let mut own = 0x80u64; // the leading space is the word's own
    loop {
        let (bytes, real) = load(hay, at);
        let spaces = space_bytes(bytes) & !own;
        own = 0;
        if spaces != 0 {
            let k = (spaces.trailing_zeros() / 8) as usize;
            if k > 0 {
                state = mix(state, bytes & ((1u64 << (8 * k)) - 1));
            }
            return Some((at + k, state));
        }
        if real < 8 {
            return None;
        }
        state = mix(state, bytes);
        at += 8;
    }
}

/// Whether `head` (zero-padded) holds the first `min(len, HEAD)` bytes of `hay[start..]`.
#[inline]
fn head_equal(head: &[u8; HEAD], hay: &[u8], start: usize, len: usize) -> bool {
    let keep = |k: usize| {
        if k >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * k)) - 1
        }
    };
    let half = |k: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&head[k..k + 8]);
        u64::from_le_bytes(word)
    };
    load(hay, start).0 & keep(len) == half(0)
        && load(hay, start + 8).0 & keep(len.saturating_sub(8)) == half(8)
}

#[inline]
fn finish(state: u64) -> u64 {
    state ^ (state >> 29)
}

const SEED: u64 = 0x2545_F491_4F6C_DD1D;

impl Names {
    /// The table of `patterns` (each a space, bytes, a space; pattern `i` reported as `i`; patterns
    /// of the same bytes are all reported, in order).
    pub fn new(patterns: &[Vec<u8>]) -> Result<Self, String> {
        let total: usize = patterns.iter().map(Vec::len).sum();
        let entries: usize = patterns
            .iter()
            .map(|p| p.iter().skip(1).filter(|&&b| b == b' ').count())
            .sum();
        if total >= LONGER as usize || patterns.len() >= MORE as usize {
            return Err("too many name bytes".into());
        }
        let size = (entries + entries / 3 + 1).next_power_of_two();
        let filter_bits = (patterns.len() * FILTER_BITS_PER_WORD)
            .next_power_of_two()
            .max(4096);
        let mut names = Names {
            slots: huge_vec(size, FREE),
            mask: size - 1,
            filter: vec![0; filter_bits / 64],
            filter_mask: filter_bits as u64 - 1,
            bytes: Vec::with_capacity(total),
            more: FxHashMap::default(),
        };
        for (id, pattern) in patterns.iter().enumerate() {
            let start = names.bytes.len();
            names.bytes.extend_from_slice(pattern);
            let ends: Vec<usize> = (1..pattern.len()).filter(|&k| pattern[k] == b' ').collect();
            for (n, &end) in ends.iter().enumerate() {
                let last = n + 1 == ends.len() && end + 1 == pattern.len();
                let hash = names.insert(start, end, if last { id as u32 } else { NONE }, !last);
                if n == 0 {
                    let bit = names.filter_bit(hash);
                    names.filter[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        Ok(names)
    }

    /// The filter bit of a first word's hash (bits the slot index does not use).
    #[inline]
    fn filter_bit(&self, hash: u64) -> usize {
        ((hash >> 24) & self.filter_mask) as usize
    }

    /// Whether some pattern may start with the word of `hash` (no: none does).
    #[inline]
    fn may_start(&self, hash: u64) -> bool {
        let bit = self.filter_bit(hash);
        self.filter[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Record `bytes[start..start + len]` as pattern `pattern` (unless [`NONE`]) and / or as the
    /// prefix of a longer pattern; returns the key's hash.
    fn insert(&mut self, start: usize, len: usize, pattern: u32, longer: bool) -> u64 {
        // The key and the space after it, word by word (as lookups hash the text).
        let framed = &self.bytes[start..=start + len];
        let (mut at, mut state) = (0, SEED);
        while at < len {
            (at, state) = word(framed, at, state).expect("a key is followed by a space");
        }
        let key = &self.bytes[start..start + len];
        let hash = finish(state);
        let check = (hash >> 32) as u32;
        let flag = if longer { LONGER } else { 0 };
        let mut i = hash as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot.len == 0 {
                let mut head = [0; HEAD];
                let n = len.min(HEAD);
                head[..n].copy_from_slice(&key[..n]);
                self.slots[i] = Slot {
                    check,
                    start: start as u32,
                    len: len as u32 | flag,
                    pattern,
                    head,
                };
                return hash;
            }
            if slot.check == check && self.key(&slot) == key {
                let slot = &mut self.slots[i];
                if pattern != NONE {
                    if slot.pattern == NONE {
                        slot.pattern = pattern;
                    } else {
                        slot.pattern |= MORE;
                        let first = slot.pattern & !MORE;
                        self.more.entry(first).or_default().push(pattern);
                    }
                }
                slot.len |= flag;
                return hash;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        let start = slot.start as usize;
        &self.bytes[start..start + (slot.len & !LONGER) as usize]
    }

    /// The entry of `hay[start..end]` (`hash`: of those bytes).
    fn get(&self, hash: u64, hay: &[u8], start: usize, end: usize) -> Option<&Slot> {
        let check = (hash >> 32) as u32;
        let len = end - start;
        let mut i = hash as usize & self.mask;
        loop {
            let slot = &self.slots[i];
            if slot.len == 0 {
                return None;
            }
            if slot.check == check
                && (slot.len & !LONGER) as usize == len
                && head_equal(&slot.head, hay, start, len)
                && (len <= HEAD || self.key(slot)[HEAD..] == hay[start + HEAD..end])
            {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Every pattern occurring in `hay` at one of `starts`, as `(pattern, start, end)`, by start
    /// then end (what anchored automaton walks from those starts would report). A start whose first
    /// word no pattern begins with (by the filter) is passed over; the slot of the first word from
    /// each other start is fetched [`AHEAD`] starts in advance (the lookups are cache misses).
    pub fn find(
        &self,
        hay: &[u8],
        starts: impl Iterator<Item = usize>,
        mut each: impl FnMut(u32, usize, usize),
    ) {
        let mut ring = [(0usize, 0usize, 0u64); AHEAD];
        let mut queued = 0usize;
        for start in starts {
            let Some((end, state)) = word(hay, start, SEED) else {
                continue; // no closing space: no pattern starts here
            };
            let hash = finish(state);
            if !self.may_start(hash) {
                continue;
            }
            self.prefetch(hash);
            let slot = &mut ring[queued % AHEAD];
            if queued >= AHEAD {
                let (s, e, st) = *slot;
                self.from(hay, s, e, st, &mut each);
            }
            *slot = (start, end, state);
            queued += 1;
        }
        for k in queued.saturating_sub(AHEAD)..queued {
            let (s, e, st) = ring[k % AHEAD];
            self.from(hay, s, e, st, &mut each);
        }
    }

    /// The patterns at `start`, given the hash state of `hay[start..end]` (`hay[end]` a space).
    fn from(
        &self,
        hay: &[u8],
        start: usize,
        mut end: usize,
        mut state: u64,
        each: &mut impl FnMut(u32, usize, usize),
    ) {
        loop {
            let Some(slot) = self.get(finish(state), hay, start, end) else {
                return;
            };
            if slot.pattern != NONE {
                let first = slot.pattern & !MORE;
                each(first, start, end + 1);
                if slot.pattern & MORE != 0 {
                    for &other in &self.more[&first] {
                        each(other, start, end + 1);
                    }
                }
            }
            if slot.len & LONGER == 0 {
                return;
            }
            let Some((next, after)) = word(hay, end, state) else {
                return;
            };
            (end, state) = (next, after);
        }
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        crate::scan::prefetch(&self.slots[hash as usize & self.mask]);
    }
}

/// Bits of the first-word filter per pattern (rounded up to a power of two): about one word in 16
/// that starts no pattern passes it.
const FILTER_BITS_PER_WORD: usize = 16;

/// Lookups under way at once in [`Names::find`].
const AHEAD: usize = 8;

/// A vector of `n` copies of `fill` whose memory the system may back with transparent huge pages
/// (a large table read at random places: fewer TLB misses). Advice only: nothing else changes.
fn huge_vec<T: Copy>(n: usize, fill: T) -> Vec<T> {
    let mut table: Vec<T> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: std::ffi::c_int) -> i32;
        }
        const HUGE_PAGE: usize = 2 << 20;
        const MADV_HUGEPAGE: std::ffi::c_int = 14;
        let addr = table.as_mut_ptr() as usize;
        let (start, end) = (
            addr.next_multiple_of(HUGE_PAGE),
            (addr + n * std::mem::size_of::<T>()) / HUGE_PAGE * HUGE_PAGE,
        );
        if start < end {
            // SAFETY: whole huge pages inside this vector's own allocation; the advice changes
            // neither the contents nor the mapping's protection.
            unsafe {
                madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE);
            }
        }
    }
    table.resize(n, fill);
    table
}
