//! Whole-word keys over projections: the *folded* patterns (case-insensitive keys and lossy
//! case-sensitive ones) and the *cased* patterns (lossless case-sensitive keys in their letter case),
//! the per-pattern checks, and the leftmost-longest selection per letter-case class.

use crate::scan::{automaton, Scanner};
use crate::view::View;

/// One key behind a folded pattern: `exact` (the folded key of a lossy pattern, compared with the
/// folded text), `gaps` (separator check), `cased` (compared with the case-kept text when sensitive).
pub struct Key {
    pub exact: Option<String>,
    pub gaps: bool,
    pub sensitive: bool,
    pub cased: String,
    pub group: u32,
}

/// What a folded-automaton hit of one pattern needs: nothing (every key accepts it: one group) or
/// the checks of its keys.
pub enum Pattern {
    Direct(u32),
    Checked(Vec<Key>),
}

/// One selected occurrence: `data[s..e]`, the payload group, the letter-case class. Several hits of
/// one span stand next to each other (their payloads are merged, in order).
#[derive(Clone, Copy)]
pub struct Hit {
    pub s: i64,
    pub e: i64,
    pub group: u32,
    pub sensitive: bool,
}

/// The keys and what each pattern needs. One automaton holds the folded patterns followed by the
/// cased patterns in lower case: a cased pattern occurs in the case-kept projection exactly where its
/// lower case occurs in the lower-cased case-kept projection and the bytes there are its own. Where
/// that lower-cased projection is `data` itself (always for raw sources), one scan serves both.
pub struct KeyIndex {
    pub scanner: Option<Scanner>,
    pub patterns: Vec<Pattern>,
    /// The cased patterns in their letter case.
    pub cased: Vec<Vec<u8>>,
    /// Per cased pattern: (gaps must be separators, payload group).
    pub cased_keys: Vec<(bool, u32)>,
}

/// Raw overlapping hits of both automata (no Python needed): (pattern, start, end) each.
pub struct RawHits {
    pub folded: Vec<(u32, i64, i64)>,
    pub cased: Vec<(u32, i64, i64)>,
}

impl KeyIndex {
    pub fn new(
        folded: Vec<Vec<u8>>,
        patterns: Vec<Pattern>,
        cased: Vec<Vec<u8>>,
        cased_keys: Vec<(bool, u32)>,
    ) -> Result<Self, String> {
        let mut all = folded;
        all.extend(cased.iter().map(|p| p.to_ascii_lowercase()));
        Ok(KeyIndex {
            scanner: automaton(&all)?,
            patterns,
            cased,
            cased_keys,
        })
    }

    /// Whether the engine needs case-kept projections.
    pub fn has_cased(&self) -> bool {
        !self.cased.is_empty()
    }

    pub fn scan(&self, view: &View<'_>) -> RawHits {
        let mut hits = RawHits {
            folded: Vec::new(),
            cased: Vec::new(),
        };
        let Some(ac) = &self.scanner else { return hits };
        let n = self.patterns.len() as u32;
        let separate = view.cased.as_deref(); // its lower case differs from `data`: scan it too
        ac.overlapping(&view.data, |pid, s, e| {
            if pid < n {
                hits.folded.push((pid, s as i64, e as i64));
            } else if separate.is_none() && view.cased_at(s, &self.cased[(pid - n) as usize]) {
                hits.cased.push((pid - n, s as i64, e as i64));
            }
        });
        if let Some(kept) = separate {
            ac.overlapping(&kept.to_ascii_lowercase(), |pid, s, e| {
                if pid >= n && view.cased_at(s, &self.cased[(pid - n) as usize]) {
                    hits.cased.push((pid - n, s as i64, e as i64));
                }
            });
        }
        hits
    }

    /// Selected hits (case-insensitive class first, then case-sensitive), each class leftmost-longest.
    /// `check(key, d_start, d_end)` answers the exact / case checks of lossy keys (Python-side fold).
    pub fn select<E>(
        &self,
        view: &View<'_>,
        raw: &RawHits,
        mut check: impl FnMut(&Key, i64, i64) -> Result<bool, E>,
    ) -> Result<Vec<Hit>, E> {
        let mut insensitive = Vec::with_capacity(raw.folded.len());
        let mut sensitive = Vec::new();
        for &(pid, s, e) in &raw.folded {
            let (s, e) = (s + 1, e - 1);
            match &self.patterns[pid as usize] {
                Pattern::Direct(group) => insensitive.push(Hit {
                    s,
                    e,
                    group: *group,
                    sensitive: false,
                }),
                Pattern::Checked(keys) => {
                    for key in keys {
                        if key.gaps && !view.separated(s, e) {
                            continue;
                        }
                        if (key.exact.is_some() || key.sensitive) && !check(key, s, e)? {
                            continue;
                        }
                        let hit = Hit {
                            s,
                            e,
                            group: key.group,
                            sensitive: key.sensitive,
                        };
                        if key.sensitive {
                            sensitive.push(hit)
                        } else {
                            insensitive.push(hit)
                        }
                    }
                }
            }
        }
        for &(pid, s, e) in &raw.cased {
            let (gaps, group) = self.cased_keys[pid as usize];
            if gaps && !view.separated(s + 1, e - 1) {
                continue;
            }
            sensitive.push(Hit {
                s: s + 1,
                e: e - 1,
                group,
                sensitive: true,
            });
        }
        let mut out = leftmost_longest(insensitive);
        out.extend(leftmost_longest(sensitive));
        Ok(out)
    }
}

/// Greedy leftmost-longest selection; hits of one span found several times are all kept (merged).
fn leftmost_longest(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by_key(|h| (h.s, -h.e)); // stable: merged payloads keep their order
    let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        match kept.last() {
            Some(last) if last.s == hit.s && last.e == hit.e => kept.push(hit),
            Some(last) if hit.s < last.e => {}
            _ => kept.push(hit),
        }
    }
    kept
}
