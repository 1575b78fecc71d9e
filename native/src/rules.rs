//! The term rules applied to each selected hit (span, shouted acronyms, title-case runs, context
//! verdicts, place rescue) and the emission order; [`Probe`] holds the Python-side checks of one text.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::chars::CharTables;
use crate::context;
use crate::engine::Engine;
use crate::fxhash::FxHashMap;
use crate::keys::{Hit, Key};
use crate::scan::prefetch;
use crate::textcues;
use crate::titlewords::{self, TitleWords};
use crate::view::View;

/// The Python probe of one text: given, or made on first use by `make` (most texts need none).
pub(crate) enum ProbeObject<'a, 'py> {
    Given(&'a Bound<'py, PyAny>),
    Lazy(
        std::cell::OnceCell<Bound<'py, PyAny>>,
        &'a dyn Fn() -> PyResult<Bound<'py, PyAny>>,
    ),
}

/// The characters of the text matched: a Python str, or its code points.
pub(crate) enum Text<'a, 'py> {
    Str(&'a Bound<'py, PyString>),
    Points(&'a [u32]),
}

impl Text<'_, '_> {
    fn len(&self) -> PyResult<i64> {
        Ok(match self {
            Text::Str(text) => text.len()? as i64,
            Text::Points(points) => points.len() as i64,
        })
    }

    /// The code points of `[lo, hi)` (`0 <= lo <= hi <= len`): borrowed when the text is given as
    /// code points (no copy per short hit).
    fn points(&self, lo: i64, hi: i64) -> Cow<'_, [u32]> {
        match self {
            Text::Str(text) => Cow::Owned(
                (lo..hi)
                    .map(|i| {
                        // SAFETY: `text` is a live str and 0 <= i < len(text).
                        unsafe {
                            pyo3::ffi::PyUnicode_ReadChar(text.as_ptr(), i as pyo3::ffi::Py_ssize_t)
                        }
                    })
                    .collect(),
            ),
            Text::Points(points) => Cow::Borrowed(&points[lo as usize..hi as usize]),
        }
    }
}

/// Python-side checks for one text (the rare cases that need Unicode folding).
pub(crate) struct Probe<'a, 'py> {
    pub(crate) probe: ProbeObject<'a, 'py>,
    pub(crate) view: &'a View<'a>,
    pub(crate) text: Text<'a, 'py>,
    pub(crate) chars: Option<&'a CharTables>,
    pub(crate) title_words: Option<&'a TitleWords>,
}

impl<'py> Probe<'_, 'py> {
    fn call(&self, name: &str, args: (i64, i64)) -> PyResult<Bound<'py, PyAny>> {
        let probe = match &self.probe {
            ProbeObject::Given(probe) => probe,
            ProbeObject::Lazy(cell, make) => {
                if cell.get().is_none() {
                    let _ = cell.set(make()?);
                }
                cell.get().expect("set above")
            }
        };
        probe.call_method1(name, args)
    }

    fn phrase_is(&self, d_start: i64, d_end: i64, key: &str) -> PyResult<bool> {
        let (f_start, f_end) = self.view.folded_span(d_start, d_end);
        let phrase = self.call("phrase", (f_start, f_end))?;
        Ok(phrase.extract::<&str>()? == key)
    }

    pub(crate) fn key_holds(&self, key: &Key, d_start: i64, d_end: i64) -> PyResult<bool> {
        if let Some(exact) = &key.exact {
            if !self.phrase_is(d_start, d_end, exact)? {
                return Ok(false);
            }
        }
        if key.sensitive {
            let (start, end) = self.span(d_start, d_end)?;
            let phrase = self.call("cased", (start, end))?;
            return Ok(phrase.extract::<&str>()? == key.cased);
        }
        Ok(true)
    }

    /// Original offsets of `data[d_start..d_end]`.
    fn span(&self, d_start: i64, d_end: i64) -> PyResult<(i64, i64)> {
        let (start, end) = self.view.span(d_start, d_end);
        if !self.view.folded {
            return Ok((start, end));
        }
        let out = self.call("span", (start, end))?;
        let pair = out.cast::<PyTuple>()?;
        Ok((pair.get_item(0)?.extract()?, pair.get_item(1)?.extract()?))
    }

    /// Whether the case-sensitive hit `text[start..end]` (at most 3 characters) is a shouted
    /// acronym: `str.isupper` and a neighbouring word in capitals (`automaton.shouted`). Decided here
    /// when the hit is ASCII and its 20-character surroundings are ASCII (or in the BMP, with the
    /// character tables), else by Python.
    fn shouted(&self, start: i64, end: i64) -> PyResult<bool> {
        let length = self.text.len()?;
        if !(0 <= start && start < end && end <= length) {
            return self.call("shouted", (start, end))?.extract();
        }
        let word = self.text.points(start, end);
        if !word.iter().all(|&c| c < 0x80) {
            return self.call("shouted", (start, end))?.extract();
        }
        let upper = |c: &u32| (0x41..=0x5A).contains(c);
        if word.iter().any(|c| (0x61..=0x7A).contains(c)) || !word.iter().any(upper) {
            return Ok(false); // not ``str.isupper``
        }
        let before = self.text.points((start - 20).max(0), start);
        let after = self.text.points(end, (end + 20).min(length));
        let neighbour = match self.chars {
            Some(tables) => tables.shouting_neighbour(&before, &after),
            None => ascii_neighbour(&before, &after),
        };
        match neighbour {
            Some(shouting) => Ok(shouting),
            None => self.call("shouted", (start, end))?.extract(),
        }
    }
}

