//! The [`Engine`] Python class: keys, context rules and term rules, and the per-text match.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::chars::CharTables;
use crate::context::{Contexts, Word};
use crate::keys::{Key, KeyIndex, Pattern, RawHits};
use crate::rules::{Probe, ProbeObject, Text};
use crate::scan::DFA_MAX_KEY_BYTES;
use crate::tuples::TupleClass;
use crate::value_error;
use crate::view::{Tables, View};

/// One term of one watch list: its context rule (if any), window, the place id standing in for
/// missing context words ("" = none), whether its hits never nest, and its (watch list, term) rank.
pub(crate) struct Rule {
    pub(crate) context: Option<u32>,
    pub(crate) window: i64,
    pub(crate) place_id: String,
    pub(crate) exclusive: bool,
    pub(crate) rank: u32,
}

type KeyArg = (Option<String>, bool, bool, String, u32);
type WordArg = (Option<String>, bool, bool, bool);
type ContextArg = (Vec<Vec<u8>>, Vec<Vec<WordArg>>, bool);
type RuleArg = (i64, i64, String, bool, u32);

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
}

fn tables(bytes: Vec<Vec<u8>>) -> PyResult<Tables> {
    let [a, b, c, d]: [Vec<u8>; 4] = bytes
        .try_into()
        .map_err(|_| value_error("four tables expected".into()))?;
    Tables::new([&a, &b, &c, &d]).map_err(value_error)
}

/// Hand the heap memory freed after a build (the automaton builders' intermediate tries: ~100 MB
/// with the whole gazetteer) back to the system (glibc keeps it otherwise).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim only returns unused pages of the heap to the system.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[pymethods]
impl Engine {
    /// See `newswatch_native.pyi` for the argument shapes.
    #[new]
    #[pyo3(signature = (factory, heads, raw_tables, folded_tables, folded_patterns, folded_keys,
        cased_patterns, cased_keys, groups, contexts, rules, anchored_above = DFA_MAX_KEY_BYTES,
        char_tables = None))]
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
    ) -> PyResult<Self> {
        let chars = char_tables
            .map(|(stand_in, flags, letter)| CharTables::new(stand_in, flags, letter))
            .transpose()
            .map_err(value_error)?;
        if folded_patterns.len() != folded_keys.len() || cased_patterns.len() != cased_keys.len() {
            return Err(value_error("patterns and keys differ in number".into()));
        }
        let patterns = folded_keys
            .into_iter()
            .map(|(direct, keys)| {
                if direct >= 0 {
                    Pattern::Direct(direct as u32)
                } else {
                    Pattern::Checked(
                        keys.into_iter()
                            .map(|(exact, gaps, sensitive, cased, group)| Key {
                                exact,
                                gaps,
                                sensitive,
                                cased,
                                group,
                            })
                            .collect(),
                    )
                }
            })
            .collect();
        let keys = KeyIndex::new(
            folded_patterns,
            patterns,
            cased_patterns,
            cased_keys,
            anchored_above,
        )
        .map_err(value_error)?;
        let contexts = contexts
            .into_iter()
            .map(|(patterns, words, needs)| {
                let words = words
                    .into_iter()
                    .map(|ws| {
                        ws.into_iter()
                            .map(|(exact, gaps, prefix, negative)| Word {
                                exact,
                                gaps,
                                prefix,
                                negative,
                            })
                            .collect()
                    })
                    .collect();
                (patterns, words, needs)
            })
            .collect();
        let contexts = Contexts::new(contexts).map_err(value_error)?;
        let rules: Vec<Rule> = rules
            .into_iter()
            .map(|(context, window, place_id, exclusive, rank)| Rule {
                context: u32::try_from(context).ok(),
                window,
                place_id,
                exclusive,
                rank,
            })
            .collect();
        let bad_rule = groups.iter().flatten().any(|&r| r as usize >= rules.len());
        let bad_group = keys
            .cased_keys
            .iter()
            .any(|&(_, g)| g as usize >= groups.len())
            || keys.patterns.iter().any(|p| match p {
                Pattern::Direct(g) => *g as usize >= groups.len(),
                Pattern::Checked(ks) => ks.iter().any(|k| k.group as usize >= groups.len()),
            });
        let bad_context = rules.iter().any(|r| {
            r.context
                .is_some_and(|c| c as usize >= contexts.rules.len())
        });
        if bad_rule || bad_group || bad_context {
            return Err(value_error(
                "a rule, group or context index is out of range".into(),
            ));
        }
        if heads.len() != rules.len() {
            return Err(value_error("heads and rules differ in number".into()));
        }
        let factory = TupleClass::new(&factory, "the factory")?;
        let mut head_starts = Vec::with_capacity(heads.len() + 1);
        let mut head_items = Vec::new();
        head_starts.push(0);
        for head in &heads {
            head_items.extend(head.iter().map(Bound::unbind));
            head_starts.push(head_items.len() as u32);
        }
        let mut group_starts = Vec::with_capacity(groups.len() + 1);
        group_starts.push(0);
        for group in &groups {
            group_starts.push(group_starts[group_starts.len() - 1] + group.len() as u32);
        }
        let group_rules = groups.into_iter().flatten().collect();
        let raw_tables = tables(raw_tables)?;
        release_free_memory();
        let raw_lower_is_data = raw_tables
            .cased
            .iter()
            .zip(&raw_tables.project)
            .all(|(c, p)| c.to_ascii_lowercase() == *p);
        Ok(Engine {
            factory,
            head_items,
            head_starts,
            raw_tables,
            folded_tables: tables(folded_tables)?,
            raw_lower_is_data,
            keys,
            group_starts,
            group_rules,
            contexts,
            rules,
            chars,
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

/// The code points of `text`.
fn code_points(text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
    let n = text.len()?;
    let mut points: Vec<u32> = Vec::with_capacity(n);
    // SAFETY: `points` has room for `n` code points, the length of the live str `text`, and
    // PyUnicode_AsUCS4 writes all of them (no NUL is added) or fails; only then is the length set.
    unsafe {
        let out =
            ffi::PyUnicode_AsUCS4(text.as_ptr(), points.as_mut_ptr(), n as ffi::Py_ssize_t, 0);
        if out.is_null() && n > 0 {
            return Err(PyErr::fetch(text.py()));
        }
        points.set_len(n);
    }
    Ok(points)
}

/// The str of `points` (code points of a str: lone surrogates are kept as they were).
fn from_code_points<'py>(py: Python<'py>, points: &[u32]) -> PyResult<Bound<'py, PyString>> {
    let mut order: std::ffi::c_int = if cfg!(target_endian = "little") {
        -1
    } else {
        1
    };
    // SAFETY: `points` is read as 4 * len bytes of UTF-32 in native order; the result is a new
    // reference or NULL with an exception set.
    unsafe {
        let out = ffi::PyUnicode_DecodeUTF32(
            points.as_ptr().cast(),
            (points.len() * 4) as ffi::Py_ssize_t,
            c"surrogatepass".as_ptr(),
            &mut order,
        );
        Ok(Bound::from_owned_ptr_or_err(py, out)?.cast_into_unchecked())
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
        let found = self.apply_rules(probe.view, &hits, places, probe)?;
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
