//! The projection of one text: one byte per folded character, runs of separators collapsed, framed by
//! spaces (`newswatch.processor.automaton` defines the byte tables and documents the format).
//!
//! `data[d]` (`1 <= d <= data.len() - 2`) is collapsed character `d - 1`; the `runs_*` arrays map
//! collapsed <-> folded indexes exactly as the Python module documents them.

use crate::swar::{load, space_bytes};

/// The four byte tables of one projection path: projection, separators (space / `x`), strict
/// projection (non-separator punctuation as 0x01) and the case-kept projection.
pub struct Tables {
    pub project: [u8; 256],
    pub separators: [u8; 256],
    pub strict: [u8; 256],
    pub cased: [u8; 256],
    /// 1 for the separator bytes (`separators` 0x20), else 0.
    separator: [u8; 256],
    /// Every separator byte projects to a space (then two separators in a row are two spaces of
    /// the projection: runs are looked for where it has those, eight bytes at a time).
    separators_project_to_space: bool,
}

impl Tables {
    pub fn new(tables: [&[u8]; 4]) -> Result<Self, String> {
        let one = |t: &[u8]| -> Result<[u8; 256], String> {
            t.try_into()
                .map_err(|_| format!("a projection table has {} bytes, not 256", t.len()))
        };
        let separators = one(tables[1])?;
        let project = one(tables[0])?;
        Ok(Tables {
            separators_project_to_space: (0..256)
                .all(|b| separators[b] != 0x20 || project[b] == b' '),
            project,
            separator: separators.map(|s| u8::from(s == 0x20)),
            separators,
            strict: one(tables[2])?,
            cased: one(tables[3])?,
        })
    }
}

/// The first `i` in `from..until` where `data[i]` and `data[i + 1]` are both spaces (`until` if
/// none), eight bytes at a time. Bytes past `data`'s end read as zero.
fn double_space(data: &[u8], from: usize, until: usize) -> usize {
    let mut at = from;
    while at < until {
        let pairs = space_bytes(load(data, at).0) & space_bytes(load(data, at + 1).0);
        if pairs != 0 {
            return (at + (pairs.trailing_zeros() / 8) as usize).min(until);
        }
        at += 8;
    }
    until
}

/// One projected text. `folded`: the source is a folded text (original offsets need the fold map).
pub struct View<'a> {
    pub data: Vec<u8>,
    /// The case-kept projection, built only when its lower case is not `data` (see [`View::cased_at`]).
    pub cased: Option<Vec<u8>>,
    cased_source: Option<&'a [u8]>,
    source: &'a [u8],
    tables: &'a Tables,
    runs_at: Vec<i64>,
    runs_from: Vec<i64>,
    runs_shift: Vec<i64>,
    pub folded: bool,
    pub plain: bool,
    length: i64,
}

impl<'a> View<'a> {
    /// Project `source` (stand-in bytes, one per folded character) in one pass. `cased_source`, when
    /// given, is the case-kept counterpart (same length), projected with the `cased` table;
    /// `lower_is_data`: its lower case is known to project like `source` (else it is compared here).
    pub fn new(
        source: &'a [u8],
        cased_source: Option<&'a [u8]>,
        tables: &'a Tables,
        folded: bool,
        lower_is_data: bool,
    ) -> Self {
        let (mut runs_at, mut runs_from, mut runs_shift) = (Vec::new(), Vec::new(), Vec::new());
        let (seps, project) = (&tables.separators, &tables.project);
        let n = source.len();
        // Translate every byte, then find the runs of separators (rare: a branch that is almost never
        // taken) and close them up; each run keeps its first byte.
        let mut data = Vec::with_capacity(n + 2);
        data.push(b' ');
        data.extend(source.iter().map(|&b| project[b as usize]));
        data.push(b' ');
        let separator = &tables.separator;
        let is_sep = |i: usize| seps[source[i] as usize] == 0x20;
        let pair =
            |i: usize| separator[source[i - 1] as usize] & separator[source[i] as usize] != 0;
        let (mut i, mut w, mut removed) = (1usize, 1usize, 0i64);
        let mut copied = 0usize; // source bytes before this index are in place
        let fast = tables.separators_project_to_space;
        while i < n {
            if !pair(i) {
                i = if fast {
                    double_space(&data, i + 1, n)
                } else {
                    i + 1
                };
                continue;
            }
            let mut stop = i + 1;
            while stop < n && is_sep(stop) {
                stop += 1;
            }
            // Keep source[copied..i] (up to and with the run's first byte), drop source[i..stop].
            data.copy_within(1 + copied..1 + i, w);
            w += i - copied;
            copied = stop;
            removed += (stop - i) as i64;
            runs_at.push(stop as i64 - removed);
            runs_from.push(stop as i64);
            runs_shift.push(removed);
            i = stop + 1;
        }
        if copied > 0 {
            data.copy_within(1 + copied..n + 2, w); // the rest and the closing space
            data.truncate(w + n + 1 - copied);
        }
        let plain = !folded && runs_at.is_empty();
        let mut view = View {
            data,
            cased: None,
            cased_source,
            source,
            tables,
            runs_at,
            runs_from,
            runs_shift,
            folded,
            plain,
            length: n as i64,
        };
        if let Some(kept) = cased_source {
            let cased = &tables.cased;
            let same = lower_is_data
                || (kept.len() == n
                    && kept.iter().zip(source).all(|(k, b)| {
                        cased[*k as usize].to_ascii_lowercase() == project[*b as usize]
                    }));
            if !same {
                view.cased = Some(view.collapse(kept, cased));
            }
        }
        view
    }