impl Probe<'_, '_> {
    /// Whether `text[start]` begins a sentence or a line (`automaton.sentence_start`): before it,
    /// past spaces and opening quotes or brackets, the text's start or one of `.!?:;…` or a line
    /// break.
    fn sentence_start(&self, start: i64) -> PyResult<bool> {
        let lo = (start - SENTENCE_REACH).max(0);
        let before = self.text.points(lo, start);
        for &c in before.iter().rev() {
            match char::from_u32(c) {
                Some(
                    ' ' | '\t' | '\u{a0}' | '"' | '\'' | '\u{201c}' | '\u{2018}' | '\u{ab}' | '('
                    | '[',
                ) => {}
                Some('.' | '!' | '?' | ':' | ';' | '\u{2026}' | '\n' | '\r') => return Ok(true),
                _ => return Ok(false),
            }
        }
        Ok(lo == 0)
    }

    /// Whether the capital of the case-sensitive hit `text[start..end]` says nothing about the name
    /// (`automaton.titled`: a title-case run, or the first word of another name). Nothing to decide
    /// unless a space and a capital or non-ASCII character follow the hit (most hits fail here);
    /// then decided here with the engine's word lists when the words around are ASCII, else by
    /// Python.
    fn titled(&self, start: i64, end: i64) -> PyResult<bool> {
        let length = self.text.len()?;
        if !(0 <= start && start < end && end + 1 < length) {
            return Ok(false);
        }
        let after = self.text.points(end, end + 2);
        if after[0] != 0x20 || !(after[1] >= 0x80 || (0x41..=0x5A).contains(&after[1])) {
            return Ok(false);
        }
        if let Some(words) = self.title_words {
            let reach = titlewords::REACH as i64 + 1;
            let (lo, hi) = ((start - reach).max(0), (end + reach).min(length));
            let window = self.text.points(lo, hi);
            let (at, len) = ((start - lo) as usize, (end - start) as usize);
            if let Some(answer) = words.titled(&window, at, len, hi == length) {
                return Ok(answer);
            }
        }
        self.call("titled", (start, end))?.extract()
    }
}

/// Characters read back from a hit for [`Probe::sentence_start`] (`automaton.SENTENCE_REACH`).
const SENTENCE_REACH: i64 = 20;

