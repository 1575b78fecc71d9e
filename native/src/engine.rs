//! The [`Engine`] Python class: keys, context rules and term rules, and the per-text match.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::chars::CharTables;
use crate::context::Contexts;
use crate::enginebuild::{self, ContextArg, KeyArg, RuleArg};
use crate::keys::{KeyIndex, RawHits};
use crate::pytext::{code_points, from_code_points};
use crate::rules::{Probe, ProbeObject, Text};
use crate::scan::DFA_MAX_KEY_BYTES;
use crate::titlewords::TitleWords;
use crate::tuples::TupleClass;
use crate::value_error;
use crate::view::{Tables, View};

/// One term of one watch list: its context rule (if any), window, the place id standing in for
/// missing context words ("" = none), whether its hits never nest, its (watch list, term) rank, and
/// whether its case-sensitive hits are checked for title-case runs (`automaton.titled`).
pub(crate) struct Rule {
    pub(crate) context: Option<u32>,
    pub(crate) window: i64,
    pub(crate) place_id: String,
    pub(crate) exclusive: bool,
    pub(crate) rank: u32,
    pub(crate) titled: bool,
}

/// The immutable matching engine (safe to share between threads).
#[pyclass(frozen, module = "newswatch_native")]
pub struct Engine {
    /// A tuple subclass and, per rule, the head of its results: result = head + (start, end, text).
    pub(crate) factory: TupleClass,
    /// The items of every head, one after another: those of rule `r` are
    /// `head_items[head_starts[r]..head_starts[r + 1]]`.
    pub(crate) head_items: Vec<Py<PyAny>>,
    pub(crate) head_starts: Vec<u32>,
    pub(crate) raw_tables: Tables,
    pub(crate) folded_tables: Tables,
    /// The raw case-kept table lower-cased is the raw projection table (one scan serves both).
    pub(crate) raw_lower_is_data: bool,
    pub(crate) keys: KeyIndex,
    /// The rules of group `g`: `group_rules[group_starts[g]..group_starts[g + 1]]`.
    pub(crate) group_starts: Vec<u32>,
    pub(crate) group_rules: Vec<u32>,
    pub(crate) contexts: Contexts,
    pub(crate) rules: Vec<Rule>,
    /// Per-character tables for `match_text` (None: it always declines).
    pub(crate) chars: Option<CharTables>,
    /// The word lists of `automaton.titled` (None: Python decides every title-case check).
    pub(crate) title_words: Option<TitleWords>,
}

