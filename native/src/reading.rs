//! Reading cues for `newswatch.processor.reading` (rules 1 and 2 of `newswatch.processor.resolve`):
//! the words around each mention ([`crate::wordcues`]), person-versus-place, common words (one
//! mention: [`crate::mention`]); then the candidates go to [`PlaceResolver`] without becoming
//! Python objects. The Python `Reader` is the definition. This is the reader itself: what it
//! holds, and the places of one article from its mentions.
//!
//! Word lists, per-character tables and the gazetteer's entries come from Python once
//! (`PlaceReader::new`); so do the facts of each key, asked once (`facts_of`) and kept here,
//! bounded ([`crate::keyfacts`]). Unicode stays defined in Python: a word with a non-ASCII
//! character is read by the Python reader (`probe.before`, `probe.after`), and the character
//! tables say what Python says of each character. Sentence starts, title-case lines, residences,
//! ages, "according to" and the words the article writes in lower case are read here in any text
//! ([`crate::textcues`]); the probe answers a place word before "of" where one beyond ASCII may
//! stand, "Name, " before an abbreviation and short capitals in non-ASCII text. The
//! disambiguation ([`PlaceResolver`]) then runs with the GIL released, and the results come back
//! as `places.PlaceMatch` tuples built here ([`crate::placematch`]).

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::keycache::KeyCache;
use crate::placematch::MatchFactory;

use crate::field::{CharInfo, Field};
pub use crate::keyfacts::PlaceFacts;
use crate::mention::Reading;
use crate::resolve::{Cand, PlaceResolver};
use crate::textcues::TextRules;
use crate::value_error;
use crate::wordcues::Words;

/// How far around a mention the reading cues look for the words before and after it, in characters.
pub(crate) const WINDOW: usize = 48;

/// The reading cues and the resolver; immutable (apart from its cache of key facts, behind a
/// lock), safe to share between threads.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceReader {
    resolver: Py<PlaceResolver>,
    /// The word lists each word is in (one lookup for them all).
    pub(crate) lists: HashMap<String, u16>,
    pub(crate) rules: TextRules,
    /// `keyfacts.KeyFactsCache.native`: the facts of a key, asked once per key number and kept here
    /// (at most `cache_keys`; emptied when full). Never called with the lock held.
    pub(crate) facts_of: Py<PyAny>,
    pub(crate) known: KeyCache<Py<PlaceFacts>>,
    /// What the rules ask of characters beyond ASCII.
    chars: CharInfo,
    results: MatchFactory,
}

