//! Context rules: the context words and negative-context words of a term, searched in a window
//! around a hit with the semantics of `(?<!\w)(?:word|prefix\w*)(?!\w)` over the folded text (see
//! `newswatch.processor.automaton`). An occurrence lying inside the hit itself is ignored; a negative
//! word that names the term itself ("hit by" of the term Hit) vetoes only the hit it overlaps, and
//! only when the caller says such words apply to the hit (`own`).
//!
//! The patterns of every rule ([`Contexts::patterns`]) are found in the whole text by the scan
//! that finds the keys ([`crate::keys::KeyIndex`]): the same automaton, one pass over the text, at
//! almost no cost per pattern. A verdict reads the occurrences inside its window from that list, and
//! a rule keeps the words of its own patterns only.

use crate::fxhash::FxHashMap;
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

/// The context rules of an engine and the patterns of all of them.
pub struct Contexts {
    /// Every distinct pattern (a space and a key), numbered as the rules' words refer to them.
    pub patterns: Vec<Vec<u8>>,
    pub rules: Vec<ContextRule>,
}

/// The occurrences of the context patterns in one text's `data`, as `(pattern, start, end)` with
/// `start` the index of the pattern's space, in order of `end`.
pub type Occurrences = [(u32, i64, i64)];

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
        if patterns.iter().any(|p| p.len() < 2 || p[0] != b' ') {
            return Err("a context pattern is not a space and a key".into());
        }
        Ok(Contexts {
            patterns,
            rules: built,
        })
    }

    /// Whether rule `rule` has negative words naming its term.
    pub fn has_own(&self, rule: usize) -> bool {
        self.rules[rule].has_own
    }

    /// `VETOED` (a negative word within `window`), `MISSING` (context words required, none there)
    /// or `OK`, for a hit at `view.data[d_start..d_end]` under rule `rule`; `found`: the context
    /// patterns' occurrences in `view.data`; `own`: whether the negative words naming the term apply
    /// to this hit. `exact(word, d_start, d_end)` compares a lossy word with the folded text there.
    ///
    /// The window is `data[d_lo..d_hi]` with the space before it, followed by one (virtual) space:
    /// an occurrence counts when it starts at that space or later and ends by `d_hi`, and a word
    /// ending at `d_hi` is whole.
    #[allow(clippy::too_many_arguments)]
    pub fn verdict<E>(
        &self,
        rule: usize,
        view: &View<'_>,
        found_in_text: &Occurrences,
        d_start: i64,
        d_end: i64,
        window: i64,
        own: bool,
        mut exact: impl FnMut(&str, i64, i64) -> Result<bool, E>,
    ) -> Result<u8, E> {
        let this = &self.rules[rule];
        if this.words.is_empty() {
            return Ok(OK);
        }
        let (d_lo, d_hi) = view.window(d_start, d_end, window);
        let base = d_lo - 1;
        let data = &view.data;
        let space_at = |i: i64| i >= d_hi || data[i as usize] == b' ';
        let mut found = false;
        let first = found_in_text.partition_point(|&(_, _, e)| e <= base);
        for &(pid, s, e) in &found_in_text[first..] {
            if e > d_hi {
                break;
            }
            if s < base {
                continue; // begins before the window
            }
            let Ok(k) = this.words.binary_search_by_key(&pid, |(id, _)| *id) else {
                continue; // another rule's pattern
            };
            let w_start = s + 1;
            for word in &this.words[k].1 {
                let w_end = if word.prefix {
                    data[e as usize..d_hi as usize]
                        .iter()
                        .position(|&b| b == b' ')
                        .map_or(d_hi, |p| e + p as i64)
                } else if space_at(e) {
                    e
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
                    if !exact(key, w_start, e)? {
                        continue;
                    }
                }
                if word.gaps && !view.separated(w_start, e) {
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
