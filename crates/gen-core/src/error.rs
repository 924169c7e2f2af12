//! The workspace's error type: every message says what is wrong and what to do.

use std::path::PathBuf;

/// Result with [`GenError`].
pub type Result<T, E = GenError> = std::result::Result<T, E>;

/// One of the four tasks of a generative model (tutorial, chapter 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Draw new examples x ~ p_θ.
    Sample,
    /// Evaluate log p_θ(x) (exactly, as a bound, or as an estimate).
    Score,
    /// Infer latent structure: a posterior q(z | x) or an encoding z = f⁻¹(x).
    Infer,
    /// Fit θ to data.
    Learn,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Task::Sample => "sample",
            Task::Score => "score",
            Task::Infer => "infer",
            Task::Learn => "learn",
        };
        f.write_str(s)
    }
}

/// Errors of the genlab workspace.
///
/// Each variant carries the facts a user needs (shapes, values, paths) and its
/// message ends with how to fix the problem.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A configuration value is out of its valid range.
    #[error("invalid configuration: {field} = {value}: {reason}. Fix: {fix}")]
    InvalidConfig {
        /// The offending field, e.g. `components`.
        field: String,
        /// Its value as given.
        value: String,
        /// Why it is invalid.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// Input data has the wrong shape.
    #[error("shape mismatch in {context}: expected {expected}, got {got}. Fix: {fix}")]
    ShapeMismatch {
        /// Where the mismatch was found.
        context: String,
        /// The expected shape.
        expected: String,
        /// The shape received.
        got: String,
        /// How to fix it.
        fix: String,
    },
    /// Input data contains values the model cannot use (NaN, ±∞, out of range).
    #[error("invalid input in {context}: {problem}. Fix: {fix}")]
    InvalidInput {
        /// Where the problem was found.
        context: String,
        /// What is wrong, with the first offending position.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The model does not support the task (e.g. scoring a GAN).
    #[error("{model} does not support the task '{task}': {why}")]
    Unsupported {
        /// Model name.
        model: String,
        /// The task asked for.
        task: Task,
        /// Why not, and what to use instead.
        why: String,
    },
    /// Training produced a non-finite (or exploded, see
    /// `TrainConfig::explosion_factor`) loss and was stopped.
    #[error(
        "training diverged at step {step}: loss = {loss}. The last good checkpoint is {checkpoint}. Fix: lower the learning rate, enable gradient clipping, or check the data for NaN/Inf"
    )]
    Diverged {
        /// The step whose loss was not finite or exploded.
        step: u64,
        /// The loss value (NaN, ±∞, or a finite explosion).
        loss: f64,
        /// Where the last good checkpoint lies (or "none written yet").
        checkpoint: String,
    },
    /// Data-parallel training: a rank's loss was not finite; every rank
    /// stopped at the same step.
    #[error(
        "training diverged at step {step} on rank(s) {ranks:?} of {size}: loss = {loss}. The last good checkpoint is {checkpoint}. Fix: lower the learning rate, enable gradient clipping, or check that rank's data shard for NaN/Inf"
    )]
    DivergedOnRank {
        /// The step whose loss was not finite or exploded.
        step: u64,
        /// The ranks whose loss was not finite (empty: the mean exploded).
        ranks: Vec<usize>,
        /// The world size.
        size: usize,
        /// The first offending rank's loss (or the exploded mean).
        loss: f64,
        /// Where the last good checkpoint lies.
        checkpoint: String,
    },
    /// Data-parallel training: this rank (not rank 0) has finished its share
    /// of the steps. Only rank 0 returns the report, evaluates and writes
    /// results, so code after training runs once per job.
    #[error(
        "rank {rank} finished its share of data-parallel training; rank 0 evaluates and writes the results"
    )]
    FollowerDone {
        /// This process's rank (≥ 1).
        rank: usize,
    },
    /// Data-parallel training: the ranks were started with different
    /// models, options or configuration files (checked once, before
    /// anything is built). Every rank returns this error together, and
    /// `detail` says where each differing rank differs.
    #[error(
        "rank(s) {ranks:?} of {size} disagree with rank 0 on {what}{detail}. Fix: start every rank with the same genlab build, command line and configuration files (one `mpirun -n N genlab train …`)"
    )]
    RanksDisagree {
        /// What was compared ("the model and its options").
        what: String,
        /// The ranks whose fingerprint differs from rank 0's.
        ranks: Vec<usize>,
        /// The world size.
        size: usize,
        /// Each differing rank's first difference from rank 0
        /// (": rank 1 has `a` where rank 0 has `b`; rank 3 has …"), the
        /// same on every rank.
        detail: String,
    },
    /// The requested compute backend is not available.
    #[error("backend '{backend}' is unavailable: {why}. Fix: {fix}")]
    Backend {
        /// The backend name.
        backend: String,
        /// Why it could not be used.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// A file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file exists but its content is not what was expected.
    #[error("malformed file {path}: {problem}. Fix: {fix}")]
    Format {
        /// The path involved.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// An error from another crate of the workspace with its own context.
    #[error("{0}")]
    Other(String),
}

impl GenError {
    /// Shorthand for [`GenError::InvalidConfig`].
    pub fn config(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        GenError::InvalidConfig {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// Shorthand for [`GenError::ShapeMismatch`].
    pub fn shape(
        context: impl Into<String>,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
        fix: impl Into<String>,
    ) -> Self {
        GenError::ShapeMismatch {
            context: context.into(),
            expected: expected.to_string(),
            got: got.to_string(),
            fix: fix.into(),
        }
    }

    /// Shorthand for [`GenError::InvalidInput`].
    pub fn input(
        context: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        GenError::InvalidInput {
            context: context.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// Shorthand for [`GenError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GenError::Io {
            path: path.into(),
            source,
        }
    }
}
