//! The [`Engine`] Python class: keys, context rules and term rules, and the per-text match.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::context::{ContextRule, Word};
use crate::keys::{Key, KeyIndex, Pattern};
use crate::rules::Probe;
use crate::scan::DFA_MAX_KEY_BYTES;
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
    pub(crate) factory: Py<PyType>,
    pub(crate) heads: Vec<Py<PyTuple>>,
    pub(crate) tuple_new: Py<PyAny>,
    pub(crate) raw_tables: Tables,
    pub(crate) folded_tables: Tables,
    /// The raw case-kept table lower-cased is the raw projection table (one scan serves both).
    pub(crate) raw_lower_is_data: bool,
    pub(crate) keys: KeyIndex,
    /// The rules of group `g`: `group_rules[group_starts[g]..group_starts[g + 1]]`.
    pub(crate) group_starts: Vec<u32>,
    pub(crate) group_rules: Vec<u32>,
    pub(crate) contexts: Vec<ContextRule>,
    pub(crate) rules: Vec<Rule>,
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

/// Whether `tuple.__new__(factory, items)` is allowed: `factory` is a tuple subclass whose own
/// construction is no other C-level type's.
fn plain_tuple_subclass(factory: &Bound<'_, PyType>) -> PyResult<bool> {
    let tuple = factory.py().get_type::<PyTuple>();
    Ok(factory.is_subclass_of::<PyTuple>()?
        && tuple.getattr("__new__")?.call1((factory, ())).is_ok())
}

#[pymethods]
impl Engine {
    /// See `newswatch_native.pyi` for the argument shapes.
    #[new]
    #[pyo3(signature = (factory, heads, raw_tables, folded_tables, folded_patterns, folded_keys,
        cased_patterns, cased_keys, groups, contexts, rules, anchored_above = DFA_MAX_KEY_BYTES))]
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
    ) -> PyResult<Self> {
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
                ContextRule::new(&patterns, words, needs).map_err(value_error)
            })
            .collect::<PyResult<Vec<_>>>()?;
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
        let bad_context = rules
            .iter()
            .any(|r| r.context.is_some_and(|c| c as usize >= contexts.len()));
        if bad_rule || bad_group || bad_context {
            return Err(value_error(
                "a rule, group or context index is out of range".into(),
            ));
        }
        if heads.len() != rules.len() {
            return Err(value_error("heads and rules differ in number".into()));
        }
        if !plain_tuple_subclass(&factory)? {
            return Err(value_error(
                "the factory must be tuple or a Python subclass of it".into(),
            ));
        }
        let heads = heads.into_iter().map(Bound::unbind).collect();
        let tuple_new = factory
            .py()
            .get_type::<PyTuple>()
            .getattr("__new__")?
            .unbind();
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
            factory: factory.unbind(),
            heads,
            tuple_new,
            raw_tables,
            folded_tables: tables(folded_tables)?,
            raw_lower_is_data,
            keys,
            group_starts,
            group_rules,
            contexts,
            rules,
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
        let (view, raw) = py.detach(|| {
            let view = View::new(
                source,
                cased,
                tables,
                folded,
                !folded && self.raw_lower_is_data,
            );
            let raw = self.keys.scan(&view);
            (view, raw)
        });
        if raw.folded.is_empty() && raw.cased.is_empty() {
            return Ok(PyList::empty(py));
        }
        let probe = Probe {
            probe,
            view: &view,
            text,
        };
        let hits = self
            .keys
            .select(&view, &raw, |key, s, e| probe.key_holds(key, s, e))?;
        let found = self.apply_rules(&view, &hits, &places, &probe)?;
        let (factory, new) = (self.factory.bind(py), self.tuple_new.bind(py));
        let mut out = Vec::with_capacity(found.len());
        for (rule, start, end) in found {
            let head = self.heads[rule as usize].bind(py);
            let mut items = Vec::with_capacity(head.len() + 3);
            items.extend(head.iter());
            items.push(start.into_pyobject(py)?.into_any());
            items.push(end.into_pyobject(py)?.into_any());
            items.push(original.clone().into_any());
            out.push(new.call1((factory, PyTuple::new(py, items)?))?);
        }
        PyList::new(py, out)
    }
}
