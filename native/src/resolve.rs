//! Toponym disambiguation for `newswatch.processor.resolve` (rules 3 and 4 of its docstring): pairs
//! ([`crate::sensepairs`]), one sense per name ([`crate::sensegroups`]), the rounds of choices;
//! scores and evidence are in [`crate::scoring`], the options of a key in [`crate::keyfacts`]. The
//! reader ([`crate::reading`]) hands over the candidates (rules 1 and 2); this is the Python
//! `Resolver.resolve` step for step, with the places and thresholds given by Python once
//! (`PlaceResolver::new`). Nothing here touches Python objects: it runs without the GIL.
//!
//! Country and first-level subdivision codes are numbers here: Python numbers the country codes in
//! their sort order ("" first, as 0) and the subdivision codes in any order ("" as 0).

use crate::fxhash::FxHashMap as HashMap;
use crate::scoring::{add, Context, Support};

use pyo3::prelude::*;

pub(crate) use crate::keyfacts::Opt;
pub use crate::keyfacts::PlaceReadings;
pub(crate) use crate::sensegroups::Group;
use crate::sensegroups::{group_of, join};
use crate::value_error;

pub(crate) const TOWN: u8 = 1;
pub(crate) const ADMIN1: u8 = 2;
pub(crate) const COUNTRY: u8 = 4;

/// The numbers the rules compare with (the Python module constants).
#[derive(FromPyObject)]
pub(crate) struct Limits {
    pub(crate) admin1_bonus: f64,
    pub(crate) admin1_possible_bonus: f64,
    pub(crate) neighbour_bonus: f64,
    pub(crate) pair_bonus: f64,
    pub(crate) local_penalty: f64,
    pub(crate) alt_local_penalty: f64,
    pub(crate) home_bonus: f64,
    pub(crate) home_min_names: i64,
    pub(crate) home_margin: i64,
    pub(crate) rounds: usize,
    pub(crate) country_bonuses: Vec<f64>,
    pub(crate) small_population: i64,
    pub(crate) alt_min_population: i64,
    pub(crate) alt_anywhere_population: i64,
    pub(crate) weak_always: u8,
    pub(crate) weak_place_word: u8,
    pub(crate) possible_max_readings: usize,
    pub(crate) how_alt: u8,
}

/// Places, neighbours and thresholds; immutable, safe to share between threads.
#[pyclass(frozen, module = "newswatch_native")]
pub struct PlaceResolver {
    pub(crate) kind: Vec<u8>,
    pub(crate) admin1: Vec<u32>,
    pub(crate) country: Vec<u32>,
    pub(crate) population: Vec<i64>,
    pub(crate) neighbours: HashMap<u32, Vec<u32>>,
    pub(crate) limits: Limits,
}

/// A candidate mention (`reading.Candidate`), all its facts known (no Python object: the rules run
/// without the GIL).
pub(crate) struct Cand<'a> {
    pub(crate) field: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) key: &'a str,
    pub(crate) readings: &'a PlaceReadings,
    pub(crate) prep: bool,
    pub(crate) place_word: bool,
    pub(crate) common: bool,
    pub(crate) quiet: bool,
    pub(crate) local: bool,
    /// It starts a sentence or a line; capitalisation says nothing on its line.
    pub(crate) initial: bool,
    pub(crate) loose: bool,
    pub(crate) pair_bonus: Vec<(u32, f64)>,
}

#[inline]
pub(crate) fn bonus_of(pairs: &[(u32, f64)], index: u32) -> Option<f64> {
    pairs.iter().find(|p| p.0 == index).map(|p| p.1)
}

impl Cand<'_> {
    #[inline]
    pub(crate) fn options(&self) -> &[Opt] {
        &self.readings.opts
    }
}

/// A resolved candidate: its position, the entry and how; for "X City" read as the town X, the
/// position of the first mention of X (else -1).
pub(crate) type Row = (usize, u32, u8, i64);

#[pymethods]
impl PlaceResolver {
    /// `entries[i]`: `(kind flags, subdivision number, country number, population)` (flags: 1 a
    /// town, 2 a first-level subdivision, 4 a country); `neighbours`: country number -> numbers.
    /// `limits`: an object with the thresholds as attributes (see `Limits`).
    #[new]
    fn new(
        entries: Vec<(u8, u32, u32, i64)>,
        neighbours: HashMap<u32, Vec<u32>>,
        limits: Limits,
    ) -> PyResult<Self> {
        if limits.country_bonuses.is_empty() {
            return Err(value_error("country_bonuses must not be empty".into()));
        }
        let mut out = PlaceResolver {
            kind: Vec::with_capacity(entries.len()),
            admin1: Vec::with_capacity(entries.len()),
            country: Vec::with_capacity(entries.len()),
            population: Vec::with_capacity(entries.len()),
            neighbours,
            limits,
        };
        for (kind, admin1, country, population) in entries {
            out.kind.push(kind);
            out.admin1.push(admin1);
            out.country.push(country);
            out.population.push(population);
        }
        Ok(out)
    }
}

