//! The reading of one mention (`reading.Reader.read`, one iteration; rules 1 and 2 of
//! `newswatch.processor.resolve`): from the words around it ([`crate::wordcues`]), the text's cues
//! ([`crate::textcues`]) and its key's facts ([`crate::keyfacts`]), whether a mention is a person's
//! name, part of another name or a candidate place ([`Cand`], with all the facts the resolver asks
//! later). What only Python can read is asked of the probe.

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::field::Field;
use crate::keyfacts::PlaceFacts;
use crate::reading::{PlaceReader, WINDOW};
use crate::resolve::Cand;
use crate::textcues::{blank, TextRules};
use crate::wordcues::{NO_WORD_AFTER, NO_WORD_BEFORE, UNKNOWN_WORD_BEFORE};

/// Asks the probe a yes-or-no question.
fn ask<'py>(
    probe: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<bool> {
    probe.call_method1(name, args)?.extract()
}

/// What the reading cues make of one mention.
pub(crate) enum Reading<'a> {
    /// A person's name (big: a country, state ... name, which stays a place elsewhere).
    Person(bool),
    Dropped,
    Kept(Cand<'a>, bool),
}

impl PlaceReader {
    /// The reading of one mention (`reading.Reader.read`, one iteration).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read<'a>(
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
