//! Building an [`Engine`] from the arguments of `Engine(...)` (see `newswatch_native.pyi`): the key
//! index and its automata, the context rules, the term rules and the result heads, each checked.

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::chars::CharTables;
use crate::context::{Contexts, Word};
use crate::engine::{Engine, Rule};
use crate::keys::{Key, KeyIndex, Pattern};
use crate::tuples::TupleClass;
use crate::value_error;
use crate::view::Tables;

pub(crate) type KeyArg = (Option<String>, bool, bool, String, u32);
pub(crate) type WordArg = (Option<String>, bool, bool, bool);
pub(crate) type ContextArg = (Vec<Vec<u8>>, Vec<Vec<WordArg>>, bool);
pub(crate) type RuleArg = (i64, i64, String, bool, u32);

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

/// The engine of `Engine(...)`'s arguments.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
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
) -> PyResult<Engine> {
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
