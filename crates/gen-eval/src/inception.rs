//! Inception-style score (Salimans et al. 2016) from any classifier's class
//! probabilities.
//!
//! Rows are split *in order* into `S` contiguous parts, part `s` holding rows
//! `⌊sN/S⌋ .. ⌊(s+1)N/S⌋` (the slicing of OpenAI's `get_inception_score` and
//! torch-fidelity's `isc`, without torch-fidelity's optional shuffle). Per
//! part, with `p̄ = mean_i p(y|xᵢ)`:
//!
//! ```text
//! ISₛ = exp( mean_i KL(p(y|xᵢ) ‖ p̄) ) = exp( mean_i Σ_c pᵢc (log pᵢc − log p̄c) ),
//! ```
//!
//! using `0 · log 0 = 0` (a zero probability contributes nothing). The result
//! is the mean and the ddof-0 standard deviation (`np.std`) of the `ISₛ`.
//! A perfectly confident, perfectly balanced classifier over `C` classes
//! scores `C`; a constant prediction scores 1.

use gen_core::numerics::mean_std;
use gen_core::{GenError, Matrix, Result};

use crate::check;

/// Default number of splits (torch-fidelity `isc_splits`, OpenAI's code).
pub const DEFAULT_SPLITS: usize = 10;

/// Largest allowed deviation of a row sum from 1.
pub const ROW_SUM_TOLERANCE: f64 = 1e-4;

/// An Inception-style score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InceptionScore {
    /// Mean of the per-split scores.
    pub mean: f64,
    /// Standard deviation of the per-split scores (ddof 0).
    pub std: f64,
    /// Number of splits `S`.
    pub splits: usize,
    /// Number of rows (samples).
    pub samples: usize,
    /// Number of classes.
    pub classes: usize,
}

/// Inception-style score of class probabilities `probs` (rows = samples,
/// columns = classes; each row non-negative and summing to 1 within
/// [`ROW_SUM_TOLERANCE`] — apply a softmax to logits first) over `splits`
/// in-order splits (module docs). Needs `1 ≤ splits ≤ rows`.
pub fn inception_score(probs: &Matrix, splits: usize) -> Result<InceptionScore> {
    check::features(probs, "inception_score", "class probabilities", 1)?;
    let (n, c) = probs.shape();
    if splits == 0 || splits > n {
        return Err(GenError::config(
            "splits",
            splits,
            format!("must be between 1 and the number of samples ({n})"),
            "use --splits 10 (the usual choice) with at least 10 samples per split",
        ));
    }
    for (i, row) in probs.iter_rows().enumerate() {
        if let Some(j) = row.iter().position(|&p| p < 0.0) {
            return Err(GenError::input(
                "inception_score",
                format!("probability {} at row {i}, class {j} is negative", row[j]),
                "pass class probabilities (softmax of the classifier's logits), not logits",
            ));
        }
        let s: f64 = row.iter().sum();
        if (s - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(GenError::input(
                "inception_score",
                format!("row {i} sums to {s}, not 1"),
                "pass class probabilities (softmax of the classifier's logits), one row per sample",
            ));
        }
    }
    let mut scores = Vec::with_capacity(splits);
    let mut marginal = vec![0.0; c];
    for s in 0..splits {
        let (a, b) = (s * n / splits, (s + 1) * n / splits);
        marginal.fill(0.0);
        for i in a..b {
            for (m, p) in marginal.iter_mut().zip(probs.row(i)) {
                *m += p;
            }
        }
        let count = (b - a) as f64;
        marginal.iter_mut().for_each(|m| *m /= count);
        let mut kl_sum = 0.0;
        for i in a..b {
            for (&p, &m) in probs.row(i).iter().zip(&marginal) {
                // p > 0 implies m > 0 (m averages p); 0·log 0 = 0.
                if p > 0.0 {
                    kl_sum += p * (p.ln() - m.ln());
                }
            }
        }
        scores.push((kl_sum / count).exp());
    }
    let (mean, std) = mean_std(&scores);
    Ok(InceptionScore {
        mean,
        std,
        splits,
        samples: n,
        classes: c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_one_hot_scores_class_count() {
        for c in [2usize, 5, 10] {
            let rows: Vec<Vec<f64>> = (0..4 * c)
                .map(|i| (0..c).map(|j| if j == i % c { 1.0 } else { 0.0 }).collect())
                .collect();
            let p = Matrix::from_rows(&rows).unwrap();
            let s = inception_score(&p, 1).unwrap();
            assert!((s.mean - c as f64).abs() < 1e-12);
            let s4 = inception_score(&p, 4).unwrap();
            assert!((s4.mean - c as f64).abs() < 1e-12 && s4.std < 1e-12);
        }
    }

    #[test]
    fn reference_value() {
        let p = Matrix::from_rows(&[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.6, 0.4]]).unwrap();
        let s = inception_score(&p, 1).unwrap();
        assert!((s.mean - 1.1505358065281668).abs() < 1e-14, "{}", s.mean);
        assert_eq!(s.std, 0.0);
    }

    #[test]
    fn splits_are_contiguous_and_std_is_ddof0() {
        // Split 1: balanced one-hot (IS 2); split 2: constant prediction (IS 1).
        let p = Matrix::from_rows(&[[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [0.3, 0.7]]).unwrap();
        let s = inception_score(&p, 2).unwrap();
        assert!((s.mean - 1.5).abs() < 1e-12);
        assert!((s.std - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_error() {
        let logits = Matrix::from_rows(&[[2.0, -1.0], [0.5, 0.5]]).unwrap();
        assert!(inception_score(&logits, 1).is_err());
        let unnorm = Matrix::from_rows(&[[0.5, 0.6]]).unwrap();
        assert!(inception_score(&unnorm, 1).is_err());
        let p = Matrix::from_rows(&[[0.5, 0.5]]).unwrap();
        assert!(inception_score(&p, 2).is_err());
        assert!(inception_score(&p, 0).is_err());
        let nan = Matrix::from_rows(&[[f64::NAN, 0.5]]).unwrap();
        assert!(inception_score(&nan, 1).is_err());
    }
}
