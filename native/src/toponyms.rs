//! Toponym recognition for `newswatch.processor.toponyms`: every gazetteer key in one Aho-Corasick
//! automaton, and the whole per-text scan (word boundaries, runs of capitals read title-cased,
//! leftmost-longest choice) in one call.
//!
//! Python folds the text (accents off, case kept, hyphens and line breaks as spaces) and names the
//! non-ASCII characters of it that are letters or digits (`str.isalnum`), so Unicode stays defined
//! there; offsets are code points of that text. The reference implementation is the Python
//! `ReferenceScanner` of that module: the results are the same.

use aho_corasick::nfa::contiguous;
use aho_corasick::MatchKind;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::scan::Scanner;
use crate::value_error;

/// Class of a non-ASCII character in the one-byte-per-character view: a letter or digit, or not.
const WIDE_ALNUM: u8 = 0x81;
const WIDE_OTHER: u8 = 0x80;

/// Every gazetteer key; immutable, safe to share between threads.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceNames {
    scanner: Option<Scanner>,
    /// Whether some key starts with this byte.
    first: [bool; 256],
    count: usize,
    max_key_chars: usize,
    tuple_new: Py<PyAny>,
}

/// One text as the scan reads it: its bytes, one class byte per character and the offsets between.
struct Text<'a> {
    bytes: &'a [u8],
    /// ASCII characters as themselves, others `WIDE_ALNUM` / `WIDE_OTHER`.
    class: Vec<u8>,
    /// Byte offset of each character and of the end (empty when the text is ASCII).
    byte_at: Vec<usize>,
    /// Character index at each byte offset that starts a character (empty when ASCII).
    char_at: Vec<u32>,
}

impl<'a> Text<'a> {
    fn new(text: &'a str, alnum: &str) -> Self {
        let bytes = text.as_bytes();
        if text.is_ascii() {
            return Text {
                bytes,
                class: bytes.to_vec(),
                byte_at: Vec::new(),
                char_at: Vec::new(),
            };
        }
        let mut wide: Vec<char> = alnum.chars().collect();
        wide.sort_unstable();
        let mut class = Vec::with_capacity(bytes.len());
        let mut byte_at = Vec::with_capacity(bytes.len() + 1);
        let mut char_at = vec![0u32; bytes.len() + 1];
        for (n, (at, c)) in text.char_indices().enumerate() {
            class.push(if c.is_ascii() {
                c as u8
            } else if wide.binary_search(&c).is_ok() {
                WIDE_ALNUM
            } else {
                WIDE_OTHER
            });
            byte_at.push(at);
            char_at[at] = n as u32;
        }
        byte_at.push(bytes.len());
        char_at[bytes.len()] = class.len() as u32;
        Text {
            bytes,
            class,
            byte_at,
            char_at,
        }
    }

    fn char_of(&self, byte: usize) -> usize {
        if self.char_at.is_empty() {
            byte
        } else {
            self.char_at[byte] as usize
        }
    }

    fn byte_of(&self, at: usize) -> usize {
        if self.byte_at.is_empty() {
            at
        } else {
            self.byte_at[at]
        }
    }

    fn alnum(&self, at: usize) -> bool {
        let c = self.class[at];
        c.is_ascii_alphanumeric() || c == WIDE_ALNUM
    }

    /// Whether a key found at characters `start..end` sits on word boundaries (a French elision
    /// "d'Alep" may touch its start).
    fn bounded(&self, start: usize, end: usize) -> bool {
        !(end < self.class.len() && self.alnum(end)) && self.starts_word(start)
    }

    /// Whether a key may start at character `start` (the start half of [`Text::bounded`]).
    fn starts_word(&self, start: usize) -> bool {
        if start == 0 {
            return true;
        }
        let before = self.class[start - 1];
        if before == b'_' || self.alnum(start - 1) {
            return false;
        }
        before != b'\''
            || (start >= 2
                && b"dDlLjJ".contains(&self.class[start - 2])
                && (start < 3 || !self.alnum(start - 3)))
    }
}

/// A key occurrence: character offsets, shouted or not, key number.
type Hit = (usize, usize, bool, u32);

