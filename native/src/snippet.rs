//! Match snippets: `newswatch.processor.keywords.snippet` for every match of one text in one call.
//!
//! The Python function is the definition (and the reference the tests compare this with): the match
//! with about `width` code points either side, the window widened to the nearest space (U+0020) inside
//! it at either end, its whitespace collapsed as `str.split()` does (runs of Unicode whitespace, the
//! four information separators U+001C..U+001F included, become one space, none at either end), and
//! `…` before and after when the window does not reach the text's start or end.

use pyo3::prelude::*;

use crate::value_error;

const ELLIPSIS: &str = "\u{2026}";

/// Python's `str.isspace()`: Unicode `White_Space` plus the information separators.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A text and the byte offset of each of its code points (none kept for ASCII text, where the two
/// are equal).
pub(crate) struct Text<'a> {
    text: &'a str,
    offsets: Vec<usize>,
    pub(crate) chars: usize,
}

impl<'a> Text<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        if text.is_ascii() {
            return Text {
                text,
                offsets: Vec::new(),
                chars: text.len(),
            };
        }
        let mut offsets: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        let chars = offsets.len();
        offsets.push(text.len());
        Text {
            text,
            offsets,
            chars,
        }
    }

    /// The byte offset of code point `n` (`n <= chars`).
    pub(crate) fn at(&self, n: usize) -> usize {
        if self.offsets.is_empty() {
            n
        } else {
            self.offsets[n]
        }
    }

    /// `snippet(text, start, end, width)`; `start <= end <= chars`.
    pub(crate) fn snippet(&self, start: usize, end: usize, width: usize) -> String {
        let lo_char = start.saturating_sub(width);
        let hi_char = self.chars.min(end.saturating_add(width));
        let bytes = self.text.as_bytes();
        let (start, end) = (self.at(start), self.at(end));
        let mut lo = self.at(lo_char);
        if lo_char > 0 {
            if let Some(space) = bytes[lo..start].iter().position(|&b| b == b' ') {
                lo += space + 1;
            }
        }
        let mut hi = self.at(hi_char);
        if hi_char < self.chars {
            if let Some(space) = bytes[end..hi].iter().rposition(|&b| b == b' ') {
                hi = end + space;
            }
        }
        let mut out = String::with_capacity(hi - lo + 2 * ELLIPSIS.len());
        if lo_char > 0 {
            out.push_str(ELLIPSIS);
        }
        let words = self.text[lo..hi]
            .split(is_py_space)
            .filter(|w| !w.is_empty());
        for (n, word) in words.enumerate() {
            if n > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        if hi_char < self.chars {
            out.push_str(ELLIPSIS);
        }
        out
    }
}

/// `[snippet(text, start, end, width) for start, end in spans]` (offsets in code points).
///
/// Raises `ValueError` for a span that is not `0 <= start <= end <= len(text)`.
#[pyfunction]
pub fn snippets(text: &str, spans: Vec<(usize, usize)>, width: usize) -> PyResult<Vec<String>> {
    let text = Text::new(text);
    let mut out = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        if start > end || end > text.chars {
            let chars = text.chars;
            return Err(value_error(format!(
                "span ({start}, {end}) outside a text of {chars} characters"
            )));
        }
        out.push(text.snippet(start, end, width));
    }
    Ok(out)
}
