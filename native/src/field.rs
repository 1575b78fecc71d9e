//! One field of an article as the native reader reads it ([`Field`]: its code points, line breaks
//! and title-case lines) and what Python says of each character beyond ASCII ([`CharInfo`]: the
//! tables of `automaton.char_tables` and `textfacts.native_rules`), so that the reading rules of
//! [`crate::textcues`] give Python's answers on any text; and `textfacts.has_word`.

use crate::fxhash::FxHashMap as HashMap;
use std::cell::RefCell;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::chars::{DECIMAL, SPACE, WORD};
use crate::textcues::{space, TextRules};

/// What the rules ask of a character beyond ASCII, as Python answers it: per character of the
/// Basic Multilingual Plane, the flags of [`crate::chars`] (`str.isspace`, `\w`, `\d`) and the
/// ASCII letter it matches under `re.IGNORECASE`, from `automaton.char_tables`; its `str.isupper`;
/// and, for the characters whose lower case is one character of a small word, that character.
pub(crate) struct CharInfo {
    flags: Box<[u8]>,
    letters: Box<[u8]>,
    upper: Vec<char>,
    lower: HashMap<char, char>,
}

impl CharInfo {
    /// The character of a small word that `c` (beyond ASCII) lowers to, if any.
    pub(crate) fn small_lower(&self, c: char) -> Option<char> {
        self.lower.get(&c).copied()
    }

    pub(crate) fn new(flags: Vec<u8>, letters: Vec<u8>, rules: &TextRules) -> Result<Self, String> {
        if flags.len() != BMP || letters.len() != BMP {
            return Err(format!("character tables have {BMP} bytes each"));
        }
        let mut upper: Vec<char> = rules
            .upper
            .chars()
            .filter(|&c| (c as usize) < BMP)
            .collect();
        upper.sort_unstable();
        Ok(CharInfo {
            flags: flags.into(),
            letters: letters.into(),
            upper,
            lower: rules.lower.clone(),
        })
    }
}

// Properties of a character beyond the Basic Multilingual Plane, asked of Python per field.
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const WHITE: u8 = 4;
const UPPER: u8 = 8;
pub(crate) const BMP: usize = 0x10000;

/// One field: its characters, where its line breaks are, and what is known of its lines (title
/// case or not, by line start). What a non-ASCII character is comes from [`CharInfo`] and, beyond
/// the Basic Multilingual Plane, from `astral` (sorted; read from Python per field).
pub(crate) struct Field<'t> {
    pub(crate) chars: Vec<char>,
    pub(crate) info: &'t CharInfo,
    pub(crate) astral: Vec<(char, u8)>,
    pub(crate) breaks: Vec<usize>,
    pub(crate) lines: RefCell<HashMap<usize, bool>>,
}

impl<'t> Field<'t> {
    /// The field of `text`: its code points (a lone surrogate as U+FFFD), and what Python says of
    /// the characters beyond the Basic Multilingual Plane (rare).
    pub(crate) fn new(text: &Bound<'_, PyString>, info: &'t CharInfo) -> PyResult<Self> {
        let (chars, breaks, mut astral) = chars(text)?;
        if !astral.is_empty() {
            astral.sort_unstable();
            astral.dedup();
            let py = text.py();
            for (c, props) in &mut astral {
                let one = PyString::new(py, c.encode_utf8(&mut [0; 4]));
                for (name, bit) in [
                    ("isalnum", ALNUM),
                    ("isdecimal", DIGIT),
                    ("isspace", WHITE),
                    ("isupper", UPPER),
                ] {
                    if one.call_method0(name)?.is_truthy()? {
                        *props |= bit;
                    }
                }
            }
        }
        Ok(Field {
            chars,
            info,
            astral,
            breaks,
            lines: RefCell::new(HashMap::default()),
        })
    }

    fn astral(&self, c: char, bit: u8) -> bool {
        self.astral
            .binary_search_by_key(&c, |&(a, _)| a)
            .is_ok_and(|at| self.astral[at].1 & bit != 0)
    }

    fn flag(&self, c: char, flag: u8, bit: u8) -> bool {
        match self.info.flags.get(c as usize) {
            Some(&f) => f & flag != 0,
            None => self.astral(c, bit),
        }
    }

