//! Reading cues for `newswatch.processor.reading` (rules 1 and 2 of `newswatch.processor.resolve`):
//! the words around each mention, person-versus-place, common words; then the candidates go to
//! [`PlaceResolver`] without becoming Python objects. The Python `Reader` is the definition.
//!
//! Word lists, per-character tables and the gazetteer's entries come from Python once
//! (`PlaceReader::new`); so do the facts of each key, asked once (`facts_of`) and kept here, bounded.
//! Unicode stays defined in Python: a word with a non-ASCII character is read by the Python reader
//! (`probe.before`, `probe.after`), and the character tables say what Python says of each
//! character. Sentence starts, title-case lines, residences, ages, "according to" and the words
//! the article writes in lower case are read here in any text ([`crate::textcues`]); the probe
//! answers a place word before "of" where one beyond ASCII may stand, "Name, " before an
//! abbreviation and short capitals in non-ASCII text. The disambiguation ([`PlaceResolver`]) then
//! runs with the GIL released, and the results come back as `places.PlaceMatch` tuples built here
//! ([`crate::placematch`]).

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

use crate::keycache::KeyCache;
use crate::placematch::MatchFactory;

use crate::field::{CharInfo, Field};
use crate::resolve::{Cand, PlaceReadings, PlaceResolver};
use crate::textcues::{ascii_lower, blank, TextRules};
use crate::value_error;

pub(crate) const WINDOW: usize = 48;

/// What a key implies in any article (`keyfacts.KeyFacts`).
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceFacts {
    key: String,
    lower: String,
    /// `lower` is a word in lower case (`textfacts.lower_case_word`); its characters.
    lower_word: bool,
    lower_chars: Vec<char>,
    single: bool,
    common_word: bool,
    first_name: bool,
    demonym: bool,
    every: Py<PlaceReadings>,
    plain: Py<PlaceReadings>,
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

/// The word lists of `overrides.Cues` that the reading cues consult (lower case).
#[derive(FromPyObject)]
struct Words {
    sentence_words: HashSet<String>,
    modifiers: HashSet<String>,
    person_titles: HashSet<String>,
    first_names: HashSet<String>,
    speech_verbs: HashSet<String>,
    prepositions: HashSet<String>,
    name_suffixes: HashSet<String>,
    institution_words: HashSet<String>,
    place_words: HashSet<String>,
    local_words: HashSet<String>,
}

// The word lists of `Words`, as bits.
const SENTENCE_WORD: u16 = 1;
const MODIFIER: u16 = 1 << 1;
const PERSON_TITLE: u16 = 1 << 2;
const FIRST_NAME: u16 = 1 << 3;
const SPEECH_VERB: u16 = 1 << 4;
const PREPOSITION: u16 = 1 << 5;
const NAME_SUFFIX: u16 = 1 << 6;
const INSTITUTION_WORD: u16 = 1 << 7;
const PLACE_WORD: u16 = 1 << 8;
const LOCAL_WORD: u16 = 1 << 9;

/// The word before a name: capitalised name word, person title, given name, speech verb,
/// preposition, may end "of", may end "to" (`reading._Before` without the word).
type Before = (bool, bool, bool, bool, bool, bool, bool);
const NO_WORD_BEFORE: Before = (false, false, false, false, false, false, false);
const UNKNOWN_WORD_BEFORE: Before = (false, false, false, false, false, true, true);
/// The word after a name: capitalised, name suffix, institution, speech verb, place word, local word.
type After = (bool, bool, bool, bool, bool, bool);
const NO_WORD_AFTER: After = (false, false, false, false, false, false);

/// The reading cues and the resolver; immutable (apart from its cache of key facts, behind a
/// lock), safe to share between threads.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceReader {
    resolver: Py<PlaceResolver>,
    /// The word lists each word is in (one lookup for them all).
    lists: HashMap<String, u16>,
    rules: TextRules,
    /// `keyfacts.KeyFactsCache.native`: the facts of a key, asked once per key number and kept here
    /// (at most `cache_keys`; emptied when full). Never called with the lock held.
    facts_of: Py<PyAny>,
    known: KeyCache<Py<PlaceFacts>>,
    /// What the rules ask of characters beyond ASCII.
    chars: CharInfo,
    results: MatchFactory,
}

