//! Collections C = (L₁, L₂, …) of infinite languages with membership oracles,
//! plus the decidable structure some algorithms need.
//!
//! | collection | universe | Lᵢ | subset | ∩ infinite | closure | d(C) | staged decoys |
//! |---|---|---|---|---|---|---|---|
//! | [`Multiples`] | ℕ | kℕ | ✓ | ✓ | ✓ | 1 | – |
//! | [`OneWay`] | ℤ | P(a, b) = {a + bi : i ≥ 0} | ✓ | ✓ | ✓ | 1 | – |
//! | [`TwoWay`] | ℤ | Q(a, b) = {a + bi : i ∈ ℤ} | ✓ | ✓ | ✓ | 1 | – |
//! | [`Progressions`] | ℤ | all P and Q (KM's non-identifiable class) | ✓ | ✓ | ✓ | 1 | Q targets |
//! | [`Rays`] | ℕ | {n ≥ a} | ✓ | ✓ | ✓ | 0 | – |
//! | [`CoSingletons`] | ℤ | ℤ and ℤ ∖ {uⱼ} | ✓ | ✓ | ✓ | ∞ | target ℤ |
//! | [`CoFinite`] | ℕ | ℕ ∖ F, F finite | ✓ | ✓ | ✓ | ∞ | ✓ (F ⊆ \[0, 62\]) |
//! | [`PlusFinite`] | ℕ | kℕ ∪ F, F finite | ✓ | ✓ | ✓ | ∞ | – |
//! | [`Unions`] | ℕ | jℕ ∪ kℕ | ✓ | ✓ | ✓ | 1 | – |
//! | [`Regular`] | Σ* | L(DFA), shortlex | ✓ | ✓ | ✓ (finite C) | unknown | – |
//! | [`OracleCollection`] | any | user closures | – | – | – | unknown | – |
//!
//! Algorithms only ever call [`Collection::contains`] (a membership query) and
//! the optional structure methods; they never look inside a language.

mod arithmetic;
mod cofinite;
mod oracle;
mod regular;

pub use arithmetic::{Multiples, OneWay, PlusFinite, Prog, Progressions, Rays, TwoWay, Unions};
pub use cofinite::{CoFinite, CoSingletons};
pub use oracle::{OracleCollection, km_worked_example};
pub use regular::{Dfa, Regular};

use crate::languages::{Closure, ClosureDim, LangId};
use crate::universe::{Pos, Universe};

/// A countable collection of infinite languages over a [`Universe`].
///
/// Language indices are 1-based ([`LangId`]); `len() == None` means the
/// collection is countably infinite.
pub trait Collection: Send + Sync {
    /// The spec name (`multiples`, `regular`, …).
    fn name(&self) -> String;
    /// One line saying what the languages are.
    fn description(&self) -> String;
    /// The universe the languages live in.
    fn universe(&self) -> &Universe;
    /// Number of languages, `None` for a countably infinite collection.
    fn len(&self) -> Option<usize>;
    /// Is the collection empty? (Never for the built-in ones.)
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
    /// A readable name of Lᵢ, e.g. `3N` or `P(-2,3)`.
    fn lang_name(&self, i: LangId) -> String;
    /// The membership oracle: is uₚ ∈ Lᵢ?
    fn contains(&self, i: LangId, p: Pos) -> bool;
    /// The subset oracle: is L_a ⊆ L_b? `None` if undecidable here.
    fn is_subset(&self, _a: LangId, _b: LangId) -> Option<bool> {
        None
    }
    /// Is L_{i₁} ∩ … ∩ L_{iₖ} infinite? (`ids` non-empty.) `None` if unknown.
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        None
    }
    /// The closure ⟨S⟩ of a sample (positions; repeats allowed), `None` if
    /// this collection cannot compute it. The default works for finite
    /// collections with [`Collection::intersection_is_infinite`].
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        finite_closure(self, sample)
    }
    /// The closure dimension d(C), when known.
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Unknown
    }
    /// For the staged adversary (KM appendix, Gold's argument): a language
    /// D ⊊ L_target that contains every presented element, if the
    /// collection offers one.
    fn decoy(&self, _target: LangId, _presented: &[Pos]) -> Option<LangId> {
        None
    }
}

/// ⟨S⟩ for a finite collection: the intersection of all consistent languages.
fn finite_closure<'a, C: Collection + ?Sized>(c: &'a C, sample: &[Pos]) -> Option<Closure<'a>> {
    let n = c.len()?;
    let consistent: Vec<LangId> = (1..=n)
        .filter(|&i| sample.iter().all(|&p| c.contains(i, p)))
        .collect();
    if consistent.is_empty() {
        // The empty intersection is the whole universe.
        return Some(Closure::new(true, "U", |_| true));
    }
    let infinite = c.intersection_is_infinite(&consistent)?;
    let names: Vec<String> = consistent.iter().map(|&i| c.lang_name(i)).collect();
    Some(Closure::new(infinite, names.join(" ∩ "), move |p| {
        consistent.iter().all(|&i| c.contains(i, p))
    }))
}

/// The first `n` elements of Lᵢ in universe order (bounded search).
pub fn first_elements<C: Collection + ?Sized>(
    c: &C,
    i: LangId,
    n: usize,
    search_limit: Pos,
) -> Vec<Pos> {
    let mut out = Vec::with_capacity(n);
    let mut p = 1;
    while out.len() < n && p <= search_limit {
        if c.contains(i, p) {
            out.push(p);
        }
        p += 1;
    }
    out
}
