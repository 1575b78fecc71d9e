//! Scores and evidence for `newswatch.processor.resolve` (rules 3 and 4 of its docstring): the
//! article's context (`resolve._Context`), the ranking of a name's options, and whether the evidence
//! accepts an option for a mention; the Python `Resolver` methods of the same names, step for step.

use crate::fxhash::FxHashMap as HashMap;

use crate::resolve::{bonus_of, Cand, Group, Limits, Opt, PlaceResolver, ADMIN1, TOWN};

/// Sets of names (group numbers) by code.
pub(crate) type Support = HashMap<u32, Vec<usize>>;

/// Whether `keys` holds a name other than `key`.
fn other(keys: Option<&Vec<usize>>, key: usize) -> bool {
    keys.is_some_and(|k| k.len() > 1 || (k.len() == 1 && k[0] != key))
}

/// The places chosen so far (`resolve._Context`).
pub(crate) struct Context<'a> {
    admin1s: Support,
    countries: Support,
    possible: &'a Support,
    near: HashMap<u32, Vec<usize>>,
    leaders: Option<Vec<(usize, u32)>>,
    country_keys: Option<Vec<usize>>,
}

/// A ranked option: (-score, entry index, position, how).
type Ranked = (f64, u32, usize, u8);

/// Python's tuple order (-0.0 equals 0.0; scores are never NaN).
fn ranked_cmp(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.1.cmp(&b.1))
        .then(a.2.cmp(&b.2))
        .then(a.3.cmp(&b.3))
}

impl<'a> Context<'a> {
    pub(crate) fn new(admin1s: Support, countries: Support, possible: &'a Support) -> Self {
        Context {
            admin1s,
            countries,
            possible,
            near: HashMap::default(),
            leaders: None,
            country_keys: None,
        }
    }

