//! What a score *is*: exact log-density, a lower bound, or a Monte-Carlo estimate.
//!
//! The tutorial (section 4.2) separates models by how well they can evaluate
//! log p_θ(x). A bare number hides that, so every score carries its [`ScoreKind`].

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
}

impl ScoreKind {
    /// Short name: `exact`, `bound` or `estimate`.
    pub fn name(&self) -> &'static str {
        match self {
            ScoreKind::Exact => "exact",
            ScoreKind::Bound { .. } => "bound",
            ScoreKind::Estimate { .. } => "estimate",
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
