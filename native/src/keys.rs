//! Whole-word keys over projections: the *folded* patterns (case-insensitive keys and lossy
//! case-sensitive ones) and the *cased* patterns (lossless case-sensitive keys in their letter case),
//! the per-pattern checks, and the leftmost-longest selection per letter-case class.

use crate::names::Names;
use crate::scan::{automaton, Scanner};
use crate::swar::{high_bytes, in_range, load, space_bytes};
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
///
/// When the patterns are many (above `anchored_above` bytes: the whole gazetteer), most names,
/// which can only start at a minority of the word starts, are left out of that scan (which costs per
/// byte of text, and more the larger the automaton) and looked up ([`Names`], one table) from those
/// word starts only (with few patterns the extra passes would cost more than they save):
/// - cased patterns whose first letter is an ASCII capital, in lower case, from word starts with an
///   ASCII capital, and kept where the case-kept projection holds them in their letter case;
/// - folded patterns whose first byte is a bucket byte (non-ASCII word characters), from word
///   starts with a bucket byte;
/// - folded patterns starting with an ASCII letter whose keys are all case-sensitive and start with
///   an ASCII capital, from word starts where the case-kept projection is not a lower-case letter
///   (the capital a hit's case check needs, or a character it cannot tell).
///
/// All of them are looked up over `data`, one lookup per word start, where `data` is the case-kept
/// projection in lower case; elsewhere the cased ones are looked up over that lower case apart.
pub struct KeyIndex {
    pub scanner: Option<Scanner>,
    pub patterns: Vec<Pattern>,
    /// The cased patterns in their letter case.
    pub cased: Vec<Vec<u8>>,
    /// Per cased pattern: (gaps must be separators, payload group).
    pub cased_keys: Vec<(bool, u32)>,
    /// The folded then cased pattern of each pattern id of `scanner` (the context patterns follow).
    scanned_folded: Vec<u32>,
    scanned_cased: Vec<u32>,
    /// The patterns found from their word starts, in one table: the folded pattern of each id below
    /// `named.len()`, then the cased pattern (in lower case there) of each id above.
    names: Option<Names>,
    named: Vec<u32>,
    capitalised: Vec<u32>,
    /// Whether some named pattern starts with an ASCII letter (its starts need the case-kept text).
    named_cased: bool,
}

/// Raw overlapping hits of both automata (no Python needed): (pattern, start, end) each; and the
/// occurrences of the context patterns in `data`, in order of their ends.
pub struct RawHits {
    pub folded: Vec<(u32, i64, i64)>,
    pub cased: Vec<(u32, i64, i64)>,
    pub context: Vec<(u32, i64, i64)>,
}

/// Whether folded pattern `bytes` with `pattern`'s keys is looked up from word starts (see [`KeyIndex`]).
fn anchored_folded(bytes: &[u8], pattern: &Pattern) -> bool {
    let Some(&first) = bytes.get(1) else {
        return false;
    };
    if first >= 0x80 {
        return true;
    }
    first.is_ascii_lowercase()
        && match pattern {
            Pattern::Direct(_) => false,
            Pattern::Checked(keys) => keys.iter().all(|k| {
                k.sensitive
                    && k.cased
                        .as_bytes()
                        .first()
                        .is_some_and(u8::is_ascii_uppercase)
            }),
        }
}

/// The word starts (the index of the space before a word) where a name may start, in one pass:
/// - of [`KeyIndex`]'s folded names, over `data`: a bucket byte, or an ASCII letter that is not lower
///   case in the case-kept projection `kept` (when there is one);
/// - of its capitalised names, over `kept`: an ASCII capital (none without `kept`).
///
/// Eight bytes at a time, without branches per byte: each test is a mask of the bytes it holds for.
fn name_starts(
    data: &[u8],
    kept: Option<&[u8]>,
    names: &mut Vec<usize>,
    capitals: &mut Vec<usize>,
) {
    let n = kept.map_or(data.len(), |k| k.len().min(data.len()));
    let last = n.saturating_sub(1); // a start is followed by a byte
    let mut base = 0;
    while base < last {
        let here = space_bytes(load(data, base).0);
        let next = load(data, base + 1).0;
        let mut name = here & (high_bytes(next) | in_range(next, b'a', b'z'));
        let mut capital = 0;
        if let Some(kept) = kept {
            let next_kept = load(kept, base + 1).0;
            name &= high_bytes(next) | !in_range(next_kept, b'a', b'z');
            capital = space_bytes(load(kept, base).0) & in_range(next_kept, b'A', b'Z');
        }
        push_bytes(name, base, last, names);
        push_bytes(capital, base, last, capitals);
        base += 8;
    }
}

/// `base` plus the index of each byte marked in `mask` (0x80 per byte), up to `last`, pushed in order.
#[inline]
fn push_bytes(mut mask: u64, base: usize, last: usize, out: &mut Vec<usize>) {
    while mask != 0 {
        let s = base + (mask.trailing_zeros() / 8) as usize;
        if s >= last {
            return;
        }
        out.push(s);
        mask &= mask - 1;
    }
}

