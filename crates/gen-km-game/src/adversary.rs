//! Adversaries: enumerations of the hidden target K = L_z (repeats allowed,
//! every element eventually), plus a noisy one that is allowed finitely many
//! strings outside K.
//!
//! | adversary | order |
//! |---|---|
//! | [`Ascending`] | K in universe order |
//! | [`RandomOrder`] | K in shuffled blocks of 16, with 25 % repeats (seeded) |
//! | [`Staged`] | KM appendix / Gold 1967: present a proper sub-language (decoy) D ⊊ K until the learner guesses D, then move to a larger decoy |
//! | [`Withholding`] | postpones the strings that would contradict the highest consistent non-superset of K (the r-th element of K by step 2^(r+2)) |
//! | [`Noisy`] | ascending, with a few strings outside K inserted at steps 2, 4, … |
//! | [`Scripted`] | a given prefix, then ascending (tests, worked examples) |

use std::sync::Arc;

use gen_core::Rng;
use rand::Rng as _;
use rand::seq::SliceRandom;

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{DEFAULT_SEARCH_LIMIT, Seen};
use crate::universe::Pos;

/// What an adversary may look at before choosing wₜ.
#[derive(Debug, Clone, Copy)]
pub struct AdversaryCtx<'a> {
    /// The step t (1-based).
    pub t: usize,
    /// The examples presented before this step.
    pub presented: &'a Seen,
    /// The learner's focus after step t − 1 (its guess / critical language).
    pub learner_focus: Option<LangId>,
}

/// An adversary of the KM game.
pub trait Adversary {
    /// Its spec name.
    fn name(&self) -> String;
    /// The next example wₜ.
    fn next(&mut self, ctx: &AdversaryCtx<'_>, rng: &mut Rng) -> Result<Pos>;
}

/// The smallest position ≥ `from` with `test`, or a search-limit error.
fn scan(from: Pos, mut test: impl FnMut(Pos) -> bool, what: &str) -> Result<Pos> {
    let end = from.saturating_add(DEFAULT_SEARCH_LIMIT);
    let mut p = from.max(1);
    while p <= end {
        if test(p) {
            return Ok(p);
        }
        p += 1;
    }
    Err(KmError::SearchLimit {
        what: what.to_string(),
        limit: end,
        fix: "the target language must be infinite".into(),
    })
}

/// The smallest not-yet-presented element of K, with a cursor that only
/// moves right (everything of K below it has been presented).
#[derive(Debug)]
struct NextUnshown {
    cursor: Pos,
}

impl NextUnshown {
    fn new() -> Self {
        NextUnshown { cursor: 1 }
    }
    fn get(&mut self, c: &dyn Collection, z: LangId, presented: &Seen) -> Result<Pos> {
        let p = scan(
            self.cursor,
            |p| c.contains(z, p) && !presented.contains(p),
            "the next element of K",
        )?;
        self.cursor = p;
        Ok(p)
    }
}

/// K in universe order, each element once.
pub struct Ascending {
    coll: Arc<dyn Collection>,
    target: LangId,
    next: NextUnshown,
}

impl Ascending {
    /// Enumerates L_target in universe order.
    pub fn new(coll: Arc<dyn Collection>, target: LangId) -> Self {
        Ascending {
            coll,
            target,
            next: NextUnshown::new(),
        }
    }
}

impl Adversary for Ascending {
    fn name(&self) -> String {
        "ascending".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, _rng: &mut Rng) -> Result<Pos> {
        self.next.get(&*self.coll, self.target, ctx.presented)
    }
}

/// K in shuffled blocks of 16 consecutive elements; with probability 1/4 a
/// previously presented example is repeated instead.
pub struct RandomOrder {
    coll: Arc<dyn Collection>,
    target: LangId,
    cursor: Pos,
    pool: Vec<Pos>,
}

impl RandomOrder {
    /// Seeded by the run's adversary RNG.
    pub fn new(coll: Arc<dyn Collection>, target: LangId) -> Self {
        RandomOrder {
            coll,
            target,
            cursor: 1,
            pool: Vec::new(),
        }
    }
}

impl Adversary for RandomOrder {
    fn name(&self) -> String {
        "random".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, rng: &mut Rng) -> Result<Pos> {
        let seen = ctx.presented.distinct();
        if !seen.is_empty() && rng.random_bool(0.25) {
            return Ok(seen[rng.random_range(0..seen.len())]);
        }
        if self.pool.is_empty() {
            for _ in 0..16 {
                let (c, z) = (&*self.coll, self.target);
                let p = scan(self.cursor, |p| c.contains(z, p), "the next element of K")?;
                self.pool.push(p);
                self.cursor = p + 1;
            }
            self.pool.shuffle(rng);
        }
        Ok(self.pool.pop().expect("pool was just filled"))
    }
}

/// The staged enumeration that defeats identification (KM's appendix, after
/// Gold 1967): stage s presents the unshown elements of a decoy Dₛ ⊊ K that
/// contains everything shown so far (for two-way progressions
/// Dₛ = P(min S − b, b), KM's P(−s, 1) for K = ℤ) until the learner's focus is
/// Dₛ; then stage s + 1 starts with a larger decoy. A learner that
/// identifies every Dₛ must therefore change its guess at every stage.
///
/// To keep K enumerated even against learners that never guess a decoy (a
/// generator need not guess at all), stage s also ends 8·s steps after Dₛ
/// has entered C_t (its index ≤ t), the first moment a learner restricted
/// to C_t could guess it.
pub struct Staged {
    coll: Arc<dyn Collection>,
    target: LangId,
    decoy: Option<LangId>,
    stage: usize,
    stage_start: usize,
    patience: usize,
    exhausted: bool,
    fallback: NextUnshown,
}

impl Staged {
    /// Fails if the collection offers no decoy for this target.
    pub fn new(coll: Arc<dyn Collection>, target: LangId) -> Result<Self> {
        if coll.decoy(target, &[]).is_none() {
            return Err(KmError::Unsupported {
                learner: "staged (adversary)".into(),
                collection: coll.name(),
                needs: format!(
                    "a proper sub-language of the target {} containing any finite sample (a target without a finite tell-tale)",
                    coll.lang_name(target)
                ),
                fix: "use 'progressions' with a two-way target Q(a,b) (even index), 'co-singletons' with target 1, or 'co-finite'".into(),
            });
        }
        Ok(Staged {
            coll,
            target,
            decoy: None,
            stage: 0,
            stage_start: 0,
            patience: 8,
            exhausted: false,
            fallback: NextUnshown::new(),
        })
    }

