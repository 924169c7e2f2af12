//! [`CharVocab`]: character-level tokenisation for text and word-list models
//! (the n-gram of gen-classical, autoregressive models).

use std::collections::HashMap;

use gen_core::{GenError, Result};

/// Glyph of the boundary token (␂, U+2402) in [`CharVocab::glyph`].
pub const BOUNDARY_GLYPH: char = '\u{2402}';
/// Glyph of the unknown-character token (�, U+FFFD).
pub const UNKNOWN_GLYPH: char = '\u{fffd}';
/// Glyph of the end-of-sequence token (␄, U+2404).
pub const EOS_GLYPH: char = '\u{2404}';

/// A character vocabulary: the sorted unique characters of a corpus, plus
/// optional special tokens. Ids are laid out as
///
/// ```text
/// [boundary] [unknown] characters… [end-of-sequence]
/// ```
///
/// - **boundary** ([`with_boundary`](Self::with_boundary), id 0): start
///   padding before a sequence and, for models with one symbol for both, its end;
/// - **unknown** ([`with_unknown`](Self::with_unknown), the next id): what
///   characters outside the vocabulary encode to, so held-out text with unseen
///   characters still encodes;
/// - **end-of-sequence** ([`with_eos`](Self::with_eos), the last id).
///
/// Without special tokens the characters have ids `0..chars().len()`. A corpus
/// character equal to the glyph of an enabled special token
/// ([`BOUNDARY_GLYPH`], [`UNKNOWN_GLYPH`], [`EOS_GLYPH`]) is not a character of
/// the vocabulary (it encodes as unknown), so every id has one glyph.
#[derive(Debug, Clone, PartialEq)]
pub struct CharVocab {
    /// The glyph of every id, in id order.
    tokens: Vec<char>,
    /// Character → id.
    index: HashMap<char, usize>,
    boundary: bool,
    unknown: bool,
    eos: bool,
}

impl CharVocab {
    /// The sorted unique characters of `text`, without special tokens.
    pub fn from_text(text: &str) -> Self {
        Self::from_chars(text.chars())
    }

    /// The sorted unique characters of all `words`, without special tokens
    /// (add an end-of-sequence token with [`with_eos`](Self::with_eos)).
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Self {
        Self::from_chars(words.iter().flat_map(|w| w.as_ref().chars()))
    }

    /// The sorted unique characters of `chars`, without special tokens.
    pub fn from_chars(chars: impl IntoIterator<Item = char>) -> Self {
        let mut chars: Vec<char> = chars.into_iter().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::build(chars, false, false, false)
    }

