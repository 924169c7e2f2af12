//! Learners (generators) of the KM game and the machinery they share.
//!
//! After the adversary's t-th example wₜ the learner sees Sₜ = {w₁, …, wₜ}
//! and outputs aₜ; it *generates in the limit* if aₜ ∈ K ∖ Sₜ for all t ≥ t*.
//!
//! | learner | paper | needs |
//! |---|---|---|
//! | [`KmMembership`] | KM 2024 §5, (t, m)-critical languages | membership only |
//! | [`KmCritical`] | KM 2024 §4, critical languages | subset oracle |
//! | [`ClosureGenerator`] | Li, Raman & Tewari 2024, uniform generation | closure ⟨S⟩ |
//! | [`CharikarPabbaraju`] | Charikar & Pabbaraju 2024, non-uniform generation | ∩ infinite? |
//! | [`DensitySeeker`] | in the spirit of Kleinberg & Wei 2025 | membership only |
//! | [`Identification`] | Gold 1967 / Angluin 1980 | membership (+ subset) |
//! | [`Memorizer`], [`Hallucinator`] | baselines | nothing |

mod baselines;
mod charikar_pabbaraju;
mod closure;
mod density;
mod identification;
mod km_critical;
mod km_membership;

pub use baselines::{Hallucinator, Memorizer};
pub use charikar_pabbaraju::CharikarPabbaraju;
pub use closure::ClosureGenerator;
pub use density::DensitySeeker;
pub use identification::{IdRule, Identification};
pub use km_critical::KmCritical;
pub use km_membership::{KmMembership, KmStepTrace, StopRule};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gen_core::Rng;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::universe::Pos;

/// How far beyond its starting point a learner searches for a string before
/// it concludes that a language looks finite (positions).
pub const DEFAULT_SEARCH_LIMIT: Pos = 1 << 22;

/// The sample Sₜ seen so far (positions, repeats collapsed).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    set: HashSet<Pos>,
    distinct: Vec<Pos>,
    max: Pos,
    steps: usize,
}

impl Seen {
    /// An empty sample.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records one example; returns whether it is new.
    pub fn insert(&mut self, p: Pos) -> bool {
        self.steps += 1;
        self.max = self.max.max(p);
        let new = self.set.insert(p);
        if new {
            self.distinct.push(p);
        }
        new
    }
    /// Is uₚ ∈ Sₜ?
    pub fn contains(&self, p: Pos) -> bool {
        self.set.contains(&p)
    }
    /// The distinct examples in order of first appearance.
    pub fn distinct(&self) -> &[Pos] {
        &self.distinct
    }
    /// |Sₜ| (distinct examples).
    pub fn len(&self) -> usize {
        self.distinct.len()
    }
    /// Is Sₜ empty?
    pub fn is_empty(&self) -> bool {
        self.distinct.is_empty()
    }
    /// The largest position seen (0 if none).
    pub fn max_pos(&self) -> Pos {
        self.max
    }
    /// Number of examples received (with repeats).
    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// What a learner does in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepOutput {
    /// The output aₜ (a position).
    pub output: Pos,
    /// The language the learner bases aₜ on (its critical language, guess, …).
    pub focus: Option<LangId>,
    /// Membership queries asked in this step (distinct ones; learners keep
    /// the answers).
    pub membership_queries: u64,
    /// Structural queries (subset, closure, infinite-intersection) in this step.
    pub structure_queries: u64,
}

/// A learner of the KM game.
pub trait Learner {
    /// Its spec name.
    fn name(&self) -> String;
    /// Receives wₜ (already recorded in `seen` = Sₜ) and outputs aₜ.
    fn step(&mut self, t: usize, w: Pos, seen: &Seen, rng: &mut Rng) -> Result<StepOutput>;
}

/// Number of languages in C_t = (L₁, …, L_t) (KM consider only these at step t).
pub(crate) fn prefix_len(c: &dyn Collection, t: usize) -> usize {
    c.len().map_or(t, |n| n.min(t))
}

/// Membership oracle with memory: each distinct question (Lᵢ, uⱼ) is asked
/// of the collection once and counted in `queries`.
pub(crate) struct Memo {
    coll: Arc<dyn Collection>,
    dense: Vec<Vec<u8>>,
    sparse: HashMap<(LangId, Pos), bool>,
    pub queries: u64,
}

const DENSE_LIMIT: Pos = 1 << 16;

impl Memo {
    pub fn new(coll: Arc<dyn Collection>) -> Self {
        Memo {
            coll,
            dense: Vec::new(),
            sparse: HashMap::new(),
            queries: 0,
        }
    }

