//! Per-run metrics: the empirical last error step t̂*, hallucinations,
//! non-novel outputs, focus changes, queries, and density proxies.
//!
//! **Density.** With K = {ℓ₁, ℓ₂, …} in universe order and O the set of
//! outputs of the run, the density proxy at N is d(N) = |O ∩ {ℓ₁, …, ℓ_N}| / N
//! (Kleinberg & Wei 2025 define lower/upper density as liminf/limsup of
//! d(N)). Over a finite horizon T we report d(N) for N = 1, …, T and take as
//! lower (upper) density proxy the minimum (maximum) of d(N) over the tail
//! window N ∈ \[⌈T/4⌉, T\].

use std::collections::HashSet;

use serde::Serialize;

use crate::collections::{Collection, first_elements};
use crate::languages::LangId;
use crate::learners::DEFAULT_SEARCH_LIMIT;
use crate::universe::Pos;

/// One point of the density curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DensityPoint {
    /// N: the first N elements of K in universe order.
    pub n: usize,
    /// d(N) = |O ∩ {ℓ₁, …, ℓ_N}| / N.
    pub density: f64,
}

/// The summary of one run (what `genlab km run` prints as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Collection spec name.
    pub collection: String,
    /// Target index z (K = L_z).
    pub target: LangId,
    /// Target's readable name.
    pub target_name: String,
    /// Adversary name.
    pub adversary: String,
    /// Learner name.
    pub learner: String,
    /// Horizon T.
    pub horizon: usize,
    /// Seed.
    pub seed: u64,
    /// Empirical t̂*: the last step whose output was invalid or not novel
    /// (0 if every output was valid and novel).
    pub last_error: usize,
    /// Outputs aₜ ∉ K.
    pub hallucinations: usize,
    /// Outputs aₜ ∈ Sₜ.
    pub non_novel: usize,
    /// Steps with an invalid or non-novel output.
    pub errors: usize,
    /// Steps where the learner's focus differs from the previous step's.
    pub focus_changes: usize,
    /// The focus at the last step.
    pub final_focus: Option<LangId>,
    /// Membership queries (distinct) over the run.
    pub membership_queries: u64,
    /// Structural queries (subset / closure / intersection) over the run.
    pub structure_queries: u64,
    /// All queries.
    pub queries: u64,
    /// Queries per step.
    pub queries_per_step: f64,
    /// Number of distinct outputs |O|.
    pub distinct_outputs: usize,
    /// min d(N) over the tail window.
    pub lower_density: f64,
    /// max d(N) over the tail window.
    pub upper_density: f64,
    /// d(T).
    pub density_at_horizon: f64,
}

/// Per-step flags needed by [`summarize`].
#[derive(Debug, Clone, Copy)]
pub struct StepFlags {
    /// aₜ ∈ K.
    pub valid: bool,
    /// aₜ ∉ Sₜ.
    pub novel: bool,
    /// The learner's focus.
    pub focus: Option<LangId>,
    /// Membership queries in the step.
    pub membership_queries: u64,
    /// Structural queries in the step.
    pub structure_queries: u64,
}

/// The density curve d(N), N = 1..=n_max.
pub fn density_curve(
    coll: &dyn Collection,
    target: LangId,
    outputs: &HashSet<Pos>,
    n_max: usize,
) -> Vec<DensityPoint> {
    let k = first_elements(coll, target, n_max, DEFAULT_SEARCH_LIMIT);
    let mut hits = 0;
    k.iter()
        .enumerate()
        .map(|(i, p)| {
            if outputs.contains(p) {
                hits += 1;
            }
            DensityPoint {
                n: i + 1,
                density: hits as f64 / (i + 1) as f64,
            }
        })
        .collect()
}

/// (lower, upper) density proxies: min / max of d(N) over N ∈ \[⌈n/4⌉, n\].
pub fn density_proxies(curve: &[DensityPoint]) -> (f64, f64) {
    let n = curve.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let tail = &curve[n.div_ceil(4).max(1) - 1..];
    let lo = tail.iter().map(|d| d.density).fold(f64::INFINITY, f64::min);
    let hi = tail.iter().map(|d| d.density).fold(0.0, f64::max);
    (lo, hi)
}

/// Counts t̂*, errors, focus changes and queries; fills the identification
/// fields of a [`Summary`] from `ident`.
pub fn summarize(
    ident: SummaryIdent,
    flags: &[StepFlags],
    curve: &[DensityPoint],
    distinct_outputs: usize,
) -> Summary {
    let mut last_error = 0;
    let (mut hallucinations, mut non_novel, mut errors, mut focus_changes) = (0, 0, 0, 0);
    let (mut mq, mut sq) = (0, 0);
    for (k, f) in flags.iter().enumerate() {
        if !f.valid {
            hallucinations += 1;
        }
        if !f.novel {
            non_novel += 1;
        }
        if !f.valid || !f.novel {
            errors += 1;
            last_error = k + 1;
        }
        if k > 0 && flags[k - 1].focus != f.focus {
            focus_changes += 1;
        }
        mq += f.membership_queries;
        sq += f.structure_queries;
    }
    let (lower_density, upper_density) = density_proxies(curve);
    Summary {
        collection: ident.collection,
        target: ident.target,
        target_name: ident.target_name,
        adversary: ident.adversary,
        learner: ident.learner,
        horizon: ident.horizon,
        seed: ident.seed,
        last_error,
        hallucinations,
        non_novel,
        errors,
        focus_changes,
        final_focus: flags.last().and_then(|f| f.focus),
        membership_queries: mq,
        structure_queries: sq,
        queries: mq + sq,
        queries_per_step: (mq + sq) as f64 / flags.len().max(1) as f64,
        distinct_outputs,
        lower_density,
        upper_density,
        density_at_horizon: curve.last().map_or(0.0, |d| d.density),
    }
}

/// The identifying fields of a [`Summary`].
#[derive(Debug, Clone)]
pub struct SummaryIdent {
    /// Collection spec name.
    pub collection: String,
    /// Target index.
    pub target: LangId,
    /// Target name.
    pub target_name: String,
    /// Adversary name.
    pub adversary: String,
    /// Learner name.
    pub learner: String,
    /// Horizon.
    pub horizon: usize,
    /// Seed.
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_error_and_counts() {
        let f = |valid, novel, focus| StepFlags {
            valid,
            novel,
            focus,
            membership_queries: 2,
            structure_queries: 1,
        };
        let flags = [
            f(false, true, None),
            f(true, false, Some(1)),
            f(true, true, Some(2)),
            f(true, true, Some(2)),
        ];
        let ident = SummaryIdent {
            collection: "c".into(),
            target: 1,
            target_name: "L".into(),
            adversary: "a".into(),
            learner: "l".into(),
            horizon: 4,
            seed: 0,
        };
        let curve: Vec<DensityPoint> = (1..=4)
            .map(|n| DensityPoint {
                n,
                density: 1.0 / n as f64,
            })
            .collect();
        let s = summarize(ident, &flags, &curve, 3);
        assert_eq!(
            (s.last_error, s.hallucinations, s.non_novel, s.errors),
            (2, 1, 1, 2)
        );
        assert_eq!(s.focus_changes, 2);
        assert_eq!(s.queries, 12);
        assert_eq!(s.lower_density, 0.25);
        assert_eq!(s.upper_density, 1.0);
    }
}
