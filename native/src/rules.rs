//! The term rules applied to each selected hit (span, shouted acronyms, context verdicts, place
//! rescue) and the emission order; [`Probe`] holds the Python-side checks of one text.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::context;
use crate::engine::Engine;
use crate::keys::{Hit, Key};
use crate::view::View;

/// Python-side checks for one text (the rare cases that need Unicode folding).
pub(crate) struct Probe<'a, 'py> {
    pub(crate) probe: &'a Bound<'py, PyAny>,
    pub(crate) view: &'a View<'a>,
    pub(crate) text: &'a Bound<'py, PyString>,
}

impl Probe<'_, '_> {
    fn phrase_is(&self, d_start: i64, d_end: i64, key: &str) -> PyResult<bool> {
        let (f_start, f_end) = self.view.folded_span(d_start, d_end);
        let phrase = self.probe.call_method1("phrase", (f_start, f_end))?;
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
            let phrase = self.probe.call_method1("cased", (start, end))?;
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
        let out = self.probe.call_method1("span", (start, end))?;
        let pair = out.cast::<PyTuple>()?;
        Ok((pair.get_item(0)?.extract()?, pair.get_item(1)?.extract()?))
    }

    /// Whether the case-sensitive hit `text[start..end]` (at most 3 characters) is a shouted
    /// acronym: `str.isupper` and a neighbouring word in capitals (`automaton.shouted`). Decided here
    /// when the hit and its 20-character surroundings are ASCII, else by Python.
    fn shouted(&self, start: i64, end: i64) -> PyResult<bool> {
        let length = self.text.len()? as i64;
        let read = |lo: i64, hi: i64| -> Option<Vec<u8>> {
            (lo..hi)
                .map(|i| {
                    // SAFETY: `text` is a live str and 0 <= i < len(text).
                    let c = unsafe {
                        pyo3::ffi::PyUnicode_ReadChar(
                            self.text.as_ptr(),
                            i as pyo3::ffi::Py_ssize_t,
                        )
                    };
                    u8::try_from(c).ok().filter(u8::is_ascii)
                })
                .collect()
        };
        if !(0 <= start && start < end && end <= length) {
            return self.probe.call_method1("shouted", (start, end))?.extract();
        }
        if let Some(word) = read(start, end) {
            if word.iter().any(u8::is_ascii_lowercase) || !word.iter().any(u8::is_ascii_uppercase) {
                return Ok(false); // not ``str.isupper``
            }
        }
        let (lo, hi) = ((start - 20).max(0), (end + 20).min(length));
        let Some(chars) = read(lo, hi) else {
            return self.probe.call_method1("shouted", (start, end))?.extract();
        };
        let (s, e) = ((start - lo) as usize, (end - lo) as usize);
        if chars[s..e].iter().any(u8::is_ascii_lowercase)
            || !chars[s..e].iter().any(u8::is_ascii_uppercase)
        {
            return Ok(false); // not ``str.isupper``
        }
        // ``str.split`` on ASCII: runs of space, \t-\r and \x1c-\x1f.
        let space = |c: &u8| *c == b' ' || (0x09..=0x0d).contains(c) || (0x1c..=0x1f).contains(c);
        let before = chars[..s]
            .split(space)
            .rev()
            .find(|t| !t.is_empty())
            .unwrap_or(&[]);
        let after = chars[e..]
            .split(space)
            .find(|t| !t.is_empty())
            .unwrap_or(&[]);
        // The neighbour without non-word characters must be two or more capitals A-Z.
        let capitals = |token: &[u8]| {
            let word: Vec<u8> = token
                .iter()
                .copied()
                .filter(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .collect();
            word.len() >= 2 && word.iter().all(u8::is_ascii_uppercase)
        };
        Ok(capitals(before) || capitals(after))
    }
}

impl Engine {
    pub(crate) fn apply_rules(
        &self,
        view: &View<'_>,
        hits: &[Hit],
        places: &[(i64, i64, String)],
        probe: &Probe<'_, '_>,
    ) -> PyResult<Vec<(u32, i64, i64)>> {
        // (start, end, rank, rule) in the order found.
        let mut found: Vec<(i64, i64, u32, u32)> = Vec::new();
        let mut last: Option<(i64, i64, bool, i64, i64, bool)> = None; // span, sensitive -> offsets, shouted
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
                if let Some(c) = rule.context {
                    let verdict = self.contexts[c as usize].verdict(
                        view,
                        hit.s,
                        hit.e,
                        rule.window,
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

    /// Matches without those nested in a longer (or equal) match of the same term, in contract order
    /// (start, watch list, term, end).
    fn emit(&self, mut found: Vec<(i64, i64, u32, u32)>) -> Vec<(u32, i64, i64)> {
        found.sort_by_key(|&(start, end, rank, _)| (start, -end, rank)); // stable: ties keep their order
        let mut out = Vec::with_capacity(found.len());
        let mut reach: HashMap<u32, i64> = HashMap::new();
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
