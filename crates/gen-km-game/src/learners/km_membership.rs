//! KM's generation algorithm with membership queries only (Kleinberg &
//! Mullainathan 2024, §5).
//!
//! **Definitions.** L\[m\] = L ∩ {u₁, …, u_m}. At step t only C_t = (L₁, …, L_t)
//! is considered. Lₙ ∈ C_t is *(t, m)-critical* if Sₜ ⊆ Lₙ and Lₙ\[m\] ⊆ Lᵢ\[m\]
//! for every i < n with Sₜ ⊆ Lᵢ. Write n_t(m) for the largest such n.
//!
//! **Algorithm.** Keep a counter m (m₀ = 0). In step t, with wₜ = u_{iₜ}:
//! 1. m_t⁽⁰⁾ = max(m_{t−1}, iₜ); m ← m_t⁽⁰⁾.
//! 2. Find n = n_t(m). If the stop rule holds, output a string of
//!    Lₙ\[m\] ∖ Sₜ and set m_t = m; otherwise m ← m + 1 and repeat 2.
//!
//! The loop ends because n_t(m) is non-increasing in m (KM (5.1)), so it
//! settles on some language, which is infinite. **Validity:** once t ≥ z and
//! every Lᵢ (i < z) with K ⊄ Lᵢ has been contradicted by Sₜ, K = L_z is
//! (t, m)-critical for every m, so n = n_t(m) ≥ z and Lₙ\[m\] ⊆ L_z\[m\] = K\[m\]:
//! the output lies in K. **Novelty:** outputs avoid Sₜ by construction.
//!
//! **Stop rules.** [`StopRule::Proceedings`] stops as soon as Lₙ\[m\] contains
//! some string not in Sₜ (outputting the first such string that is not an
//! earlier output, if any, else the first such string);
//! [`StopRule::ArxivV1`] examines one new row at a time and stops when u_m
//! itself lies in L_{n_t(m)} ∖ Sₜ (outputting u_m). We did not have the two
//! texts side by side: the attribution of these two readings to the NeurIPS
//! proceedings and to arXiv v1 is our reconstruction. Both are valid in the
//! limit by the argument above, and both reproduce the trace of KM's
//! Figures 1–2 (see [`crate::collections::km_worked_example`]).
//!
//! If no language of C_t is consistent (possible only before t*), the
//! output is arbitrary: the first string not seen.

use std::collections::HashSet;
use std::sync::Arc;

use gen_core::Rng;
use serde::Serialize;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    Consistency, CriticalScan, DEFAULT_SEARCH_LIMIT, Learner, Memo, Seen, StepOutput, first_fresh,
    prefix_len,
};
use crate::universe::Pos;

/// Which stop rule ends the search for m (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopRule {
    /// Stop once L_{n_t(m)}\[m\] ∖ Sₜ ≠ ∅.
    Proceedings,
    /// Stop once u_m ∈ L_{n_t(m)} ∖ Sₜ.
    ArxivV1,
}

/// What the algorithm did in one step (recorded when tracing is on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KmStepTrace {
    /// Step t.
    pub t: usize,
    /// The example wₜ.
    pub example: Pos,
    /// Languages of C_t consistent with Sₜ.
    pub consistent: Vec<LangId>,
    /// m_t⁽⁰⁾ = max(m_{t−1}, iₜ).
    pub m_start: Pos,
    /// m_t, the counter when the step stopped.
    pub m_end: Pos,
    /// (m, n_t(m)) at m_t⁽⁰⁾ and at every m where n_t(m) changed.
    pub critical: Vec<(Pos, LangId)>,
    /// The output aₜ.
    pub output: Pos,
}

/// KM's membership-query generator (§5).
pub struct KmMembership {
    coll: Arc<dyn Collection>,
    rule: StopRule,
    memo: Memo,
    consistency: Consistency,
    m_prev: Pos,
    outputs: HashSet<Pos>,
    trace: Option<Vec<KmStepTrace>>,
    search_limit: Pos,
}

