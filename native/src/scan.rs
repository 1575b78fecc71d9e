//! Overlapping Aho-Corasick scans of byte projections (every occurrence of every pattern).

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{dfa, Anchored, BuildError, MatchKind, StartKind};

/// A hint to load the cache line of `item` (a no-op off x86-64). Large tables are read at scattered
/// places per hit; loops that only issue these let the cache misses overlap.
#[inline]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint for the address of a live reference; it reads nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            (item as *const T).cast::<i8>(),
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Up to this many pattern bytes a DFA is built (faster scans, more memory); above, a contiguous NFA.
pub const DFA_MAX_KEY_BYTES: usize = 2_000_000;
/// NFA states this close to the root take one lookup per byte (dense rows): with the whole gazetteer
/// scanned (`anchored_above` above its size), scans ~1.5x faster than the default depth (2) for
/// ~45 MB more.
const NFA_DENSE_DEPTH: usize = 5;

/// An overlapping, byte-level automaton: a DFA (faster scans, more memory) up to
/// `DFA_MAX_KEY_BYTES` pattern bytes, a contiguous NFA above.
pub enum Scanner {
    Dfa(dfa::DFA, usize),
    Nfa(contiguous::NFA, usize),
}

/// The scanner of `patterns` (None when there are none). Every pattern starts with a space, so a
/// start-byte prefilter would only cost: none is built.
pub fn automaton(patterns: &[Vec<u8>]) -> Result<Option<Scanner>, String> {
    scanner(patterns, StartKind::Unanchored)
}

/// A DFA with starts `starts` up to `DFA_MAX_KEY_BYTES` pattern bytes, a contiguous NFA above.
fn scanner(patterns: &[Vec<u8>], starts: StartKind) -> Result<Option<Scanner>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let total: usize = patterns.iter().map(Vec::len).sum();
    let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
    let failed = |e: BuildError| format!("cannot build an automaton: {e}");
    let scanner = if total > DFA_MAX_KEY_BYTES {
        let mut builder = contiguous::NFA::builder();
        builder
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .dense_depth(NFA_DENSE_DEPTH);
        Scanner::Nfa(builder.build(patterns).map_err(failed)?, longest)
    } else {
        let mut builder = dfa::DFA::builder();
        builder
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .start_kind(starts);
        Scanner::Dfa(builder.build(patterns).map_err(failed)?, longest)
    };
    Ok(Some(scanner))
}

impl Scanner {
    /// Every occurrence of every pattern in `hay` as `(pattern, start, end)`, by end (an automaton
    /// built unanchored).
    pub fn overlapping(&self, hay: &[u8], each: impl FnMut(u32, usize, usize)) {
        match self {
            Scanner::Dfa(a, longest) => interleaved(a, *longest, hay, each),
            Scanner::Nfa(a, longest) => interleaved(a, *longest, hay, each),
        }
    }

    /// Every occurrence of every pattern in `hay` that starts at one of `starts`, as
    /// `(pattern, start, end)`, by start then end (an automaton built `anchored`: a DFA built
    /// unanchored has no anchored start and reports nothing).
    pub fn anchored(
        &self,
        hay: &[u8],
        starts: impl Iterator<Item = usize>,
        each: impl FnMut(u32, usize, usize),
    ) {
        match self {
            Scanner::Dfa(a, _) => walks(a, hay, starts, each),
            Scanner::Nfa(a, _) => walks(a, hay, starts, each),
        }
    }
}

/// Anchored walks of `ac` from each of `starts` until its dead state, reporting each pattern whose
/// length is that of the walk so far (a match state also lists the patterns that are suffixes of its
/// path: those do not start there).
fn walks<A: Automaton>(
    ac: &A,
    hay: &[u8],
    starts: impl Iterator<Item = usize>,
    mut each: impl FnMut(u32, usize, usize),
) {
    let Ok(root) = ac.start_state(Anchored::Yes) else {
        return;
    };
    for start in starts {
        let mut sid = root;
        for (at, &byte) in hay.iter().enumerate().skip(start) {
            sid = ac.next_state(Anchored::Yes, sid, byte);
            if !ac.is_special(sid) {
                continue;
            }
            if ac.is_dead(sid) {
                break;
            }
            if ac.is_match(sid) {
                for k in 0..ac.match_len(sid) {
                    let pid = ac.match_pattern(sid, k);
                    if ac.pattern_len(pid) == at + 1 - start {
                        each(pid.as_u32(), start, at + 1);
                    }
                }
            }
        }
    }
}

