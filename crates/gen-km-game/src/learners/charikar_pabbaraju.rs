//! A greedy non-uniform generator in the style of Charikar & Pabbaraju
//! (2024, "Exploring facets of language generation in the limit").
//!
//! With n = |S| distinct examples, let I = {i ≤ n : S ⊆ Lᵢ} (in increasing
//! order) and take the longest prefix i₁ < … < i_k of I whose intersection
//! L_{i₁} ∩ … ∩ L_{i_k} is infinite; output an unseen element of it.
//!
//! **Why it is valid after a number of distinct examples that depends only
//! on K = L_z (non-uniform generation).** For every set J ⊆ {1, …, z − 1}
//! with |⋂_{j∈J} Lⱼ ∩ K| = c_J < ∞, once n > c_J the consistent members of
//! J cannot all be consistent together with K's examples, so once
//! n ≥ max(z, max_J c_J + 1) the prefix of I up to z has an infinite
//! intersection; the greedy prefix then includes L_z and the output lies in
//! K. The bound depends on K, not on the order of the examples.
//!
//! Needs [`Collection::intersection_is_infinite`] (beyond membership
//! queries, which CP show cannot suffice for non-uniform generation).

use std::collections::HashSet;
use std::sync::Arc;

use gen_core::Rng;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    Consistency, DEFAULT_SEARCH_LIMIT, Learner, Memo, Seen, StepOutput, first_fresh,
};
use crate::universe::Pos;

/// Charikar–Pabbaraju-style greedy non-uniform generator.
pub struct CharikarPabbaraju {
    coll: Arc<dyn Collection>,
    memo: Memo,
    consistency: Consistency,
    outputs: HashSet<Pos>,
}

impl CharikarPabbaraju {
    /// Fails if the collection cannot decide infiniteness of intersections.
    pub fn new(coll: Arc<dyn Collection>) -> Result<Self> {
        if coll.intersection_is_infinite(&[1]).is_none() {
            return Err(KmError::Unsupported {
                learner: "cp".into(),
                collection: coll.name(),
                needs: "a decision procedure for 'is L_i1 ∩ … ∩ L_ik infinite?'".into(),
                fix: "use 'km' (membership queries only)".into(),
            });
        }
        Ok(CharikarPabbaraju {
            memo: Memo::new(coll.clone()),
            coll,
            consistency: Consistency::default(),
            outputs: HashSet::new(),
        })
    }
}

impl Learner for CharikarPabbaraju {
    fn name(&self) -> String {
        "cp".into()
    }

    fn step(&mut self, _t: usize, w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let q0 = self.memo.queries;
        let mut sq = 0;
        let n = self
            .coll
            .len()
            .map_or(seen.len(), |len| len.min(seen.len()));
        self.consistency.update(&mut self.memo, n, w, seen);
        let mut prefix: Vec<LangId> = Vec::new();
        for i in self.consistency.consistent() {
            prefix.push(i);
            sq += 1;
            match self.coll.intersection_is_infinite(&prefix) {
                Some(true) => {}
                Some(false) => {
                    prefix.pop();
                    break;
                }
                None => {
                    return Err(KmError::Unsupported {
                        learner: "cp".into(),
                        collection: self.coll.name(),
                        needs: "an answer to an infinite-intersection query".into(),
                        fix: "use 'km'".into(),
                    });
                }
            }
        }
        let memo = &mut self.memo;
        let output = first_fresh(
            |p| prefix.iter().all(|&i| memo.contains(i, p)),
            seen,
            &self.outputs,
            1,
            DEFAULT_SEARCH_LIMIT,
            || "an unseen element of the greedy intersection".into(),
        )?;
        self.outputs.insert(output);
        Ok(StepOutput {
            output,
            focus: prefix.last().copied(),
            membership_queries: self.memo.queries - q0,
            structure_queries: sq,
        })
    }
}
