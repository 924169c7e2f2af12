//! Capabilities per task, as data: the tutorial's "Task Performance Analysis" tables.

use serde::Serialize;

/// How well a model supports one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    /// Done exactly (exact likelihood, exact posterior, exact samples).
    Exact,
    /// Done approximately (a bound, an estimate, an amortized posterior).
    Approximate,
    /// Not supported by the model class.
    None,
}

/// One task's support level and, in words, how it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskSupport {
    /// Exact / approximate / none.
    pub support: Support,
    /// How, e.g. "exact, chain rule" or "ELBO lower bound; IWAE estimate".
    pub how: &'static str,
}

impl TaskSupport {
    /// Exact support, done `how`.
    pub const fn exact(how: &'static str) -> Self {
        Self {
            support: Support::Exact,
            how,
        }
    }
    /// Approximate support, done `how`.
    pub const fn approximate(how: &'static str) -> Self {
        Self {
            support: Support::Approximate,
            how,
        }
    }
    /// No support; `how` says why.
    pub const fn none(how: &'static str) -> Self {
        Self {
            support: Support::None,
            how,
        }
    }
}

/// A model's row in the capability table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The name `genlab train` accepts, e.g. `gmm`.
    pub model: &'static str,
    /// The family, e.g. `classical`, `flow`, `vae`.
    pub family: &'static str,
    /// Learning: how θ is fitted.
    pub learn: TaskSupport,
    /// Scoring: how log p(x) is evaluated.
    pub score: TaskSupport,
    /// Sampling: how x ~ p is drawn.
    pub sample: TaskSupport,
    /// Inference: how latent structure given x is recovered.
    pub infer: TaskSupport,
}

/// Renders capability rows as a Markdown table.
pub fn capability_table(rows: &[Capabilities]) -> String {
    let mut out = String::from(
        "| model | family | learning | scoring | sampling | inference |\n|---|---|---|---|---|---|\n",
    );
    for c in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.model, c.family, c.learn.how, c.score.how, c.sample.how, c.infer.how
        ));
    }
    out
}
