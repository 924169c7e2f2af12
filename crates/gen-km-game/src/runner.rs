//! The game loop: for t = 1..=T the adversary presents wₜ, the learner sees
//! Sₜ and outputs aₜ, and we record whether aₜ ∈ K (valid) and aₜ ∉ Sₜ
//! (novel).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use crate::adversary::{Adversary, AdversaryCtx};
use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{Learner, Seen};
use crate::metrics::{DensityPoint, StepFlags, Summary, SummaryIdent, density_curve, summarize};
use crate::universe::Pos;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// t.
    pub t: usize,
    /// wₜ (position) and as text.
    pub example: Pos,
    /// wₜ written out.
    pub example_text: String,
    /// aₜ (position).
    pub output: Pos,
    /// aₜ written out.
    pub output_text: String,
    /// aₜ ∈ K.
    pub valid: bool,
    /// aₜ ∉ Sₜ.
    pub novel: bool,
    /// The learner's focus language.
    pub focus: Option<LangId>,
    /// Membership queries in this step.
    pub membership_queries: u64,
    /// Structural queries in this step.
    pub structure_queries: u64,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The per-step records.
    pub steps: Vec<StepRecord>,
    /// The summary.
    pub summary: Summary,
    /// The density curve d(N), N = 1..=T.
    pub density: Vec<DensityPoint>,
}

impl RunReport {
    /// The summary as pretty JSON (always contains `last_error`,
    /// `hallucinations`, `non_novel`, `queries`).
    pub fn summary_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary).expect("summaries serialize")
    }

    /// The whole report (steps included) as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("reports serialize")
    }
}

/// Plays T steps of the KM game.
///
/// `seed` drives the adversary's and the learner's random choices (two
/// independent streams).
pub fn run_game(
    coll: Arc<dyn Collection>,
    target: LangId,
    adversary: &mut dyn Adversary,
    learner: &mut dyn Learner,
    horizon: usize,
    seed: u64,
) -> Result<RunReport> {
    if horizon == 0 {
        return Err(KmError::setting(
            "horizon",
            0,
            "the game needs at least one step",
            "use a horizon T >= 1, e.g. 200",
        ));
    }
    let mut adv_rng = gen_core::rng_from_seed(seed);
    let mut learner_rng = gen_core::rng_from_seed(seed ^ 0x9E37_79B9_7F4A_7C15);
    let universe = coll.universe().clone();
    let mut seen = Seen::new();
    let mut outputs = HashSet::new();
    let mut steps = Vec::with_capacity(horizon);
    let mut flags = Vec::with_capacity(horizon);
    let mut focus = None;
    for t in 1..=horizon {
        let w = adversary.next(
            &AdversaryCtx {
                t,
                presented: &seen,
                learner_focus: focus,
            },
            &mut adv_rng,
        )?;
        seen.insert(w);
        let out = learner.step(t, w, &seen, &mut learner_rng)?;
        focus = out.focus;
        let valid = coll.contains(target, out.output);
        let novel = !seen.contains(out.output);
        outputs.insert(out.output);
        flags.push(StepFlags {
            valid,
            novel,
            focus: out.focus,
            membership_queries: out.membership_queries,
            structure_queries: out.structure_queries,
        });
        steps.push(StepRecord {
            t,
            example: w,
            example_text: universe.display(w),
            output: out.output,
            output_text: universe.display(out.output),
            valid,
            novel,
            focus: out.focus,
            membership_queries: out.membership_queries,
            structure_queries: out.structure_queries,
        });
    }
    let density = density_curve(&*coll, target, &outputs, horizon);
    let ident = SummaryIdent {
        collection: coll.name(),
        target,
        target_name: coll.lang_name(target),
        adversary: adversary.name(),
        learner: learner.name(),
        horizon,
        seed,
    };
    let summary = summarize(ident, &flags, &density, outputs.len());
    Ok(RunReport {
        steps,
        summary,
        density,
    })
}