#[pymethods]
impl PlaceReader {
    /// `cues`: an object with the word lists of `overrides.Cues` as attributes; `rules`: one with
    /// those of `TextRules`; `facts_of(key, number)`: the `PlaceFacts` of key number `number` (kept
    /// here, `cache_keys` at most); `char_flags`: the flags of each character of the Basic
    /// Multilingual Plane (65,536 bytes, `automaton.char_tables()[1]`); `factory`: the class of the
    /// results (a named tuple, `places.PlaceMatch`); `entries`: the gazetteer's entries, those of
    /// `resolver`; `how_demonym`: the `how` of a demonym.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        resolver: Py<PlaceResolver>,
        cues: Words,
        mut rules: TextRules,
        facts_of: Py<PyAny>,
        cache_keys: usize,
        char_flags: Vec<u8>,
        char_letters: Vec<u8>,
        factory: &Bound<'_, PyType>,
        entries: Vec<Py<PyAny>>,
        how_demonym: u8,
    ) -> PyResult<Self> {
        if entries.len() != resolver.get().kind.len() {
            return Err(value_error("one entry per place of the resolver".into()));
        }
        rules.small_max = rules.small_words.iter().map(String::len).max().unwrap_or(0);
        rules.opener_chars = rules.openers.chars().collect();
        rules.ender_chars = rules.enders.chars().collect();
        let chars = CharInfo::new(char_flags, char_letters, &rules).map_err(value_error)?;
        let lists = cues.lists();
        Ok(PlaceReader {
            resolver,
            lists,
            rules,
            facts_of,
            known: KeyCache::new(cache_keys),
            chars,
            results: MatchFactory::new(factory, entries, cache_keys, how_demonym)?,
        })
    }

    /// The places of one article: per field, its `factory` tuples in text order; see
    /// `newswatch_native.pyi`.
    fn matches<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        mentions: Vec<Bound<'py, PyAny>>,
        probe: Bound<'py, PyAny>,
        demonyms: bool,
    ) -> PyResult<Vec<Bound<'py, PyList>>> {
        let mut spots: Vec<Vec<Spot>> = Vec::with_capacity(texts.len());
        let mut facts: Vec<Vec<Bound<'py, PlaceFacts>>> = Vec::with_capacity(texts.len());
        for field in mentions.iter().take(texts.len()) {
            let (mut s, mut k) = (Vec::new(), Vec::new());
            for m in field.try_iter()? {
                let m = m?;
                let m = m.cast::<PyTuple>()?;
                let spot = Spot {
                    start: m.get_borrowed_item(0)?.extract()?,
                    end: m.get_borrowed_item(1)?.extract()?,
                    number: m.get_borrowed_item(3)?.extract()?,
                    shouted: m.len() > 4 && m.get_borrowed_item(4)?.is_truthy()?,
                };
                k.push(self.facts(m, spot.number)?);
                s.push(spot);
            }
            spots.push(s);
            facts.push(k);
        }
        if spots.iter().all(Vec::is_empty) {
            return Ok(texts.iter().map(|_| PyList::empty(py)).collect());
        }
        let fields: Vec<Field> = texts
            .iter()
            .map(|t| Field::new(t, &self.chars))
            .collect::<PyResult<_>>()?;
        let fits = |f: usize, m: &Spot| m.start < m.end && m.end <= fields[f].chars.len();
        if !spots
            .iter()
            .enumerate()
            .all(|(f, ms)| ms.iter().all(|m| fits(f, m)))
        {
            return Err(value_error("mentions must lie in their field".into()));
        }
        let mut persons: HashSet<&str> = HashSet::default();
        let mut lower_case: HashMap<&str, bool> = HashMap::default();
        let mut cands: Vec<(Cand<'_>, bool)> = Vec::new();
        let mut ends: HashSet<usize> = HashSet::default();
        for f in 0..spots.len() {
            ends.clear();
            for (spot, facts) in spots[f].iter().zip(&facts[f]) {
                let facts = facts.get();
                let read = self.read(
                    &fields,
                    f,
                    (spot.start, spot.end, spot.shouted),
                    facts,
                    &probe,
                    &mut ends,
                    &mut lower_case,
                )?;
                match read {
                    Reading::Person(big) => {
                        if !big {
                            persons.insert(&facts.key);
                        }
                    }
                    Reading::Dropped => {}
                    Reading::Kept(mut cand, big) => {
                        cand.quiet = facts.demonym && !demonyms;
                        cands.push((cand, big));
                    }
                }
            }
        }
        let cands: Vec<Cand<'_>> = cands
            .into_iter()
            .filter(|(c, big)| *big || !persons.contains(c.key))
            .map(|(c, _)| c)
            .collect();
        let spans: Vec<(usize, usize, usize)> =
            cands.iter().map(|c| (c.field, c.start, c.end)).collect();
        let chars: Vec<Vec<char>> = fields.into_iter().map(|f| f.chars).collect();
        let resolver = self.resolver.get();
        let rows = py.detach(|| resolver.decide(&chars, cands))?;
        let mut out: Vec<Vec<Bound<'py, PyAny>>> = texts.iter().map(|_| Vec::new()).collect();
        for (c, index, how, base) in rows {
            let (field, start, end) = spans[c];
            let end = if base >= 0 { end - 5 } else { end };
            out[field].push(
                self.results
                    .build(&texts[field], (start, end), index, how)?,
            );
        }
        out.into_iter()
            .map(|items| PyList::new(py, items))
            .collect()
    }
}

/// A mention (`toponyms.Mention` without its key, which its facts hold).
struct Spot {
    start: usize,
    end: usize,
    number: u32,
    shouted: bool,
}
