//! `newswatch_native`: the compiled core of the keyword matcher (`newswatch.processor.keywords`)
//! and of the near-duplicate signatures (`newswatch.processor.neardup`, [`minhash`]).
//!
//! Python defines the projection tables, the keys and the term rules and hands them over once
//! ([`Engine::new`]); per text, Python gives the stand-in bytes of the text (see
//! `newswatch.processor.automaton`) and gets back the matches (tuples of a Python class, built here)
//! in contract order. The rare checks that need Unicode folding (lossy keys, offsets through a fold map, shouted acronyms in
//! non-ASCII text) call back into Python through a *probe* object, so folding stays defined once.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod context;
mod engine;
mod keys;
mod minhash;
mod rules;
mod scan;
mod view;

pub use engine::Engine;

#[pymodule]
fn newswatch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(minhash::shingle_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(minhash::minhash_signature, m)?)?;
    Ok(())
}

pub(crate) fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}
