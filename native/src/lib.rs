//! `newswatch_native`: the compiled core of the keyword matcher (`newswatch.processor.keywords`)
//! and of the near-duplicate signatures (`newswatch.processor.neardup`, [`minhash`]).
//!
//! Python defines the projection tables, the keys and the term rules and hands them over once
//! ([`Engine::new`]); per text, Python gives the text itself (its boilerplate masked and its
//! stand-in bytes made here, with per-character tables given once: [`chars`]) or, for a text that
//! must be folded first, its stand-in bytes (see `newswatch.processor.automaton`), and gets back the
//! matches (tuples of a Python class, built here) in contract order. The rare checks that need Unicode folding (lossy keys, offsets through a fold map, shouted acronyms in
//! non-ASCII text) call back into Python through a *probe* object, so folding stays defined once.
//! The toponym scan, reading cues and disambiguation of `newswatch.processor.places` live in
//! [`toponyms`], [`reading`] and [`resolve`] on the same pattern.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod chars;
mod context;
mod engine;
mod enginebuild;
mod field;
mod fold;
mod fxhash;
mod keycache;
mod keyfacts;
mod keys;
mod mention;
mod minhash;
mod names;
mod partition;
mod placematch;
mod pytext;
mod reading;
mod resolve;
mod rules;
mod scan;
mod scoring;
mod sensegroups;
mod sensepairs;
mod snippet;
mod swar;
mod textcues;
mod titlewords;
mod toponyms;
mod tuples;
mod view;
mod wire;
mod wordcues;

pub use engine::Engine;

#[pymodule]
fn newswatch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<fold::Folding>()?;
    m.add_class::<toponyms::PlaceNames>()?;
    m.add_class::<resolve::PlaceReadings>()?;
    m.add_class::<resolve::PlaceResolver>()?;
    m.add_class::<reading::PlaceFacts>()?;
    m.add_class::<reading::PlaceReader>()?;
    m.add_class::<wire::EntryWriter>()?;
    m.add_function(wrap_pyfunction!(toponyms::caps_runs_of, m)?)?;
    m.add_function(wrap_pyfunction!(minhash::shingle_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(minhash::minhash_signature, m)?)?;
    m.add_function(wrap_pyfunction!(minhash::equal_bins, m)?)?;
    m.add_function(wrap_pyfunction!(minhash::band_keys, m)?)?;
    m.add_function(wrap_pyfunction!(snippet::snippets, m)?)?;
    m.add_function(wrap_pyfunction!(partition::murmur2, m)?)?;
    Ok(())
}

pub(crate) fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}
