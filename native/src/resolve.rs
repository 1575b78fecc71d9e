//! Toponym disambiguation for `newswatch.processor.resolve` (rules 3 and 4 of its docstring): pairs,
//! one sense per name, the rounds of choices; scores and evidence are in [`crate::scoring`]. The
//! reader ([`crate::reading`]) hands over the candidates (rules 1 and 2); this is the Python
//! `Resolver.resolve` step for step, with the places and thresholds given by Python once
//! (`PlaceResolver::new`). Nothing here touches Python objects: it runs without the GIL.
//!
//! Country and first-level subdivision codes are numbers here: Python numbers the country codes in
//! their sort order ("" first, as 0) and the subdivision codes in any order ("" as 0).

use std::borrow::Cow;

use crate::fxhash::{FxHashMap as HashMap, FxHashSet};
use crate::scoring::{add, Context, Support};

use pyo3::prelude::*;

use crate::value_error;

pub(crate) const TOWN: u8 = 1;
pub(crate) const ADMIN1: u8 = 2;
pub(crate) const COUNTRY: u8 = 4;

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
    opts: Vec<Opt>,
    admin1s: Vec<u32>,
    country: bool,
    pub(crate) big: bool,
    pub(crate) capital: bool,
}

impl PlaceReadings {
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

pub(crate) fn bonus_of(pairs: &[(u32, f64)], index: u32) -> Option<f64> {
    pairs.iter().find(|p| p.0 == index).map(|p| p.1)
}

impl Cand<'_> {
    pub(crate) fn options(&self) -> &[Opt] {
        &self.readings.opts
    }

    /// A common word with no evidence for any reading.
    fn unsupported(&self) -> bool {
        self.common
            && !self.place_word
            && self.pair_bonus.is_empty()
            && !(self.prep && !self.initial && !self.loose)
    }
}

/// The mentions of one name (one sense per article).
pub(crate) struct Group<'a> {
    pub(crate) key: usize,
    pub(crate) cands: Vec<usize>,
    pub(crate) first: usize,
    pub(crate) options: Cow<'a, [Opt]>,
    pub(crate) admin1s: Cow<'a, [u32]>,
    pub(crate) country: bool,
    pub(crate) pairs: Vec<(u32, f64)>,
    pub(crate) local: bool,
    pub(crate) live: bool,
    pub(crate) merged: bool,
    pub(crate) picked: Option<(u32, u8)>,
    pub(crate) settled: bool,
    pub(crate) viable: Vec<(usize, Opt)>,
}

