//! The steps of building an `Engine` from the arguments of `Engine(...)` (see
//! `newswatch_native.pyi`): the key index and its automata, the context rules, the term rules, the
//! index checks and the projection tables; `Engine::new` puts them together.

use pyo3::prelude::*;

use crate::context::{Contexts, Word};
use crate::engine::Rule;
use crate::keys::{Key, KeyIndex, Pattern};
use crate::value_error;
use crate::view::Tables;

pub(crate) type KeyArg = (Option<String>, bool, bool, String, u32);
pub(crate) type WordArg = (Option<String>, bool, bool, bool, bool);
pub(crate) type ContextArg = (Vec<Vec<u8>>, Vec<Vec<WordArg>>, bool);
pub(crate) type RuleArg = (i64, i64, String, bool, u32, bool);

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

/// The key index of `Engine(...)`'s pattern arguments.
pub(crate) fn key_index(
    folded_patterns: Vec<Vec<u8>>,
    folded_keys: Vec<(i64, Vec<KeyArg>)>,
    cased_patterns: Vec<Vec<u8>>,
    cased_keys: Vec<(bool, u32)>,
    contexts: &Contexts,
    anchored_above: usize,
) -> PyResult<KeyIndex> {
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
    KeyIndex::new(
        folded_patterns,
        patterns,
        cased_patterns,
        cased_keys,
        &contexts.patterns,
        anchored_above,
    )
    .map_err(value_error)
}

/// The context rules of `Engine(...)`'s `contexts` argument.
pub(crate) fn contexts(contexts: Vec<ContextArg>) -> PyResult<Contexts> {
    let contexts = contexts
        .into_iter()
        .map(|(patterns, words, needs)| {
            let words = words
                .into_iter()
                .map(|ws| {
                    ws.into_iter()
                        .map(|(exact, gaps, prefix, negative, own)| Word {
                            exact,
                            gaps,
                            prefix,
                            negative,
                            own,
                        })
                        .collect()
                })
                .collect();
            (patterns, words, needs)
        })
        .collect();
    Contexts::new(contexts).map_err(value_error)
}

/// The term rules of `Engine(...)`'s `rules` argument.
pub(crate) fn rules(rules: Vec<RuleArg>) -> Vec<Rule> {
    rules
        .into_iter()
        .map(
            |(context, window, place_id, exclusive, rank, titled)| Rule {
                context: u32::try_from(context).ok(),
                window,
                place_id,
                exclusive,
                rank,
                titled,
            },
        )
        .collect()
}

/// ValueError unless every group, rule and context index points at one that exists.
pub(crate) fn check_indexes(
    keys: &KeyIndex,
    groups: &[Vec<u32>],
    rules: &[Rule],
    contexts: &Contexts,
) -> PyResult<()> {
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
    Ok(())
}

/// `items` flattened, with where each one's run starts (and a final end): `(flat, starts)`.
pub(crate) fn flattened<T>(items: impl IntoIterator<Item = Vec<T>>) -> (Vec<T>, Vec<u32>) {
    let mut flat = Vec::new();
    let mut starts = vec![0];
    for item in items {
        flat.extend(item);
        starts.push(flat.len() as u32);
    }
    (flat, starts)
}

/// The projection tables of `Engine(...)`'s `raw_tables` and `folded_tables`, and whether the raw
/// case-kept table lower-cased is the raw projection table. Run last: it also hands the builders'
/// freed memory back to the system.
pub(crate) fn projection_tables(
    raw_tables: Vec<Vec<u8>>,
    folded_tables: Vec<Vec<u8>>,
) -> PyResult<(Tables, Tables, bool)> {
    let raw_tables = tables(raw_tables)?;
    release_free_memory();
    let raw_lower_is_data = raw_tables
        .cased
        .iter()
        .zip(&raw_tables.project)
        .all(|(c, p)| c.to_ascii_lowercase() == *p);
    Ok((raw_tables, tables(folded_tables)?, raw_lower_is_data))
}