    pub fn contains(&mut self, i: LangId, p: Pos) -> bool {
        if p <= DENSE_LIMIT {
            if self.dense.len() < i {
                self.dense.resize_with(i, Vec::new);
            }
            let row = &mut self.dense[i - 1];
            let k = p as usize;
            if row.len() <= k {
                row.resize((k + 1).next_power_of_two().max(64), 0);
            }
            match row[k] {
                1 => false,
                2 => true,
                _ => {
                    self.queries += 1;
                    let ans = self.coll.contains(i, p);
                    row[k] = if ans { 2 } else { 1 };
                    ans
                }
            }
        } else if let Some(&ans) = self.sparse.get(&(i, p)) {
            ans
        } else {
            self.queries += 1;
            let ans = self.coll.contains(i, p);
            self.sparse.insert((i, p), ans);
            ans
        }
    }
}

/// Which of L₁, …, L_t are consistent with Sₜ (Sₜ ⊆ Lᵢ), kept incrementally:
/// an inconsistent language never becomes consistent again.
#[derive(Debug, Default)]
pub(crate) struct Consistency {
    status: Vec<bool>,
}

impl Consistency {
    pub fn update(&mut self, memo: &mut Memo, limit: usize, w: Pos, seen: &Seen) {
        for (k, ok) in self.status.iter_mut().enumerate() {
            if *ok {
                *ok = memo.contains(k + 1, w);
            }
        }
        while self.status.len() < limit {
            let i = self.status.len() + 1;
            let ok = seen.distinct().iter().all(|&p| memo.contains(i, p));
            self.status.push(ok);
        }
    }

    pub fn consistent(&self) -> Vec<LangId> {
        (1..=self.status.len())
            .filter(|&i| self.status[i - 1])
            .collect()
    }
}

/// The (t, m)-critical languages of KM §5 for growing m at a fixed step t.
///
/// Lₙ is (t, m)-critical if it is consistent with Sₜ and Lₙ\[m\] ⊆ Lᵢ\[m\] for
/// every consistent Lᵢ with i < n, where L\[m\] = L ∩ {u₁, …, u_m}. Raising m
/// can only remove languages from this set (KM (5.1)), so a language is
/// marked dead at the first row uⱼ that it contains and some earlier
/// consistent language lacks. The first consistent language is always
/// critical, and the critical languages form a chain under ⊆ on \[m\].
pub(crate) struct CriticalScan {
    cons: Vec<LangId>,
    dead: Vec<bool>,
    m: Pos,
}

impl CriticalScan {
    pub fn new(cons: Vec<LangId>) -> Self {
        let dead = vec![false; cons.len()];
        CriticalScan { cons, dead, m: 0 }
    }

    /// Processes rows up to u_m.
    pub fn advance(&mut self, memo: &mut Memo, m: Pos) {
        while self.m < m {
            self.m += 1;
            let j = self.m;
            let first_missing = self.cons.iter().position(|&i| !memo.contains(i, j));
            if let Some(f) = first_missing {
                for k in f + 1..self.cons.len() {
                    if !self.dead[k] && memo.contains(self.cons[k], j) {
                        self.dead[k] = true;
                    }
                }
            }
        }
    }

    /// n_t(m): the highest-indexed (t, m)-critical language.
    pub fn deepest(&self) -> Option<LangId> {
        (0..self.cons.len())
            .rev()
            .find(|&k| !self.dead[k])
            .map(|k| self.cons[k])
    }

    /// All (t, m)-critical languages, in increasing index (a ⊆-chain on \[m\]).
    pub fn chain(&self) -> Vec<LangId> {
        (0..self.cons.len())
            .filter(|&k| !self.dead[k])
            .map(|k| self.cons[k])
            .collect()
    }
}

/// The first position ≥ `start` that passes `test` and is neither seen nor
/// an earlier output (bounded by `limit` positions).
pub(crate) fn first_fresh(
    mut test: impl FnMut(Pos) -> bool,
    seen: &Seen,
    outputs: &HashSet<Pos>,
    start: Pos,
    limit: Pos,
    what: impl FnOnce() -> String,
) -> Result<Pos> {
    let end = start.saturating_add(limit);
    let mut p = start.max(1);
    while p <= end {
        if !seen.contains(p) && !outputs.contains(&p) && test(p) {
            return Ok(p);
        }
        p += 1;
    }
    Err(KmError::SearchLimit {
        what: what(),
        limit: end,
        fix: "make sure every language of the collection is infinite (or raise the search limit)"
            .into(),
    })
}
