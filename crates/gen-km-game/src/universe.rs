//! The countable universe U = {u₁, u₂, …} with its fixed enumeration.
//!
//! Every algorithm of the crate sees only **positions**: the string uⱼ is the
//! position `j` (1-based, exactly as in Kleinberg & Mullainathan 2024, §2), so
//! the prefix {u₁, …, u_m} used by the (t, m)-critical languages of KM §5 is
//! "positions ≤ m". The [`Universe`] turns a position into the element it
//! stands for (for display and for the collections' arithmetic):
//!
//! | universe | u₁, u₂, u₃, u₄, u₅, … | position of an element |
//! |---|---|---|
//! | [`Universe::Naturals`] ℕ | 0, 1, 2, 3, 4, … | n ↦ n + 1 |
//! | [`Universe::Integers`] ℤ | 0, 1, −1, 2, −2, … | 0 ↦ 1, z > 0 ↦ 2z, z < 0 ↦ −2z + 1 |
//! | [`Universe::Strings`] Σ* | ε, a, b, aa, ab, … (shortlex) | bijective base-|Σ| numeral + 1 |
//! | [`Universe::Labels`] | u1, u2, u3, … (abstract) | j ↦ j |

use serde::Serialize;

use crate::error::{KmError, Result};

/// A 1-based position in the universe's enumeration: `j` stands for uⱼ.
pub type Pos = u64;

/// The universe a collection lives in (see the module docs for the enumerations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Universe {
    /// ℕ = {0, 1, 2, …} in increasing order.
    Naturals,
    /// ℤ in the order 0, 1, −1, 2, −2, ….
    Integers,
    /// Σ* in shortlex order (by length, then by the alphabet's order).
    Strings {
        /// The alphabet Σ, in order.
        alphabet: Vec<char>,
    },
    /// Abstract strings u1, u2, … (used by hand-made collections such as the
    /// paper's worked example).
    Labels,
}

impl Universe {
    /// The natural number at position `p` (ℕ: uₚ = p − 1).
    pub fn nat(p: Pos) -> u64 {
        p.saturating_sub(1)
    }

    /// The position of the natural number `n`.
    pub fn pos_of_nat(n: u64) -> Pos {
        n + 1
    }

    /// The integer at position `p` in the order 0, 1, −1, 2, −2, ….
    pub fn int(p: Pos) -> i64 {
        let k = p.saturating_sub(1);
        if k % 2 == 1 {
            k.div_ceil(2) as i64
        } else {
            -((k / 2) as i64)
        }
    }

    /// The position of the integer `z` (inverse of [`Universe::int`]).
    pub fn pos_of_int(z: i64) -> Pos {
        if z > 0 {
            2 * z as u64
        } else {
            2 * z.unsigned_abs() + 1
        }
    }

    /// The symbol indices of the string at position `p` over an alphabet of
    /// size `s` (shortlex: bijective base-`s` numeral of p − 1).
    pub fn digits(p: Pos, s: usize) -> Vec<usize> {
        let s = s.max(1) as u64;
        let mut k = p.saturating_sub(1);
        let mut out = Vec::new();
        while k > 0 {
            k -= 1;
            out.push((k % s) as usize);
            k /= s;
        }
        out.reverse();
        out
    }

    /// The string at position `p` over `alphabet` (shortlex order).
    pub fn string_at(alphabet: &[char], p: Pos) -> String {
        Self::digits(p, alphabet.len())
            .into_iter()
            .map(|d| alphabet[d])
            .collect()
    }

    /// The position of `s` over `alphabet`, or `None` if `s` uses another
    /// symbol or its position does not fit in a `u64`.
    pub fn pos_of_string(alphabet: &[char], s: &str) -> Option<Pos> {
        let base = alphabet.len() as u64;
        let mut k: u64 = 0;
        for c in s.chars() {
            let d = alphabet.iter().position(|&a| a == c)? as u64;
            k = k.checked_mul(base)?.checked_add(d + 1)?;
        }
        k.checked_add(1)
    }

    /// The element at position `p`, written out (`"-3"`, `"abba"`, `"ε"`, `"u7"`).
    pub fn display(&self, p: Pos) -> String {
        match self {
            Universe::Naturals => Self::nat(p).to_string(),
            Universe::Integers => Self::int(p).to_string(),
            Universe::Strings { alphabet } => {
                let s = Self::string_at(alphabet, p);
                if s.is_empty() { "ε".to_string() } else { s }
            }
            Universe::Labels => format!("u{p}"),
        }
    }

    /// Parses an element written as [`Universe::display`] writes it.
    pub fn parse(&self, text: &str) -> Result<Pos> {
        let bad = |what: &str| {
            KmError::setting(
                "element",
                text,
                format!("not an element of the universe {}", self.name()),
                what.to_string(),
            )
        };
        let text = text.trim();
        match self {
            Universe::Naturals => text
                .parse::<u64>()
                .map(Self::pos_of_nat)
                .map_err(|_| bad("write a natural number such as 12")),
            Universe::Integers => text
                .parse::<i64>()
                .map(Self::pos_of_int)
                .map_err(|_| bad("write an integer such as -3")),
            Universe::Strings { alphabet } => {
                let s = if text == "ε" { "" } else { text };
                Self::pos_of_string(alphabet, s).ok_or_else(|| {
                    bad(&format!(
                        "use only the symbols {:?} (and 'ε' for the empty string)",
                        alphabet.iter().collect::<String>()
                    ))
                })
            }
            Universe::Labels => text
                .strip_prefix('u')
                .and_then(|d| d.parse::<u64>().ok())
                .filter(|&j| j >= 1)
                .ok_or_else(|| bad("write u1, u2, …")),
        }
    }

    /// A short name: `N`, `Z`, `{a,b}*`, `labels`.
    pub fn name(&self) -> String {
        match self {
            Universe::Naturals => "N".into(),
            Universe::Integers => "Z".into(),
            Universe::Strings { alphabet } => {
                let a: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
                format!("{{{}}}*", a.join(","))
            }
            Universe::Labels => "labels".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_enumeration_is_a_bijection() {
        let firsts: Vec<i64> = (1..=7).map(Universe::int).collect();
        assert_eq!(firsts, vec![0, 1, -1, 2, -2, 3, -3]);
        for p in 1..5000 {
            assert_eq!(Universe::pos_of_int(Universe::int(p)), p);
        }
    }

    #[test]
    fn shortlex_strings_round_trip() {
        let ab = ['a', 'b'];
        let firsts: Vec<String> = (1..=7).map(|p| Universe::string_at(&ab, p)).collect();
        assert_eq!(firsts, vec!["", "a", "b", "aa", "ab", "ba", "bb"]);
        for p in 1..3000 {
            let s = Universe::string_at(&ab, p);
            assert_eq!(Universe::pos_of_string(&ab, &s), Some(p));
        }
        assert_eq!(Universe::pos_of_string(&ab, "c"), None);
    }

    #[test]
    fn parse_inverts_display() {
        let us = [
            Universe::Naturals,
            Universe::Integers,
            Universe::Strings {
                alphabet: vec!['a', 'b', 'c'],
            },
            Universe::Labels,
        ];
        for u in &us {
            for p in 1..200 {
                assert_eq!(u.parse(&u.display(p)).unwrap(), p, "{u:?} {p}");
            }
        }
        assert!(Universe::Naturals.parse("-1").is_err());
        assert!(Universe::Labels.parse("u0").is_err());
    }
}
