//! # gen-km-game
//!
//! A runnable implementation of the Kleinberg–Mullainathan game of
//! *language generation in the limit* (arXiv 2404.06757, NeurIPS 2024) and
//! of the follow-up generators, in pure Rust.
//!
//! **The game.** A countable universe U = {u₁, u₂, …} with a fixed
//! enumeration ([`universe`]); a collection C = (L₁, L₂, …) of infinite
//! languages given by membership oracles ([`collections`]). The adversary
//! picks a hidden target K = L_z and enumerates it, repeats allowed, every
//! element eventually ([`adversary`]). After each example wₜ the learner,
//! having seen Sₜ = {w₁, …, wₜ}, outputs aₜ ([`learners`]). It *generates in
//! the limit* if from some finite t* on every aₜ ∈ K ∖ Sₜ. Identification in
//! the limit (eventually naming K) is impossible for many classes (Gold 1967;
//! Angluin 1980), yet KM show generation is possible for every countable
//! class, with membership queries only (§5).
//!
//! **Running.** [`spec::run_from_spec`] plays a named game and returns a
//! [`RunReport`]: per-step records, a [`metrics::Summary`] (t̂*,
//! hallucinations, non-novel outputs, focus changes, queries, density
//! proxies; [`RunReport::summary_json`]) and the density curve;
//! [`plot::write_run_png`] draws it. [`table::results_table`] runs every
//! learner against every collection and adversary. [`bridge`] connects the
//! game to string generators (validity/novelty of a model trained on a
//! growing subset of a word list).
//!
//! ```
//! use gen_km_game::{RunSpec, run_from_spec};
//! let spec = RunSpec::new("progressions", 4, "staged", "km", 120);
//! let report = run_from_spec(&spec).unwrap();
//! assert!(report.summary.last_error < 120);
//! assert!(report.summary_json().contains("\"last_error\""));
//! ```
#![warn(missing_docs)]

pub mod adversary;
pub mod bridge;
pub mod collections;
pub mod error;
pub mod languages;
pub mod learners;
pub mod metrics;
pub mod plot;
pub mod runner;
pub mod spec;
pub mod table;
pub mod universe;

pub use adversary::{Adversary, AdversaryCtx};
#[cfg(feature = "ngram")]
pub use bridge::NGramGenerator;
pub use bridge::{StringGenerator, WordsPoint, words_experiment, words_table};
pub use collections::Collection;
pub use error::{KmError, Result};
pub use languages::{Closure, ClosureDim, LangId};
pub use learners::{Learner, Seen, StepOutput};
pub use metrics::{DensityPoint, Summary};
pub use runner::{RunReport, StepRecord, run_game};
pub use spec::{RunSpec, list, run_from_spec};
pub use table::results_table;
pub use universe::{Pos, Universe};
