//! Reading cues for `newswatch.processor.reading` (rules 1 and 2 of `newswatch.processor.resolve`):
//! the words around each mention, person-versus-place, common words; then the candidates go to
//! [`PlaceResolver`] without becoming Python objects. The Python `Reader` is the definition.
//!
//! Word lists come from Python once (`PlaceReader::new`). Unicode stays defined in Python: a word
//! with a non-ASCII character is read by the Python reader (`probe.before`, `probe.after`). Sentence
//! starts, title-case lines, residences, ages and place words before "of" are read here in ASCII
//! text; the probe answers them elsewhere, and always answers "according to" (after a cheap test
//! here), short capitals next to shouting and the words the article writes in lower case (its
//! cache). The disambiguation ([`PlaceResolver`]) then runs with the GIL released.

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::RefCell;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::resolve::{Cand, PlaceReadings, PlaceResolver};
use crate::textcues::{ascii_lower, blank, chars, space, Field, TextRules};
use crate::value_error;

pub(crate) const WINDOW: usize = 48;

/// A `toponyms.Mention`: start, end, key, key number, shouted.
type Mention = (usize, usize, String, u32, bool);
/// An accepted mention: field, start, end, entry index, how.
type Place = (usize, usize, usize, u32, u8);

/// What a key implies in any article (`keyfacts.KeyFacts`).
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceFacts {
    lower: String,
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
        lower: String,
        single: bool,
        common_word: bool,
        first_name: bool,
        demonym: bool,
        every: Py<PlaceReadings>,
        plain: Py<PlaceReadings>,
    ) -> Self {
        PlaceFacts {
            lower,
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

/// The reading cues and the resolver; immutable, safe to share between threads.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceReader {
    resolver: Py<PlaceResolver>,
    /// The word lists each word is in (one lookup for them all).
    lists: HashMap<String, u16>,
    rules: TextRules,
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
    /// those of `TextRules`.
    #[new]
    fn new(resolver: Py<PlaceResolver>, cues: Words, mut rules: TextRules) -> Self {
        rules.small_max = rules.small_words.iter().map(String::len).max().unwrap_or(0);
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
        PlaceReader {
            resolver,
            lists,
            rules,
        }
    }

    /// The places of one article as `(field, start, end, entry index, how)`; see
    /// `newswatch_native.pyi`.
    #[allow(clippy::too_many_arguments)]
    fn tag<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        wide: Vec<String>,
        mentions: Vec<Vec<Mention>>,
        facts: Vec<Vec<Bound<'py, PlaceFacts>>>,
        probe: Bound<'py, PyAny>,
        demonyms: bool,
    ) -> PyResult<Vec<Place>> {
        let fields: Vec<Field> = texts
            .iter()
            .zip(&wide)
            .map(|(t, w)| {
                let mut wide: Vec<char> = w.chars().collect();
                wide.sort_unstable();
                let chars = chars(t)?;
                let breaks = (0..chars.len()).filter(|&i| chars[i] == '\n').collect();
                Ok(Field {
                    chars,
                    wide,
                    breaks,
                    lines: RefCell::new(HashMap::default()),
                })
            })
            .collect::<PyResult<_>>()?;
        let fits = |f: usize, m: &Mention| {
            fields
                .get(f)
                .is_some_and(|t| m.0 < m.1 && m.1 <= t.chars.len())
        };
        let counts = mentions.iter().zip(&facts).all(|(m, k)| m.len() == k.len());
        if !counts
            || !mentions
                .iter()
                .enumerate()
                .all(|(f, ms)| ms.iter().all(|m| fits(f, m)))
        {
            return Err(value_error(
                "mentions must lie in their field, one fact each".into(),
            ));
        }
        let mut persons: HashSet<String> = HashSet::default();
        let mut lower_case: HashMap<String, bool> = HashMap::default();
        let mut cands: Vec<(Cand<'_>, bool)> = Vec::new();
        for (f, field) in fields.iter().enumerate() {
            let (Some(ms), Some(fs)) = (mentions.get(f), facts.get(f)) else {
                break;
            };
            let mut ends: HashSet<usize> = HashSet::default();
            for ((start, end, key, _, shouted), facts) in ms.iter().zip(fs) {
                let read = self.read(
                    f,
                    field,
                    (*start, *end, *shouted),
                    facts.get(),
                    &probe,
                    &mut ends,
                    &mut lower_case,
                )?;
                match read {
                    Reading::Person(big) => {
                        if !big {
                            persons.insert(key.clone());
                        }
                    }
                    Reading::Dropped => {}
                    Reading::Kept(mut cand, big) => {
                        cand.key.clone_from(key);
                        cand.quiet = facts.get().demonym && !demonyms;
                        cands.push((cand, big));
                    }
                }
            }
        }
        let cands: Vec<Cand<'_>> = cands
            .into_iter()
            .filter(|(c, big)| *big || !persons.contains(&c.key))
            .map(|(c, _)| c)
            .collect();
        let spans: Vec<(usize, usize, usize)> =
            cands.iter().map(|c| (c.field, c.start, c.end)).collect();
        let texts: Vec<Vec<char>> = fields.into_iter().map(|f| f.chars).collect();
        let resolver = self.resolver.get();
        let rows = py.detach(|| resolver.decide(&texts, cands))?;
        Ok(rows
            .into_iter()
            .map(|(c, index, how, base)| {
                let (field, start, end) = spans[c];
                (
                    field,
                    start,
                    if base >= 0 { end - 5 } else { end },
                    index,
                    how,
                )
            })
            .collect())
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
        f: usize,
        field: &Field,
        (start, end, shouted): (usize, usize, bool),
        facts: &'a PlaceFacts,
        probe: &Bound<'_, PyAny>,
        ends: &mut HashSet<usize>,
        lower_case: &mut HashMap<String, bool>,
    ) -> PyResult<Reading<'a>> {
        let py = probe.py();
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
            local = match TextRules::residence(text, lo, start) {
                Some(known) => known,
                None => ask(probe, intern!(py, "residence"), (f, start))?, // a home town
            };
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
            let known = match self.rules.title_line(field, start) {
                Some(known) => known,
                None => ask(probe, intern!(py, "title_line"), (f, start))?,
            };
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
                    && (speech_before
                        || (to_before
                            && start > lo
                            && (!text[start - 1].is_ascii() || space(text[start - 1]))
                            && TextRules::may_follow(
                                text,
                                lo,
                                start,
                                std::iter::once(self.rules.to_word.as_str()),
                            )
                            && ask(probe, intern!(py, "according"), (f, start))?)))
                || (end < size
                    && text[end] == ','
                    && match TextRules::age(text, end) {
                        Some(known) => known,
                        None => ask(probe, intern!(py, "age"), (f, end))?,
                    });
        }
        if person {
            return Ok(Reading::Person(big));
        }
        if !shouted
            && end - start <= 3
            && upper_case(&text[start..end.min(size)]) != Some(false)
            && ask(probe, intern!(py, "short_caps"), (f, start, end))?
        {
            return Ok(Reading::Dropped); // "LET US GO"
        }
        let mut initial: Option<bool> = None;
        let mut common = facts.common_word;
        if !common && facts.single && lower_case.get(&facts.lower) != Some(&false) {
            let at_start = match self.rules.initial(text, start) {
                Some(known) => known,
                None => ask(probe, intern!(py, "initial"), (f, start))?,
            };
            initial = Some(at_start);
            let is_loose = if at_start {
                loose.unwrap_or(false)
            } else {
                title_line(&mut loose)?
            };
            if at_start || is_loose {
                common = match lower_case.get(&facts.lower) {
                    Some(&known) => known,
                    None => {
                        let known = ask(probe, intern!(py, "lower_case"), (facts.lower.as_str(),))?;
                        lower_case.insert(facts.lower.clone(), known);
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
                && match self.rules.place_before(text, lo, start) {
                    Some(known) => known,
                    None => ask(probe, intern!(py, "place_before"), (f, start))?,
                });
        // What the rules may ask later, known now: they run without the GIL.
        let initial = match initial.or_else(|| self.rules.initial(text, start)) {
            Some(known) => known,
            None => ask(probe, intern!(py, "initial"), (f, start))?,
        };
        let loose = match loose.or_else(|| self.rules.title_line(field, start)) {
            Some(known) => known,
            None => ask(probe, intern!(py, "title_line"), (f, start))?,
        };
        let cand = Cand {
            field: f,
            start,
            end,
            key: String::new(),
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

/// `str.isupper` of an ASCII slice (None when some character is not ASCII: Python decides).
fn upper_case(text: &[char]) -> Option<bool> {
    if !text.iter().all(char::is_ascii) {
        return None;
    }
    Some(text.iter().any(char::is_ascii_uppercase) && !text.iter().any(char::is_ascii_lowercase))
}
