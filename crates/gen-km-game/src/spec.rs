//! Building games from names (for the command line): collections, targets,
//! adversaries and learners by kebab-case name, [`list`] for help text, and
//! [`run_from_spec`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::adversary::{Adversary, Ascending, Noisy, RandomOrder, Staged, Withholding};
use crate::collections::{
    CoFinite, CoSingletons, Collection, Multiples, OneWay, PlusFinite, Progressions, Rays, Regular,
    TwoWay, Unions, km_worked_example,
};
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::learners::{
    CharikarPabbaraju, ClosureGenerator, DensitySeeker, Hallucinator, IdRule, Identification,
    KmCritical, KmMembership, Learner, Memorizer, StopRule,
};
use crate::runner::{RunReport, run_game};

/// Collection names and one-line descriptions (`dfa:<spec>` is also accepted).
pub const COLLECTIONS: &[(&str, &str)] = &[
    ("multiples", "kN over N"),
    ("one-way", "P(a,b) = {a+bi : i>=0} over Z"),
    ("two-way", "Q(a,b) = {a+bi : i in Z} over Z"),
    (
        "progressions",
        "all P(a,b) and Q(a,b) over Z (KM's non-identifiable class)",
    ),
    ("rays", "{n >= a} over N"),
    ("co-singletons", "Z and Z minus {x} over Z"),
    ("co-finite", "N minus F, F finite"),
    (
        "plus-finite",
        "kN u F, F finite (closure dimension infinite)",
    ),
    ("unions", "jN u kN (finite unions)"),
    ("regular", "8 regular languages over {a,b} (DFAs, shortlex)"),
    (
        "km-example",
        "the 5 languages of KM's worked example (Figures 1-2; reconstructed)",
    ),
    (
        "dfa:<dfa>|<dfa>|...",
        "your DFAs, each sigma=ab;start=0;accept=0;next=1,1/0,0 (next: successors per state, states split by /)",
    ),
];

/// Learner names and one-line descriptions.
pub const LEARNERS: &[(&str, &str)] = &[
    (
        "km",
        "KM section 5: (t,m)-critical languages, membership queries only",
    ),
    (
        "km-v1",
        "KM section 5 with the alternative stop rule (u_m itself must be new)",
    ),
    (
        "km-critical",
        "KM section 4: critical languages with a subset oracle",
    ),
    (
        "closure",
        "Li-Raman-Tewari closure generator (uniform; valid after d+1 distinct examples)",
    ),
    (
        "cp",
        "Charikar-Pabbaraju greedy non-uniform generator (infinite-intersection oracle)",
    ),
    (
        "density",
        "density-seeking heuristic in the spirit of Kleinberg-Wei",
    ),
    (
        "identification",
        "guess the first consistent language (Gold) and output from it",
    ),
    (
        "identification-minimal",
        "guess the first consistent language with no consistent proper subset",
    ),
    ("memorizer", "repeat the latest example (never novel)"),
    ("hallucinator", "random unseen string (rarely valid)"),
];

/// Adversary names and one-line descriptions.
pub const ADVERSARIES: &[(&str, &str)] = &[
    ("ascending", "K in universe order"),
    ("random", "K in seeded shuffled blocks, with repeats"),
    (
        "staged",
        "KM appendix / Gold: decoy sub-languages until the learner guesses them",
    ),
    (
        "withholding",
        "postpones strings that distinguish K from a consistent rival",
    ),
    (
        "noisy",
        "ascending plus 3 strings outside K at steps 2, 4, 6",
    ),
];

