//! The pair evidence of toponym disambiguation: "X, Y" where Y contains X, and "Y's X" give both
//! mentions the pair bonus on their agreeing options (`Cand::pair_bonus`).

use crate::resolve::{Cand, PlaceResolver, ADMIN1, COUNTRY};

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
    #[inline]
    pub(crate) fn pairs(&self, texts: &[Vec<char>], cands: &mut [Cand<'_>]) {
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
