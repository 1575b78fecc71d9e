//! Context rules: the context words and negative-context words of a term, searched in a window
//! around a hit with the semantics of `(?<!\w)(?:word|prefix\w*)(?!\w)` over the folded text (see
//! `newswatch.processor.automaton`). An occurrence lying inside the hit itself is ignored; a negative
//! word that names the term itself ("hit by" of the term Hit) vetoes only the hit it overlaps, and
//! only when the caller says such words apply to the hit (`own`).
//!
//! The patterns of every rule are found by one automaton ([`Contexts`]): each verdict walks it (a
//! small table that stays in the CPU caches, where one table per rule would be read cold), and a
//! rule keeps the words of its own patterns only.

use crate::fxhash::FxHashMap;
use crate::scan::{anchored_automaton, Scanner};
use crate::view::View;

pub const VETOED: u8 = 0;
pub const OK: u8 = 1;
pub const MISSING: u8 = 2;

/// One word behind a pattern: `exact` (lossy: compared with the folded text), `gaps`, `prefix`,
/// `negative`, `own` (a negative word naming the term: it counts only where it overlaps the hit).
pub struct Word {
    pub exact: Option<String>,
    pub gaps: bool,
    pub prefix: bool,
    pub negative: bool,
    pub own: bool,
}

/// One rule as given: its patterns (framed keys without their closing space), the words behind each
/// (`words[i]` for `patterns[i]`) and whether a context word is required.
pub type RuleWords = (Vec<Vec<u8>>, Vec<Vec<Word>>, bool);

/// The context rules of an engine and the automaton of all their patterns.
pub struct Contexts {
    automaton: Option<Scanner>,
    /// A bit per hash of the first three bytes some pattern has after its space (a shorter pattern
    /// sets the bits of every continuation): 8 KB, in the CPU caches, that turn away most words of
    /// a window before the automaton is walked.
    heads: Vec<u64>,
    pub rules: Vec<ContextRule>,
}

/// Bits of [`Contexts::heads`] (a power of two).
const HEAD_BITS: usize = 1 << 16;

/// The [`Contexts::heads`] bit of the three bytes after a space (zero past the text's end).
#[inline]
fn head_bit(a: u8, b: u8, c: u8) -> usize {
    let key = u64::from(a) << 16 | u64::from(b) << 8 | u64::from(c);
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize % HEAD_BITS
}

/// One rule: the words behind each of its patterns, by pattern id of the shared automaton (sorted).
pub struct ContextRule {
    words: Vec<(u32, Vec<Word>)>,
    needs_context: bool,
    has_negative: bool,
    has_own: bool,
}