/// Runs of capitals that read as a headline, as character spans of the class view: what
/// `[A-Z][A-Z](?<![A-Za-z]..)(?:[A-Z]*(?:[^a-zA-Z]+[A-Z]{2,})+(?![a-z])|[A-Z]{4,}(?![a-z]))` matches
/// (a backtracking regular expression) where two capitals follow a non-letter, left to right.
pub fn caps_runs(class: &[u8]) -> Vec<(usize, usize)> {
    let size = class.len();
    let upper = |i: usize| i < size && class[i].is_ascii_uppercase();
    let find = |from: usize| (from..size.saturating_sub(1)).find(|&i| upper(i) && upper(i + 1));
    let mut runs = Vec::new();
    let mut at = find(0);
    while let Some(start) = at {
        if start > 0 && class[start - 1].is_ascii_alphabetic() {
            at = find(start + 1);
            continue;
        }
        match run_at(class, start) {
            Some(end) => {
                runs.push((start, end));
                at = find(end);
            }
            None => at = find(start + 1),
        }
    }
    runs
}

/// The end of the run of capitals starting at `start` (two capitals there), if any.
fn run_at(class: &[u8], start: usize) -> Option<usize> {
    let size = class.len();
    let upper = |i: usize| i < size && class[i].is_ascii_uppercase();
    let lower = |i: usize| i < size && class[i].is_ascii_lowercase();
    let capitals = |i: usize| (i..size).take_while(|&j| upper(j)).count();
    let others = |i: usize| {
        (i..size)
            .take_while(|&j| !class[j].is_ascii_alphabetic())
            .count()
    };
    // One more "non-letters, two capitals or more" from `q` (a non-letter or the end), then as many
    // as follow, then no lower-case letter: where the match ends (greedy, as the engine backtracks).
    let words = |mut q: usize, first: bool| -> Option<usize> {
        let mut more = first;
        loop {
            let gap = others(q);
            let head = q + gap;
            let caps = capitals(head);
            if gap == 0 || caps < 2 {
                return if more { None } else { Some(q) };
            }
            let end = head + caps;
            if lower(end) {
                return if caps > 2 {
                    Some(end - 1)
                } else if more {
                    None
                } else {
                    Some(q)
                };
            }
            q = end;
            more = false;
        }
    };
    let p = start + 2;
    let caps = capitals(p);
    if let Some(end) = words(p + caps, true) {
        return Some(end);
    }
    (4..=caps).rev().map(|k| p + k).find(|&end| !lower(end))
}

/// The text with the capital words of each run title-cased ("IRAQ REPORT" -> "Iraq Report"): ASCII
/// letters only change, so byte offsets stay.
fn title_cased(text: &Text<'_>, runs: &[(usize, usize)]) -> Vec<u8> {
    let mut out = text.bytes.to_vec();
    for &(start, end) in runs {
        let mut i = start;
        while i < end {
            let mut j = i;
            while j < end && text.class[j].is_ascii_uppercase() {
                j += 1;
            }
            if j - i >= 2 {
                for k in i + 1..j {
                    out[text.byte_of(k)] = text.class[k].to_ascii_lowercase();
                }
            }
            i = j.max(i + 1);
        }
    }
    out
}

impl PlaceNames {
    /// Occurrences of keys in `hay` (the bytes of characters `lo..hi` of `text`, maybe title-cased)
    /// on word boundaries of `text`: anchored walks of the automaton from the characters where a
    /// key may start (a word start whose first byte starts some key), not a scan of every byte.
    fn hits(
        &self,
        text: &Text<'_>,
        hay: &[u8],
        (lo, hi): (usize, usize),
        shouted: bool,
        out: &mut Vec<Hit>,
    ) {
        let Some(scanner) = &self.scanner else {
            return;
        };
        let base = text.byte_of(lo);
        let starts = (lo..hi)
            .filter(|&i| self.first[text.bytes[text.byte_of(i)] as usize] && text.starts_word(i))
            .map(|i| text.byte_of(i) - base);
        scanner.anchored(hay, starts, |number, s, e| {
            let (start, end) = (text.char_of(base + s), text.char_of(base + e));
            if text.bounded(start, end) {
                out.push((start, end, shouted, number));
            }
        });
    }