impl KmMembership {
    /// The generator for `coll` with the given stop rule.
    pub fn new(coll: Arc<dyn Collection>, rule: StopRule) -> Self {
        KmMembership {
            memo: Memo::new(coll.clone()),
            coll,
            rule,
            consistency: Consistency::default(),
            m_prev: 0,
            outputs: HashSet::new(),
            trace: None,
            search_limit: DEFAULT_SEARCH_LIMIT,
        }
    }

    /// Records a [`KmStepTrace`] per step.
    pub fn with_trace(mut self) -> Self {
        self.trace = Some(Vec::new());
        self
    }

    /// The recorded trace (empty unless [`KmMembership::with_trace`]).
    pub fn trace(&self) -> &[KmStepTrace] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// The counter m_t after the last step.
    pub fn counter(&self) -> Pos {
        self.m_prev
    }

    fn limit_error(&self, n: LangId, m: Pos) -> KmError {
        KmError::SearchLimit {
            what: format!(
                "KM found no unseen string in the critical language {} ({})",
                n,
                self.coll.lang_name(n)
            ),
            limit: m,
            fix: "make sure every language of the collection is infinite".into(),
        }
    }
}

impl Learner for KmMembership {
    fn name(&self) -> String {
        match self.rule {
            StopRule::Proceedings => "km".into(),
            StopRule::ArxivV1 => "km-v1".into(),
        }
    }

    fn step(&mut self, t: usize, w: Pos, seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        let q0 = self.memo.queries;
        let limit = prefix_len(&*self.coll, t);
        self.consistency.update(&mut self.memo, limit, w, seen);
        let consistent = self.consistency.consistent();
        let m_start = self.m_prev.max(w);
        let mut critical = Vec::new();

        let (output, focus, m_end) = if consistent.is_empty() {
            let empty = HashSet::new();
            let out = first_fresh(
                |_| true,
                seen,
                &empty,
                1,
                self.search_limit,
                || "an unseen string".into(),
            )?;
            (out, None, m_start)
        } else {
            let mut scan = CriticalScan::new(consistent.clone());
            let mut m = m_start;
            scan.advance(&mut self.memo, m);
            let mut n = scan
                .deepest()
                .expect("the first consistent language is critical");
            critical.push((m, n));
            // Proceedings rule: best candidates in Lₙ[m] ∖ Sₜ so far.
            let mut fresh: Option<Pos> = None;
            let mut unseen: Option<Pos> = None;
            let mut scanned_upto: Pos = 0; // rows of Lₙ examined for candidates
            loop {
                let found = match self.rule {
                    StopRule::Proceedings => {
                        while scanned_upto < m {
                            scanned_upto += 1;
                            let j = scanned_upto;
                            if !seen.contains(j) && self.memo.contains(n, j) {
                                unseen.get_or_insert(j);
                                if !self.outputs.contains(&j) {
                                    fresh.get_or_insert(j);
                                }
                            }
                        }
                        fresh.or(unseen)
                    }
                    StopRule::ArxivV1 => {
                        (!seen.contains(m) && self.memo.contains(n, m)).then_some(m)
                    }
                };
                if let Some(out) = found {
                    break (out, Some(n), m);
                }
                if m >= m_start.saturating_add(self.search_limit) {
                    return Err(self.limit_error(n, m));
                }
                m += 1;
                scan.advance(&mut self.memo, m);
                let n_new = scan
                    .deepest()
                    .expect("the first consistent language is critical");
                if n_new != n {
                    n = n_new;
                    critical.push((m, n));
                    fresh = None;
                    unseen = None;
                    scanned_upto = 0;
                }
            }
        };
        self.m_prev = m_end;
        self.outputs.insert(output);
        if let Some(trace) = self.trace.as_mut() {
            trace.push(KmStepTrace {
                t,
                example: w,
                consistent,
                m_start,
                m_end,
                critical,
                output,
            });
        }
        Ok(StepOutput {
            output,
            focus,
            membership_queries: self.memo.queries - q0,
            structure_queries: 0,
        })
    }
}