#[pymethods]
impl Engine {
    /// See `newswatch_native.pyi` for the argument shapes.
    #[new]
    #[pyo3(signature = (factory, heads, raw_tables, folded_tables, folded_patterns, folded_keys,
        cased_patterns, cased_keys, groups, contexts, rules, anchored_above = DFA_MAX_KEY_BYTES,
        char_tables = None, title_words = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        factory: Bound<'_, PyType>,
        heads: Vec<Bound<'_, PyTuple>>,
        raw_tables: Vec<Vec<u8>>,
        folded_tables: Vec<Vec<u8>>,
        folded_patterns: Vec<Vec<u8>>,
        folded_keys: Vec<(i64, Vec<KeyArg>)>,
        cased_patterns: Vec<Vec<u8>>,
        cased_keys: Vec<(bool, u32)>,
        groups: Vec<Vec<u32>>,
        contexts: Vec<ContextArg>,
        rules: Vec<RuleArg>,
        anchored_above: usize,
        char_tables: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
        title_words: Option<(Vec<String>, Vec<String>)>,
    ) -> PyResult<Self> {
        let chars = char_tables
            .map(|(stand_in, flags, letter)| CharTables::new(stand_in, flags, letter))
            .transpose()
            .map_err(value_error)?;
        let contexts = enginebuild::contexts(contexts)?;
        let keys = enginebuild::key_index(
            folded_patterns,
            folded_keys,
            cased_patterns,
            cased_keys,
            &contexts,
            anchored_above,
        )?;
        let rules = enginebuild::rules(rules);
        enginebuild::check_indexes(&keys, &groups, &rules, &contexts)?;
        if heads.len() != rules.len() {
            return Err(value_error("heads and rules differ in number".into()));
        }
        let factory = TupleClass::new(&factory, "the factory")?;
        let (head_items, head_starts) = enginebuild::flattened(
            heads
                .iter()
                .map(|head| head.iter().map(Bound::unbind).collect::<Vec<_>>()),
        );
        let (group_rules, group_starts) = enginebuild::flattened(groups);
        let (raw_tables, folded_tables, raw_lower_is_data) =
            enginebuild::projection_tables(raw_tables, folded_tables)?;
        Ok(Engine {
            factory,
            head_items,
            head_starts,
            raw_tables,
            folded_tables,
            raw_lower_is_data,
            keys,
            group_starts,
            group_rules,
            contexts,
            rules,
            chars,
            title_words: title_words.map(|(common, places)| TitleWords::new(common, places)),
        })
    }

    /// Whether `match` needs the case-kept source (there are case-sensitive keys it compares there).
    #[getter]
    fn needs_cased(&self) -> bool {
        self.keys.has_cased()
    }

    /// Every match in contract order; see `newswatch_native.pyi`.
    #[pyo3(signature = (source, cased, folded, text, original, places, probe))]
    #[allow(clippy::too_many_arguments)]
    fn r#match<'py>(
        &self,
        py: Python<'py>,
        source: &[u8],
        cased: Option<&[u8]>,
        folded: bool,
        text: &Bound<'py, PyString>,
        original: &Bound<'py, PyString>,
        places: Vec<(i64, i64, String)>,
        probe: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        if cased.is_some_and(|c| c.len() != source.len()) {
            return Err(value_error("the case-kept source differs in length".into()));
        }
        let tables = if folded {
            &self.folded_tables
        } else {
            &self.raw_tables
        };
        let cased = if self.keys.has_cased() { cased } else { None };
        let lower_is_data = !folded && self.raw_lower_is_data;
        let (view, raw) = py.detach(|| {
            let view = View::new(source, cased, tables, folded, lower_is_data);
            let raw = self.keys.scan(&view);
            (view, raw)
        });
        let probe = Probe {
            probe: ProbeObject::Given(probe),
            view: &view,
            text: Text::Str(text),
            chars: self.chars.as_ref(),
            title_words: self.title_words.as_ref(),
        };
        self.finish(py, &raw, &places, &probe, original)
    }

    /// `match` of a text given as is: its boilerplate masked, its raw stand-in bytes made and
    /// matched here; `probe_class(masked text, None)` makes its probe when one is needed. None when
    /// the text must be folded first (or the engine has no character tables): then the caller masks
    /// and prepares it and calls `match`.
    #[pyo3(signature = (text, places, probe_class))]
    fn match_text<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        places: Vec<(i64, i64, String)>,
        probe_class: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let Some(chars) = &self.chars else {
            return Ok(None);
        };
        let points = code_points(text)?;
        let mut source = Vec::new();
        let found = py.detach(|| {
            let masked = chars.boilerplate_spans(&points);
            if !chars.stand_in_bytes(&points, &masked, &mut source) {
                return None;
            }
            let cased = self.keys.has_cased().then_some(&source[..]);
            let view = View::new(
                &source,
                cased,
                &self.raw_tables,
                false,
                self.raw_lower_is_data,
            );
            let raw = self.keys.scan(&view);
            Some((masked, view, raw))
        });
        let Some((masked, view, raw)) = found else {
            return Ok(None);
        };
        let mut masked_points = None;
        if !masked.is_empty() {
            let mut copy = points.clone();
            for (start, end) in masked {
                for c in &mut copy[start..end] {
                    *c = if *c == 0x0A { 0x0A } else { 0x20 };
                }
            }
            masked_points = Some(copy);
        }
        let points = masked_points.as_deref().unwrap_or(&points);
        let make = || -> PyResult<Bound<'py, PyAny>> {
            let masked = match &masked_points {
                None => text.clone(),
                Some(points) => from_code_points(py, points)?,
            };
            probe_class.call1((masked, py.None()))
        };
        let probe = Probe {
            probe: ProbeObject::Lazy(std::cell::OnceCell::new(), &make),
            view: &view,
            text: Text::Points(points),
            chars: Some(chars),
            title_words: self.title_words.as_ref(),
        };
        self.finish(py, &raw, &places, &probe, text).map(Some)
    }

    /// `normalize.boilerplate_spans(text)` computed here; None without character tables or for a
    /// text with characters outside the BMP.
    fn boilerplate_spans(
        &self,
        text: &Bound<'_, PyString>,
    ) -> PyResult<Option<Vec<(usize, usize)>>> {
        let Some(chars) = &self.chars else {
            return Ok(None);
        };
        let points = code_points(text)?;
        if points.iter().any(|&c| c >= 0x10000) {
            return Ok(None);
        }
        Ok(Some(chars.boilerplate_spans(&points)))
    }
}

impl Engine {
    /// Selection, term rules and results of the raw hits of one text.
    fn finish<'py>(
        &self,
        py: Python<'py>,
        raw: &RawHits,
        places: &[(i64, i64, String)],
        probe: &Probe<'_, 'py>,
        original: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyList>> {
        if raw.folded.is_empty() && raw.cased.is_empty() {
            return Ok(PyList::empty(py));
        }
        let hits = self
            .keys
            .select(probe.view, raw, |key, s, e| probe.key_holds(key, s, e))?;
        let found = self.apply_rules(probe.view, &hits, &raw.context, places, probe)?;
        for &(rule, _, _) in &found {
            let r = rule as usize;
            for item in
                &self.head_items[self.head_starts[r] as usize..self.head_starts[r + 1] as usize]
            {
                // SAFETY: the header of a live object (its reference count is written below).
                crate::scan::prefetch(unsafe { &*item.as_ptr() });
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (rule, start, end) in found {
            out.push(self.result(py, rule, start, end, original)?);
        }
        PyList::new(py, out)
    }

    /// `factory(heads[rule] + (start, end, original))`, built as `tuple.__new__` builds an instance
    /// of a tuple subclass ([`TupleClass`]), without the argument tuple.
    fn result<'py>(
        &self,
        py: Python<'py>,
        rule: u32,
        start: i64,
        end: i64,
        original: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = rule as usize;
        let head = &self.head_items[self.head_starts[r] as usize..self.head_starts[r + 1] as usize];
        // SAFETY: new references (or NULL with an exception set), consumed by `instance_with_head`.
        unsafe {
            self.factory.instance_with_head(
                py,
                head,
                [
                    ffi::PyLong_FromLongLong(start),
                    ffi::PyLong_FromLongLong(end),
                    original.clone().into_ptr(),
                ],
            )
        }
    }
}