    /// Whether the case-kept projection holds `pattern` at `data[s..s + pattern.len()]`, given that
    /// its lower case does (the data there is the pattern in lower case).
    pub fn cased_at(&self, s: usize, pattern: &[u8]) -> bool {
        if let Some(cased) = &self.cased {
            return cased.get(s..s + pattern.len()) == Some(pattern);
        }
        let Some(kept) = self.cased_source else {
            return false;
        };
        let table = &self.tables.cased;
        pattern.iter().enumerate().all(|(k, &p)| {
            let d = (s + k) as i64;
            // Frame and gap bytes are spaces in both projections; letters map one to one.
            p == b' ' || table[kept[self.folded_index(d) as usize] as usize] == p
        })
    }

    /// The case-kept projection (None without a case-kept source): `data` with ASCII letters in the
    /// letter case of the text.
    pub fn case_kept(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        if let Some(cased) = &self.cased {
            return Some(std::borrow::Cow::Borrowed(cased));
        }
        let kept = self.cased_source?;
        Some(std::borrow::Cow::Owned(
            self.collapse(kept, &self.tables.cased),
        ))
    }

    /// `bytes` translated by `table`, framed by spaces, each run reduced to its first byte.
    fn collapse(&self, bytes: &[u8], table: &[u8; 256]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.push(b' ');
        let (mut begin, mut previous) = (0usize, 0i64);
        for (stop, removed) in self.runs_from.iter().zip(&self.runs_shift) {
            let end = (*stop - (removed - previous)) as usize;
            out.extend(bytes[begin..end].iter().map(|b| table[*b as usize]));
            begin = *stop as usize;
            previous = *removed;
        }
        out.extend(bytes[begin..].iter().map(|b| table[*b as usize]));
        out.push(b' ');
        out
    }

    fn shift_before(&self, k: usize) -> i64 {
        if k > 0 {
            self.runs_shift[k - 1]
        } else {
            0
        }
    }

    /// Folded index of the character at `data[d]`.
    pub fn folded_index(&self, d: i64) -> i64 {
        let k = self.runs_at.partition_point(|&r| r < d); // bisect_right(runs_at, d - 1)
        d - 1 + self.shift_before(k)
    }

    /// `data` index of the first character at or after folded index `f`.
    pub fn data_index(&self, f: i64) -> i64 {
        let k = self.runs_from.partition_point(|&r| r <= f);
        let mut c = f - self.shift_before(k);
        if k < self.runs_at.len() {
            c = c.min(self.runs_at[k]);
        }
        c + 1
    }

    /// Folded indexes of `data[d_start..d_end]`.
    pub fn folded_span(&self, d_start: i64, d_end: i64) -> (i64, i64) {
        (self.folded_index(d_start), self.folded_index(d_end - 1) + 1)
    }

    /// Offsets of `data[d_start..d_end]` in the source when no fold map is needed (`folded` false),
    /// else its folded indexes (the caller maps them through the fold).
    pub fn span(&self, d_start: i64, d_end: i64) -> (i64, i64) {
        if self.plain {
            return (d_start - 1, d_end - 1);
        }
        if !self.folded {
            let k = self.runs_at.partition_point(|&r| r < d_start);
            let shift = self.shift_before(k);
            if k == self.runs_at.len() || self.runs_at[k] > d_end - 2 {
                return (d_start - 1 + shift, d_end - 1 + shift);
            }
        }
        self.folded_span(d_start, d_end)
    }

    /// `data` indexes of the folded window `width` characters either side of a hit.
    pub fn window(&self, d_start: i64, d_end: i64, width: i64) -> (i64, i64) {
        let lo = (d_start - width).max(1);
        let hi = (d_end + width).min(self.data.len() as i64 - 1);
        if self.plain {
            return (lo, hi);
        }
        if !self.folded {
            let k = self.runs_at.partition_point(|&r| r <= lo - 2);
            if k == self.runs_at.len() || self.runs_at[k] > hi + 1 {
                return (lo, hi);
            }
        }
        let (f_start, f_end) = self.folded_span(d_start, d_end);
        let f_lo = (f_start - width).max(0);
        let f_hi = (f_end + width).min(self.length);
        (self.data_index(f_lo), self.data_index(f_hi))
    }

    /// Whether every gap in `data[d_start..d_end]` is spaces / hyphens in the text. Read from the
    /// source bytes behind the span's spaces (a few): only a space of `data` can be a non-separator
    /// of the strict projection, and each stands for one source byte.
    pub fn separated(&self, d_start: i64, d_end: i64) -> bool {
        let strict = &self.tables.strict;
        !self.data[d_start as usize..d_end as usize]
            .iter()
            .enumerate()
            .any(|(k, &b)| {
                b == b' '
                    && strict[self.source[self.folded_index(d_start + k as i64) as usize] as usize]
                        == 0x01
            })
    }
}