    fn build(mut chars: Vec<char>, boundary: bool, unknown: bool, eos: bool) -> Self {
        chars.retain(|&c| {
            !(boundary && c == BOUNDARY_GLYPH
                || unknown && c == UNKNOWN_GLYPH
                || eos && c == EOS_GLYPH)
        });
        let mut tokens = Vec::with_capacity(chars.len() + 3);
        if boundary {
            tokens.push(BOUNDARY_GLYPH);
        }
        if unknown {
            tokens.push(UNKNOWN_GLYPH);
        }
        let first = tokens.len();
        tokens.extend(&chars);
        if eos {
            tokens.push(EOS_GLYPH);
        }
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, first + i))
            .collect();
        Self {
            tokens,
            index,
            boundary,
            unknown,
            eos,
        }
    }

    fn rebuild(&self, boundary: bool, unknown: bool, eos: bool) -> Self {
        Self::build(self.chars().to_vec(), boundary, unknown, eos)
    }

    /// The same vocabulary with an end-of-sequence token, id [`eos`](Self::eos).
    pub fn with_eos(self) -> Self {
        self.rebuild(self.boundary, self.unknown, true)
    }

    /// The same vocabulary with a boundary token at id 0 (the other ids move up by one).
    pub fn with_boundary(self) -> Self {
        self.rebuild(true, self.unknown, self.eos)
    }

    /// The same vocabulary with an unknown-character token, right after the
    /// boundary token if there is one: [`encode`](Self::encode) then maps
    /// characters outside the vocabulary to it instead of failing.
    pub fn with_unknown(self) -> Self {
        self.rebuild(self.boundary, true, self.eos)
    }

    /// Number of token ids: characters plus special tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True if there are no tokens at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id of the first character (the number of special tokens before the characters).
    fn first_char(&self) -> usize {
        self.boundary as usize + self.unknown as usize
    }

    /// The end-of-sequence id (the last id), if the vocabulary has one.
    pub fn eos(&self) -> Option<usize> {
        self.eos.then(|| self.len() - 1)
    }

    /// The boundary id (0), if the vocabulary has one.
    pub fn boundary(&self) -> Option<usize> {
        self.boundary.then_some(0)
    }

    /// The unknown-character id, if the vocabulary has one.
    pub fn unknown(&self) -> Option<usize> {
        self.unknown.then_some(self.boundary as usize)
    }

    /// The characters, in id order (sorted), without the special tokens.
    pub fn chars(&self) -> &[char] {
        let first = self.first_char();
        &self.tokens[first..self.len() - self.eos as usize]
    }

    /// The glyph of every id, in id order: special tokens as
    /// [`BOUNDARY_GLYPH`], [`UNKNOWN_GLYPH`], [`EOS_GLYPH`].
    pub fn iter(&self) -> std::slice::Iter<'_, char> {
        self.tokens.iter()
    }

    /// The glyph of `id` (its character, or the glyph of a special token).
    pub fn glyph(&self, id: usize) -> Option<char> {
        self.tokens.get(id).copied()
    }

    /// The id of `c`, if it is a character of the vocabulary.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// The id of `c`, or the unknown id if `c` is not a character of the
    /// vocabulary (`None` only without an unknown token).
    pub fn id_or_unknown(&self, c: char) -> Option<usize> {
        self.id(c).or(self.unknown())
    }

    /// Encodes `text` as character ids. Characters outside the vocabulary
    /// become the unknown id if there is one; otherwise the first such
    /// character is an error naming it and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .enumerate()
            .map(|(pos, c)| {
                self.id_or_unknown(c).ok_or_else(|| {
                    GenError::input(
                        "CharVocab::encode",
                        format!(
                            "character {c:?} (U+{:04X}) at position {pos} is not in the vocabulary of {} characters",
                            c as u32,
                            self.chars().len()
                        ),
                        "build the vocabulary from text that contains every character you encode (e.g. train and test together), add an unknown token (with_unknown), or remove the character",
                    )
                })
            })
            .collect()
    }

    /// Encodes `text` and appends the end-of-sequence id; errors if the
    /// vocabulary has none.
    pub fn encode_with_eos(&self, text: &str) -> Result<Vec<usize>> {
        let eos = self.eos().ok_or_else(|| {
            GenError::config(
                "eos",
                "none",
                "this vocabulary has no end-of-sequence token",
                "build it with CharVocab::from_words(..).with_eos()",
            )
        })?;
        let mut ids = self.encode(text)?;
        ids.push(eos);
        Ok(ids)
    }

    /// Decodes ids to text. Decoding stops at the first end-of-sequence or
    /// boundary id (which is not included); the unknown id decodes to
    /// [`UNKNOWN_GLYPH`]; an id `>= len()` is an error.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        let mut out = String::with_capacity(ids.len());
        for (pos, &id) in ids.iter().enumerate() {
            if Some(id) == self.eos() || Some(id) == self.boundary() {
                break;
            }
            let c = self.glyph(id).ok_or_else(|| {
                GenError::input(
                    "CharVocab::decode",
                    format!(
                        "id {id} at position {pos} is out of range for a vocabulary of {} ids",
                        self.len()
                    ),
                    "decode ids produced with this same vocabulary",
                )
            })?;
            out.push(c);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_roundtrip() {
        let v = CharVocab::from_text("hello, world");
        assert_eq!(v.chars(), &[' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
        assert_eq!(v.len(), 9);
        assert_eq!(v.eos(), None);
        let ids = v.encode("hello, world").unwrap();
        assert_eq!(ids[..3], [4, 3, 5]);
        assert_eq!(v.decode(&ids).unwrap(), "hello, world");
    }

    #[test]
    fn unicode_roundtrip() {
        let t = "naïve café — ünïcödé";
        let v = CharVocab::from_text(t);
        assert_eq!(v.decode(&v.encode(t).unwrap()).unwrap(), t);
    }

    #[test]
    fn eos_token() {
        let v = CharVocab::from_words(&["ab", "ba", "c"]).with_eos();
        assert_eq!(v.len(), 4);
        assert_eq!(v.eos(), Some(3));
        let ids = v.encode_with_eos("cab").unwrap();
        assert_eq!(ids, vec![2, 0, 1, 3]);
        // decoding stops at the end-of-sequence token
        assert_eq!(v.decode(&[0, 3, 1]).unwrap(), "a");
        assert!(CharVocab::from_text("a").encode_with_eos("a").is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        let v = CharVocab::from_text("abc");
        let e = v.encode("abz").unwrap_err().to_string();
        assert!(e.contains("'z'") && e.contains("position 2"), "{e}");
        let e = v.decode(&[0, 7]).unwrap_err().to_string();
        assert!(e.contains("id 7 at position 1"), "{e}");
        assert!(CharVocab::from_text("").is_empty());
    }

    #[test]
    fn boundary_and_unknown_come_first() {
        let v = CharVocab::from_text("cab\u{fffd}")
            .with_unknown()
            .with_boundary();
        // The U+FFFD of the corpus is the unknown token's glyph, not a character.
        assert_eq!(v.chars(), &['a', 'b', 'c']);
        assert_eq!(
            (v.boundary(), v.unknown(), v.eos()),
            (Some(0), Some(1), None)
        );
        assert_eq!(v.len(), 5);
        assert_eq!(v.id('a'), Some(2));
        assert_eq!(v.id('z'), None);
        assert_eq!(v.id_or_unknown('z'), Some(1));
        assert_eq!(v.encode("abz").unwrap(), vec![2, 3, 1]);
        assert_eq!(v.decode(&[4, 1, 2, 0, 3]).unwrap(), "c\u{fffd}a");
        let glyphs: String = v.iter().collect();
        assert_eq!(glyphs, "\u{2402}\u{fffd}abc");
        assert_eq!(v.glyph(0), Some(BOUNDARY_GLYPH));
        assert_eq!(v.glyph(5), None);
        // With an end token too: it stays last.
        let e = v.clone().with_eos();
        assert_eq!((e.eos(), e.len(), e.chars().len()), (Some(5), 6, 3));
        assert_eq!(e.encode_with_eos("b").unwrap(), vec![3, 5]);
        assert_eq!(e.with_boundary(), v.with_eos());
        assert_eq!(
            CharVocab::from_chars("bca".chars()),
            CharVocab::from_text("abc")
        );
    }
}
