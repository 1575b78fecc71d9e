//! Per-character tables of the Basic Multilingual Plane (built once by
//! `newswatch.processor.automaton.char_tables`), and what they allow on the code points of a text
//! without Python: its raw stand-in bytes, its boilerplate footers (`normalize.boilerplate_spans`)
//! and the neighbours test of a shouted acronym (`automaton.shouted`).

/// Flag bits of [`CharTables::flags`].
pub const DIRECT: u8 = 1; // the character has a raw stand-in byte (`automaton._direct_stand_in`)
pub const SPACE: u8 = 2; // `str.isspace` (`str.split`, regular-expression `\s`)
pub const WORD: u8 = 4; // regular-expression `\w` (`str.isalnum` or `_`)
pub const DECIMAL: u8 = 8; // regular-expression `\d` (`str.isdecimal`)

const BMP: usize = 0x10000;
/// The [`CharTables::letter`] value of the characters matching `é` case-insensitively.
const E_ACUTE: u8 = 0xE9;
/// A footer literal byte standing for `[ée]`.
const E_OR_ACUTE: u8 = 0x01;

/// Per BMP character: its raw stand-in byte, its flags, and the lower-case ASCII letter (or
/// [`E_ACUTE`]) it matches under `re.IGNORECASE` (0 for none).
pub struct CharTables {
    stand_in: Box<[u8]>,
    flags: Box<[u8]>,
    letter: Box<[u8]>,
    /// Every ASCII character is its own raw stand-in byte (so a run of them is copied as it is).
    ascii_self: bool,
}

impl CharTables {
    pub fn new(stand_in: Vec<u8>, flags: Vec<u8>, letter: Vec<u8>) -> Result<Self, String> {
        if [&stand_in, &flags, &letter].iter().any(|t| t.len() != BMP) {
            return Err(format!("character tables have {BMP} bytes each"));
        }
        let ascii_self = (0..0x80).all(|c| stand_in[c] == c as u8 && flags[c] & DIRECT != 0);
        Ok(CharTables {
            stand_in: stand_in.into(),
            flags: flags.into(),
            letter: letter.into(),
            ascii_self,
        })
    }

    /// The flags of code point `c` (None outside the BMP).
    #[inline]
    pub fn flags(&self, c: u32) -> Option<u8> {
        self.flags.get(c as usize).copied()
    }

    fn is(&self, c: u32, flag: u8) -> bool {
        self.flags(c).is_some_and(|f| f & flag != 0)
    }

    /// The raw stand-in bytes of `text` with the characters inside `masked` (sorted spans) replaced
    /// as `normalize.mask_boilerplate` replaces them, into `out`; false when a character lies outside
    /// the BMP (`masked` may then be wrong: astral digits are `\d`) or has no stand-in (it must be
    /// folded first): the caller takes the Python path.
    pub fn stand_in_bytes(
        &self,
        text: &[u32],
        masked: &[(usize, usize)],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        out.resize(text.len(), b' ');
        let mut direct = true;
        let mut begin = 0;
        for &(start, end) in masked
            .iter()
            .chain(std::iter::once(&(text.len(), text.len())))
        {
            // Eight characters at a time: all ASCII, a copy (vectorised); else by the tables,
            // branch-free (characters outside the BMP read entry 0 and clear `direct`).
            let chunks = out[begin..start]
                .chunks_mut(8)
                .zip(text[begin..start].chunks(8));
            for (o_chunk, t_chunk) in chunks {
                if self.ascii_self && t_chunk.iter().fold(0, |a, &c| a | c) < 0x80 {
                    for (o, &c) in o_chunk.iter_mut().zip(t_chunk) {
                        *o = c as u8;
                    }
                    continue;
                }
                for (o, &c) in o_chunk.iter_mut().zip(t_chunk) {
                    let inside = (c as usize) < BMP;
                    let c = if inside { c as usize } else { 0 };
                    *o = self.stand_in[c];
                    direct &= inside & (self.flags[c] & DIRECT != 0);
                }
            }
            for (o, &c) in out[start..end].iter_mut().zip(&text[start..end]) {
                direct &= (c as usize) < BMP; // the footer search read it as Python would
                if c == 0x0A {
                    *o = b'\n';
                }
            }
            begin = end;
        }
        direct
    }

    /// Whether `c` matches the footer pattern's literal byte `p` (`re.IGNORECASE`): ASCII letters
    /// by the letter table, [`E_OR_ACUTE`] for `[ée]`, other bytes as themselves.
    #[inline]
    fn literal(&self, c: u32, p: u8) -> bool {
        let letter = || self.letter.get(c as usize).copied().unwrap_or(0);
        match p {
            E_OR_ACUTE => matches!(letter(), b'e' | E_ACUTE),
            b'a'..=b'z' => letter() == p,
            _ => c == p as u32,
        }
    }