    /// The current stage (number of decoys used so far).
    pub fn stage(&self) -> usize {
        self.stage
    }
}

impl Adversary for Staged {
    fn name(&self) -> String {
        "staged".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, _rng: &mut Rng) -> Result<Pos> {
        if self.exhausted {
            return self.fallback.get(&*self.coll, self.target, ctx.presented);
        }
        let advance = match self.decoy {
            None => true,
            Some(d) => {
                let visible_from = self.stage_start.max(d);
                ctx.learner_focus == Some(d) || ctx.t > visible_from + self.patience * self.stage
            }
        };
        if advance {
            match self.coll.decoy(self.target, ctx.presented.distinct()) {
                Some(d) => {
                    self.decoy = Some(d);
                    self.stage += 1;
                    self.stage_start = ctx.t;
                }
                None => {
                    self.exhausted = true;
                    return self.fallback.get(&*self.coll, self.target, ctx.presented);
                }
            }
        }
        let d = self.decoy.expect("a decoy was chosen");
        let c = &*self.coll;
        scan(
            1,
            |p| c.contains(d, p) && !ctx.presented.contains(p),
            "the next element of the decoy",
        )
    }
}

/// Withholds distinguishing strings: it presents the smallest unshown
/// element of K ∩ L_d, where L_d is the highest-indexed language of C_t
/// (other than K) that is consistent with the examples so far and is not a
/// superset of K (on K's first 32 elements), so that L_d stays consistent as
/// long as possible. The r-th element ℓ_r of K (universe order) is withheld
/// at most until step 2^(r+2): from then on (and when no such L_d has an
/// unshown element nearby) the smallest unshown element of K is presented,
/// so every element of K appears eventually.
pub struct Withholding {
    coll: Arc<dyn Collection>,
    target: LangId,
    next: NextUnshown,
    consistent: Vec<bool>,
    checked: usize,
    k_first: Vec<Pos>,
}

impl Withholding {
    /// Withholding adversary for L_target.
    pub fn new(coll: Arc<dyn Collection>, target: LangId) -> Self {
        Withholding {
            coll,
            target,
            next: NextUnshown::new(),
            consistent: Vec::new(),
            checked: 0,
            k_first: Vec::new(),
        }
    }
}

impl Adversary for Withholding {
    fn name(&self) -> String {
        "withholding".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, _rng: &mut Rng) -> Result<Pos> {
        let c = &*self.coll;
        if self.k_first.is_empty() {
            self.k_first =
                crate::collections::first_elements(c, self.target, 32, DEFAULT_SEARCH_LIMIT);
        }
        let base = self.next.get(c, self.target, ctx.presented)?;
        // Every element of K below `base` is shown, so base = ℓ_r with r:
        let rank = 1 + ctx
            .presented
            .distinct()
            .iter()
            .filter(|&&p| p < base)
            .count();
        if rank + 2 >= usize::BITS as usize - 1 || ctx.t >= 1usize << (rank + 2) {
            return Ok(base);
        }
        // Update consistency with the examples presented since last time.
        let shown = ctx.presented.distinct();
        for (k, ok) in self.consistent.iter_mut().enumerate() {
            if *ok {
                *ok = shown[self.checked..].iter().all(|&p| c.contains(k + 1, p));
            }
        }
        self.checked = shown.len();
        let limit = c.len().map_or(ctx.t, |n| n.min(ctx.t));
        while self.consistent.len() < limit {
            let i = self.consistent.len() + 1;
            self.consistent
                .push(shown.iter().all(|&p| c.contains(i, p)));
        }
        let decoy = (1..=limit).rev().find(|&i| {
            i != self.target
                && self.consistent[i - 1]
                // A language containing K's first elements looks like a
                // superset of K: nothing to withhold from it.
                && !self.k_first.iter().all(|&p| c.contains(i, p))
        });
        if let Some(d) = decoy {
            let horizon = base.saturating_add(1024);
            let z = self.target;
            if let Some(p) = (base..=horizon)
                .find(|&p| c.contains(z, p) && c.contains(d, p) && !ctx.presented.contains(p))
            {
                return Ok(p);
            }
        }
        Ok(base)
    }
}

/// Ascending enumeration with `count` strings outside K inserted at steps
/// 2, 4, …, 2·count (the smallest non-members of K, in universe order).
pub struct Noisy {
    coll: Arc<dyn Collection>,
    target: LangId,
    count: usize,
    used: usize,
    noise_cursor: Pos,
    inner: Ascending,
}

impl Noisy {
    /// Noisy ascending enumeration of L_target with `count` noise strings.
    pub fn new(coll: Arc<dyn Collection>, target: LangId, count: usize) -> Self {
        Noisy {
            inner: Ascending::new(coll.clone(), target),
            coll,
            target,
            count,
            used: 0,
            noise_cursor: 1,
        }
    }
}

impl Adversary for Noisy {
    fn name(&self) -> String {
        "noisy".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, rng: &mut Rng) -> Result<Pos> {
        if self.used < self.count && ctx.t.is_multiple_of(2) {
            let (c, z) = (&*self.coll, self.target);
            match scan(
                self.noise_cursor,
                |p| !c.contains(z, p),
                "a string outside K",
            ) {
                Ok(p) => {
                    self.used += 1;
                    self.noise_cursor = p + 1;
                    return Ok(p);
                }
                // K misses fewer strings than asked for: no more noise.
                Err(_) => self.used = self.count,
            }
        }
        self.inner.next(ctx, rng)
    }
}

/// A fixed prefix of examples, then K in universe order (unshown elements).
pub struct Scripted {
    coll: Arc<dyn Collection>,
    target: LangId,
    script: Vec<Pos>,
    next: NextUnshown,
}

impl Scripted {
    /// Presents `script` first.
    pub fn new(coll: Arc<dyn Collection>, target: LangId, script: Vec<Pos>) -> Self {
        Scripted {
            coll,
            target,
            script,
            next: NextUnshown::new(),
        }
    }
}

impl Adversary for Scripted {
    fn name(&self) -> String {
        "scripted".into()
    }
    fn next(&mut self, ctx: &AdversaryCtx<'_>, _rng: &mut Rng) -> Result<Pos> {
        match self.script.get(ctx.t - 1) {
            Some(&p) => Ok(p),
            None => self.next.get(&*self.coll, self.target, ctx.presented),
        }
    }
}
