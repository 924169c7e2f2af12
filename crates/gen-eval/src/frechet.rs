//! Fréchet distance between Gaussians fitted to two feature sets: FID when
//! the features are Inception-v3 pool features (Heusel et al. 2017).
//!
//! For feature sets with means `μ₁, μ₂` and covariances `Σ₁, Σ₂`:
//!
//! ```text
//! d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr √(Σ₁ Σ₂)
//! ```
//!
//! This is the formula of pytorch-fid's `calculate_frechet_distance` and
//! clean-fid's `frechet_distance` (both report `d²`, not its square root),
//! with statistics as they compute them: `μ = np.mean(x, axis=0)`,
//! `Σ = np.cov(x, rowvar=False)` (divisor `N − 1`), all in `f64`.
//!
//! **Square-root trace.** pytorch-fid takes `scipy.linalg.sqrtm(Σ₁ Σ₂)` of a
//! non-symmetric product (and adds `1e-6·I` when that fails). Here the trace is
//! computed by a symmetric route that needs no such fix:
//! `Σ₁ Σ₂` is similar to `√Σ₁ Σ₂ √Σ₁` (symmetric positive semi-definite), so
//!
//! ```text
//! tr √(Σ₁ Σ₂) = Σᵢ √max(λᵢ, 0),   λᵢ = eigenvalues of √Σ₁ Σ₂ √Σ₁,
//! ```
//!
//! with `√Σ₁ = V diag(√max(sᵢ, 0)) Vᵀ` from the symmetric eigen-decomposition
//! `Σ₁ = V diag(s) Vᵀ` (nalgebra `SymmetricEigen`). Both routes give the same
//! number for PSD inputs up to rounding.
//!
//! **Tiny negatives.** The value is reported *as computed*, like pytorch-fid
//! and clean-fid: for identical or near-identical inputs it may be a tiny
//! negative number (of order `1e-12 · tr Σ`) from rounding. It is not clamped,
//! so that averages over runs stay unbiased; treat `|d²| < 1e-9·tr Σ` as 0.
//!
//! **Singular covariance.** With `N ≤ d` samples the covariance has rank
//! `< d`; the distance is still defined (the eigenvalue clamp handles the
//! zero eigenvalues) but is a poor, biased estimate, so the result carries a
//! `warning`.

use gen_core::numerics::linalg::{mean_and_cov, trace_sqrt_product};
use gen_core::{GenError, Matrix, Result};
use nalgebra::DMatrix;

use crate::check;

/// Mean and covariance of a feature set: the statistics FID compares
/// (pytorch-fid's `mu`, `sigma`; clean-fid's stored statistics).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureStats {
    /// Column means `μ` (length `d`).
    pub mean: Vec<f64>,
    /// Covariance `Σ` with divisor `N − 1` (`d × d`).
    pub cov: Matrix,
    /// Number of samples the statistics were computed from (0 if unknown).
    pub samples: usize,
}

impl FeatureStats {
    /// `μ = mean(x, axis 0)` and `Σ = cov(x)` with divisor `N − 1`
    /// (`np.cov(x, rowvar=False)`). Needs at least 2 finite rows.
    pub fn from_features(x: &Matrix) -> Result<Self> {
        check::features(x, "FeatureStats::from_features", "features", 2)?;
        let (mean, cov) = mean_and_cov(x);
        let d = x.cols();
        let mut data = Vec::with_capacity(d * d);
        for i in 0..d {
            for j in 0..d {
                data.push(cov[(i, j)]);
            }
        }
        Ok(Self {
            mean,
            cov: Matrix::new(d, d, data)?,
            samples: x.rows(),
        })
    }

    /// Statistics given directly (e.g. published reference statistics).
    /// `samples` may be 0 when unknown. Errors unless `cov` is a finite,
    /// symmetric `d × d` matrix with `d = mean.len()`.
    pub fn new(mean: Vec<f64>, cov: Matrix, samples: usize) -> Result<Self> {
        let s = Self { mean, cov, samples };
        s.validate("FeatureStats::new")?;
        Ok(s)
    }

    /// Feature dimension `d`.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    fn validate(&self, ctx: &str) -> Result<()> {
        let d = self.mean.len();
        if d == 0 {
            return Err(GenError::shape(
                ctx,
                "a mean of length d ≥ 1",
                "an empty mean",
                "pass the feature mean vector",
            ));
        }
        check::finite_slice(&self.mean, ctx, "mean", 1)?;
        if self.cov.shape() != (d, d) || self.cov.as_slice().len() != d * d {
            return Err(GenError::shape(
                format!("{ctx}: covariance"),
                format!("{d} x {d} (mean has length {d})"),
                format!("{} x {}", self.cov.rows(), self.cov.cols()),
                "pass the covariance of the same features as the mean",
            ));
        }
        self.cov.ensure_finite(&format!("{ctx}: covariance"))?;
        let scale = self
            .cov
            .as_slice()
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..d {
            for j in 0..i {
                let (a, b) = (self.cov.get(i, j), self.cov.get(j, i));
                if (a - b).abs() > 1e-8 * scale.max(1e-300) {
                    return Err(GenError::input(
                        format!("{ctx}: covariance"),
                        format!("not symmetric: entry ({i},{j}) = {a} but ({j},{i}) = {b}"),
                        "pass a covariance matrix (symmetric); symmetrize with (S + Sᵀ)/2 if it came from a lossy format",
                    ));
                }
            }
        }
        Ok(())
    }

    fn cov_dmatrix(&self) -> DMatrix<f64> {
        let d = self.dim();
        DMatrix::from_row_slice(d, d, self.cov.as_slice())
    }
}