/// Streams scanned side by side (a scan is bound by the latency of each transition's load; several
/// independent chains of loads overlap).
const STREAMS: usize = 4;

/// [`overlapping`] over `STREAMS` consecutive segments of a long `hay`, with the same results in the
/// same order. The state after any position depends only on the `longest` bytes before it, so the
/// scan of a segment starts that many bytes early (its warm-up, which reports nothing); then the
/// segments are scanned side by side, a byte of each per step, the short end of the last one apart.
fn interleaved<A: Automaton>(
    ac: &A,
    longest: usize,
    hay: &[u8],
    mut each: impl FnMut(u32, usize, usize),
) {
    let segment = hay.len().div_ceil(STREAMS);
    if segment < 4 * longest.max(64) {
        return overlapping(ac, hay, each);
    }
    let Ok(start) = ac.start_state(Anchored::No) else {
        return;
    };
    let starts: [usize; STREAMS] = std::array::from_fn(|i| i * segment);
    let ends: [usize; STREAMS] = std::array::from_fn(|i| ((i + 1) * segment).min(hay.len()));
    let mut sids = [start; STREAMS];
    // Warm-up: the `longest` bytes before each segment but the first (the segment is longer).
    for step in 0..longest {
        for i in 1..STREAMS {
            let at = starts[i] - longest + step;
            sids[i] = ac.next_state(Anchored::No, sids[i], hay[at]);
        }
    }
    let mut found: [Vec<(u32, usize, usize)>; STREAMS] = Default::default();
    let mut report = |i: usize, sid, at: usize| {
        for k in 0..ac.match_len(sid) {
            let pid = ac.match_pattern(sid, k);
            found[i].push((pid.as_u32(), at + 1 - ac.pattern_len(pid), at + 1));
        }
    };
    let common = ends[STREAMS - 1] - starts[STREAMS - 1]; // the last segment is the shortest
    let segments: [&[u8]; STREAMS] = std::array::from_fn(|i| &hay[starts[i]..starts[i] + common]);
    #[allow(clippy::needless_range_loop)] // one index into every segment
    for step in 0..common {
        for i in 0..STREAMS {
            let sid = ac.next_state(Anchored::No, sids[i], segments[i][step]);
            sids[i] = sid;
            if ac.is_special(sid) && ac.is_match(sid) {
                report(i, sid, starts[i] + step);
            }
        }
    }
    for i in 0..STREAMS - 1 {
        for (at, &byte) in hay
            .iter()
            .enumerate()
            .take(ends[i])
            .skip(starts[i] + common)
        {
            let sid = ac.next_state(Anchored::No, sids[i], byte);
            sids[i] = sid;
            if ac.is_special(sid) && ac.is_match(sid) {
                report(i, sid, at);
            }
        }
    }
    for (pid, s, e) in found.into_iter().flatten() {
        each(pid, s, e);
    }
}

/// The loop of `find_overlapping_iter` without its per-call state machinery.
#[inline]
fn overlapping<A: Automaton>(ac: &A, hay: &[u8], mut each: impl FnMut(u32, usize, usize)) {
    // Unanchored searches of an automaton built without a prefilter neither fail nor end early.
    let Ok(mut sid) = ac.start_state(Anchored::No) else {
        return;
    };
    for (i, &byte) in hay.iter().enumerate() {
        sid = ac.next_state(Anchored::No, sid, byte);
        if ac.is_special(sid) && ac.is_match(sid) {
            for k in 0..ac.match_len(sid) {
                let pid = ac.match_pattern(sid, k);
                each(pid.as_u32(), i + 1 - ac.pattern_len(pid), i + 1);
            }
        }
    }
}
