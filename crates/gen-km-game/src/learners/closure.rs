//! The closure generator of Li, Raman & Tewari (2024, uniform generation).
//!
//! With the distinct examples S seen so far, compute ⟨S⟩ = ⋂{L ∈ C : S ⊆ L}.
//! If ⟨S⟩ is infinite, output an element of ⟨S⟩ ∖ S; otherwise output
//! anything (here: the first unseen string). Because K ⊇ S is one of the
//! languages intersected, ⟨S⟩ ⊆ K, so every output made from an infinite
//! closure is valid. If the closure dimension d(C) is finite, every sample of
//! d + 1 distinct elements of K has an infinite closure, so the generator is
//! valid from the (d + 1)-th distinct example on — for every target and
//! every enumeration (uniform generation). Classes with d = ∞ (co-finite
//! sets, progressions plus a finite set, co-singletons) defeat it.

use std::collections::HashSet;
use std::sync::Arc;

use gen_core::Rng;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::learners::{DEFAULT_SEARCH_LIMIT, Learner, Seen, StepOutput, first_fresh};
use crate::universe::Pos;

/// Li–Raman–Tewari closure generator.
pub struct ClosureGenerator {
    coll: Arc<dyn Collection>,
    outputs: HashSet<Pos>,
}

impl ClosureGenerator {
    /// Fails if the collection cannot compute closures.
    pub fn new(coll: Arc<dyn Collection>) -> Result<Self> {
        if coll.closure(&[]).is_none() {
            return Err(KmError::Unsupported {
                learner: "closure".into(),
                collection: coll.name(),
                needs: "a computable closure <S> (intersection of all consistent languages)".into(),
                fix: "use 'km' or 'cp', or a collection with closures (see `km list`)".into(),
            });
        }
        Ok(ClosureGenerator {
            coll,
            outputs: HashSet::new(),
        })
    }
}

impl Learner for ClosureGenerator {
    fn name(&self) -> String {
        "closure".into()
    }

    fn step(&mut self, _t: usize, _w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let closure = self
            .coll
            .closure(seen.distinct())
            .ok_or_else(|| KmError::Unsupported {
                learner: "closure".into(),
                collection: self.coll.name(),
                needs: "a closure for this sample".into(),
                fix: "use 'km'".into(),
            })?;
        let output = if closure.infinite {
            first_fresh(
                |p| closure.contains(p),
                seen,
                &self.outputs,
                1,
                DEFAULT_SEARCH_LIMIT,
                || format!("an unseen element of the closure {}", closure.description),
            )?
        } else {
            first_fresh(
                |_| true,
                seen,
                &self.outputs,
                1,
                DEFAULT_SEARCH_LIMIT,
                || "an unseen string".into(),
            )?
        };
        self.outputs.insert(output);
        Ok(StepOutput {
            output,
            focus: None,
            membership_queries: 0,
            structure_queries: 1,
        })
    }
}
