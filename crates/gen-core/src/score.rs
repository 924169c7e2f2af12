//! What a score *is*: exact log-density, a lower bound, a Monte-Carlo
//! estimate, or a numerically integrated likelihood.
//!
//! The tutorial (section 4.2) separates models by how well they can evaluate
//! log p_θ(x). A bare number hides that, so every score carries its [`ScoreKind`],
//! and [`crate::Capabilities::check_score`] holds it to the model's row of
//! the capability table. How to score (estimator, K, seed) is passed in
//! [`ScoreOptions`], never set on the model.

use serde::{Deserialize, Serialize};

/// The meaning of a log-density value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScoreKind {
    /// log p_θ(x) itself (chain rule, change of variables, closed form).
    Exact,
    /// A lower bound on log p_θ(x), e.g. the ELBO; `bound` names it.
    Bound {
        /// Which bound, e.g. `"elbo"`.
        bound: String,
    },
    /// A Monte-Carlo estimate of log p_θ(x) (e.g. importance sampling with K samples).
    Estimate {
        /// Which estimator, e.g. `"iwae"`.
        estimator: String,
        /// The number of samples per row.
        samples: usize,
    },
    /// log p_θ(x) from a numerical solve, e.g. the instantaneous change of
    /// variables log p(x) = log p(z(T)) + ∫₀ᵀ tr(∂f/∂z) dt integrated by RK4
    /// (CNF, the probability-flow ODE of diffusion). Exact up to the solver's
    /// discretisation error, which is why it is not [`ScoreKind::Exact`].
    Integrated {
        /// The solver, e.g. `"rk4"`.
        solver: String,
        /// Solver steps per row.
        steps: usize,
    },
}

impl ScoreKind {
    /// Short name: `exact`, `bound`, `estimate` or `integrated`.
    pub fn name(&self) -> &'static str {
        match self {
            ScoreKind::Exact => "exact",
            ScoreKind::Bound { .. } => "bound",
            ScoreKind::Estimate { .. } => "estimate",
            ScoreKind::Integrated { .. } => "integrated",
        }
    }

    /// True only for [`ScoreKind::Exact`].
    pub fn is_exact(&self) -> bool {
        matches!(self, ScoreKind::Exact)
    }
}

/// Which estimator [`crate::Score::score`] uses, for models that have more than one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreEstimator {
    /// The model's own default (exact where it can be, else its bound).
    #[default]
    Default,
    /// The evidence lower bound (VAE family).
    Elbo,
    /// The importance-weighted estimate with [`ScoreOptions::k`] samples.
    Iwae,
    /// The likelihood of a diffusion model's probability-flow ODE, integrated
    /// with [`ScoreOptions::k`] solver steps (an `integrated` score).
    Ode,
}

impl ScoreEstimator {
    /// Every estimator, in the order `--help` lists them.
    pub const ALL: [ScoreEstimator; 4] = [
        ScoreEstimator::Default,
        ScoreEstimator::Elbo,
        ScoreEstimator::Iwae,
        ScoreEstimator::Ode,
    ];

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ScoreEstimator::Default => "default",
            ScoreEstimator::Elbo => "elbo",
            ScoreEstimator::Iwae => "iwae",
            ScoreEstimator::Ode => "ode",
        }
    }
}

impl std::fmt::Display for ScoreEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScoreEstimator {
    type Err = crate::GenError;
    fn from_str(s: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                crate::GenError::config(
                    "--estimator",
                    s,
                    "unknown estimator",
                    "use default, elbo (a lower bound), iwae (an estimate with --k samples) or ode (a diffusion model's probability-flow ODE with --k solver steps)",
                )
            })
    }
}

/// How to score: passed to [`crate::Score::score`] on every call, so a model
/// holds no scoring state and two calls with the same options agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// Which estimator (models with one way to score ignore [`ScoreEstimator::Default`]
    /// and refuse the others with a clear error).
    pub estimator: ScoreEstimator,
    /// Samples per row for Monte-Carlo estimators (IWAE's K; the ELBO's
    /// draws); solver steps for [`ScoreEstimator::Ode`].
    pub k: usize,
    /// Seed of the estimator's noise.
    pub seed: u64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            estimator: ScoreEstimator::Default,
            k: 1,
            seed: 0,
        }
    }
}

impl ScoreOptions {
    /// Options choosing `estimator` with `k` samples per row.
    pub fn with(estimator: ScoreEstimator, k: usize) -> Self {
        Self {
            estimator,
            k,
            ..Self::default()
        }
    }

    /// The error a model with a single way of scoring returns for any other
    /// estimator; `how` names that way.
    pub fn only_default(&self, model: &str, how: &str) -> crate::Result<()> {
        match self.estimator {
            ScoreEstimator::Default => Ok(()),
            other => Err(crate::GenError::config(
                "--estimator",
                other,
                format!("{model} has one way to score: {how}"),
                "drop --estimator (or pass --estimator default)",
            )),
        }
    }
}

/// Per-row log-densities in nats, with what they mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// What the values are.
    #[serde(flatten)]
    pub kind: ScoreKind,
    /// One log-density (nats) per input row.
    pub values: Vec<f64>,
}

impl Scores {
    /// Exact log-densities.
    pub fn exact(values: Vec<f64>) -> Self {
        Self {
            kind: ScoreKind::Exact,
            values,
        }
    }

    /// Lower bounds named `bound`.
    pub fn bound(bound: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            kind: ScoreKind::Bound {
                bound: bound.into(),
            },
            values,
        }
    }

    /// Log-densities from a numerical solve with `steps` steps of `solver`.
    pub fn integrated(solver: impl Into<String>, steps: usize, values: Vec<f64>) -> Self {
        Self {
            kind: ScoreKind::Integrated {
                solver: solver.into(),
                steps,
            },
            values,
        }
    }

    /// Monte-Carlo estimates.
    pub fn estimate(estimator: impl Into<String>, samples: usize, values: Vec<f64>) -> Self {
        Self {
            kind: ScoreKind::Estimate {
                estimator: estimator.into(),
                samples,
            },
            values,
        }
    }

    /// Mean log-density (NaN for no rows).
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            return f64::NAN;
        }
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    /// Mean negative log-likelihood in nats.
    pub fn mean_nll(&self) -> f64 {
        -self.mean()
    }

    /// The JSON report `genlab score` prints: kind, per-row values and their mean.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut v {
            map.insert("mean".into(), serde_json::json!(self.mean()));
            map.insert("unit".into(), serde_json::json!("nats"));
        }
        v
    }
}
