//! Capabilities per task, as data: the tutorial's "Task Performance Analysis" tables.

use serde::Serialize;

use crate::error::{GenError, Result};
use crate::score::{ScoreKind, Scores};

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

impl Capabilities {
    /// Whether what [`crate::Score::score`] returned agrees with this row:
    /// an `exact` row must return [`ScoreKind::Exact`] scores, an
    /// `approximate` row a bound, an estimate or an integrated likelihood, and
    /// a `none` row must refuse with [`GenError::Unsupported`]. The `Err`
    /// says what disagrees.
    pub fn check_score(&self, returned: &Result<Scores>) -> std::result::Result<(), String> {
        let model = self.model;
        match (self.score.support, returned) {
            (Support::Exact, Ok(s)) if s.kind == ScoreKind::Exact => Ok(()),
            (Support::Approximate, Ok(s)) if s.kind != ScoreKind::Exact => Ok(()),
            (Support::None, Err(GenError::Unsupported { .. })) => Ok(()),
            (support, Ok(s)) => Err(format!(
                "{model}: the capability table says scoring is {support:?} ({}), but score returned `{}` values",
                self.score.how,
                s.kind.name()
            )),
            (support, Err(e)) => Err(format!(
                "{model}: the capability table says scoring is {support:?} ({}), but score failed: {e}",
                self.score.how
            )),
        }
    }
}

/// Renders capability rows as a Markdown table.
pub fn capability_table(rows: &[Capabilities]) -> String {
    let mut out = String::from(
        "| model | family | learning | scoring | sampling | inference |\n|---|---|---|---|---|---|\n",
    );
    // A `|` inside a cell (p(x_i | x_<i)) would end the cell: escape it.
    let cell = |s: &str| s.replace('|', "\\|");
    for c in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.model,
            c.family,
            cell(c.learn.how),
            cell(c.score.how),
            cell(c.sample.how),
            cell(c.infer.how)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(support: Support) -> Capabilities {
        let t = TaskSupport {
            support,
            how: "test",
        };
        Capabilities {
            model: "m",
            family: "f",
            learn: t.clone(),
            score: t.clone(),
            sample: t.clone(),
            infer: t,
        }
    }

    #[test]
    fn table_cells_escape_the_column_separator() {
        let mut r = row(Support::Exact);
        r.score.how = "exact, sum_i log p(x_i | x_<i)";
        let t = capability_table(&[r]);
        let body = t.lines().nth(2).unwrap();
        assert_eq!(body.matches(" | ").count(), 5, "{body}");
        assert!(body.contains("p(x_i \\| x_<i)"), "{body}");
    }

    #[test]
    fn score_kinds_must_match_the_row() {
        let exact = Ok(Scores::exact(vec![0.0]));
        let integrated = Ok(Scores::integrated("rk4", 10, vec![0.0]));
        let bound = Ok(Scores::bound("elbo", vec![0.0]));
        let refused = Err(GenError::Unsupported {
            model: "m".into(),
            task: crate::Task::Score,
            why: "no density".into(),
        });
        assert!(row(Support::Exact).check_score(&exact).is_ok());
        assert!(row(Support::Exact).check_score(&integrated).is_err());
        assert!(row(Support::Approximate).check_score(&integrated).is_ok());
        assert!(row(Support::Approximate).check_score(&bound).is_ok());
        assert!(row(Support::Approximate).check_score(&exact).is_err());
        assert!(row(Support::None).check_score(&refused).is_ok());
        assert!(row(Support::None).check_score(&bound).is_err());
        assert!(row(Support::Exact).check_score(&refused).is_err());
    }
}
