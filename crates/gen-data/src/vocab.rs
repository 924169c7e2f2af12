//! [`CharVocab`]: character-level tokenisation for text and word-list models.

use std::collections::HashMap;

use gen_core::{GenError, Result};

/// A character vocabulary: the sorted unique characters of a corpus, with ids
/// `0..chars.len()`, plus an optional end-of-sequence token whose id is
/// `chars.len()` (the last id).
#[derive(Debug, Clone, PartialEq)]
pub struct CharVocab {
    chars: Vec<char>,
    index: HashMap<char, usize>,
    eos: bool,
}

impl CharVocab {
    /// The sorted unique characters of `text`, without an end-of-sequence token.
    pub fn from_text(text: &str) -> Self {
        Self::from_chars(text.chars())
    }

    /// The sorted unique characters of all `words`, without an end-of-sequence
    /// token (add one with [`with_eos`](Self::with_eos)).
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Self {
        Self::from_chars(words.iter().flat_map(|w| w.as_ref().chars()))
    }

    fn from_chars(it: impl Iterator<Item = char>) -> Self {
        let mut chars: Vec<char> = it.collect();
        chars.sort_unstable();
        chars.dedup();
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        Self {
            chars,
            index,
            eos: false,
        }
    }

    /// The same vocabulary with an end-of-sequence token, id [`eos`](Self::eos).
    pub fn with_eos(mut self) -> Self {
        self.eos = true;
        self
    }

    /// Number of token ids: characters, plus one if there is an end-of-sequence token.
    pub fn len(&self) -> usize {
        self.chars.len() + self.eos as usize
    }

    /// True if there are no tokens at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The end-of-sequence id (`chars().len()`), if the vocabulary has one.
    pub fn eos(&self) -> Option<usize> {
        self.eos.then_some(self.chars.len())
    }

    /// The characters, in id order (sorted).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if it is in the vocabulary.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// Encodes `text` as character ids. Errors on the first character that
    /// is not in the vocabulary, naming it and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .enumerate()
            .map(|(pos, c)| {
                self.id(c).ok_or_else(|| {
                    GenError::input(
                        "CharVocab::encode",
                        format!(
                            "character {c:?} (U+{:04X}) at position {pos} is not in the vocabulary of {} characters",
                            c as u32,
                            self.chars.len()
                        ),
                        "build the vocabulary from text that contains every character you encode (e.g. train and test together), or remove the character",
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

    /// Decodes ids to text. Decoding stops at the first end-of-sequence id
    /// (which is not included); an id `>= len()` is an error.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        let mut out = String::with_capacity(ids.len());
        for (pos, &id) in ids.iter().enumerate() {
            if Some(id) == self.eos() {
                break;
            }
            let c = self.chars.get(id).ok_or_else(|| {
                GenError::input(
                    "CharVocab::decode",
                    format!(
                        "id {id} at position {pos} is out of range for a vocabulary of {} ids",
                        self.len()
                    ),
                    "decode ids produced with this same vocabulary",
                )
            })?;
            out.push(*c);
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
}