impl PlaceReader {
    fn before(&self, word: &[char], probe: &Bound<'_, PyAny>) -> PyResult<Before> {
        if !word.iter().all(char::is_ascii) {
            let reversed: String = word.iter().rev().collect();
            let (_, a, b, c, d, e, f, g): (String, bool, bool, bool, bool, bool, bool, bool) =
                probe
                    .call_method1(intern!(probe.py(), "before"), (reversed,))?
                    .extract()?;
            return Ok((a, b, c, d, e, f, g));
        }
        let mut buf = [0u8; 64];
        let text = ascii_lower(word, &mut buf);
        let lower = text.trim_end_matches('.');
        let rules = &self.rules;
        let lists = self.lists.get(lower).copied().unwrap_or(0);
        let is = |list: u16| lists & list != 0;
        Ok((
            word[0].is_ascii_uppercase()
                && !is(SENTENCE_WORD)
                && !is(MODIFIER)
                && !rules
                    .possessive_endings
                    .iter()
                    .any(|e| lower.ends_with(e.as_str())),
            is(PERSON_TITLE),
            is(FIRST_NAME),
            is(SPEECH_VERB),
            is(PREPOSITION),
            rules.of_words.contains(text.as_ref()),
            *text == *rules.to_word,
        ))
    }

    fn after(&self, word: &[char], probe: &Bound<'_, PyAny>) -> PyResult<After> {
        if !word.iter().all(char::is_ascii) {
            let token: String = word.iter().collect();
            return probe
                .call_method1(intern!(probe.py(), "after"), (token,))?
                .extract();
        }
        let mut buf = [0u8; 64];
        let lower = ascii_lower(word, &mut buf);
        let lower = lower.as_ref();
        let lists = self.lists.get(lower).copied().unwrap_or(0);
        let is = |list: u16| lists & list != 0;
        Ok((
            word[0].is_ascii_uppercase(),
            is(NAME_SUFFIX),
            is(INSTITUTION_WORD),
            is(SPEECH_VERB),
            is(PLACE_WORD),
            is(LOCAL_WORD),
        ))
    }
}