impl PlaceResolver {
    /// The accepted candidates of one article in order as `(position, entry index, how, base)`:
    /// `base` is the position of the first candidate of X for an "X City" read as the town X, else -1.
    pub(crate) fn decide(
        &self,
        texts: &[Vec<char>],
        mut cands: Vec<Cand<'_>>,
    ) -> PyResult<Vec<Row>> {
        let entries = self.kind.len();
        if cands
            .iter()
            .any(|c| c.options().iter().any(|o| o.index as usize >= entries))
        {
            return Err(value_error("an option names no entry".into()));
        }
        if cands.iter().any(|c| c.field >= texts.len()) {
            return Err(value_error("a candidate of no field".into()));
        }
        self.pairs(texts, &mut cands);
        let mut groups: Vec<Group<'_>> = Vec::with_capacity(cands.len());
        let mut by_key: HashMap<&str, usize> =
            HashMap::with_capacity_and_hasher(cands.len(), Default::default());
        let mut group_of_cand = Vec::with_capacity(cands.len());
        for c in 0..cands.len() {
            let g = match by_key.get(cands[c].key) {
                Some(&g) => {
                    join(&mut groups[g], &cands, c)?;
                    g
                }
                None => {
                    let g = groups.len();
                    groups.push(group_of(&cands[c], c, g)?);
                    by_key.insert(cands[c].key, g);
                    g
                }
            };
            group_of_cand.push(g);
        }
        let limits = &self.limits;
        let codes: usize = groups.iter().map(|g| g.admin1s.len()).sum();
        let mut possible = Support::with_capacity_and_hasher(codes, Default::default());
        for (g, group) in groups.iter().enumerate() {
            if group.admin1s.len() <= limits.possible_max_readings {
                for &code in group.admin1s.iter() {
                    add(possible.entry(code).or_default(), g);
                }
            }
        }
        let live: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].live).collect();
        self.prune(&mut groups, &live, &cands);
        let mut ctx = Context::new(Support::default(), Support::default(), &possible);
        let mut pending = live.clone();
        let mut changed = false;
        for round in 0..=limits.rounds {
            if round > 0 {
                ctx = self.context(&groups, &live, &possible);
            }
            changed = false;
            for &g in &pending {
                let picked = self.choose(&mut groups[g], &cands, &mut ctx, round > 0);
                changed = changed || picked != groups[g].picked;
                groups[g].picked = picked;
            }
            pending.retain(|&g| !groups[g].settled);
        }
        if changed {
            ctx = self.context(&groups, &live, &possible);
        }
        let mut out = Vec::with_capacity(cands.len());
        for (c, cand) in cands.iter().enumerate() {
            let group = &groups[group_of_cand[c]];
            let Some(picked) = group.picked else {
                continue;
            };
            if cand.quiet {
                continue;
            }
            let first = &cands[group.first].readings;
            if (!std::ptr::eq(cand.readings, *first) || group.merged)
                && !cand.options().iter().any(|o| (o.index, o.how) == picked)
            {
                continue;
            }
            let town = self.kind[picked.0 as usize] & TOWN != 0;
            if (!town && !cand.common) || self.accepted(cand, group.key, picked, &mut ctx, true) {
                let base = if cand.key.ends_with(" City") {
                    self.town_of_city(cand, picked, &groups, &by_key, texts)
                } else {
                    None
                };
                out.push(match base {
                    Some((g, (index, how))) => (c, index, how, groups[g].first as i64),
                    None => (c, picked.0, picked.1, -1),
                });
            }
        }
        Ok(out)
    }

    /// "X City" read as a subdivision where the article reads X as a town: the group of X and
    /// its pick (`resolve._town_of_city`).
    fn town_of_city(
        &self,
        cand: &Cand<'_>,
        picked: (u32, u8),
        groups: &[Group<'_>],
        by_key: &HashMap<&str, usize>,
        texts: &[Vec<char>],
    ) -> Option<(usize, (u32, u8))> {
        let base = cand.key.strip_suffix(" City")?;
        let &g = by_key.get(base)?;
        let base_pick = groups[g].picked?;
        let (town, entry) = (base_pick.0 as usize, picked.0 as usize);
        if self.kind[town] & TOWN == 0
            || (self.kind[entry] & TOWN != 0 && self.admin1[entry] == self.admin1[town])
        {
            return None;
        }
        let end = cand.end.checked_sub(5)?;
        let gap = texts[cand.field].get(end)?;
        if end <= cand.start || !matches!(gap, ' ' | '-' | '\t' | '\u{a0}') {
            return None;
        }
        Some((g, base_pick))
    }
}
