//! Text folding: `newswatch.processor.normalize.fold` of a text whose characters all lie in the
//! Basic Multilingual Plane, from a per-character table that Python makes once with `fold_char`
//! (which stays the definition; the tests compare the two on every character).
//!
//! A [`Folding`] maps each BMP character (a two-level table) to its folded form (possibly empty or several characters).
//! [`Folding::fold`] returns the folded text and the `(index, width)` of every character not folding
//! to exactly one (what `normalize._Origin` takes); [`Folding::fold_bytes`] returns the folded text
//! as UTF-8 bytes only. Both return None for a text holding a character outside the BMP or a lone
//! surrogate: the caller folds it in Python.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::value_error;

const BMP: usize = 0x1_0000;
/// Entry of a character folding to itself.
const SAME: u16 = u16::MAX;
/// Characters per block of the two-level table (blocks with equal entries are stored once: most of
/// the BMP folds to itself, and a text's characters then share a few cache lines).
const BLOCK: usize = 256;

/// A folded text and its changes (`Folding::fold`).
type Folded<'py> = (Bound<'py, PyString>, Vec<(usize, usize)>);

/// One folding table (one `casefold` choice, plus any extra replacement Python folded into it);
/// immutable, thread-safe.
#[pyclass(frozen, module = "newswatch_native")]
pub struct Folding {
    /// Per ASCII byte: its folded byte (ASCII characters always fold to one ASCII character).
    ascii: [u8; 128],
    /// Per block of [`BLOCK`] BMP characters: where its entries start in `entries`.
    blocks: Vec<u32>,
    /// Per character of a block: index into `outs`, or [`SAME`].
    entries: Vec<u16>,
    /// Folded forms and their widths in code points.
    outs: Vec<(Box<str>, usize)>,
}

#[pymethods]
impl Folding {
    /// `changes`: `(character, folded form)` for every BMP character whose folded form differs from
    /// itself; an ASCII character must fold to one ASCII character.
    #[new]
    fn new(changes: Vec<(char, String)>) -> PyResult<Self> {
        let mut ascii = [0u8; 128];
        for (b, slot) in ascii.iter_mut().enumerate() {
            *slot = b as u8;
        }
        let mut map = vec![SAME; BMP];
        let mut outs: Vec<(Box<str>, usize)> = Vec::with_capacity(changes.len());
        for (c, out) in changes {
            let cp = c as usize;
            if cp >= BMP {
                return Err(value_error(format!(
                    "folding table: U+{cp:X} is outside the BMP"
                )));
            }
            if cp < 128 {
                let bytes = out.as_bytes();
                if bytes.len() != 1 || !bytes[0].is_ascii() {
                    return Err(value_error(format!(
                        "folding table: ASCII U+{cp:04X} must fold to one ASCII character"
                    )));
                }
                ascii[cp] = bytes[0];
                continue;
            }
            map[cp] = u16::try_from(outs.len())
                .ok()
                .filter(|&k| k != SAME)
                .ok_or_else(|| value_error("folding table: too many entries".into()))?;
            let width = out.chars().count();
            outs.push((out.into_boxed_str(), width));
        }
        let mut blocks = Vec::with_capacity(BMP / BLOCK);
        let mut entries: Vec<u16> = Vec::new();
        let mut stored: HashMap<&[u16], u32> = HashMap::new();
        for block in map.chunks_exact(BLOCK) {
            let start = *stored.entry(block).or_insert_with(|| {
                let start = entries.len() as u32;
                entries.extend_from_slice(block);
                start
            });
            blocks.push(start);
        }
        Ok(Folding {
            ascii,
            blocks,
            entries,
            outs,
        })
    }

    /// `(folded text, changes)`: `changes` the sorted `(index, width)` of the characters whose folded
    /// form is not one character; None when the text holds a character outside the BMP or a lone
    /// surrogate.
    fn fold<'py>(&self, py: Python<'py>, text: &Bound<'py, PyString>) -> Option<Folded<'py>> {
        let text = text.to_str().ok()?;
        let mut out = String::with_capacity(text.len() + 8);
        let mut changes = Vec::new();
        if !self.fold_into(text, &mut out, Some(&mut changes)) {
            return None;
        }
        Some((PyString::new(py, &out), changes))
    }

    /// The folded text as UTF-8 bytes; None as for [`Folding::fold`].
    fn fold_bytes<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
    ) -> Option<Bound<'py, PyBytes>> {
        let text = text.to_str().ok()?;
        let mut out = String::with_capacity(text.len() + 8);
        if !self.fold_into(text, &mut out, None) {
            return None;
        }
        Some(PyBytes::new(py, out.as_bytes()))
    }
}

impl Folding {
    /// Appends the folded `text` to `out` (and its changes, when asked); false at the first
    /// character outside the BMP.
    fn fold_into(
        &self,
        text: &str,
        out: &mut String,
        mut changes: Option<&mut Vec<(usize, usize)>>,
    ) -> bool {
        let bytes = text.as_bytes();
        let mut index = 0usize; // code points so far
        let mut at = 0usize; // byte offset
        while at < bytes.len() {
            // A run of ASCII bytes, folded through the byte table.
            let run = bytes[at..].iter().take_while(|b| b.is_ascii()).count();
            if run > 0 {
                // SAFETY: every entry of `ascii` is an ASCII byte (checked by `new`), so the bytes
                // pushed are whole UTF-8 characters.
                unsafe { out.as_mut_vec() }
                    .extend(bytes[at..at + run].iter().map(|&b| self.ascii[b as usize]));
                at += run;
                index += run;
                continue;
            }
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            let cp = c as usize;
            if cp >= BMP {
                return false;
            }
            match self.entries[self.blocks[cp / BLOCK] as usize + cp % BLOCK] {
                SAME => out.push(c),
                k => {
                    let (folded, width) = &self.outs[k as usize];
                    out.push_str(folded);
                    if *width != 1 {
                        if let Some(changes) = changes.as_deref_mut() {
                            changes.push((index, *width));
                        }
                    }
                }
            }
            at += c.len_utf8();
            index += 1;
        }
        true
    }
}
