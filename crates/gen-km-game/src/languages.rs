//! Language-level vocabulary shared by the collections: indices, closures,
//! closure dimension and the number theory the arithmetic collections need.
//!
//! A *language* is an infinite subset of the universe given by a membership
//! oracle `contains(i, u)`; a *collection* C = (L₁, L₂, …) lists languages by
//! 1-based index ([`LangId`]), exactly as in Kleinberg & Mullainathan (2024, §2).

use serde::Serialize;

use crate::universe::Pos;

/// A 1-based index of a language in a collection: `i` stands for Lᵢ.
pub type LangId = usize;

/// The closure ⟨S⟩ = ⋂ {L ∈ C : S ⊆ L} of a finite sample S (Li, Raman &
/// Tewari 2024, Definition of closure; KM 2024 §3 call the same object the
/// intersection of consistent languages).
///
/// Holds whether ⟨S⟩ is infinite and a membership test for it.
pub struct Closure<'a> {
    /// |⟨S⟩| = ∞.
    pub infinite: bool,
    /// A human-readable description, e.g. `P(-3, 2)` or `S ∪ {0}`.
    pub description: String,
    member: Box<dyn Fn(Pos) -> bool + 'a>,
}

impl<'a> Closure<'a> {
    /// A closure with the given membership test.
    pub fn new(
        infinite: bool,
        description: impl Into<String>,
        member: impl Fn(Pos) -> bool + 'a,
    ) -> Self {
        Closure {
            infinite,
            description: description.into(),
            member: Box::new(member),
        }
    }

    /// Is uₚ ∈ ⟨S⟩?
    pub fn contains(&self, p: Pos) -> bool {
        (self.member)(p)
    }
}

impl std::fmt::Debug for Closure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closure")
            .field("infinite", &self.infinite)
            .field("description", &self.description)
            .finish()
    }
}

/// The closure dimension d(C) of Li, Raman & Tewari (2024): the largest size
/// of a sample S (consistent with some language of C) whose closure ⟨S⟩ is
/// finite. C is uniformly generatable iff d(C) < ∞, and their closure
/// generator is valid once it has seen d(C) + 1 distinct examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureDim {
    /// d(C) = d.
    Finite(usize),
    /// d(C) = ∞ (not uniformly generatable).
    Infinite,
    /// Not known for this collection.
    Unknown,
}

impl std::fmt::Display for ClosureDim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClosureDim::Finite(d) => write!(f, "{d}"),
            ClosureDim::Infinite => f.write_str("∞"),
            ClosureDim::Unknown => f.write_str("unknown"),
        }
    }
}

/// gcd(a, b) with gcd(0, b) = b.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Is the system x ≡ aᵢ (mod bᵢ) solvable? (Pairwise compatibility
/// aᵢ ≡ aⱼ mod gcd(bᵢ, bⱼ) is necessary and sufficient.)
pub fn congruences_compatible(system: &[(i64, u64)]) -> bool {
    for (i, &(ai, bi)) in system.iter().enumerate() {
        for &(aj, bj) in &system[i + 1..] {
            let g = gcd(bi, bj) as i128;
            if (ai as i128 - aj as i128).rem_euclid(g) != 0 {
                return false;
            }
        }
    }
    true
}

/// Cantor pairing π(x, y) = (x + y)(x + y + 1)/2 + y.
pub fn cantor(x: u64, y: u64) -> u64 {
    let w = x + y;
    w * (w + 1) / 2 + y
}

/// Inverse of [`cantor`].
pub fn cantor_unpair(n: u64) -> (u64, u64) {
    let w = triangular_root(n);
    let t = w * (w + 1) / 2;
    let y = n - t;
    (w - y, y)
}

/// The largest w with w(w + 1)/2 ≤ n.
pub fn triangular_root(n: u64) -> u64 {
    let mut w = (((8.0 * n as f64 + 1.0).sqrt() - 1.0) / 2.0) as u64;
    while w * (w + 1) / 2 > n {
        w -= 1;
    }
    while (w + 1) * (w + 2) / 2 <= n {
        w += 1;
    }
    w
}

/// The 1-based triangular enumeration of pairs (r, c) with 1 ≤ c ≤ r:
/// index i ↦ (r, c) where r(r − 1)/2 < i ≤ r(r + 1)/2 and c = i − r(r − 1)/2.
pub fn triangle_pair(i: usize) -> (u64, u64) {
    let i = i.max(1) as u64;
    let r = triangular_root(i - 1) + 1;
    (r, i - r * (r - 1) / 2)
}

/// Inverse of [`triangle_pair`].
pub fn triangle_index(r: u64, c: u64) -> usize {
    (r * (r - 1) / 2 + c) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairings_are_bijections() {
        for n in 0..5000 {
            let (x, y) = cantor_unpair(n);
            assert_eq!(cantor(x, y), n);
        }
        for i in 1..3000 {
            let (r, c) = triangle_pair(i);
            assert!(1 <= c && c <= r);
            assert_eq!(triangle_index(r, c), i);
        }
        assert_eq!(triangle_pair(1), (1, 1));
        assert_eq!(triangle_pair(2), (2, 1));
        assert_eq!(triangle_pair(3), (2, 2));
    }

    #[test]
    fn congruence_compatibility() {
        assert!(congruences_compatible(&[(1, 2), (1, 3)]));
        assert!(!congruences_compatible(&[(0, 2), (1, 4)]));
        assert!(congruences_compatible(&[(-1, 4), (3, 6)]));
        assert_eq!(gcd(0, 6), 6);
        assert_eq!(gcd(12, 18), 6);
    }
}
