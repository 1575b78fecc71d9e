//! The names of one article as the resolver ranks them (`newswatch.processor.sensegroups`): a
//! [`Group`] gathers the mentions of one name and their distinct options (one sense per article),
//! and [`PlaceResolver::prune`] keeps of each name the options that the evidence may accept.

use std::borrow::Cow;

use crate::fxhash::FxHashSet;

use pyo3::prelude::*;

use crate::keyfacts::Opt;
use crate::resolve::{bonus_of, Cand, PlaceResolver};

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

impl Cand<'_> {
    /// A common word with no evidence for any reading.
    fn unsupported(&self) -> bool {
        self.common
            && !self.place_word
            && self.pair_bonus.is_empty()
            && !(self.prep && !self.initial && !self.loose)
    }
}

/// The group of a name first met as candidate `c` (group number `key`).
#[inline]
pub(crate) fn group_of<'a>(cand: &Cand<'a>, c: usize, key: usize) -> PyResult<Group<'a>> {
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

/// Candidate `c` joins the group of its name: its options, subdivisions and pair bonuses merged in.
#[inline]
pub(crate) fn join(group: &mut Group<'_>, cands: &[Cand<'_>], c: usize) -> PyResult<()> {
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

impl PlaceResolver {
    /// The viable options of each live name with several (`resolve._prune`).
    #[inline]
    pub(crate) fn prune(&self, groups: &mut [Group<'_>], live: &[usize], cands: &[Cand<'_>]) {
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
}