impl Contexts {
    /// The rules (see [`RuleWords`]), in order.
    pub fn new(rules: Vec<RuleWords>) -> Result<Self, String> {
        let mut ids: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut built = Vec::with_capacity(rules.len());
        for (keys, words, needs_context) in rules {
            if keys.len() != words.len() {
                return Err("context patterns and words differ in number".into());
            }
            let has_negative = words.iter().flatten().any(|w| w.negative);
            let has_own = words.iter().flatten().any(|w| w.own);
            let mut by_id: Vec<(u32, Vec<Word>)> = Vec::with_capacity(keys.len());
            for (key, ws) in keys.into_iter().zip(words) {
                let id = *ids.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    patterns.len() as u32 - 1
                });
                by_id.push((id, ws));
            }
            by_id.sort_by_key(|(id, _)| *id); // stable: the words of a repeated pattern keep their order
            let mut words: Vec<(u32, Vec<Word>)> = Vec::with_capacity(by_id.len());
            for (id, ws) in by_id {
                match words.last_mut() {
                    Some((last, merged)) if *last == id => merged.extend(ws),
                    _ => words.push((id, ws)),
                }
            }
            built.push(ContextRule {
                words,
                needs_context,
                has_negative,
                has_own,
            });
        }
        let mut heads = vec![0u64; HEAD_BITS / 64];
        for pattern in &patterns {
            let fixed = |k: usize| pattern.get(k).map_or(0..=255, |&b| b..=b);
            for a in fixed(1) {
                for b in fixed(2) {
                    for c in fixed(3) {
                        let bit = head_bit(a, b, c);
                        heads[bit / 64] |= 1 << (bit % 64);
                    }
                }
            }
        }
        Ok(Contexts {
            automaton: anchored_automaton(&patterns)?,
            heads,
            rules: built,
        })
    }

    /// Whether some pattern may start at `hay[at]` (a space), by the three bytes after it.
    #[inline]
    fn may_start(&self, hay: &[u8], at: usize) -> bool {
        let byte = |k: usize| hay.get(at + k).copied().unwrap_or(0);
        let bit = head_bit(byte(1), byte(2), byte(3));
        self.heads[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Whether rule `rule` has negative words naming its term.
    pub fn has_own(&self, rule: usize) -> bool {
        self.rules[rule].has_own
    }

    /// `VETOED` (a negative word within `window`), `MISSING` (context words required, none there)
    /// or `OK`, for a hit at `view.data[d_start..d_end]` under rule `rule`; `own`: whether the
    /// negative words naming the term apply to this hit. `exact(word, d_start, d_end)` compares a
    /// lossy word with the folded text there.
    #[allow(clippy::too_many_arguments)]
    pub fn verdict<E>(
        &self,
        rule: usize,
        view: &View<'_>,
        d_start: i64,
        d_end: i64,
        window: i64,
        own: bool,
        mut exact: impl FnMut(&str, i64, i64) -> Result<bool, E>,
    ) -> Result<u8, E> {
        let this = &self.rules[rule];
        let Some(ac) = self.automaton.as_ref().filter(|_| !this.words.is_empty()) else {
            return Ok(OK);
        };
        let (d_lo, d_hi) = view.window(d_start, d_end, window);
        let base = d_lo - 1;
        // The window, followed by one (virtual) space: a match may not end on that space.
        let hay = &view.data[base as usize..d_hi as usize];
        let at = |i: usize| if i < hay.len() { hay[i] } else { b' ' };
        let mut found = false;
        // Every pattern starts with a space: walks from the spaces of the window find them all (most
        // end after a byte or two), in fewer steps than a scan of every byte; a space whose next
        // three bytes begin no pattern is passed over.
        let spaces = (0..hay.len()).filter(|&i| hay[i] == b' ' && self.may_start(hay, i));
        let mut hits = Vec::new(); // the outcome does not depend on their order
        ac.anchored(hay, spaces, |pid, s, e| hits.push((pid, s, e)));
        for (pid, s, e) in hits {
            let Ok(k) = this.words.binary_search_by_key(&pid, |(id, _)| *id) else {
                continue; // another rule's pattern
            };
            let w_start = base + s as i64 + 1;
            for word in &this.words[k].1 {
                let w_end = if word.prefix {
                    base + hay[e..]
                        .iter()
                        .position(|&b| b == b' ')
                        .map_or(hay.len(), |p| e + p) as i64
                } else if at(e) == b' ' {
                    base + e as i64
                } else {
                    continue;
                };
                if d_start <= w_start && w_end <= d_end {
                    continue; // inside the hit itself
                }
                if word.own && !(own && w_start < d_end && d_start < w_end) {
                    continue; // about another occurrence of the term's word, or not for this hit
                }
                if let Some(key) = &word.exact {
                    if !exact(key, w_start, base + e as i64)? {
                        continue;
                    }
                }
                if word.gaps && !view.separated(w_start, base + e as i64) {
                    continue;
                }
                if word.negative {
                    return Ok(VETOED);
                }
                found = true;
                if !this.has_negative {
                    return Ok(OK); // no negative word can come later
                }
            }
        }
        Ok(if found || !this.needs_context {
            OK
        } else {
            MISSING
        })
    }
}
