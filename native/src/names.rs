//! Names found by hashing: the patterns that can only start at some word starts (see
//! [`crate::keys::KeyIndex`]), looked up from each such start as the text up to each following
//! space. A hash table holds every pattern and every *prefix* of one that ends just before one of
//! its spaces, so the lookups from a start stop at the first text no pattern begins with: about
//! two lookups per start, where an automaton walk takes one dependent load per byte.

/// One table entry (16 bytes): a pattern, or a prefix of patterns, as `bytes[start..start + len]`
/// (`len` 0: a free slot; keys are never empty).
#[derive(Clone, Copy)]
struct Slot {
    /// The high half of the key's hash (the low bits chose the slot).
    check: u32,
    start: u32,
    /// The key's length, and [`LONGER`] when some pattern is longer than these bytes and a space.
    len: u32,
    /// The pattern these bytes and a closing space are, or [`NONE`].
    pattern: u32,
}

const NONE: u32 = u32::MAX;
const LONGER: u32 = 1 << 31;
const FREE: Slot = Slot {
    check: 0,
    start: 0,
    len: 0,
    pattern: NONE,
};

/// Every pattern (framed by spaces) and its space-ended prefixes, in an open-addressing table.
pub struct Names {
    slots: Vec<Slot>,
    mask: usize,
    /// The patterns, one after another (entries point into them).
    bytes: Vec<u8>,
}

/// The hash state after `bytes`: multiply-rotate per byte, as a continuation of `state` (hashing
/// `a` then `b` equals hashing `a` followed by `b`).
#[inline]
fn extend(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state = (state.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    state
}

#[inline]
fn finish(state: u64) -> u64 {
    state ^ (state >> 29)
}

const SEED: u64 = 0x2545_F491_4F6C_DD1D;

impl Names {
    /// The table of `patterns` (each a space, bytes, a space; pattern `i` reported as `i`).
    pub fn new(patterns: &[Vec<u8>]) -> Result<Self, String> {
        let total: usize = patterns.iter().map(Vec::len).sum();
        let entries: usize = patterns
            .iter()
            .map(|p| p.iter().skip(1).filter(|&&b| b == b' ').count())
            .sum();
        if total >= LONGER as usize || patterns.len() >= NONE as usize {
            return Err("too many name bytes".into());
        }
        let size = (entries + entries / 3 + 1).next_power_of_two();
        let mut names = Names {
            slots: vec![FREE; size],
            mask: size - 1,
            bytes: Vec::with_capacity(total),
        };
        for (id, pattern) in patterns.iter().enumerate() {
            let start = names.bytes.len();
            names.bytes.extend_from_slice(pattern);
            let ends: Vec<usize> = (1..pattern.len()).filter(|&k| pattern[k] == b' ').collect();
            for (n, &end) in ends.iter().enumerate() {
                let last = n + 1 == ends.len() && end + 1 == pattern.len();
                names.insert(start, end, if last { id as u32 } else { NONE }, !last);
            }
        }
        Ok(names)
    }

    /// Record `bytes[start..start + len]` as pattern `pattern` (unless [`NONE`]) and / or as the
    /// prefix of a longer pattern.
    fn insert(&mut self, start: usize, len: usize, pattern: u32, longer: bool) {
        let key = &self.bytes[start..start + len];
        let hash = finish(extend(SEED, key));
        let check = (hash >> 32) as u32;
        let flag = if longer { LONGER } else { 0 };
        let mut i = hash as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot.len == 0 {
                self.slots[i] = Slot {
                    check,
                    start: start as u32,
                    len: len as u32 | flag,
                    pattern,
                };
                return;
            }
            if slot.check == check && self.key(&slot) == key {
                let slot = &mut self.slots[i];
                if pattern != NONE {
                    slot.pattern = pattern;
                }
                slot.len |= flag;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        let start = slot.start as usize;
        &self.bytes[start..start + (slot.len & !LONGER) as usize]
    }

    fn get(&self, hash: u64, key: &[u8]) -> Option<&Slot> {
        let check = (hash >> 32) as u32;
        let mut i = hash as usize & self.mask;
        loop {
            let slot = &self.slots[i];
            if slot.len == 0 {
                return None;
            }
            if slot.check == check && self.key(slot) == key {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Every pattern occurring in `hay` at one of `starts`, as `(pattern, start, end)`, by start
    /// then end (what anchored automaton walks from those starts would report). The slot of the first
    /// word from each start is fetched [`AHEAD`] starts in advance (the lookups are cache misses).
    pub fn find(
        &self,
        hay: &[u8],
        starts: impl Iterator<Item = usize>,
        mut each: impl FnMut(u32, usize, usize),
    ) {
        let mut ring = [(0usize, 0usize, 0u64); AHEAD];
        let mut queued = 0usize;
        for start in starts {
            let Some(end) = space_after(hay, start + 1) else {
                continue; // no closing space: no pattern starts here
            };
            let state = extend(SEED, &hay[start..end]);
            self.prefetch(finish(state));
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
            let Some(slot) = self.get(finish(state), &hay[start..end]) else {
                return;
            };
            if slot.pattern != NONE {
                each(slot.pattern, start, end + 1);
            }
            if slot.len & LONGER == 0 {
                return;
            }
            let Some(next) = space_after(hay, end + 1) else {
                return;
            };
            state = extend(state, &hay[end..next]);
            end = next;
        }
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        crate::scan::prefetch(&self.slots[hash as usize & self.mask]);
    }
}

/// Lookups under way at once in [`Names::find`].
const AHEAD: usize = 8;

/// The index of the first space in `hay` at or after `from` (words are short: a plain loop).
#[inline]
fn space_after(hay: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.iter().position(|&b| b == b' ').map(|p| from + p)
}