/// Asks the probe a yes-or-no question.
fn ask<'py>(
    probe: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<bool> {
    probe.call_method1(name, args)?.extract()
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
        let mut lists: HashMap<String, u16> = HashMap::default();
        for (list, words) in [
            (SENTENCE_WORD, cues.sentence_words),
            (MODIFIER, cues.modifiers),
            (PERSON_TITLE, cues.person_titles),
            (FIRST_NAME, cues.first_names),
            (SPEECH_VERB, cues.speech_verbs),
            (PREPOSITION, cues.prepositions),
            (NAME_SUFFIX, cues.name_suffixes),
            (INSTITUTION_WORD, cues.institution_words),
            (PLACE_WORD, cues.place_words),
            (LOCAL_WORD, cues.local_words),
        ] {
            for word in words {
                *lists.entry(word).or_default() |= list;
            }
        }
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

impl PlaceReader {
    /// The facts of key `number` of `mention`, from the cache or else from Python (then kept).
    fn facts<'py>(
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

/// What the reading cues make of one mention.
enum Reading<'a> {
    /// A person's name (big: a country, state ... name, which stays a place elsewhere).
    Person(bool),
    Dropped,
    Kept(Cand<'a>, bool),
}

impl PlaceReader {
    /// The reading of one mention (`reading.Reader.read`, one iteration).
    #[allow(clippy::too_many_arguments)]
    fn read<'a>(
        &self,
        fields: &[Field<'_>],
        f: usize,
        (start, end, shouted): (usize, usize, bool),
        facts: &'a PlaceFacts,
        probe: &Bound<'_, PyAny>,
        ends: &mut HashSet<usize>,
        lower_case: &mut HashMap<&'a str, bool>,
    ) -> PyResult<Reading<'a>> {
        let py = probe.py();
        let field = &fields[f];
        let text = &field.chars;
        let size = text.len();
        let lo = start.saturating_sub(WINDOW);
        // The word before, after spaces (one line break before the name skipped).
        let skip = start > lo && text.get(start - 1) == Some(&'\n');
        let mut before = UNKNOWN_WORD_BEFORE;
        let p = start.checked_sub(if skip { 2 } else { 1 });
        if let Some(p) = p.filter(|&p| p >= lo && p < size && blank(text[p])) {
            let mut i = p as isize;
            while i >= lo as isize && blank(text[i as usize]) {
                i -= 1;
            }
            let e = (i + 1) as usize;
            let mut j = i;
            while j >= lo as isize && (field.wordlike(text[j as usize]) || text[j as usize] == '.')
            {
                j -= 1;
            }
            let mut s = (j + 1) as usize;
            while s < e && !field.alnum(text[s]) {
                s += 1;
            }
            if s < e {
                if text[e - 1] == '.' && e - s > 5 {
                    before = NO_WORD_BEFORE; // "... president. Cincinnati"
                } else {
                    before = self.before(&text[s..e], probe)?;
                    if before.0 && ends.contains(&(e + usize::from(skip))) {
                        before.0 = false; // the name before is a place
                    }
                }
            }
        }
        let mut after = NO_WORD_AFTER;
        let mut next_word = false;
        if end < size && blank(text[end]) {
            let limit = size.min(end + WINDOW);
            let mut i = end;
            while i < limit && blank(text[i]) {
                i += 1;
            }
            if i < limit && field.alnum(text[i]) {
                let mut k = i + 1;
                while k < limit && field.wordlike(text[k]) {
                    k += 1;
                }
                after = self.after(&text[i..k], probe)?;
                next_word = true;
            }
        }
        let (names_before, title, first_name_before, speech_before, prep, of_before, to_before) =
            before;
        let (upper_next, suffix, institution, speech_after, place_after, mut local) = after;
        if !local && text[start.saturating_sub(6)..start.min(size)].contains(&',') {
            local = TextRules::residence(field, lo, start); // a home town
        }
        let mut readings = facts.every.get();
        let plain = facts.plain.get();
        if !std::ptr::eq(readings, plain)
            && !ask(probe, intern!(py, "after_name_comma"), (f, start))?
        {
            readings = plain;
        }
        let options = readings;
        if options.is_empty() || suffix {
            return Ok(Reading::Dropped); // "West Nile virus"
        }
        let mut loose: Option<bool> = if shouted { Some(true) } else { None };
        let title_line = |loose: &mut Option<bool>| -> PyResult<bool> {
            if let Some(known) = *loose {
                return Ok(known);
            }
            let known = self.rules.title_line(field, start);
            *loose = Some(known);
            Ok(known)
        };
        let mut person = title;
        if names_before {
            let is_loose = title_line(&mut loose)?;
            if !is_loose && !first_name_before {
                return Ok(Reading::Dropped); // inside another name: "Air France"
            }
            person = person || !is_loose;
        }
        if !person && facts.first_name && next_word && !title_line(&mut loose)? {
            person = upper_next && !institution;
        }
        let big = options.big;
        if !person && facts.single && !big && !options.capital {
            person = speech_after
                || (!upper_next
                    && (speech_before || (to_before && self.rules.according(field, lo, start))))
                || (end < size && text[end] == ',' && TextRules::age(field, end));
        }
        if person {
            return Ok(Reading::Person(big));
        }
        if !shouted
            && end - start <= 3
            && match TextRules::short_caps(text, start, end) {
                Some(known) => known,
                None => ask(probe, intern!(py, "short_caps"), (f, start, end))?,
            }
        {
            return Ok(Reading::Dropped); // "LET US GO"
        }
        let mut initial: Option<bool> = None;
        let mut common = facts.common_word;
        if !common && facts.single && lower_case.get(facts.lower.as_str()) != Some(&false) {
            let at_start = self.rules.initial(field, start);
            initial = Some(at_start);
            let is_loose = if at_start {
                loose.unwrap_or(false)
            } else {
                title_line(&mut loose)?
            };
            if at_start || is_loose {
                common = match lower_case.get(facts.lower.as_str()) {
                    Some(&known) => known,
                    None => {
                        let known = facts.lower_word
                            && fields
                                .iter()
                                .any(|other| other.has_word(&facts.lower_chars));
                        lower_case.insert(&facts.lower, known);
                        known
                    }
                };
            }
        }
        ends.insert(end);
        let place_word = place_after
            || (of_before
                && TextRules::may_follow(
                    text,
                    lo,
                    start,
                    self.rules.of_words.iter().map(String::as_str),
                )
                && match self.rules.place_before(field, lo, start) {
                    Some(known) => known,
                    None => ask(probe, intern!(py, "place_before"), (f, start))?,
                });
        // What the rules may ask later, known now: they run without the GIL.
        let initial = initial.unwrap_or_else(|| self.rules.initial(field, start));
        let loose = loose.unwrap_or_else(|| self.rules.title_line(field, start));
        let cand = Cand {
            field: f,
            start,
            end,
            key: &facts.key,
            readings,
            prep,
            place_word,
            common,
            quiet: false,
            local,
            initial,
            loose,
            pair_bonus: Vec::new(),
        };
        Ok(Reading::Kept(cand, big))
    }
}
