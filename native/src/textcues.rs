//! What the native reader reads in ASCII text as `newswatch.processor.textfacts` and
//! `newswatch.processor.reading` do (sentence starts, title-case lines, a residence or an age after
//! a name, "the town of" before one), from the word lists and characters Python hands over
//! (`TextRules`). Each answer is `None` where the text is not ASCII: Python reads it then.

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::RefCell;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::reading::WINDOW;

/// What `textfacts` and `reading` read in a text, for the answers given here without asking Python
/// (ASCII text only): sentence openers and enders, the small words of a title-case line, the
/// longest title line, the words "of" of "the town of" and "to" of "according to", possessives.
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
    /// The length of the longest small word (set by the reader; longer words are not looked up).
    #[pyo3(default)]
    pub(crate) small_max: usize,
}

/// ASCII characters for which Python's `str.isspace` holds (and regular expressions' `\s`).
const PY_ASCII_SPACE: &str = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f";

pub(crate) fn space(c: char) -> bool {
    PY_ASCII_SPACE.contains(c)
}

/// One field: its characters, which non-ASCII ones are letters or digits, where its line breaks
/// are, and what is known of its lines (title case or not, by line start).
pub(crate) struct Field {
    pub(crate) chars: Vec<char>,
    pub(crate) wide: Vec<char>,
    pub(crate) breaks: Vec<usize>,
    pub(crate) lines: RefCell<HashMap<usize, Option<bool>>>,
}

impl Field {
    pub(crate) fn alnum(&self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            self.wide.binary_search(&c).is_ok()
        }
    }
    pub(crate) fn wordlike(&self, c: char) -> bool {
        self.alnum(c) || matches!(c, '_' | '\'' | '’')
    }
}

pub(crate) fn blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl TextRules {
    /// `textfacts.sentence_initial` (None: a character that Python has to read).
    pub(crate) fn initial(&self, text: &[char], start: usize) -> Option<bool> {
        let mut i = start.min(text.len());
        while i > 0 {
            let c = text[i - 1];
            if !c.is_ascii() {
                return None;
            }
            if !(space(c) || self.openers.contains(c)) {
                return Some(self.enders.contains(c));
            }
            if c == '\n' {
                return Some(true);
            }
            i -= 1;
        }
        Some(true)
    }

    /// `textfacts.Article.title_line` (None: a line with characters that Python has to read).
    pub(crate) fn title_line(&self, field: &Field, start: usize) -> Option<bool> {
        let text = &field.chars;
        let start = start.min(text.len());
        let n = field.breaks.partition_point(|&at| at < start);
        let lo = if n > 0 { field.breaks[n - 1] + 1 } else { 0 };
        if let Some(&known) = field.lines.borrow().get(&lo) {
            return known;
        }
        let hi = field.breaks.get(n).copied().unwrap_or(text.len());
        let known = if hi - lo > self.title_line_max {
            Some(false)
        } else {
            self.title_case(&text[lo..hi])
        };
        field.lines.borrow_mut().insert(lo, known);
        known
    }

    /// Whether an ASCII line is in title case: three words or more besides the small words, each
    /// capitalised (None: not ASCII).
    fn title_case(&self, line: &[char]) -> Option<bool> {
        if !line.iter().all(char::is_ascii) {
            return None;
        }
        let (mut words, mut capitalised, mut i) = (0, true, 0);
        while i < line.len() {
            if !line[i].is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < line.len()
                && (line[j].is_ascii_alphanumeric() || line[j] == '_' || line[j] == '\'')
            {
                j += 1;
            }
            let mut buf = [0u8; 64];
            if j - i > self.small_max
                || !self
                    .small_words
                    .contains(ascii_lower(&line[i..j], &mut buf).as_ref())
            {
                words += 1;
                capitalised = capitalised && line[i].is_ascii_uppercase();
            }
            i = j;
        }
        Some(words >= 3 && capitalised)
    }

    /// `reading._RESIDENCE_REVERSED` before `start` within the window from `lo`: ", 22, " or
    /// ", 49, of " ends there (None: a window with characters that Python has to read).
    pub(crate) fn residence(text: &[char], lo: usize, start: usize) -> Option<bool> {
        let window = &text[lo..start];
        if !window.iter().all(char::is_ascii) {
            return None;
        }
        let back = |mut p: usize, what: fn(char) -> bool| {
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
            let digits_end = back(p - 1, blank);
            let digits_start = back(digits_end, |c| c.is_ascii_digit());
            let q = back(digits_start, blank);
            (1..=3).contains(&(digits_end - digits_start)) && q > 0 && window[q - 1] == ','
        };
        let i = back(window.len(), blank);
        if i >= 2 && window[i - 2..i] == ['o', 'f'] {
            let p = back(i - 2, blank);
            if p < i - 2 && age(p) {
                return Some(true);
            }
        }
        Some(age(i))
    }

    /// `reading.Reader._place_before` before `start` within the window from `lo`: "the town of"
    /// ends there (None: Python has to read it).
    pub(crate) fn place_before(&self, text: &[char], lo: usize, start: usize) -> Option<bool> {
        let words = self.place_words.as_ref()?;
        let window = &text[lo..start];
        if !window.iter().all(char::is_ascii) {
            return None;
        }
        let lower: Vec<u8> = window
            .iter()
            .map(|&c| (c as u8).to_ascii_lowercase())
            .collect();
        let back = |mut p: usize| {
            while p > 0 && space(window[p - 1]) {
                p -= 1;
            }
            p
        };
        let i = back(window.len());
        for of in &self.of_words {
            let Some(p) = i
                .checked_sub(of.len())
                .filter(|&p| &lower[p..i] == of.as_bytes())
            else {
                continue;
            };
            let q = back(p);
            if q == p {
                continue;
            }
            for word in words {
                if let Some(s) = q
                    .checked_sub(word.len())
                    .filter(|&s| &lower[s..q] == word.as_bytes())
                {
                    if s == 0 || !(window[s - 1].is_ascii_alphanumeric() || window[s - 1] == '_') {
                        return Some(true);
                    }
                }
            }
        }
        Some(false)
    }

    /// `reading._AGE` at `end` within the window: ", 45," (None: characters that Python has to read).
    pub(crate) fn age(text: &[char], end: usize) -> Option<bool> {
        let window = &text[end..text.len().min(end + WINDOW)];
        if !window.iter().all(char::is_ascii) {
            return None;
        }
        let ahead = |mut p: usize, what: fn(char) -> bool| {
            while p < window.len() && what(window[p]) {
                p += 1;
            }
            p
        };
        if window.first() != Some(&',') {
            return Some(false);
        }
        let digits_start = ahead(1, space);
        let digits_end = ahead(digits_start, |c| c.is_ascii_digit());
        let q = ahead(digits_end, space);
        Some((1..=3).contains(&(digits_end - digits_start)) && window.get(q) == Some(&','))
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

/// The code points of `text` (a lone surrogate as U+FFFD: one character either way).
pub(crate) fn chars(text: &Bound<'_, PyString>) -> PyResult<Vec<char>> {
    if let Ok(s) = text.to_str() {
        return Ok(s.chars().collect());
    }
    let wide = text.call_method1(intern!(text.py(), "encode"), ("utf-32-le", "surrogatepass"))?;
    let bytes: &[u8] = wide.cast::<pyo3::types::PyBytes>()?.as_bytes();
    Ok(bytes
        .chunks_exact(4)
        .map(|b| char::from_u32(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or('\u{fffd}'))
        .collect())
}
