//! The `places.PlaceMatch` tuples of accepted mentions, built here from the gazetteer's entries
//! (given once) so that tagging returns them ready: `(name, matched_text, geonames_id,
//! country_code, kind, start, end, admin1, demonym, lat, lon)`.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyType};

use crate::keycache::KeyCache;
use crate::tuples::TupleClass;
use crate::value_error;

/// Builds the results: the named-tuple class, the entries (`GazetteerEntry`
/// objects, read by attribute: what the results take of an entry is kept for the `limit` entries
/// met last, the cache emptied when full) and the `how` code of a demonym.
pub(crate) struct MatchFactory {
    factory: TupleClass,
    entries: Vec<Py<PyAny>>,
    known: KeyCache<Attributes>,
    how_demonym: u8,
}

/// What a result takes of an entry: name, geonames_id, country_code, kind, admin1, lat, lon.
type Attributes = [Py<PyAny>; 7];

/// The number of items of a result.
const ITEMS: usize = 11;

impl MatchFactory {
    /// `factory` must be a plain tuple subclass (a `NamedTuple` of eleven fields): results are
    /// built as `tuple.__new__(factory, items)` builds them.
    pub(crate) fn new(
        factory: &Bound<'_, PyType>,
        entries: Vec<Py<PyAny>>,
        limit: usize,
        how_demonym: u8,
    ) -> PyResult<Self> {
        Ok(MatchFactory {
            factory: TupleClass::new(factory, "the match factory")?,
            entries,
            known: KeyCache::new(limit),
            how_demonym,
        })
    }

    /// The result for `text[start:end]` read as entry `index`, named `how`.
    pub(crate) fn build<'py>(
        &self,
        text: &Bound<'py, PyString>,
        (start, end): (usize, usize),
        index: u32,
        how: u8,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = text.py();
        let start_ = isize::try_from(start).map_err(|_| value_error("offset too large".into()))?;
        let end_ = isize::try_from(end).map_err(|_| value_error("offset too large".into()))?;
        // SAFETY: PyUnicode_Substring returns a new reference or NULL with an exception set.
        let matched = unsafe { ffi::PyUnicode_Substring(text.as_ptr(), start_, end_) };
        let matched = unsafe { Bound::from_owned_ptr_or_err(py, matched)? };
        let [name, geonames_id, country_code, kind, admin1, lat, lon] =
            self.attributes(py, index)?;
        // Owned references from here on: each is stored in the result or released below.
        let items: [*mut ffi::PyObject; ITEMS] = [
            name.into_ptr(),
            matched.into_ptr(),
            geonames_id.into_ptr(),
            country_code.into_ptr(),
            kind.into_ptr(),
            // SAFETY: new references, NULL with an exception set on failure.
            unsafe { ffi::PyLong_FromSsize_t(start_) },
            unsafe { ffi::PyLong_FromSsize_t(end_) },
            admin1.into_ptr(),
            PyBool::new(py, how == self.how_demonym)
                .to_owned()
                .into_any()
                .into_ptr(),
            lat.into_ptr(),
            lon.into_ptr(),
        ];
        // SAFETY: new references (or NULL with an exception set), consumed by `instance`.
        unsafe { self.factory.instance(py, items) }
    }

    /// What a result takes of entry `index` (new references), from the cache or else read (then
    /// kept; Python is never called with the lock held).
    fn attributes<'py>(&self, py: Python<'py>, index: u32) -> PyResult<[Bound<'py, PyAny>; 7]> {
        if let Some(found) = self
            .known
            .get(index, |found| found.each_ref().map(|a| a.bind(py).clone()))
        {
            return Ok(found);
        }
        let entry = self
            .entries
            .get(index as usize)
            .ok_or_else(|| value_error("an option names no entry".into()))?
            .bind(py);
        let read: [Bound<'py, PyAny>; 7] = [
            entry.getattr(intern!(py, "name"))?,
            entry.getattr(intern!(py, "geonames_id"))?,
            entry.getattr(intern!(py, "country_code"))?,
            entry.getattr(intern!(py, "kind"))?,
            entry.getattr(intern!(py, "admin1"))?,
            entry.getattr(intern!(py, "lat"))?,
            entry.getattr(intern!(py, "lon"))?,
        ];
        self.known
            .insert(index, read.each_ref().map(|a| a.clone().unbind()));
        Ok(read)
    }
}
