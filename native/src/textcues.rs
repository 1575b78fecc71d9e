//! What the native reader reads as `newswatch.processor.textfacts` and `newswatch.processor.reading`
//! do (sentence starts, title-case lines, the words an article writes in lower case, a residence,
//! an age or "according to" around a name, "the town of" before one), from the word lists and the
//! per-character tables Python hands over (`TextRules`, [`crate::field::CharInfo`]: what `str.isalnum`,
//! `str.isupper`, `\s`, `\d` and `re.IGNORECASE` say of each character). An answer is `None` only
//! where Python has to read the text (a place word beyond ASCII may stand before "of"; short
//! capitals in non-ASCII text).

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};

use pyo3::prelude::*;

use crate::field::Field;
use crate::reading::WINDOW;

/// What `textfacts` and `reading` read in a text, for the answers given here without asking Python:
/// sentence openers and enders, the small words of a title-case line, the longest title line, the
/// words "of" of "the town of" and "to" of "according to", possessives, the place words, and what
/// the characters beyond ASCII are in case (`textfacts.native_rules`).
#[derive(FromPyObject)]
pub(crate) struct TextRules {
    pub(crate) openers: String,
    pub(crate) enders: String,
    pub(crate) small_words: HashSet<String>,
    pub(crate) title_line_max: usize,
    pub(crate) of_words: HashSet<String>,
    /// The word before "X" in "according to X"; the endings of possessives ("'s").
    pub(crate) to_word: String,
    pub(crate) possessive_endings: Vec<String>,
    /// The place words that ASCII text can match, lower case (None: ask Python every time).
    pub(crate) place_words: Option<HashSet<String>>,
    /// The characters of the Basic Multilingual Plane beyond ASCII for which `str.isupper` holds;
    /// those whose lower case is one character of a small word, with it.
    pub(crate) upper: String,
    pub(crate) lower: HashMap<char, char>,
    /// The length of the longest place word beyond ASCII (0: none).
    pub(crate) wide_place_words: usize,
    /// The length of the longest small word (set by the reader; longer words are not looked up).
    #[pyo3(default)]
    pub(crate) small_max: usize,
    /// `openers` and `enders` as characters (set by the reader).
    #[pyo3(default)]
    pub(crate) opener_chars: Vec<char>,
    #[pyo3(default)]
    pub(crate) ender_chars: Vec<char>,
}

/// ASCII characters for which Python's `str.isspace` holds (and regular expressions' `\s`).
const PY_ASCII_SPACE: &str = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f";

pub(crate) fn space(c: char) -> bool {
    PY_ASCII_SPACE.contains(c)
}