/// A Fréchet distance (FID when the features are Inception features).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrechetDistance {
    /// `d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)`, as computed (not clamped;
    /// see the module docs).
    pub value: f64,
    /// The mean term `‖μ₁ − μ₂‖²`.
    pub mean_term: f64,
    /// The covariance term `tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)`.
    pub covariance_term: f64,
    /// `tr √(Σ₁Σ₂)`.
    pub trace_sqrt_product: f64,
    /// Feature dimension `d`.
    pub dim: usize,
    /// Samples behind the first statistics (0 if unknown).
    pub samples_1: usize,
    /// Samples behind the second statistics (0 if unknown).
    pub samples_2: usize,
    /// Why the number may be unreliable (singular or non-PSD covariance), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Fréchet distance between two feature sets (rows = samples): FID for
/// Inception features. Matches pytorch-fid / clean-fid
/// `calculate_frechet_distance(mu1, sigma1, mu2, sigma2)` on statistics from
/// [`FeatureStats::from_features`]. Needs ≥ 2 rows per set and equal columns.
pub fn frechet_distance(real: &Matrix, fake: &Matrix) -> Result<FrechetDistance> {
    check::features(real, "frechet_distance", "real features", 2)?;
    check::features(fake, "frechet_distance", "fake features", 2)?;
    check::same_dim(real, fake, "frechet_distance", "real", "fake")?;
    let a = FeatureStats::from_features(real)?;
    let b = FeatureStats::from_features(fake)?;
    frechet_distance_from_stats(&a, &b)
}