impl PlaceResolver {
    fn pair(&self, cands: &mut [Cand<'_>], inner: usize, outer: usize) {
        let bonus = self.limits.pair_bonus;
        let (mut to_inner, mut to_outer) = (Vec::new(), Vec::new());
        for li in cands[inner].options() {
            let x = li.index as usize;
            for ri in cands[outer].options() {
                let y = ri.index as usize;
                if x == y || self.country[x] == 0 {
                    continue;
                }
                if (self.kind[y] & ADMIN1 != 0
                    && self.admin1[x] == self.admin1[y]
                    && self.kind[x] & ADMIN1 == 0)
                    || (self.kind[y] & COUNTRY != 0
                        && self.country[x] == self.country[y]
                        && self.kind[x] & COUNTRY == 0)
                {
                    to_inner.push(li.index);
                    to_outer.push(ri.index);
                }
            }
        }
        for (at, found) in [(inner, to_inner), (outer, to_outer)] {
            for index in found {
                let pairs = &mut cands[at].pair_bonus;
                match pairs.iter_mut().find(|p| p.0 == index) {
                    Some(p) => p.1 = bonus,
                    None => pairs.push((index, bonus)),
                }
            }
        }
    }

    /// "X, Y" where Y contains X, and "Y's X": both sides get the pair bonus on agreeing options.
    fn pairs(&self, texts: &[Vec<char>], cands: &mut [Cand<'_>]) {
        for n in 1..cands.len() {
            let (left, right) = (&cands[n - 1], &cands[n]);
            if left.field != right.field {
                continue;
            }
            let text = &texts[left.field];
            let (lo, hi) = (left.end.min(text.len()), right.start.min(text.len()));
            let gap = if lo <= hi { &text[lo..hi] } else { &[][..] };
            let blank = |c: &char| *c == ' ' || *c == '\t';
            match gap.first() {
                Some('\'' | '’')
                    if gap.len() >= 3 && gap[1] == 's' && gap[2..].iter().all(blank) =>
                {
                    self.pair(cands, n, n - 1);
                }
                Some(' ' | '\t' | ',') => {
                    // blanks, a comma, blanks (read no further than the first other character)
                    let at = gap.iter().take_while(|c| blank(c)).count();
                    if gap.get(at) == Some(&',') && gap[at + 1..].iter().all(blank) {
                        self.pair(cands, n - 1, n);
                    }
                }
                _ => {}
            }
        }
    }
}

fn group_of<'a>(cand: &Cand<'a>, c: usize, key: usize) -> PyResult<Group<'a>> {
    let readings = cand.readings;
    Ok(Group {
        key,
        cands: vec![c],
        first: c,
        options: Cow::Borrowed(&readings.opts),
        admin1s: Cow::Borrowed(&readings.admin1s),
        country: readings.country,
        pairs: cand.pair_bonus.clone(),
        local: cand.local,
        live: !cand.unsupported(),
        merged: false,
        picked: None,
        settled: false,
        viable: Vec::new(),
    })
}

fn join(group: &mut Group<'_>, cands: &[Cand<'_>], c: usize) -> PyResult<()> {
    let cand = &cands[c];
    group.cands.push(c);
    let first = &cands[group.first].readings;
    if !std::ptr::eq(cand.readings, *first)
        && (group.merged || cand.options() != &group.options[..])
    {
        for o in cand.options() {
            if !group
                .options
                .iter()
                .any(|g| g.index == o.index && g.how == o.how)
            {
                group.options.to_mut().push(*o);
            }
        }
        for code in &cand.readings.admin1s {
            if !group.admin1s.contains(code) {
                group.admin1s.to_mut().push(*code);
            }
        }
        group.country = group.country || cand.readings.country;
        group.merged = true;
    }
    for &(index, bonus) in &cand.pair_bonus {
        match group.pairs.iter_mut().find(|p| p.0 == index) {
            Some(p) if bonus > p.1 => p.1 = bonus,
            Some(_) => {}
            None if bonus > 0.0 => group.pairs.push((index, bonus)),
            None => {}
        }
    }
    group.local = group.local || cand.local;
    group.live = group.live || !cand.unsupported();
    Ok(())
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
}

impl PlaceResolver {
    /// The viable options of each live name with several (`resolve._prune`).
    fn prune(&self, groups: &mut [Group<'_>], live: &[usize], cands: &[Cand<'_>]) {
        let codes: usize = groups.iter().map(|g| g.admin1s.len()).sum();
        let mut seen = FxHashSet::with_capacity_and_hasher(codes, Default::default());
        let mut shared = FxHashSet::default();
        for group in groups.iter() {
            for &code in group.admin1s.iter() {
                if !seen.insert(code) {
                    shared.insert(code);
                }
            }
        }
        for &g in live {
            let group = &mut groups[g];
            if group.options.len() == 1 {
                continue;
            }
            let limit = if group.cands.iter().any(|&c| cands[c].place_word) {
                self.limits.weak_always
            } else {
                self.limits.weak_place_word
            };
            group.viable = group
                .options
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, o)| {
                    o.weak < limit
                        || shared.contains(&self.admin1[o.index as usize])
                        || bonus_of(&group.pairs, o.index).is_some_and(|b| b > 0.0)
                })
                .collect();
        }
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
