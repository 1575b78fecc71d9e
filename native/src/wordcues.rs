//! The words next to a mention as reading cues (`reading.Reader._before`, `_after`): which of the
//! word lists of `overrides.Cues` ([`Words`], held as bits per word) the word before and the word
//! after a name are in, and what they say beside (capitalised, may end "of" or "to"). A word with a
//! non-ASCII character is read by the Python reader (`probe.before`, `probe.after`).

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};

use pyo3::intern;
use pyo3::prelude::*;

use crate::reading::PlaceReader;
use crate::textcues::ascii_lower;

/// The word lists of `overrides.Cues` that the reading cues consult (lower case).
#[derive(FromPyObject)]
pub(crate) struct Words {
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
pub(crate) type Before = (bool, bool, bool, bool, bool, bool, bool);
pub(crate) const NO_WORD_BEFORE: Before = (false, false, false, false, false, false, false);
pub(crate) const UNKNOWN_WORD_BEFORE: Before = (false, false, false, false, false, true, true);
/// The word after a name: capitalised, name suffix, institution, speech verb, place word, local word.
pub(crate) type After = (bool, bool, bool, bool, bool, bool);
pub(crate) const NO_WORD_AFTER: After = (false, false, false, false, false, false);

impl Words {
    /// The word lists each word is in, as bits (one lookup for them all).
    pub(crate) fn lists(self) -> HashMap<String, u16> {
        let mut lists: HashMap<String, u16> = HashMap::default();
        for (list, words) in [
            (SENTENCE_WORD, self.sentence_words),
            (MODIFIER, self.modifiers),
            (PERSON_TITLE, self.person_titles),
            (FIRST_NAME, self.first_names),
            (SPEECH_VERB, self.speech_verbs),
            (PREPOSITION, self.prepositions),
            (NAME_SUFFIX, self.name_suffixes),
            (INSTITUTION_WORD, self.institution_words),
            (PLACE_WORD, self.place_words),
            (LOCAL_WORD, self.local_words),
        ] {
            for word in words {
                *lists.entry(word).or_default() |= list;
            }
        }
        lists
    }
}

impl PlaceReader {
    /// What the word before a name (`word`, as written) says (`reading.Reader._before`).
    #[inline]
    pub(crate) fn before(&self, word: &[char], probe: &Bound<'_, PyAny>) -> PyResult<Before> {
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

    /// What the word after a name (`word`, as written) says (`reading.Reader._after`).
    #[inline]
    pub(crate) fn after(&self, word: &[char], probe: &Bound<'_, PyAny>) -> PyResult<After> {
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