/// Fréchet distance between two Gaussians given by their statistics:
/// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)` (see the module docs for the
/// square-root route and the reporting of tiny negatives).
pub fn frechet_distance_from_stats(a: &FeatureStats, b: &FeatureStats) -> Result<FrechetDistance> {
    a.validate("frechet_distance_from_stats: first statistics")?;
    b.validate("frechet_distance_from_stats: second statistics")?;
    let d = a.dim();
    if b.dim() != d {
        return Err(GenError::shape(
            "frechet_distance_from_stats",
            format!("second statistics of dimension {d} (as the first)"),
            format!("dimension {}", b.dim()),
            "compare statistics of features from the same extractor",
        ));
    }
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let s1 = a.cov_dmatrix();
    let s2 = b.cov_dmatrix();
    let (tr_sqrt, min1, min_m) = trace_sqrt_product(&s1, &s2);
    let covariance_term = s1.trace() + s2.trace() - 2.0 * tr_sqrt;

    let mut warnings = Vec::new();
    for (name, st) in [("first", a), ("second", b)] {
        if st.samples > 0 && st.samples <= d {
            warnings.push(format!(
                "the {name} set has N = {} ≤ d = {d} samples, so its covariance is singular and the distance is a poor estimate; use more samples than feature dimensions (FID is usually reported on ≥ 10,000 samples)",
                st.samples
            ));
        }
    }
    let scale = s1
        .trace()
        .abs()
        .max(s2.trace().abs())
        .max(f64::MIN_POSITIVE);
    for (name, m) in [("first covariance", min1), ("product √Σ₁Σ₂√Σ₁", min_m)] {
        if m < -1e-8 * scale {
            warnings.push(format!(
                "the {name} is not positive semi-definite (eigenvalue {m:.3e}); negative eigenvalues were clamped at 0 — pass valid covariance matrices"
            ));
        }
    }
    Ok(FrechetDistance {
        value: mean_term + covariance_term,
        mean_term,
        covariance_term,
        trace_sqrt_product: tr_sqrt,
        dim: d,
        samples_1: a.samples,
        samples_2: b.samples,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::Rng as _;
    use rand_distr::{Distribution, StandardNormal};

    fn stats(mean: &[f64], cov: &[&[f64]]) -> FeatureStats {
        FeatureStats::new(mean.to_vec(), Matrix::from_rows(cov).unwrap(), 0).unwrap()
    }

    #[test]
    fn reference_value_equal_means() {
        let a = stats(&[0.0, 0.0], &[&[2.0, 1.0], &[1.0, 2.0]]);
        let b = stats(&[0.0, 0.0], &[&[1.0, 0.0], &[0.0, 1.0]]);
        let f = frechet_distance_from_stats(&a, &b).unwrap();
        assert!((f.value - 0.5358983848622456).abs() < 1e-12, "{}", f.value);
        assert!(f.warning.is_none());
    }

    #[test]
    fn reference_value_with_mean_shift() {
        let a = stats(&[1.0, 2.0], &[&[2.0, 1.0], &[1.0, 2.0]]);
        let b = stats(&[0.0, 0.0], &[&[1.0, 0.0], &[0.0, 4.0]]);
        let f = frechet_distance_from_stats(&a, &b).unwrap();
        assert!((f.value - 5.77122044765434).abs() < 1e-12, "{}", f.value);
        assert!((f.mean_term - 5.0).abs() < 1e-15);
        // symmetric in its arguments
        let g = frechet_distance_from_stats(&b, &a).unwrap();
        assert!((g.value - f.value).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn diagonal_covariances_have_closed_form(
            s in proptest::collection::vec(0.0f64..10.0, 1..8),
            t_seed in proptest::collection::vec(0.0f64..10.0, 8),
            mu in proptest::collection::vec(-5.0f64..5.0, 8),
        ) {
            let d = s.len();
            let t = &t_seed[..d];
            let diag = |v: &[f64]| {
                let mut m = vec![0.0; d * d];
                for i in 0..d { m[i * d + i] = v[i]; }
                Matrix::new(d, d, m).unwrap()
            };
            let a = FeatureStats::new(mu[..d].to_vec(), diag(&s), 0).unwrap();
            let b = FeatureStats::new(vec![0.0; d], diag(t), 0).unwrap();
            let f = frechet_distance_from_stats(&a, &b).unwrap();
            let want: f64 = s.iter().zip(t).map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2)).sum::<f64>()
                + mu[..d].iter().map(|m| m * m).sum::<f64>();
            prop_assert!((f.value - want).abs() < 1e-9 * (1.0 + want), "{} vs {}", f.value, want);
        }
    }

    fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Matrix {
        let mut rng = gen_core::rng_from_seed(seed);
        let data = (0..n * d)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                z + shift
            })
            .collect();
        Matrix::new(n, d, data).unwrap()
    }

    #[test]
    fn identical_samples_give_zero() {
        let x = gaussian(500, 16, 3.0, 1);
        let f = frechet_distance(&x, &x).unwrap();
        assert!(f.value.abs() < 1e-9, "{}", f.value);
        let stats = FeatureStats::from_features(&x).unwrap();
        let g = frechet_distance_from_stats(&stats, &stats).unwrap();
        assert!(g.value.abs() < 1e-9);
    }

    #[test]
    fn gaussian_samples_sanity() {
        // Two samples of N(0, I_8): FID ≈ small bias; a mean shift of 1 in every
        // coordinate adds ≈ d = 8.
        let d = 8;
        let a = gaussian(4000, d, 0.0, 2);
        let b = gaussian(4000, d, 0.0, 3);
        let c = gaussian(4000, d, 1.0, 4);
        let same = frechet_distance(&a, &b).unwrap().value;
        let shifted = frechet_distance(&a, &c).unwrap().value;
        assert!(same > -1e-9 && same < 0.05, "{same}");
        assert!((shifted - 8.0).abs() < 0.5, "{shifted}");
    }

    #[test]
    fn sample_function_matches_stats_function() {
        let mut rng = gen_core::rng_from_seed(9);
        let a = gaussian(300, 5, 0.0, 5);
        let data: Vec<f64> = (0..300 * 5).map(|_| rng.random::<f64>() * 3.0).collect();
        let b = Matrix::new(300, 5, data).unwrap();
        let f = frechet_distance(&a, &b).unwrap();
        let g = frechet_distance_from_stats(
            &FeatureStats::from_features(&a).unwrap(),
            &FeatureStats::from_features(&b).unwrap(),
        )
        .unwrap();
        assert_eq!(f, g);
        assert!(f.value > 0.0);
    }

    #[test]
    fn few_samples_warn_and_bad_inputs_error() {
        let a = gaussian(4, 6, 0.0, 6);
        let b = gaussian(10, 6, 0.0, 7);
        let f = frechet_distance(&a, &b).unwrap();
        assert!(f.value.is_finite());
        assert!(f.warning.as_deref().unwrap().contains("N = 4"));

        let c = gaussian(10, 5, 0.0, 8);
        assert!(matches!(
            frechet_distance(&a, &c),
            Err(GenError::ShapeMismatch { .. })
        ));
        let one = gaussian(1, 6, 0.0, 9);
        assert!(frechet_distance(&one, &b).is_err());
        let mut nan = b.clone();
        nan.as_mut_slice()[3] = f64::NAN;
        assert!(matches!(
            frechet_distance(&a, &nan),
            Err(GenError::InvalidInput { .. })
        ));
        let asym = Matrix::from_rows(&[[1.0, 0.5], [0.0, 1.0]]).unwrap();
        assert!(FeatureStats::new(vec![0.0, 0.0], asym, 0).is_err());
        let wrong = Matrix::from_rows(&[[1.0, 0.0], [0.0, 1.0]]).unwrap();
        assert!(FeatureStats::new(vec![0.0; 3], wrong, 0).is_err());
    }
}
