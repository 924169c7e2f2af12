//! Identification learners (Gold 1967; Angluin 1980), used to show
//! identification failing where generation succeeds.
//!
//! Each step the learner guesses a language Lᵢ ∈ C_t (its focus) and, to take
//! part in the generation game, outputs the first string of its guess that is
//! neither seen nor output before. It *identifies* K if its guess is
//! eventually constant and equal to K.
//!
//! - [`IdRule::FirstConsistent`]: Gold's enumeration learner, the first
//!   consistent Lᵢ. It stalls on any strict superset of K listed before K.
//! - [`IdRule::MinimalConsistent`]: the first consistent Lᵢ that has no
//!   consistent proper subset in C_t (a conservative learner; needs the
//!   subset oracle). It identifies every one-way progression, and so, by the
//!   staged construction of KM's appendix (after Gold), it must change its
//!   guess infinitely often on a two-way target: against the staged
//!   adversary it guesses each decoy P(min S, b) in turn.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gen_core::Rng;
use serde::Serialize;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    Consistency, DEFAULT_SEARCH_LIMIT, Learner, Memo, Seen, StepOutput, first_fresh, prefix_len,
};
use crate::universe::Pos;

/// How the identification learner picks its guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdRule {
    /// The first consistent language (Gold's enumeration learner).
    FirstConsistent,
    /// The first consistent language with no consistent proper subset.
    MinimalConsistent,
}

/// An identification learner.
pub struct Identification {
    coll: Arc<dyn Collection>,
    rule: IdRule,
    memo: Memo,
    consistency: Consistency,
    subset: HashMap<(LangId, LangId), bool>,
    outputs: HashSet<Pos>,
}

impl Identification {
    /// The learner; [`IdRule::MinimalConsistent`] needs a subset oracle.
    pub fn new(coll: Arc<dyn Collection>, rule: IdRule) -> Result<Self> {
        if rule == IdRule::MinimalConsistent && coll.is_subset(1, 1).is_none() {
            return Err(KmError::Unsupported {
                learner: "identification-minimal".into(),
                collection: coll.name(),
                needs: "a decidable subset relation".into(),
                fix: "use 'identification' (first consistent language)".into(),
            });
        }
        Ok(Identification {
            memo: Memo::new(coll.clone()),
            coll,
            rule,
            consistency: Consistency::default(),
            subset: HashMap::new(),
            outputs: HashSet::new(),
        })
    }

    fn subset(&mut self, a: LangId, b: LangId, count: &mut u64) -> bool {
        if let Some(&s) = self.subset.get(&(a, b)) {
            return s;
        }
        *count += 1;
        let s = self.coll.is_subset(a, b).unwrap_or(false);
        self.subset.insert((a, b), s);
        s
    }
}

impl Learner for Identification {
    fn name(&self) -> String {
        match self.rule {
            IdRule::FirstConsistent => "identification".into(),
            IdRule::MinimalConsistent => "identification-minimal".into(),
        }
    }

    fn step(&mut self, t: usize, w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let q0 = self.memo.queries;
        let mut sq = 0;
        let limit = prefix_len(&*self.coll, t);
        self.consistency.update(&mut self.memo, limit, w, seen);
        let cons = self.consistency.consistent();
        let guess = match self.rule {
            IdRule::FirstConsistent => cons.first().copied(),
            IdRule::MinimalConsistent => {
                let mut pick = None;
                'outer: for &i in &cons {
                    for &j in &cons {
                        if j != i && self.subset(j, i, &mut sq) && !self.subset(i, j, &mut sq) {
                            continue 'outer;
                        }
                    }
                    pick = Some(i);
                    break;
                }
                pick
            }
        };
        let memo = &mut self.memo;
        let output = match guess {
            Some(g) => first_fresh(
                |p| memo.contains(g, p),
                seen,
                &self.outputs,
                1,
                DEFAULT_SEARCH_LIMIT,
                || format!("an unseen string of the guess L{g}"),
            )?,
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
            focus: guess,
            membership_queries: self.memo.queries - q0,
            structure_queries: sq,
        })
    }
}