    /// Mentions as `(start, end, number, shouted)` in characters, with the title-cased text when
    /// some are shouted; see `scan`.
    fn mentions(&self, text: &Text<'_>) -> (Vec<Hit>, Option<Vec<u8>>) {
        let mut hits = Vec::new();
        self.hits(text, text.bytes, (0, text.class.len()), false, &mut hits);
        let runs = caps_runs(&text.class);
        let titled = if runs.is_empty() {
            None
        } else {
            let titled = title_cased(text, &runs);
            let (reach, size) = (self.max_key_chars as isize, text.class.len() as isize);
            let mut n = 0;
            while n < runs.len() {
                let lo = (runs[n].0 as isize - reach).max(0);
                let mut hi = (runs[n].1 as isize + reach).min(size);
                while n + 1 < runs.len() && runs[n + 1].0 as isize - reach <= hi {
                    n += 1;
                    hi = (runs[n].1 as isize + reach).min(size);
                }
                let (lo, hi) = (lo as usize, hi as usize);
                let hay = &titled[text.byte_of(lo)..text.byte_of(hi)];
                self.hits(text, hay, (lo, hi), true, &mut hits);
                n += 1;
            }
            Some(titled)
        };
        hits.sort_unstable_by_key(|&(s, e, shouted, number)| {
            (s, std::cmp::Reverse(e), shouted, number)
        });
        let mut reach = 0;
        hits.retain(|&(s, e, _, _)| {
            if s < reach {
                return false;
            }
            reach = e;
            true
        });
        (hits, titled)
    }
}

#[pymethods]
impl PlaceNames {
    /// Key `k` is `keys[k]`. Raises ValueError when the automaton cannot be built.
    #[new]
    fn new(py: Python<'_>, keys: Vec<Bound<'_, PyString>>) -> PyResult<Self> {
        // Borrowed, not copied: hundreds of thousands of keys.
        let keys = keys
            .iter()
            .map(|k| k.to_str())
            .collect::<PyResult<Vec<&str>>>()?;
        let max_key_chars = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
        let longest = keys.iter().map(|k| k.len()).max().unwrap_or(0);
        let count = keys.len();
        let mut first = [false; 256];
        for key in &keys {
            if let Some(&byte) = key.as_bytes().first() {
                first[byte as usize] = true;
            }
        }
        let scanner = if keys.is_empty() {
            None
        } else {
            let nfa = py.detach(|| {
                contiguous::NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&keys)
            });
            Some(Scanner::Nfa(
                nfa.map_err(|e| value_error(format!("cannot build an automaton: {e}")))?,
                longest,
            ))
        };
        let tuple_new = py.get_type::<PyTuple>().getattr("__new__")?.unbind();
        Ok(PlaceNames {
            scanner,
            first,
            count,
            max_key_chars,
            tuple_new,
        })
    }

    fn __len__(&self) -> usize {
        self.count
    }

    /// The length of the longest key in characters.
    #[getter]
    fn max_key_chars(&self) -> usize {
        self.max_key_chars
    }

    /// Every occurrence of every key, overlapping, as `(key number, start, end)` in characters.
    fn find(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
    ) -> PyResult<Vec<(u32, usize, usize)>> {
        let text = text.to_str()?;
        Ok(py.detach(|| {
            let view = Text::new(text, "");
            let mut out = Vec::new();
            if let Some(scanner) = &self.scanner {
                scanner.overlapping(view.bytes, |number, s, e| {
                    out.push((number, view.char_of(s), view.char_of(e)));
                });
            }
            out
        }))
    }

    /// The mentions of `text` as `factory` tuples `(start, end, key, number, shouted)`, in order,
    /// non-overlapping; `alnum`: the non-ASCII characters of `text` that are letters or digits.
    fn scan<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        alnum: &str,
        factory: &Bound<'py, PyType>,
    ) -> PyResult<Bound<'py, PyList>> {
        let source = text.to_str()?;
        let (hits, titled, view) = py.detach(|| {
            let view = Text::new(source, alnum);
            let (hits, titled) = self.mentions(&view);
            (hits, titled, view)
        });
        let new = self.tuple_new.bind(py);
        let mut out = Vec::with_capacity(hits.len());
        for (start, end, shouted, number) in hits {
            let (bs, be) = (view.byte_of(start), view.byte_of(end));
            let key = match (&titled, shouted) {
                (Some(titled), true) => std::str::from_utf8(&titled[bs..be])
                    .map_err(|e| value_error(format!("title-cased key: {e}")))?,
                _ => &source[bs..be],
            };
            let items = (start, end, PyString::new(py, key), number, shouted);
            out.push(new.call1((factory, items.into_pyobject(py)?))?);
        }
        PyList::new(py, out)
    }
}

/// `caps_runs` of a text (for tests against the regular expression it implements).
#[pyfunction]
pub fn caps_runs_of(text: &str) -> Vec<(usize, usize)> {
    caps_runs(&Text::new(text, "").class)
}
