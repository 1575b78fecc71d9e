//! Protobuf wire bytes of an `EnrichedArticle`'s repeated `matches` and `places` entries, for
//! `newswatch.processor.enrich`: merged into the message with `MergeFromString`, they give the
//! message that one `add` per entry builds (the Python definition the tests compare this with).
//!
//! Python reads every field number from the generated descriptors and hands them over once
//! ([`EntryWriter::new`]), with the positions of the items in the tuples it passes (`keywords.Match`,
//! `places.PlaceMatch`); nothing here knows a field number. proto3 rules: a field at its default
//! (empty string, 0) is left out, an entry is written even when empty, and the bytes are those upb
//! writes for the same entry. A text or an item that cannot be written as the `add` path writes it
//! (a lone surrogate, an item of another type, an offset outside a `uint32` or outside the text)
//! makes the call answer None: the caller then takes the `add` path, which raises where it raises.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::snippet::Text;
use crate::value_error;

const WIRE_VARINT: u64 = 0;
const WIRE_LEN: u64 = 2;
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A string field (left out when empty).
fn put_str(out: &mut Vec<u8>, key: u64, value: &str) {
    if !value.is_empty() {
        put_varint(out, key);
        put_varint(out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
}

/// A `uint32` field (left out when 0).
fn put_uint(out: &mut Vec<u8>, key: u64, value: u32) {
    if value != 0 {
        put_varint(out, key);
        put_varint(out, u64::from(value));
    }
}

/// An enum field (left out when 0; a negative value sign-extended to ten bytes, as `int32`).
fn put_enum(out: &mut Vec<u8>, key: u64, value: i32) {
    if value != 0 {
        put_varint(out, key);
        put_varint(out, i64::from(value) as u64);
    }
}

/// One entry of a repeated message field: key, length, the sub-message.
fn put_entry(out: &mut Vec<u8>, key: u64, body: &[u8]) {
    put_varint(out, key);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// The keys of the fields numbered `numbers`: varints at the positions `varints`, length-delimited
/// (strings, sub-messages) elsewhere.
fn keys<const N: usize>(numbers: [u32; N], varints: std::ops::Range<usize>) -> PyResult<[u64; N]> {
    let mut seen = numbers.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != N || numbers.iter().any(|&n| n == 0 || n > MAX_FIELD_NUMBER) {
        return Err(value_error(format!(
            "field numbers {numbers:?} are not distinct numbers in 1..={MAX_FIELD_NUMBER}"
        )));
    }
    let mut out = [0u64; N];
    for (i, (key, &number)) in out.iter_mut().zip(&numbers).enumerate() {
        let wire = if varints.contains(&i) {
            WIRE_VARINT
        } else {
            WIRE_LEN
        };
        *key = (u64::from(number) << 3) | wire;
    }
    Ok(out)
}

fn entry_key(number: u32) -> PyResult<u64> {
    Ok(keys([number], 0..0)?[0])
}

/// Item `i` of `tuple` as a str (None: missing, not a str, or not encodable).
fn text_item<'a>(tuple: &'a Bound<'_, PyTuple>, i: usize) -> Option<&'a str> {
    tuple.get_borrowed_item(i).ok()?.extract::<&str>().ok()
}

/// Item `i` of `tuple` as a `uint32` (None: missing, not an int, or out of range).
fn offset_item(tuple: &Bound<'_, PyTuple>, i: usize) -> Option<u32> {
    tuple.get_borrowed_item(i).ok()?.extract::<u32>().ok()
}

/// The writer of the `matches` and `places` entries of one message type; immutable, thread-safe.
#[pyclass(frozen, module = "newswatch_native")]
pub struct EntryWriter {
    places_key: u64,
    /// name, matched_text, geonames_id, country_code, field, start, end.
    place_keys: [u64; 7],
    /// Tuple positions of name, matched_text, geonames_id, country_code, start, end.
    place_items: [usize; 6],
    matches_key: u64,
    /// watchlist_id, term_id, term_label, kind, matched_text, field, start, end, snippet.
    match_keys: [u64; 9],
    /// Tuple positions of watchlist_id, term_id, term_label, kind, start, end.
    match_items: [usize; 6],
}

#[pymethods]
impl EntryWriter {
    /// See `newswatch_native.pyi`; raises ValueError for a field number that cannot be one or that
    /// repeats within its message.
    #[new]
    fn new(
        places_number: u32,
        place_numbers: [u32; 7],
        place_items: [usize; 6],
        matches_number: u32,
        match_numbers: [u32; 9],
        match_items: [usize; 6],
    ) -> PyResult<Self> {
        Ok(EntryWriter {
            places_key: entry_key(places_number)?,
            place_keys: keys(place_numbers, 4..7)?,
            place_items,
            matches_key: entry_key(matches_number)?,
            match_keys: keys(match_numbers, 5..8)?,
            match_items,
        })
    }

    /// The `places` entries of `places` (one field's), `field` their `TextField`; see the pyi.
    fn places<'py>(
        &self,
        py: Python<'py>,
        places: Vec<Bound<'py, PyAny>>,
        field: i32,
    ) -> Option<Bound<'py, PyBytes>> {
        let [name, matched, geonames_id, country, start, end] = self.place_items;
        let k = &self.place_keys;
        let mut out = Vec::with_capacity(places.len() * 48);
        let mut body = Vec::with_capacity(128);
        for place in &places {
            let place = place.cast::<PyTuple>().ok()?;
            body.clear();
            put_str(&mut body, k[0], text_item(place, name)?);
            put_str(&mut body, k[1], text_item(place, matched)?);
            put_str(&mut body, k[2], text_item(place, geonames_id)?);
            put_str(&mut body, k[3], text_item(place, country)?);
            put_enum(&mut body, k[4], field);
            put_uint(&mut body, k[5], offset_item(place, start)?);
            put_uint(&mut body, k[6], offset_item(place, end)?);
            put_entry(&mut out, self.places_key, &body);
        }
        Some(PyBytes::new(py, &out))
    }

    /// The `matches` entries of `found` (matches of `text`), `field` their `TextField`; see the pyi.
    fn matches<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        field: i32,
        found: Vec<Bound<'py, PyAny>>,
        width: usize,
    ) -> Option<Bound<'py, PyBytes>> {
        if found.is_empty() {
            return Some(PyBytes::new(py, b""));
        }
        let source = text.to_str().ok()?;
        let text = Text::new(source);
        let [watchlist_id, term_id, term_label, kind, start, end] = self.match_items;
        let k = &self.match_keys;
        let mut out = Vec::with_capacity(found.len() * 256);
        let mut body = Vec::with_capacity(512);
        for m in &found {
            let m = m.cast::<PyTuple>().ok()?;
            let (first, last) = (offset_item(m, start)?, offset_item(m, end)?);
            let (s, e) = (first as usize, last as usize);
            if s > e || e > text.chars {
                return None;
            }
            body.clear();
            put_str(&mut body, k[0], text_item(m, watchlist_id)?);
            put_str(&mut body, k[1], text_item(m, term_id)?);
            put_str(&mut body, k[2], text_item(m, term_label)?);
            put_str(&mut body, k[3], text_item(m, kind)?);
            put_str(&mut body, k[4], &source[text.at(s)..text.at(e)]);
            put_enum(&mut body, k[5], field);
            put_uint(&mut body, k[6], first);
            put_uint(&mut body, k[7], last);
            put_str(&mut body, k[8], &text.snippet(s, e, width));
            put_entry(&mut out, self.matches_key, &body);
        }
        Some(PyBytes::new(py, &out))
    }
}
