//! Baselines: a memorizer (always valid, never novel) and a hallucinator
//! (always novel, rarely valid).

use gen_core::Rng;
use rand::Rng as _;

use crate::error::Result;
use crate::learners::{Learner, Seen, StepOutput};
use crate::universe::Pos;

/// Repeats the latest example: aₜ = wₜ ∈ Sₜ, so never novel (and valid
/// whenever the adversary is honest).
#[derive(Debug, Clone, Default)]
pub struct Memorizer;

impl Learner for Memorizer {
    fn name(&self) -> String {
        "memorizer".into()
    }
    fn step(&mut self, _t: usize, w: Pos, _seen: &Seen, _rng: &mut Rng) -> Result<StepOutput> {
        Ok(StepOutput {
            output: w,
            focus: None,
            membership_queries: 0,
            structure_queries: 0,
        })
    }
}

/// Outputs a uniformly random unseen string among the first 2·max(Sₜ) + 16
/// positions of the universe: novel by construction, valid only as often as
/// K is dense there.
#[derive(Debug, Clone, Default)]
pub struct Hallucinator;

impl Learner for Hallucinator {
    fn name(&self) -> String {
        "hallucinator".into()
    }
    fn step(&mut self, _t: usize, _w: Pos, seen: &Seen, rng: &mut Rng) -> Result<StepOutput> {
        let hi = 2 * seen.max_pos() + 16;
        // At least 16 of the 2·max + 16 positions are unseen, so this ends.
        let output = loop {
            let p = rng.random_range(1..=hi);
            if !seen.contains(p) {
                break p;
            }
        };
        Ok(StepOutput {
            output,
            focus: None,
            membership_queries: 0,
            structure_queries: 0,
        })
    }
}
