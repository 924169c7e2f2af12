//! Errors of the KM game: each message says what is wrong and how to fix it.

use gen_core::GenError;

/// Result with [`KmError`].
pub type Result<T, E = KmError> = std::result::Result<T, E>;

/// Everything that can go wrong when specifying or running a KM game.
#[derive(Debug, thiserror::Error)]
pub enum KmError {
    /// A collection name that is not known.
    #[error("unknown collection '{name}'. Fix: use one of: {known}")]
    UnknownCollection {
        /// The name as given.
        name: String,
        /// The valid names.
        known: String,
    },
    /// A learner name that is not known.
    #[error("unknown learner '{name}'. Fix: use one of: {known}")]
    UnknownLearner {
        /// The name as given.
        name: String,
        /// The valid names.
        known: String,
    },
    /// An adversary name that is not known.
    #[error("unknown adversary '{name}'. Fix: use one of: {known}")]
    UnknownAdversary {
        /// The name as given.
        name: String,
        /// The valid names.
        known: String,
    },
    /// The target index does not name a language of the collection.
    #[error("target L_{target} is not in the collection '{collection}': {why}. Fix: {fix}")]
    TargetNotInCollection {
        /// The index as given (1-based, as in the paper).
        target: usize,
        /// The collection's name.
        collection: String,
        /// Why not.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// A numeric setting outside its valid range (horizon 0, …).
    #[error("invalid setting {field} = {value}: {reason}. Fix: {fix}")]
    InvalidSetting {
        /// The offending setting.
        field: String,
        /// Its value as given.
        value: String,
        /// Why it is invalid.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// A DFA specification that cannot be parsed or is not usable.
    #[error("malformed DFA #{index} ('{spec}'): {problem}. Fix: {fix}")]
    MalformedDfa {
        /// 1-based position of the DFA in the collection spec.
        index: usize,
        /// The DFA's text.
        spec: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The learner needs decidable structure (subset, closure, …) the collection lacks.
    #[error("learner '{learner}' cannot run on collection '{collection}': {needs}. Fix: {fix}")]
    Unsupported {
        /// The learner or adversary that needs more.
        learner: String,
        /// The collection.
        collection: String,
        /// What it needs.
        needs: String,
        /// What to use instead.
        fix: String,
    },
    /// A search for a string ran past its limit (a language that looks finite).
    #[error("search limit reached: {what} (searched up to universe position {limit}). Fix: {fix}")]
    SearchLimit {
        /// What was being searched for.
        what: String,
        /// The last position examined.
        limit: u64,
        /// How to fix it.
        fix: String,
    },
    /// A file could not be written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An error reported by a string generator in the words experiment.
    #[error("string generator '{generator}' failed: {message}")]
    Generator {
        /// The generator's name.
        generator: String,
        /// Its error message.
        message: String,
    },
}

impl KmError {
    /// Shorthand for [`KmError::InvalidSetting`].
    pub fn setting(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        KmError::InvalidSetting {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }
}

impl KmError {
    /// Wraps an error from a shared crate (e.g. writing a PNG with gen-viz).
    pub fn from_gen(e: GenError) -> Self {
        match e {
            GenError::Io { path, source } => KmError::Io {
                path: path.display().to_string(),
                source,
            },
            other => KmError::Io {
                path: "<output>".into(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

impl From<KmError> for GenError {
    fn from(e: KmError) -> Self {
        match e {
            KmError::Io { path, source } => GenError::io(path, source),
            other => GenError::Other(other.to_string()),
        }
    }
}
