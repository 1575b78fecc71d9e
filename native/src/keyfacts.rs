//! What a gazetteer key implies in any article, as the native reader and resolver read it
//! (`newswatch.processor.keyfacts`): the options of a key under one reading ([`PlaceReadings`],
//! each an [`Opt`]), the facts of a key ([`PlaceFacts`]), built by Python once per key, and the
//! reader's bounded cache of those facts ([`PlaceReader::facts`]).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::reading::PlaceReader;

/// An option of a key: entry index, how it names it, prior score, big kind, weakness.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Opt {
    pub(crate) index: u32,
    pub(crate) how: u8,
    pub(crate) prior: f64,
    pub(crate) big: bool,
    pub(crate) weak: u8,
}

/// The options of a key under one reading (`keyfacts.Readings`), built once per key.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceReadings {
    pub(crate) opts: Vec<Opt>,
    pub(crate) admin1s: Vec<u32>,
    pub(crate) country: bool,
    pub(crate) big: bool,
    pub(crate) capital: bool,
}

impl PlaceReadings {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.opts.is_empty()
    }
}

#[pymethods]
impl PlaceReadings {
    /// `scored`: `(entry index, how, prior, big kind, weak)`; `admin1s`: the subdivision numbers
    /// of the options (0 left out); `country`, `big`, `capital`: as `keyfacts.Readings` says.
    #[new]
    fn new(
        scored: Vec<(u32, u8, f64, bool, u8)>,
        admin1s: Vec<u32>,
        country: bool,
        big: bool,
        capital: bool,
    ) -> Self {
        let opts = scored
            .into_iter()
            .map(|(index, how, prior, big, weak)| Opt {
                index,
                how,
                prior,
                big,
                weak,
            })
            .collect();
        PlaceReadings {
            opts,
            admin1s,
            country,
            big,
            capital,
        }
    }
}

/// What a key implies in any article (`keyfacts.KeyFacts`).
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceFacts {
    pub(crate) key: String,
    pub(crate) lower: String,
    /// `lower` is a word in lower case (`textfacts.lower_case_word`); its characters.
    pub(crate) lower_word: bool,
    pub(crate) lower_chars: Vec<char>,
    pub(crate) single: bool,
    pub(crate) common_word: bool,
    pub(crate) first_name: bool,
    pub(crate) demonym: bool,
    pub(crate) every: Py<PlaceReadings>,
    pub(crate) plain: Py<PlaceReadings>,
}

#[pymethods]
impl PlaceFacts {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        key: String,
        lower: String,
        lower_word: bool,
        single: bool,
        common_word: bool,
        first_name: bool,
        demonym: bool,
        every: Py<PlaceReadings>,
        plain: Py<PlaceReadings>,
    ) -> Self {
        PlaceFacts {
            key,
            lower_chars: lower.chars().collect(),
            lower,
            lower_word,
            single,
            common_word,
            first_name,
            demonym,
            every,
            plain,
        }
    }
}

impl PlaceReader {
    /// The facts of key `number` of `mention`, from the cache or else from Python (then kept).
    #[inline]
    pub(crate) fn facts<'py>(
        &self,
        mention: &Bound<'py, PyTuple>,
        number: u32,
    ) -> PyResult<Bound<'py, PlaceFacts>> {
        let py = mention.py();
        if let Some(facts) = self.known.get(number, |f| f.clone_ref(py)) {
            return Ok(facts.into_bound(py));
        }
        let key = mention.get_borrowed_item(2)?;
        let facts = self
            .facts_of
            .bind(py)
            .call1((key, number))?
            .cast_into::<PlaceFacts>()?;
        self.known.insert(number, facts.clone().unbind());
        Ok(facts)
    }
}