pub(crate) fn blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl TextRules {
    /// `textfacts.sentence_initial`.
    pub(crate) fn initial(&self, field: &Field, start: usize) -> bool {
        let text = &field.chars;
        let mut i = start.min(text.len());
        while i > 0 {
            let c = text[i - 1];
            if !(field.space(c) || self.opener_chars.contains(&c)) {
                return self.ender_chars.contains(&c);
            }
            if c == '\n' {
                return true;
            }
            i -= 1;
        }
        true
    }

    /// `textfacts.Article.title_line`.
    pub(crate) fn title_line(&self, field: &Field, start: usize) -> bool {
        let text = &field.chars;
        let start = start.min(text.len());
        let n = field.breaks.partition_point(|&at| at < start);
        let lo = if n > 0 { field.breaks[n - 1] + 1 } else { 0 };
        if let Some(&known) = field.lines.borrow().get(&lo) {
            return known;
        }
        let hi = field.breaks.get(n).copied().unwrap_or(text.len());
        let known = hi - lo <= self.title_line_max && self.title_case(field, lo, hi);
        field.lines.borrow_mut().insert(lo, known);
        known
    }

    /// Whether `field.chars[lo..hi]` is in title case: three words (`textfacts.WORD`) or more
    /// besides the small words, each starting with a capital.
    fn title_case(&self, field: &Field, lo: usize, hi: usize) -> bool {
        let line = &field.chars[lo..hi];
        let (mut words, mut i) = (0, 0);
        let mut lower = String::new();
        while i < line.len() {
            let c = line[i];
            if !field.alnum(c) || field.decimal(c) {
                i += 1; // not a letter ([^\W\d_]): no word starts here
                continue;
            }
            let mut j = i + 1;
            while j < line.len() && field.wordlike(line[j]) {
                j += 1;
            }
            if !self.small(field, &line[i..j], &mut lower) {
                if !field.upper(c) {
                    return false;
                }
                words += 1;
            }
            i = j;
        }
        words >= 3
    }

    /// Whether `word` in lower case (`str.lower`) is a small word of a title.
    fn small(&self, field: &Field, word: &[char], lower: &mut String) -> bool {
        if word.len() > self.small_max {
            return false;
        }
        lower.clear();
        for &c in word {
            if c.is_ascii() {
                lower.push(c.to_ascii_lowercase());
            } else {
                match field.info.small_lower(c) {
                    Some(l) => lower.push(l),
                    None => return false, // its lower case is in no small word
                }
            }
        }
        self.small_words.contains(lower.as_str())
    }

    /// `reading._RESIDENCE_REVERSED` before `start` within the window from `lo`: ", 22, " or
    /// ", 49, of " ends there.
    pub(crate) fn residence(field: &Field, lo: usize, start: usize) -> bool {
        let window = &field.chars[lo..start];
        let back = |mut p: usize, what: &dyn Fn(char) -> bool| {
            while p > 0 && what(window[p - 1]) {
                p -= 1;
            }
            p
        };
        // ',' blanks, one to three digits, blanks, ',' ending at `p`
        let age = |p: usize| {
            if p == 0 || window[p - 1] != ',' {
                return false;
            }
            let digits_end = back(p - 1, &blank);
            let digits_start = back(digits_end, &|c| field.decimal(c));
            let q = back(digits_start, &blank);
            (1..=3).contains(&(digits_end - digits_start)) && q > 0 && window[q - 1] == ','
        };
        let i = back(window.len(), &blank);
        if i >= 2 && window[i - 2..i] == ['o', 'f'] {
            let p = back(i - 2, &blank);
            if p < i - 2 && age(p) {
                return true;
            }
        }
        age(i)
    }

    /// `reading._ACCORDING_REVERSED` before `start` within the window from `lo`: "according to"
    /// (any case, as `re.IGNORECASE` reads it) and spaces end there, after no word character.
    pub(crate) fn according(&self, field: &Field, lo: usize, start: usize) -> bool {
        let window = &field.chars[lo..start.min(field.chars.len())];
        let mut i = window.len();
        while i > 0 && field.space(window[i - 1]) {
            i -= 1;
        }
        if i == window.len() {
            return false; // no space before the name
        }
        let phrase = b"according to";
        if i < phrase.len() {
            return false;
        }
        let s = i - phrase.len();
        let matches = window[s..i].iter().zip(phrase).all(|(&c, &p)| {
            if p == b' ' {
                c == ' '
            } else {
                field.letter(c) == Some(p)
            }
        });
        matches && (s == 0 || !(field.alnum(window[s - 1]) || window[s - 1] == '_'))
    }

    /// `textfacts.shouted_nearby` and the mention in capitals, for ASCII text around it (None:
    /// Python reads it).
    pub(crate) fn short_caps(text: &[char], start: usize, end: usize) -> Option<bool> {
        let before = &text[start.saturating_sub(20)..start];
        let after = &text[end..text.len().min(end + 20)];
        let name = &text[start..end];
        let upper = |t: &[char]| {
            t.iter().any(char::is_ascii_uppercase) && !t.iter().any(char::is_ascii_lowercase)
        };
        if !name.iter().all(char::is_ascii) {
            return None;
        }
        if !upper(name) {
            return Some(false);
        }
        if ![before, after].iter().all(|t| t.iter().all(char::is_ascii)) {
            return None;
        }
        let last = before
            .rsplit(|&c| space(c))
            .find(|t| !t.is_empty())
            .unwrap_or(&[]);
        let first = after
            .split(|&c| space(c))
            .find(|t| !t.is_empty())
            .unwrap_or(&[]);
        Some([last, first].iter().any(|n| n.len() >= 2 && upper(n)))
    }

    /// `reading._AGE` at `end` within the window: ", 45,".
    pub(crate) fn age(field: &Field, end: usize) -> bool {
        let text = &field.chars;
        let window = &text[end..text.len().min(end + WINDOW)];
        let ahead = |mut p: usize, what: &dyn Fn(char) -> bool| {
            while p < window.len() && what(window[p]) {
                p += 1;
            }
            p
        };
        if window.first() != Some(&',') {
            return false;
        }
        let digits_start = ahead(1, &|c| field.space(c));
        let digits_end = ahead(digits_start, &|c| field.decimal(c));
        let q = ahead(digits_end, &|c| field.space(c));
        (1..=3).contains(&(digits_end - digits_start)) && window.get(q) == Some(&',')
    }

    /// `reading.Reader._place_before` before `start` within the window from `lo`: "the town of"
    /// ends there, in any case as `re.IGNORECASE` reads it (None: a place word beyond ASCII may end
    /// there, or the place words are not all read here: Python reads it).
    pub(crate) fn place_before(&self, field: &Field, lo: usize, start: usize) -> Option<bool> {
        let words = self.place_words.as_ref()?;
        let window = &field.chars[lo..start];
        let back = |mut p: usize| {
            while p > 0 && field.space(window[p - 1]) {
                p -= 1;
            }
            p
        };
        // `text` ends at `end` in `window`, any case (its ASCII letters as re.IGNORECASE matches them)
        let ends = |end: usize, text: &str| {
            end >= text.len()
                && window[end - text.len()..end]
                    .iter()
                    .zip(text.bytes())
                    .all(|(&c, b)| {
                        if b.is_ascii_alphabetic() {
                            field.letter(c) == Some(b)
                        } else {
                            c == char::from(b)
                        }
                    })
        };
        let i = back(window.len());
        for of in &self.of_words {
            if !ends(i, of) {
                continue;
            }
            let q = back(i - of.len());
            if q == i - of.len() {
                continue;
            }
            if window[q.saturating_sub(self.wide_place_words)..q]
                .iter()
                .any(|c| !c.is_ascii())
            {
                return None; // a place word beyond ASCII may end here
            }
            for word in words {
                if ends(q, word) {
                    let s = q - word.len();
                    if s == 0 || !(field.alnum(window[s - 1]) || window[s - 1] == '_') {
                        return Some(true);
                    }
                }
            }
        }
        Some(false)
    }

    /// Whether one of `words` (ASCII, lower case) may end the text before `start` within the window
    /// from `lo`, after optional spaces (else the expression that reads it cannot match there and
    /// Python is not asked; non-ASCII characters there: it may).
    pub(crate) fn may_follow<'w>(
        text: &[char],
        lo: usize,
        start: usize,
        mut words: impl Iterator<Item = &'w str>,
    ) -> bool {
        let mut i = start;
        while i > lo && text[i - 1].is_ascii() && space(text[i - 1]) {
            i -= 1;
        }
        if i > lo && !text[i - 1].is_ascii() {
            return true;
        }
        words.any(|w| {
            i >= lo + w.len()
                && text[i - w.len()..i]
                    .iter()
                    .zip(w.bytes())
                    .all(|(c, b)| !c.is_ascii() || c.to_ascii_lowercase() == b as char)
        })
    }
}

/// An ASCII word in lower case, in `buf` when it fits.
pub(crate) fn ascii_lower<'a>(word: &[char], buf: &'a mut [u8; 64]) -> std::borrow::Cow<'a, str> {
    if word.len() > buf.len() {
        return word.iter().collect::<String>().to_ascii_lowercase().into();
    }
    for (b, c) in buf.iter_mut().zip(word) {
        *b = (*c as u8).to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..word.len()]).map_or_else(|_| String::new().into(), Into::into)
}
