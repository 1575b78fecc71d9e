//! `automaton.titled` decided in native code for ASCII surroundings: whether the capital of a
//! case-sensitive hit (a capitalised common word) says nothing about the name it matches. The word
//! lists are the ones Python uses (`common_words` and `place_words` of `data/toponyms.yaml`, lower
//! case); a hit whose word or neighbouring words hold a non-ASCII character is left to Python.

use crate::fxhash::FxHashSet;
use crate::textcues;

/// Characters read for each neighbouring word (`automaton._TITLE_REACH`).
pub const REACH: usize = 40;

pub struct TitleWords {
    common: FxHashSet<Vec<u8>>,
    places: FxHashSet<Vec<u8>>,
}

/// `str.isspace` of a code point read here (ASCII: [`textcues::space`]).
fn space(c: u32) -> bool {
    char::from_u32(c).is_some_and(textcues::space)
}

fn ascii(points: &[u32]) -> Option<Vec<u8>> {
    points
        .iter()
        .map(|&c| u8::try_from(c).ok().filter(u8::is_ascii))
        .collect()
}

impl TitleWords {
    pub fn new(common: Vec<String>, places: Vec<String>) -> Self {
        let set = |words: Vec<String>| words.into_iter().map(String::into_bytes).collect();
        TitleWords {
            common: set(common),
            places: set(places),
        }
    }

    /// `automaton.titled(text, start, end)` where `points` is `text[lo:hi]` (with `lo <= start -
    /// REACH - 1` or `lo == 0`, and `hi >= end + REACH + 1` or the text's end, `at = start - lo`,
    /// `len = end - start`); None when a non-ASCII character in the word or its neighbours leaves
    /// it to Python.
    pub fn titled(&self, points: &[u32], at: usize, len: usize, text_end: bool) -> Option<bool> {
        let end = at + len;
        let word = ascii(&points[at..end])?;
        let title = word.len() >= 2
            && word[0].is_ascii_uppercase()
            && word[1..].iter().all(u8::is_ascii_lowercase);
        if !title || !self.common.contains(&word.to_ascii_lowercase()) {
            return Some(false);
        }
        // `0 <= start < end < len(text) - 1` and a space after the word.
        if end + 1 >= points.len() && text_end || points.get(end) != Some(&0x20) {
            return Some(false);
        }
        let hi = (end + 1..points.len().min(end + 1 + REACH))
            .find(|&i| space(points[i]))
            .unwrap_or(points.len().min(end + 1 + REACH));
        let after = ascii(&points[end + 1..hi])?;
        if !after.first().is_some_and(u8::is_ascii_uppercase) {
            return Some(false);
        }
        let kept = after
            .iter()
            .rposition(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .map_or(0, |p| p + 1);
        let following = after[..kept].to_ascii_lowercase();
        if !self.common.contains(&following) {
            return Some(true); // the first word of another name
        }
        if self.places.contains(&following) || at < 2 || points[at - 1] != 0x20 {
            return Some(false);
        }
        let floor = (at - 1).saturating_sub(REACH);
        let lo = (floor..at - 1)
            .rev()
            .find(|&i| space(points[i]))
            .map_or(floor, |i| i + 1);
        let before = ascii(&points[lo..at - 1])?;
        Some(
            before.first().is_some_and(u8::is_ascii_uppercase)
                && before.last().is_some_and(u8::is_ascii_alphanumeric),
        )
    }
}
