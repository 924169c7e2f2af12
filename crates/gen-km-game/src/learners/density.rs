//! A density-seeking generator in the spirit of Kleinberg & Wei (2025,
//! "Density measures for language generation").
//!
//! KM's §5 algorithm outputs from the *deepest* (t, m)-critical language
//! n_t(m). That is what makes it valid, but the deepest critical language
//! can be a thin sub-language of K, so the set O of outputs can have lower
//! density 0 in K (mode collapse). Kleinberg & Wei measure breadth by the
//! lower density liminf_N |O ∩ {ℓ₁, …, ℓ_N}| / N of O in K = {ℓ₁ < ℓ₂ < …}
//! and give an algorithm (with a token/tree construction we do not
//! reproduce) whose outputs have lower density ≥ 1/2, which is optimal.
//!
//! **This heuristic** keeps KM's (t, m)-critical chain and its validity
//! argument but aims at breadth:
//! - KM's deepest critical language is often a *transient* member of the
//!   chain: a sub-language of K that has just entered C_t and still contains
//!   every example, until the enumeration contradicts it. The heuristic
//!   outputs from the deepest (t, m)-critical language that has been
//!   critical (at m = m_t⁽⁰⁾) for at least τ = 8 consecutive steps, falling
//!   back to KM's choice when no member is that old. Strict supersets of K
//!   are also long-lived members of the chain, but they sit *above* K, so
//!   the deepest long-lived member is K or a sub-language of K that has
//!   survived τ steps.
//! - It never repeats an output, filling the chosen language in universe
//!   order ahead of the adversary (KM may repeat a string that the adversary
//!   has not yet presented).
//!
//! **Validity in the limit.** After KM's t*, K = L_z is (t, m)-critical at
//! every step and for every m; τ steps later it is old enough, so the chosen
//! language has index ≥ z and is (t, m)-critical: its \[m\]-prefix lies in K.
//! It has no proven density guarantee; the density proxies of
//! [`crate::metrics`] measure what it achieves.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gen_core::Rng;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    Consistency, CriticalScan, DEFAULT_SEARCH_LIMIT, Learner, Memo, Seen, StepOutput, first_fresh,
    prefix_len,
};
use crate::universe::Pos;

/// The density-seeking heuristic described in the module docs.
pub struct DensitySeeker {
    coll: Arc<dyn Collection>,
    memo: Memo,
    consistency: Consistency,
    m_prev: Pos,
    outputs: HashSet<Pos>,
    age: HashMap<LangId, usize>,
}

/// Steps a critical language must survive before it is trusted.
pub const MIN_AGE: usize = 8;

impl DensitySeeker {
    /// The generator for `coll`.
    pub fn new(coll: Arc<dyn Collection>) -> Self {
        DensitySeeker {
            memo: Memo::new(coll.clone()),
            coll,
            consistency: Consistency::default(),
            m_prev: 0,
            outputs: HashSet::new(),
            age: HashMap::new(),
        }
    }

    /// The deepest member of `chain` with age ≥ [`MIN_AGE`], else the deepest.
    fn choose(&self, chain: &[LangId]) -> LangId {
        chain
            .iter()
            .rev()
            .copied()
            .find(|c| self.age.get(c).is_some_and(|&a| a >= MIN_AGE))
            .or_else(|| chain.last().copied())
            .expect("the first consistent language is always critical")
    }
}

impl Learner for DensitySeeker {
    fn name(&self) -> String {
        "density".into()
    }

    fn step(&mut self, t: usize, w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let q0 = self.memo.queries;
        let limit = prefix_len(&*self.coll, t);
        self.consistency.update(&mut self.memo, limit, w, seen);
        let cons = self.consistency.consistent();
        if cons.is_empty() {
            let out = first_fresh(
                |_| true,
                seen,
                &self.outputs,
                1,
                DEFAULT_SEARCH_LIMIT,
                || "an unseen string".into(),
            )?;
            self.outputs.insert(out);
            self.m_prev = self.m_prev.max(w);
            return Ok(StepOutput {
                output: out,
                focus: None,
                membership_queries: self.memo.queries - q0,
                structure_queries: 0,
            });
        }
        let m_start = self.m_prev.max(w);
        let mut m = m_start;
        let mut scan = CriticalScan::new(cons);
        scan.advance(&mut self.memo, m);
        let chain = scan.chain();
        self.age = chain
            .iter()
            .map(|&c| (c, self.age.get(&c).copied().unwrap_or(0) + 1))
            .collect();
        let mut c = self.choose(&chain);
        let mut scanned_upto: Pos = 0;
        let output = loop {
            let mut found = None;
            while scanned_upto < m {
                scanned_upto += 1;
                let j = scanned_upto;
                if !seen.contains(j) && !self.outputs.contains(&j) && self.memo.contains(c, j) {
                    found = Some(j);
                    break;
                }
            }
            if let Some(out) = found {
                break out;
            }
            if m >= m_start.saturating_add(DEFAULT_SEARCH_LIMIT) {
                return Err(KmError::SearchLimit {
                    what: format!("an unseen string of L{c} ({})", self.coll.lang_name(c)),
                    limit: m,
                    fix: "make sure every language of the collection is infinite".into(),
                });
            }
            m += 1;
            scan.advance(&mut self.memo, m);
            let c_new = self.choose(&scan.chain());
            if c_new != c {
                c = c_new;
                scanned_upto = 0;
            }
        };
        self.m_prev = m;
        self.outputs.insert(output);
        Ok(StepOutput {
            output,
            focus: Some(c),
            membership_queries: self.memo.queries - q0,
            structure_queries: 0,
        })
    }
}