    fn near(&mut self, cc: u32, neighbours: &HashMap<u32, Vec<u32>>) -> &Vec<usize> {
        let countries = &self.countries;
        self.near.entry(cc).or_insert_with(|| {
            let mut keys: Vec<usize> = Vec::new();
            if let Some(around) = neighbours.get(&cc) {
                for (n, k) in countries {
                    if around.contains(n) {
                        keys.extend(k);
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            keys
        })
    }

    fn home(&mut self, key: usize, limits: &Limits) -> u32 {
        if self.leaders.is_none() {
            let mut leaders: Vec<(usize, u32)> = self
                .countries
                .iter()
                .map(|(cc, k)| (k.len(), *cc))
                .collect();
            leaders.sort_unstable_by(|a, b| b.cmp(a));
            leaders.truncate(3);
            self.leaders = Some(leaders);
        }
        let (mut best, mut first, mut second) = (0u32, 0i64, 0i64);
        for &(support, cc) in self.leaders.as_deref().unwrap_or_default() {
            let support = support as i64 - i64::from(self.countries[&cc].contains(&key));
            if support > first {
                (best, first, second) = (cc, support, first);
            } else if support > second {
                second = support;
            }
        }
        if first >= limits.home_min_names && first >= limits.home_margin * second {
            best
        } else {
            0
        }
    }

    fn other_country(&mut self, key: usize) -> bool {
        let countries = &self.countries;
        let keys = self.country_keys.get_or_insert_with(|| {
            let mut keys: Vec<usize> = countries.values().flatten().copied().collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        });
        other(Some(keys), key)
    }
}

/// Adds `key` to a set kept as a vector.
pub(crate) fn add(keys: &mut Vec<usize>, key: usize) {
    if !keys.contains(&key) {
        keys.push(key);
    }
}

impl PlaceResolver {
    pub(crate) fn accepted(
        &self,
        cand: &Cand<'_>,
        key: usize,
        (index, how): (u32, u8),
        ctx: &mut Context<'_>,
        strict: bool,
    ) -> bool {
        let i = index as usize;
        let paired = bonus_of(&cand.pair_bonus, index).is_some_and(|b| b > 0.0);
        let (admin1, cc, population) = (self.admin1[i], self.country[i], self.population[i]);
        if cand.common {
            let mut supported = cand.place_word || paired;
            if !supported && cand.prep && !cand.initial && !cand.loose {
                supported = (admin1 != 0 && other(ctx.admin1s.get(&admin1), key))
                    || (cc != 0 && other(ctx.countries.get(&cc), key));
            }
            if !supported {
                return false;
            }
        }
        if self.kind[i] & TOWN == 0 || paired {
            return true;
        }
        if admin1 != 0 && other(ctx.admin1s.get(&admin1), key) {
            return true; // its state is in the article
        }
        let in_country = cc != 0 && other(ctx.countries.get(&cc), key);
        let limits = &self.limits;
        if how == limits.how_alt && population < limits.alt_anywhere_population {
            if population < limits.alt_min_population || cand.initial || cand.loose {
                return false;
            }
            return in_country || cand.place_word;
        }
        if population < limits.small_population {
            return cand.place_word && in_country;
        }
        if strict && population < limits.alt_min_population && !in_country {
            return !ctx.other_country(key);
        }
        true
    }

    fn scores(
        &self,
        group: &Group<'_>,
        ctx: &mut Context<'_>,
        options: &[(usize, Opt)],
    ) -> Vec<Ranked> {
        let (key, limits) = (group.key, &self.limits);
        let mut by_country: Vec<(u32, f64)> = Vec::new(); // a few countries: a list beats a map
        let home = if group.country {
            0
        } else {
            ctx.home(key, limits)
        };
        let mut ranked = Vec::with_capacity(options.len());
        for &(n, o) in options {
            let i = o.index as usize;
            let mut score = o.prior;
            let admin1 = self.admin1[i];
            if admin1 != 0 {
                if other(ctx.admin1s.get(&admin1), key) {
                    score += limits.admin1_bonus;
                } else if other(ctx.possible.get(&admin1), key) {
                    score += limits.admin1_possible_bonus;
                }
            }
            let cc = self.country[i];
            if cc != 0 && !ctx.countries.is_empty() {
                let bonus = match by_country.iter().find(|c| c.0 == cc) {
                    Some(&(_, b)) => b,
                    None => {
                        let support = ctx
                            .countries
                            .get(&cc)
                            .map_or(0, |k| k.len() - usize::from(k.contains(&key)));
                        let b = if support > 0 {
                            limits.country_bonuses[support.min(limits.country_bonuses.len() - 1)]
                        } else if other(Some(ctx.near(cc, &self.neighbours)), key) {
                            limits.neighbour_bonus
                        } else {
                            0.0
                        };
                        by_country.push((cc, b));
                        b
                    }
                };
                if bonus != 0.0 {
                    score += bonus;
                }
                if cc == home {
                    score += limits.home_bonus;
                }
            }
            if !group.pairs.is_empty() {
                score += bonus_of(&group.pairs, o.index).unwrap_or(0.0);
            }
            if group.local {
                if o.big {
                    score -= limits.local_penalty;
                } else if o.how == limits.how_alt {
                    score -= limits.alt_local_penalty;
                }
            }
            ranked.push((-score, o.index, n, o.how));
        }
        ranked
    }

    fn rank(&self, group: &Group<'_>, ctx: &mut Context<'_>) -> Vec<Ranked> {
        let mut ranked = self.scores(group, ctx, &group.viable);
        if ranked.is_empty() {
            return ranked;
        }
        ranked.sort_by(ranked_cmp);
        let top = ranked[0].1 as usize;
        if self.kind[top] & ADMIN1 != 0 {
            let limit = -ranked[0].0 - self.limits.pair_bonus / 2.0;
            for n in 1..ranked.len() {
                let city = ranked[n].1 as usize;
                if self.kind[city] & TOWN != 0
                    && self.admin1[city] == self.admin1[top]
                    && self.population[city] >= self.limits.small_population
                    && -ranked[n].0 >= limit
                {
                    let all: Vec<(usize, Opt)> =
                        group.options.iter().copied().enumerate().collect();
                    if group.viable.len() == group.options.len()
                        || self
                            .scores(group, ctx, &all)
                            .iter()
                            .min_by(|a, b| ranked_cmp(a, b))
                            .is_some_and(|least| ranked_cmp(&ranked[0], least).is_le())
                    {
                        let city = ranked.remove(n);
                        ranked.insert(0, city);
                    }
                    break;
                }
            }
        }
        ranked
    }

    pub(crate) fn choose(
        &self,
        group: &mut Group<'_>,
        cands: &[Cand<'_>],
        ctx: &mut Context<'_>,
        strict: bool,
    ) -> Option<(u32, u8)> {
        if group.options.len() == 1 {
            let o = group.options[0];
            for &c in &group.cands {
                let cand = &cands[c];
                if self.accepted(cand, group.key, (o.index, o.how), ctx, strict) {
                    let paired = !cand.pair_bonus.is_empty();
                    group.settled = (self.kind[o.index as usize] & TOWN == 0 || paired)
                        && (!cand.common || cand.place_word || paired);
                    return Some((o.index, o.how));
                }
            }
            return None;
        }
        for (_, index, _, how) in self.rank(group, ctx) {
            for &c in &group.cands {
                if self.accepted(&cands[c], group.key, (index, how), ctx, strict) {
                    return Some((index, how));
                }
            }
        }
        None
    }

    pub(crate) fn context<'a>(
        &self,
        groups: &[Group<'_>],
        live: &[usize],
        possible: &'a Support,
    ) -> Context<'a> {
        let mut admin1s = Support::with_capacity_and_hasher(live.len(), Default::default());
        let mut countries = Support::with_capacity_and_hasher(live.len(), Default::default());
        for &g in live {
            if let Some((index, _)) = groups[g].picked {
                let i = index as usize;
                if self.admin1[i] != 0 {
                    add(admin1s.entry(self.admin1[i]).or_default(), g);
                }
                if self.country[i] != 0 {
                    add(countries.entry(self.country[i]).or_default(), g);
                }
            }
        }
        Context::new(admin1s, countries, possible)
    }
}
