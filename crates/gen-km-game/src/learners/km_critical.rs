//! KM's "semantic" generator with a subset oracle (Kleinberg & Mullainathan
//! 2024, §4).
//!
//! Lₙ ∈ C_t is *critical* at step t if Sₜ ⊆ Lₙ and Lₙ ⊆ Lᵢ for every
//! i < n with Sₜ ⊆ Lᵢ. L₁'s first consistent language is always critical;
//! the algorithm outputs a string of Lₙ ∖ Sₜ for the largest critical n ≤ t.
//! Once t ≥ z and every Lᵢ (i < z) with K ⊄ Lᵢ is contradicted, K = L_z is
//! critical (KM (4.3)), hence n ≥ z and Lₙ ⊆ L_z = K: every output is valid.
//!
//! Needs [`Collection::is_subset`]; subset answers are cached and counted as
//! structural queries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gen_core::Rng;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    Consistency, DEFAULT_SEARCH_LIMIT, Learner, Memo, Seen, StepOutput, first_fresh, prefix_len,
};
use crate::universe::Pos;

/// KM §4 generator (critical languages, subset oracle).
pub struct KmCritical {
    coll: Arc<dyn Collection>,
    memo: Memo,
    consistency: Consistency,
    subset: HashMap<(LangId, LangId), bool>,
    outputs: HashSet<Pos>,
}

impl KmCritical {
    /// Fails if the collection has no subset oracle.
    pub fn new(coll: Arc<dyn Collection>) -> Result<Self> {
        if coll.is_subset(1, 1).is_none() {
            return Err(KmError::Unsupported {
                learner: "km-critical".into(),
                collection: coll.name(),
                needs: "a decidable subset relation (L_a ⊆ L_b)".into(),
                fix: "use the learner 'km' (membership queries only)".into(),
            });
        }
        Ok(KmCritical {
            memo: Memo::new(coll.clone()),
            coll,
            consistency: Consistency::default(),
            subset: HashMap::new(),
            outputs: HashSet::new(),
        })
    }

    fn subset(&mut self, a: LangId, b: LangId, count: &mut u64) -> Result<bool> {
        if let Some(&ans) = self.subset.get(&(a, b)) {
            return Ok(ans);
        }
        *count += 1;
        let ans = self
            .coll
            .is_subset(a, b)
            .ok_or_else(|| KmError::Unsupported {
                learner: "km-critical".into(),
                collection: self.coll.name(),
                needs: format!("a subset answer for L{a} ⊆ L{b}"),
                fix: "use the learner 'km'".into(),
            })?;
        self.subset.insert((a, b), ans);
        Ok(ans)
    }
}

impl Learner for KmCritical {
    fn name(&self) -> String {
        "km-critical".into()
    }

    fn step(&mut self, t: usize, w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let q0 = self.memo.queries;
        let mut sq = 0;
        let limit = prefix_len(&*self.coll, t);
        self.consistency.update(&mut self.memo, limit, w, seen);
        let cons = self.consistency.consistent();
        let mut focus = None;
        for (k, &n) in cons.iter().enumerate().rev() {
            let mut critical = true;
            for &i in &cons[..k] {
                if !self.subset(n, i, &mut sq)? {
                    critical = false;
                    break;
                }
            }
            if critical {
                focus = Some(n);
                break;
            }
        }
        let output = match focus {
            Some(n) => {
                let memo = &mut self.memo;
                first_fresh(
                    |p| memo.contains(n, p),
                    seen,
                    &self.outputs,
                    1,
                    DEFAULT_SEARCH_LIMIT,
                    || format!("an unseen string of L{n}"),
                )?
            }
            None => first_fresh(
                |_| true,
                seen,
                &self.outputs,
                1,
                DEFAULT_SEARCH_LIMIT,
                || "an unseen string".into(),
            )?,
        };
        self.outputs.insert(output);
        Ok(StepOutput {
            output,
            focus,
            membership_queries: self.memo.queries - q0,
            structure_queries: sq,
        })
    }
}