    /// `str.isalnum`.
    pub(crate) fn alnum(&self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            self.flag(c, WORD, ALNUM)
        }
    }

    /// `str.isdecimal` (regular-expression `\d`).
    pub(crate) fn decimal(&self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_digit()
        } else {
            self.flag(c, DECIMAL, DIGIT)
        }
    }

    /// `str.isspace` (regular-expression `\s`).
    pub(crate) fn space(&self, c: char) -> bool {
        if c.is_ascii() {
            space(c)
        } else {
            self.flag(c, SPACE, WHITE)
        }
    }

    /// `str.isupper` of one character.
    pub(crate) fn upper(&self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_uppercase()
        } else if (c as usize) < BMP {
            self.info.upper.binary_search(&c).is_ok()
        } else {
            self.astral(c, UPPER)
        }
    }

    /// The lower-case ASCII letter that `c` matches under `re.IGNORECASE` (None: none).
    pub(crate) fn letter(&self, c: char) -> Option<u8> {
        let found = if c.is_ascii() {
            c.to_ascii_lowercase() as u8
        } else {
            self.info.letters.get(c as usize).copied().unwrap_or(0)
        };
        found.is_ascii_lowercase().then_some(found)
    }

    pub(crate) fn wordlike(&self, c: char) -> bool {
        self.alnum(c) || matches!(c, '_' | '\'' | '’')
    }

    /// `textfacts.has_word`: whether `word` is one of the words of the field (it ends a run of
    /// word characters and apostrophes, and only digits, underscores and apostrophes precede it in
    /// that run).
    pub(crate) fn has_word(&self, word: &[char]) -> bool {
        let text = &self.chars;
        let n = word.len();
        let Some(&first) = word.first() else {
            return false;
        };
        if n > text.len() {
            return false;
        }
        let joiner = |c: char| matches!(c, '_' | '\'' | '’');
        let found = |at: usize| {
            let end = at + n;
            if text[at + 1..end] != word[1..] {
                return false;
            }
            if end < text.len() && (self.alnum(text[end]) || joiner(text[end])) {
                return false;
            }
            let mut i = at;
            while i > 0 && (joiner(text[i - 1]) || self.decimal(text[i - 1])) {
                i -= 1;
            }
            i == 0 || !self.alnum(text[i - 1])
        };
        let starts = text.len() - n + 1; // the positions where `word` fits
        let second = word.get(1).copied();
        let mut base = 0;
        while base < starts {
            let stop = starts.min(base + 16);
            let hit = match second {
                // its first two characters, sixteen positions at a time (rarely both)
                Some(second) => text[base..stop]
                    .iter()
                    .zip(&text[base + 1..stop + 1])
                    .fold(false, |seen, (&a, &b)| {
                        seen | ((a == first) & (b == second))
                    }),
                None => text[base..stop]
                    .iter()
                    .fold(false, |seen, &c| seen | (c == first)),
            };
            if hit && (base..stop).any(|at| text[at] == first && found(at)) {
                return true;
            }
            base = stop;
        }
        false
    }
}

/// The code points of `text` (a lone surrogate as U+FFFD: one character either way), copied from
/// the string's own storage (no UTF-8 conversion); where its line breaks are; its characters
/// beyond the Basic Multilingual Plane (unsorted, as `(character, 0)`).
#[allow(clippy::type_complexity)]
pub(crate) fn chars(
    text: &Bound<'_, PyString>,
) -> PyResult<(Vec<char>, Vec<usize>, Vec<(char, u8)>)> {
    let py = text.py();
    // SAFETY: `text` is a str; PyUnicode_GetLength returns -1 with an exception set on failure.
    let size = unsafe { ffi::PyUnicode_GetLength(text.as_ptr()) };
    let size = usize::try_from(size).map_err(|_| PyErr::fetch(py))?;
    let mut out: Vec<char> = Vec::with_capacity(size);
    let (mut breaks, mut astral) = (Vec::new(), Vec::new());
    // SAFETY: PyUnicode_AsUCS4 writes the `size` code points of `text` (UCS-4, the layout of u32)
    // into the buffer of capacity `size` (no terminating NUL: copy_null is 0), or fails with an
    // exception set. Each code point is made a valid `char` (a surrogate becomes U+FFFD) through
    // the raw slice of u32 before the length is set, so no invalid `char` is ever read.
    unsafe {
        let buffer = out.as_mut_ptr().cast::<u32>();
        if size > 0
            && ffi::PyUnicode_AsUCS4(text.as_ptr(), buffer, size as ffi::Py_ssize_t, 0).is_null()
        {
            return Err(PyErr::fetch(py));
        }
        let points = std::slice::from_raw_parts_mut(buffer, size);
        // Sixteen at a time: most hold no line break, surrogate or character beyond the BMP.
        for (n, chunk) in points.chunks_mut(16).enumerate() {
            if !chunk
                .iter()
                .fold(false, |seen, &p| seen | (p == 0x0A) | (p >= 0xD800))
            {
                continue;
            }
            for (k, p) in chunk.iter_mut().enumerate() {
                if *p == 0x0A {
                    breaks.push(n * 16 + k);
                } else if (0xD800..0xE000).contains(p) {
                    *p = 0xFFFD;
                } else if *p as usize >= BMP {
                    astral.push((char::from_u32(*p).unwrap_or('\u{fffd}'), 0));
                }
            }
        }
        out.set_len(size);
    }
    Ok((out, breaks, astral))
}
