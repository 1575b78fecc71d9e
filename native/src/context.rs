//! Context rules: the context words and negative-context words of a term, searched in a window
//! around a hit with the semantics of `(?<!\w)(?:word|prefix\w*)(?!\w)` over the folded text (see
//! `newswatch.processor.automaton`). An occurrence lying inside the hit itself is ignored.

use crate::scan::{automaton, Scanner};
use crate::view::View;

pub const VETOED: u8 = 0;
pub const OK: u8 = 1;
pub const MISSING: u8 = 2;

/// One word behind a pattern: `exact` (lossy: compared with the folded text), `gaps`, `prefix`,
/// `negative`.
pub struct Word {
    pub exact: Option<String>,
    pub gaps: bool,
    pub prefix: bool,
    pub negative: bool,
}

pub struct ContextRule {
    automaton: Option<Scanner>,
    words: Vec<Vec<Word>>,
    needs_context: bool,
    has_negative: bool,
}

impl ContextRule {
    /// `patterns[i]` (a framed key without its closing space) stands for `words[i]`.
    pub fn new(
        patterns: &[Vec<u8>],
        words: Vec<Vec<Word>>,
        needs_context: bool,
    ) -> Result<Self, String> {
        if patterns.len() != words.len() {
            return Err("context patterns and words differ in number".into());
        }
        let has_negative = words.iter().flatten().any(|w| w.negative);
        Ok(ContextRule {
            automaton: automaton(patterns)?,
            words,
            needs_context,
            has_negative,
        })
    }

    /// `VETOED` (a negative word within `window`), `MISSING` (context words required, none there)
    /// or `OK`, for a hit at `view.data[d_start..d_end]`. `exact(word, d_start, d_end)` compares a
    /// lossy word with the folded text there.
    pub fn verdict<E>(
        &self,
        view: &View<'_>,
        d_start: i64,
        d_end: i64,
        window: i64,
        mut exact: impl FnMut(&str, i64, i64) -> Result<bool, E>,
    ) -> Result<u8, E> {
        let Some(ac) = &self.automaton else {
            return Ok(OK);
        };
        let (d_lo, d_hi) = view.window(d_start, d_end, window);
        let base = d_lo - 1;
        // The window, followed by one (virtual) space: a match may not end on that space.
        let hay = &view.data[base as usize..d_hi as usize];
        let at = |i: usize| if i < hay.len() { hay[i] } else { b' ' };
        let mut found = false;
        let mut hits = Vec::new();
        ac.overlapping(hay, |pid, s, e| hits.push((pid, s, e)));
        for (pid, s, e) in hits {
            let w_start = base + s as i64 + 1;
            for word in &self.words[pid as usize] {
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
                if !self.has_negative {
                    return Ok(OK); // no negative word can come later
                }
            }
        }
        Ok(if found || !self.needs_context {
            OK
        } else {
            MISSING
        })
    }
}