fn known(list: &[(&str, &str)]) -> String {
    list.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// A collection from its name (see [`COLLECTIONS`]).
pub fn collection_from_spec(spec: &str) -> Result<Arc<dyn Collection>> {
    let spec = spec.trim();
    if let Some(dfas) = spec.strip_prefix("dfa:") {
        return Ok(Arc::new(Regular::parse(dfas)?));
    }
    let c: Arc<dyn Collection> = match spec {
        "multiples" => Arc::new(Multiples),
        "one-way" => Arc::new(OneWay),
        "two-way" => Arc::new(TwoWay),
        "progressions" => Arc::new(Progressions),
        "rays" => Arc::new(Rays),
        "co-singletons" => Arc::new(CoSingletons),
        "co-finite" => Arc::new(CoFinite),
        "plus-finite" => Arc::new(PlusFinite),
        "unions" => Arc::new(Unions),
        "regular" => Arc::new(Regular::builtin()),
        "km-example" => Arc::new(km_worked_example()),
        other => {
            return Err(KmError::UnknownCollection {
                name: other.to_string(),
                known: known(COLLECTIONS),
            });
        }
    };
    Ok(c)
}

/// Checks that L_target exists in the collection.
pub fn validate_target(coll: &dyn Collection, target: LangId) -> Result<()> {
    if target == 0 {
        return Err(KmError::TargetNotInCollection {
            target,
            collection: coll.name(),
            why: "languages are numbered from 1, as in the paper (L_1, L_2, ...)".into(),
            fix: "use --target 1 or larger; `km list` shows the first languages".into(),
        });
    }
    if let Some(n) = coll.len()
        && target > n
    {
        return Err(KmError::TargetNotInCollection {
            target,
            collection: coll.name(),
            why: format!("it has only {n} languages"),
            fix: format!("use a target between 1 and {n}"),
        });
    }
    Ok(())
}

/// A learner from its name (see [`LEARNERS`]).
pub fn learner_from_spec(name: &str, coll: Arc<dyn Collection>) -> Result<Box<dyn Learner>> {
    let l: Box<dyn Learner> = match name.trim() {
        "km" => Box::new(KmMembership::new(coll, StopRule::Proceedings)),
        "km-v1" => Box::new(KmMembership::new(coll, StopRule::ArxivV1)),
        "km-critical" => Box::new(KmCritical::new(coll)?),
        "closure" => Box::new(ClosureGenerator::new(coll)?),
        "cp" => Box::new(CharikarPabbaraju::new(coll)?),
        "density" => Box::new(DensitySeeker::new(coll)),
        "identification" => Box::new(Identification::new(coll, IdRule::FirstConsistent)?),
        "identification-minimal" => Box::new(Identification::new(coll, IdRule::MinimalConsistent)?),
        "memorizer" => Box::new(Memorizer),
        "hallucinator" => Box::new(Hallucinator),
        other => {
            return Err(KmError::UnknownLearner {
                name: other.to_string(),
                known: known(LEARNERS),
            });
        }
    };
    Ok(l)
}

/// An adversary from its name (see [`ADVERSARIES`]).
pub fn adversary_from_spec(
    name: &str,
    coll: Arc<dyn Collection>,
    target: LangId,
) -> Result<Box<dyn Adversary>> {
    let a: Box<dyn Adversary> = match name.trim() {
        "ascending" => Box::new(Ascending::new(coll, target)),
        "random" => Box::new(RandomOrder::new(coll, target)),
        "staged" => Box::new(Staged::new(coll, target)?),
        "withholding" => Box::new(Withholding::new(coll, target)),
        "noisy" => Box::new(Noisy::new(coll, target, 3)),
        other => {
            return Err(KmError::UnknownAdversary {
                name: other.to_string(),
                known: known(ADVERSARIES),
            });
        }
    };
    Ok(a)
}

/// Everything that names one run of the game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Collection name (see [`COLLECTIONS`]).
    pub collection: String,
    /// Target index z ≥ 1 (K = L_z).
    pub target: LangId,
    /// Adversary name (see [`ADVERSARIES`]).
    pub adversary: String,
    /// Learner name (see [`LEARNERS`]).
    pub learner: String,
    /// Horizon T ≥ 1.
    pub horizon: usize,
    /// Seed for the random adversary and learners.
    pub seed: u64,
}

impl RunSpec {
    /// A spec with seed 0.
    pub fn new(
        collection: impl Into<String>,
        target: LangId,
        adversary: impl Into<String>,
        learner: impl Into<String>,
        horizon: usize,
    ) -> Self {
        RunSpec {
            collection: collection.into(),
            target,
            adversary: adversary.into(),
            learner: learner.into(),
            horizon,
            seed: 0,
        }
    }

    /// The same spec with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Validates a spec and plays it.
pub fn run_from_spec(spec: &RunSpec) -> Result<RunReport> {
    if spec.horizon == 0 {
        return Err(KmError::setting(
            "horizon",
            0,
            "the game needs at least one step",
            "use a horizon T >= 1, e.g. --horizon 200",
        ));
    }
    let coll = collection_from_spec(&spec.collection)?;
    validate_target(&*coll, spec.target)?;
    let mut learner = learner_from_spec(&spec.learner, coll.clone())?;
    let mut adversary = adversary_from_spec(&spec.adversary, coll.clone(), spec.target)?;
    run_game(
        coll,
        spec.target,
        &mut *adversary,
        &mut *learner,
        spec.horizon,
        spec.seed,
    )
}

/// Help text: collections (with their first languages), adversaries, learners.
pub fn list() -> String {
    let mut s = String::from("Collections (--collection; targets are 1-based indices L_z):\n");
    for (name, desc) in COLLECTIONS {
        s.push_str(&format!("  {name:<16} {desc}\n"));
        if let Ok(c) = collection_from_spec(name) {
            let n = c.len().unwrap_or(8).min(8);
            let first: Vec<String> = (1..=n).map(|i| format!("{i}:{}", c.lang_name(i))).collect();
            let more = if c.len().is_none_or(|len| len > n) {
                " ..."
            } else {
                ""
            };
            s.push_str(&format!(
                "  {:<16} universe {}, closure dimension {}; L = {}{more}\n",
                "",
                c.universe().name(),
                c.closure_dimension(),
                first.join("  ")
            ));
        }
    }
    s.push_str("\nAdversaries (--adversary):\n");
    for (name, desc) in ADVERSARIES {
        s.push_str(&format!("  {name:<16} {desc}\n"));
    }
    s.push_str("\nLearners (--learner):\n");
    for (name, desc) in LEARNERS {
        s.push_str(&format!("  {name:<23} {desc}\n"));
    }
    s
}