impl KeyIndex {
    /// `context`: the context patterns, found by the same scan ([`RawHits::context`]).
    pub fn new(
        folded: Vec<Vec<u8>>,
        patterns: Vec<Pattern>,
        cased: Vec<Vec<u8>>,
        cased_keys: Vec<(bool, u32)>,
        context: &[Vec<u8>],
        anchored_above: usize,
    ) -> Result<Self, String> {
        let total: usize = folded.iter().chain(&cased).map(Vec::len).sum();
        let split = total > anchored_above;
        let (mut scanned_cased, mut capitalised) = (Vec::new(), Vec::new());
        for (i, pattern) in cased.iter().enumerate() {
            if split && pattern.get(1).is_some_and(u8::is_ascii_uppercase) {
                capitalised.push(i as u32);
            } else {
                scanned_cased.push(i as u32);
            }
        }
        let (mut scanned_folded, mut named) = (Vec::new(), Vec::new());
        for (i, (bytes, pattern)) in folded.iter().zip(&patterns).enumerate() {
            if split && anchored_folded(bytes, pattern) {
                named.push(i as u32);
            } else {
                scanned_folded.push(i as u32);
            }
        }
        let pick = |ids: &[u32], from: &[Vec<u8>]| -> Vec<Vec<u8>> {
            ids.iter().map(|&i| from[i as usize].clone()).collect()
        };
        let mut all = pick(&scanned_folded, &folded);
        all.extend(
            scanned_cased
                .iter()
                .map(|&i| cased[i as usize].to_ascii_lowercase()),
        );
        all.extend_from_slice(context);
        let scanner = automaton(&all)?;
        drop(all);
        let mut looked_up = pick(&named, &folded);
        looked_up.extend(
            capitalised
                .iter()
                .map(|&i| cased[i as usize].to_ascii_lowercase()),
        );
        let names = if looked_up.is_empty() {
            None
        } else {
            Some(Names::new(&looked_up)?)
        };
        drop(looked_up);
        let named_cased = named.iter().any(|&i| folded[i as usize][1] < 0x80);
        Ok(KeyIndex {
            scanner,
            patterns,
            cased,
            cased_keys,
            scanned_folded,
            scanned_cased,
            names,
            named,
            capitalised,
            named_cased,
        })
    }

    /// Whether the engine needs case-kept projections.
    pub fn has_cased(&self) -> bool {
        !self.cased.is_empty() || self.named_cased
    }

    /// Every raw hit of `view` (each list in no particular order: selection sorts them).
    pub fn scan(&self, view: &View<'_>) -> RawHits {
        // Sized for a typical article: few reallocations.
        let expected = view.data.len() / 32;
        let mut hits = RawHits {
            folded: Vec::with_capacity(expected),
            cased: Vec::with_capacity(expected),
            context: Vec::new(),
        };
        let n = self.scanned_folded.len() as u32;
        let keys = n + self.scanned_cased.len() as u32;
        let separate = view.cased.as_deref(); // its lower case differs from `data`: scan it too
                                              // That lower case, made once for the scan and the name lookups that read it.
        let separate_lower = separate
            .filter(|_| !self.scanned_cased.is_empty() || !self.capitalised.is_empty())
            .map(<[u8]>::to_ascii_lowercase);
        if let Some(ac) = &self.scanner {
            ac.overlapping(&view.data, |pid, s, e| {
                if pid < n {
                    let f = self.scanned_folded[pid as usize];
                    hits.folded.push((f, s as i64, e as i64));
                } else if pid >= keys {
                    hits.context.push((pid - keys, s as i64, e as i64));
                } else if separate.is_none() {
                    let c = self.scanned_cased[(pid - n) as usize];
                    if view.cased_at(s, &self.cased[c as usize]) {
                        hits.cased.push((c, s as i64, e as i64));
                    }
                }
            });
            if let Some(lower) = separate_lower
                .as_deref()
                .filter(|_| !self.scanned_cased.is_empty())
            {
                ac.overlapping(lower, |pid, s, e| {
                    if pid >= n && pid < keys {
                        let c = self.scanned_cased[(pid - n) as usize];
                        if view.cased_at(s, &self.cased[c as usize]) {
                            hits.cased.push((c, s as i64, e as i64));
                        }
                    }
                });
            }
        }
        let Some(table) = &self.names else {
            return hits;
        };
        let kept = view.case_kept();
        let (mut starts, mut capitals) =
            (Vec::with_capacity(expected), Vec::with_capacity(expected));
        name_starts(&view.data, kept.as_deref(), &mut starts, &mut capitals);
        let folded = self.named.len() as u32;
        // A capitalised pattern holds where the case-kept projection has its bytes (its lower case
        // is in the table).
        let cased_hit = |pid: u32, s: usize, e: usize| -> Option<(u32, i64, i64)> {
            let c = self.capitalised[(pid - folded) as usize];
            let kept = kept.as_deref()?;
            (kept.get(s..e) == Some(&self.cased[c as usize][..])).then_some((c, s as i64, e as i64))
        };
        if separate.is_none() {
            // `data` is the case-kept projection in lower case: one lookup per start serves both
            // kinds (the capitals' starts are among the others).
            table.find(&view.data, starts.into_iter(), |pid, s, e| {
                if pid < folded {
                    hits.folded
                        .push((self.named[pid as usize], s as i64, e as i64));
                } else if let Some(hit) = cased_hit(pid, s, e) {
                    hits.cased.push(hit);
                }
            });
            return hits;
        }
        table.find(&view.data, starts.into_iter(), |pid, s, e| {
            if pid < folded {
                hits.folded
                    .push((self.named[pid as usize], s as i64, e as i64));
            }
        });
        if let Some(lower) = separate_lower
            .as_deref()
            .filter(|_| !self.capitalised.is_empty())
        {
            table.find(lower, capitals.into_iter(), |pid, s, e| {
                if pid >= folded {
                    hits.cased.extend(cased_hit(pid, s, e));
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