    /// `text[at..]` starting with `literal` (see [`CharTables::literal`]): the index after it.
    fn literal_at(&self, text: &[u32], at: usize, literal: &[u8]) -> Option<usize> {
        let end = at + literal.len();
        let chunk = text.get(at..end)?;
        chunk
            .iter()
            .zip(literal)
            .all(|(&c, &p)| self.literal(c, p))
            .then_some(end)
    }

    fn skip(&self, text: &[u32], mut at: usize, flag: u8) -> usize {
        while at < text.len() && self.is(text[at], flag) {
            at += 1;
        }
        at
    }

    /// The end of `normalize._FOOTER` matched at line start `at`, if it matches there.
    fn footer_at(&self, text: &[u32], at: usize) -> Option<usize> {
        const LEAD: &[u32] = &[0x20, 0x09, 0x3E, 0x2A, 0x5F, 0x23, 0x5B, 0x5D];
        const COPYRIGHT_SIGN: u32 = 0xA9;
        let mut i = at;
        while i < text.len() && LEAD.contains(&text[i]) {
            i += 1;
        }
        let first = *text.get(i)?;
        if first == COPYRIGHT_SIGN {
            return Some(i + 1); // no other alternative starts with it
        }
        if let Some(after) = self.literal_at(text, i, b"copyright") {
            let j = self.skip(text, after, SPACE);
            if text.get(j) == Some(&COPYRIGHT_SIGN) {
                return Some(j + 1);
            }
            if let Some(end) = self.literal_at(text, j, b"(c)") {
                return Some(end);
            }
            if text.len() >= j + 4 && text[j..j + 4].iter().all(|&c| self.is(c, DECIMAL)) {
                return Some(j + 4);
            }
        }
        if let Some(after) = self.literal_at(text, i, b"disclaimer") {
            let j = self.skip(text, after, SPACE);
            if text.get(j) == Some(&0x3A) {
                return Some(j + 1);
            }
        }
        const PHRASES: [&[u8]; 5] = [
            b"avis de non-responsabilit\x01",
            b"la source originale de cet article",
            b"the original source of this article",
            b"all rights reserved",
            b"tous droits r\x01serv\x01s",
        ];
        PHRASES.iter().find_map(|p| self.literal_at(text, i, p))
    }

    /// `normalize.boilerplate_spans` of a text given as code points (all in the BMP).
    pub fn boilerplate_spans(&self, text: &[u32]) -> Vec<(usize, usize)> {
        let n = text.len();
        let newline = |from: usize| find(text, from.min(n), 0x0A);
        let mut spans = Vec::new();
        let (mut cursor, mut line) = (0usize, Some(0usize));
        while let Some(pos) = line {
            let Some(end) = self.footer_at(text, pos) else {
                line = newline(pos).map(|p| p + 1);
                continue;
            };
            line = newline(end.max(pos)).map(|p| p + 1);
            if pos < cursor {
                continue;
            }
            if pos as f64 >= n as f64 * (1.0 / 3.0) {
                spans.push((pos, n));
                break;
            }
            let stop = self.paragraph_end(text, end).unwrap_or(n);
            spans.push((pos, stop));
            cursor = stop;
        }
        spans
    }

    /// The start of the first `\n\s*\n` at or after `from`.
    fn paragraph_end(&self, text: &[u32], from: usize) -> Option<usize> {
        let mut p = from;
        while p < text.len() {
            if text[p] == 0x0A {
                let mut q = p + 1;
                while q < text.len() && self.is(text[q], SPACE) {
                    if text[q] == 0x0A {
                        return Some(p);
                    }
                    q += 1;
                }
            }
            p += 1;
        }
        None
    }

    /// `automaton.shouted` past its own-word test: whether the last whitespace-separated token of
    /// `before` or the first of `after`, without its non-word characters, is two or more capitals
    /// A-Z. None when a character lies outside the BMP.
    pub fn shouting_neighbour(&self, before: &[u32], after: &[u32]) -> Option<bool> {
        if before.iter().chain(after).any(|&c| c as usize >= BMP) {
            return None;
        }
        let space = |c: &u32| self.is(*c, SPACE);
        let last = before.split(space).rev().find(|t| !t.is_empty());
        let first = after.split(space).find(|t| !t.is_empty());
        let capitals = |token: Option<&[u32]>| {
            let mut word = token.unwrap_or(&[]).iter().filter(|&&c| self.is(c, WORD));
            let count = word.clone().count();
            count >= 2 && word.all(|&c| (0x41..=0x5A).contains(&c))
        };
        Some(capitals(last) || capitals(first))
    }
}

/// The index of the first `needle` in `text[from..]`: sixteen code points compared at a time (a loop
/// without an early exit, which the compiler vectorises), then the one found.
fn find(text: &[u32], from: usize, needle: u32) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = text.get(at..at + 16) {
        if chunk.iter().fold(false, |seen, &c| seen | (c == needle)) {
            break;
        }
        at += 16;
    }
    text[at..].iter().position(|&c| c == needle).map(|p| at + p)
}