/// [`CharTables::shouting_neighbour`] for ASCII surroundings (None otherwise).
fn ascii_neighbour(before: &[u32], after: &[u32]) -> Option<bool> {
    if !before.iter().chain(after).all(|&c| c < 0x80) {
        return None;
    }
    // ``str.split`` on ASCII: runs of space, \t-\r and \x1c-\x1f.
    let space = |c: &u32| char::from_u32(*c).is_some_and(textcues::space);
    let last = before.split(space).rev().find(|t| !t.is_empty());
    let first = after.split(space).find(|t| !t.is_empty());
    // The neighbour without non-word characters must be two or more capitals A-Z.
    let capitals = |token: Option<&[u32]>| {
        let word: Vec<u8> = token
            .unwrap_or(&[])
            .iter()
            .map(|&c| c as u8)
            .filter(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .collect();
        word.len() >= 2 && word.iter().all(u8::is_ascii_uppercase)
    };
    Some(capitals(last) || capitals(first))
}

impl Engine {
    pub(crate) fn apply_rules(
        &self,
        view: &View<'_>,
        hits: &[Hit],
        context: &context::Occurrences,
        places: &[(i64, i64, String)],
        probe: &Probe<'_, '_>,
    ) -> PyResult<Vec<(u32, i64, i64)>> {
        self.prefetch_rules(hits);
        // (start, end, rank, rule) in the order found.
        let mut found: Vec<(i64, i64, u32, u32)> = Vec::new();
        let mut last: Option<(i64, i64, bool, i64, i64, bool)> = None; // span, sensitive -> offsets, shouted
        let mut titled: Option<(i64, i64, bool)> = None; // offsets -> the last title-case answer
        for hit in hits {
            let (start, end, skip) = match last {
                Some((s, e, sens, start, end, skip))
                    if s == hit.s && e == hit.e && sens == hit.sensitive =>
                {
                    (start, end, skip)
                }
                _ => {
                    let (start, end) = probe.span(hit.s, hit.e)?;
                    let skip = hit.sensitive && end - start <= 3 && probe.shouted(start, end)?;
                    last = Some((hit.s, hit.e, hit.sensitive, start, end, skip));
                    (start, end, skip)
                }
            };
            if skip {
                continue;
            }
            let g = hit.group as usize;
            for &r in
                &self.group_rules[self.group_starts[g] as usize..self.group_starts[g + 1] as usize]
            {
                let rule = &self.rules[r as usize];
                if rule.titled && hit.sensitive {
                    // One answer per span: the hits of one span (several keys) all read it.
                    let answer = match titled {
                        Some((s, e, answer)) if s == start && e == end => answer,
                        _ => probe.titled(start, end)?,
                    };
                    titled = Some((start, end, answer));
                    if answer {
                        continue;
                    }
                }
                if let Some(c) = rule.context {
                    // A capital tells the name from the word except at a sentence start: there, and
                    // for case-insensitive hits, the negative words naming the term apply.
                    let own = self.contexts.has_own(c as usize)
                        && (!hit.sensitive || probe.sentence_start(start)?);
                    let verdict = self.contexts.verdict(
                        c as usize,
                        view,
                        context,
                        hit.s,
                        hit.e,
                        rule.window,
                        own,
                        |key, s, e| probe.phrase_is(s, e, key),
                    )?;
                    if verdict != context::OK
                        && (verdict != context::MISSING
                            || !resolved(places, &rule.place_id, start, end))
                    {
                        continue;
                    }
                }
                found.push((start, end, rule.rank, r));
            }
        }
        Ok(self.emit(found))
    }

    /// Load the group and rule records of `hits` ahead of their use (with many terms each is a
    /// cache miss): each pass only issues independent loads, so their misses overlap.
    fn prefetch_rules(&self, hits: &[Hit]) {
        for hit in hits {
            prefetch(&self.group_starts[hit.group as usize]);
        }
        for hit in hits {
            if let Some(r) = self
                .group_rules
                .get(self.group_starts[hit.group as usize] as usize)
            {
                prefetch(r);
            }
        }
        for hit in hits {
            let first = self.group_starts[hit.group as usize] as usize;
            if let Some(&r) = self.group_rules.get(first) {
                prefetch(&self.rules[r as usize]);
                prefetch(&self.head_starts[r as usize]);
            }
        }
        for hit in hits {
            let first = self.group_starts[hit.group as usize] as usize;
            if let Some(&r) = self.group_rules.get(first) {
                if let Some(item) = self.head_items.get(self.head_starts[r as usize] as usize) {
                    prefetch(item);
                }
            }
        }
    }

    /// Matches without those nested in a longer (or equal) match of the same term, in contract order
    /// (start, watch list, term, end).
    fn emit(&self, mut found: Vec<(i64, i64, u32, u32)>) -> Vec<(u32, i64, i64)> {
        found.sort_by_key(|&(start, end, rank, _)| (start, -end, rank)); // stable: ties keep their order
        let mut out = Vec::with_capacity(found.len());
        let mut reach: FxHashMap<u32, i64> = FxHashMap::default();
        let mut regroup = false;
        let mut previous = -1;
        for (start, end, rank, r) in found {
            if !self.rules[r as usize].exclusive {
                if reach.get(&rank).is_some_and(|&reached| reached >= end) {
                    continue;
                }
                reach.insert(rank, end);
            }
            regroup = regroup || start == previous;
            previous = start;
            out.push((start, end, rank, r));
        }
        if regroup {
            out.sort_by_key(|&(start, end, rank, _)| (start, rank, end));
        }
        out.into_iter()
            .map(|(start, end, _, r)| (r, start, end))
            .collect()
    }
}

/// Whether a place resolved to `place_id` overlaps `[start, end)`.
fn resolved(places: &[(i64, i64, String)], place_id: &str, start: i64, end: i64) -> bool {
    !place_id.is_empty()
        && places
            .iter()
            .any(|(s, e, id)| id == place_id && *s < end && start < *e)
}
