//! Metrics for toy distributions with known densities.
//!
//! # Mode coverage and sample quality (mixtures of isotropic Gaussians)
//!
//! For mixture centres `c₁..c_K` with a common standard deviation `σ`, each
//! sample is assigned to its nearest centre; it is *high quality* if that
//! distance is at most `radius_sigmas · σ` (3σ by default, the convention of
//! the 2-D ring/grid experiments of Unrolled GAN, VEEGAN and PacGAN). A mode
//! is *covered* if at least `min_count` high-quality samples are assigned to
//! it. The default `min_count` is `max(1, ⌈0.1 · N / K⌉)`: a tenth of the
//! share a perfect sampler of an equal-weight mixture would give each mode
//! (so stray single samples do not count as coverage).
//!
//! # Ring coverage (mixtures of rings)
//!
//! For rings of radii `r₁..r_K` with a common radial standard deviation `σ`
//! (the rings toy), the same counts with the radial distance
//! `| ‖x‖ − r_k |` in place of the distance to a centre: a sample is high
//! quality within `radius_sigmas · σ` of its nearest ring, a ring is
//! covered by `min_count` such samples ([`ring_coverage`]).
//!
//! # Forward and reverse KL from log-densities (tutorial §13.2)
//!
//! With the data density `p` and model density `q` both evaluable:
//!
//! ```text
//! forward KL(p‖q) ≈ (1/N) Σ_{x~p} [log p(x) − log q(x)]   (mode covering)
//! reverse KL(q‖p) ≈ (1/N) Σ_{x~q} [log q(x) − log p(x)]   (mode seeking)
//! ```
//!
//! Monte-Carlo means over samples from the first distribution, reported with
//! their standard errors (sample std with ddof 1 over `√N`).

use gen_core::numerics::mean_stderr;
use gen_core::{GenError, Matrix, Result};

use crate::check;
use crate::knn::nearest_sq;

/// Options of [`mode_coverage`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModeCoverageOptions {
    /// Quality radius in units of `σ` (default 3).
    pub radius_sigmas: f64,
    /// High-quality samples a mode needs to count as covered; `None` for
    /// `max(1, ⌈0.1 N / K⌉)`.
    pub min_count: Option<usize>,
}

impl Default for ModeCoverageOptions {
    fn default() -> Self {
        Self {
            radius_sigmas: 3.0,
            min_count: None,
        }
    }
}

/// Mode coverage and sample quality of samples from a Gaussian mixture.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModeCoverage {
    /// Modes with at least `min_count` high-quality samples.
    pub modes_covered: usize,
    /// Number of modes `K`.
    pub modes: usize,
    /// Fraction of samples within the quality radius of their nearest mode.
    pub high_quality_fraction: f64,
    /// High-quality samples assigned to each mode.
    pub counts: Vec<usize>,
    /// Threshold used for coverage.
    pub min_count: usize,
    /// Number of samples `N`.
    pub samples: usize,
}

/// Modes covered and high-quality fraction (module docs). `centres` holds one
/// mode per row; `sigma` is the common standard deviation of the modes.
pub fn mode_coverage(
    samples: &Matrix,
    centres: &Matrix,
    sigma: f64,
    options: &ModeCoverageOptions,
) -> Result<ModeCoverage> {
    check::features(samples, "mode_coverage", "samples", 1)?;
    check::features(centres, "mode_coverage", "mode centres", 1)?;
    check::same_dim(centres, samples, "mode_coverage", "mode centres", "samples")?;
    check::positive(
        sigma,
        "sigma",
        "pass the mixture's standard deviation σ > 0",
    )?;
    let r2 = (options.radius_sigmas * sigma).powi(2);
    let (d2, idx) = nearest_sq(samples, centres);
    tally(
        idx.into_iter().zip(d2.iter().map(|d| *d <= r2)),
        centres.rows(),
        options,
    )
}

/// [`ModeCoverage`] from each sample's nearest mode and whether it lies
/// within the quality radius: what [`mode_coverage`] and [`ring_coverage`]
/// share once their distances are known.
fn tally(
    nearest: impl ExactSizeIterator<Item = (usize, bool)>,
    k: usize,
    options: &ModeCoverageOptions,
) -> Result<ModeCoverage> {
    check::positive(
        options.radius_sigmas,
        "radius_sigmas",
        "use 3 (the usual 3σ radius)",
    )?;
    let n = nearest.len();
    let min_count = match options.min_count {
        Some(0) => {
            return Err(GenError::config(
                "min_count",
                0,
                "a mode with zero samples would count as covered",
                "use min_count ≥ 1, or leave it unset for ⌈0.1·N/K⌉",
            ));
        }
        Some(c) => c,
        None => ((0.1 * n as f64 / k as f64).ceil() as usize).max(1),
    };
    let mut counts = vec![0usize; k];
    let mut good = 0usize;
    for (j, within) in nearest {
        if within {
            counts[j] += 1;
            good += 1;
        }
    }
    Ok(ModeCoverage {
        modes_covered: counts.iter().filter(|&&c| c >= min_count).count(),
        modes: k,
        high_quality_fraction: good as f64 / n as f64,
        counts,
        min_count,
        samples: n,
    })
}

/// Rings covered and high-quality fraction (module docs): `radii` holds
/// one ring radius each, `sigma` their common radial standard deviation;
/// samples are 2-D points.
pub fn ring_coverage(
    samples: &Matrix,
    radii: &[f64],
    sigma: f64,
    options: &ModeCoverageOptions,
) -> Result<ModeCoverage> {
    check::features(samples, "ring_coverage", "samples", 1)?;
    if samples.cols() != 2 || radii.is_empty() || radii.iter().any(|r| !r.is_finite() || *r < 0.0) {
        return Err(GenError::input(
            "ring_coverage",
            format!("{} columns and {} radii", samples.cols(), radii.len()),
            "pass 2-D points and at least one finite, non-negative ring radius",
        ));
    }
    check::positive(
        sigma,
        "sigma",
        "pass the rings' radial standard deviation σ > 0",
    )?;
    let limit = options.radius_sigmas * sigma;
    let nearest: Vec<(usize, bool)> = samples
        .iter_rows()
        .map(|row| {
            let r = row[0].hypot(row[1]);
            let (j, d) = radii.iter().map(|rk| (r - rk).abs()).enumerate().fold(
                (0, f64::INFINITY),
                |best, (j, d)| {
                    if d < best.1 { (j, d) } else { best }
                },
            );
            (j, d <= limit)
        })
        .collect();
    tally(nearest.into_iter(), radii.len(), options)
}

/// A Monte-Carlo KL estimate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KlEstimate {
    /// The mean log-density difference.
    pub value: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Number of samples.
    pub samples: usize,
}

fn kl(log_a: &[f64], log_b: &[f64], ctx: &str, a: &str, b: &str) -> Result<KlEstimate> {
    check::finite_slice(log_a, ctx, a, 1)?;
    check::same_len(log_a, log_b, ctx, a, b)?;
    check::finite_slice(log_b, ctx, b, 1)?;
    let diff: Vec<f64> = log_a.iter().zip(log_b).map(|(x, y)| x - y).collect();
    let (value, std_err) = mean_stderr(&diff);
    Ok(KlEstimate {
        value,
        std_err,
        samples: diff.len(),
    })
}

/// Forward KL(p‖q) ≈ mean over `x ~ p` of `log p(x) − log q(x)`, from the
/// log-densities of the data density `p` and the model `q` at data samples.
pub fn forward_kl(log_p_at_data: &[f64], log_q_at_data: &[f64]) -> Result<KlEstimate> {
    kl(
        log_p_at_data,
        log_q_at_data,
        "forward_kl",
        "log p(x), x ~ p",
        "log q(x), x ~ p",
    )
}

/// Reverse KL(q‖p) ≈ mean over `x ~ q` of `log q(x) − log p(x)`, from the
/// log-densities of the model `q` and the data density `p` at model samples.
pub fn reverse_kl(log_q_at_model: &[f64], log_p_at_model: &[f64]) -> Result<KlEstimate> {
    kl(
        log_q_at_model,
        log_p_at_model,
        "reverse_kl",
        "log q(x), x ~ q",
        "log p(x), x ~ q",
    )
}

/// Forward and reverse KL together (tutorial §13.2).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KlPair {
    /// KL(p‖q) over data samples.
    pub forward: KlEstimate,
    /// KL(q‖p) over model samples.
    pub reverse: KlEstimate,
}

/// Both KL directions: `log_p_at_data`, `log_q_at_data` at samples of `p`;
/// `log_q_at_model`, `log_p_at_model` at samples of `q`.
pub fn kl_pair(
    log_p_at_data: &[f64],
    log_q_at_data: &[f64],
    log_q_at_model: &[f64],
    log_p_at_model: &[f64],
) -> Result<KlPair> {
    Ok(KlPair {
        forward: forward_kl(log_p_at_data, log_q_at_data)?,
        reverse: reverse_kl(log_q_at_model, log_p_at_model)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;
    use rand_distr::{Distribution, Normal};

    /// Points on the rings count, points between or inside them do not; the
    /// rings toy's own samples are high quality at the two-sided 3σ rate
    /// (99.73 %) and cover every ring; one ring alone covers one.
    #[test]
    fn ring_coverage_counts_rings_and_quality() {
        use gen_data::Toy2d;
        let (radii, sigma) = Toy2d::Rings.ring_radii().unwrap();
        let pts = Matrix::from_rows(&[
            [0.75, 0.0], // ring 0
            [0.0, -1.6], // ring 1, 0.1 off (< 3σ = 0.24)
            [2.0, 0.0],  // 0.25 inside ring 2: not high quality
            [0.0, 0.0],  // the centre: nothing
            [2.1, 2.1],  // radius 2.97: ring 3
        ])
        .unwrap();
        let opts = ModeCoverageOptions {
            min_count: Some(1),
            ..Default::default()
        };
        let m = ring_coverage(&pts, &radii, sigma, &opts).unwrap();
        assert_eq!(m.counts, vec![1, 1, 0, 1]);
        assert_eq!((m.modes_covered, m.modes), (3, 4));
        assert!((m.high_quality_fraction - 0.6).abs() < 1e-12);

        let data = Toy2d::Rings.sample(20_000, 3);
        let m = ring_coverage(&data, &radii, sigma, &ModeCoverageOptions::default()).unwrap();
        assert_eq!(m.modes_covered, 4);
        assert!((m.high_quality_fraction - 0.9973).abs() < 0.002, "{m:?}");

        let one = Matrix::from_rows(&vec![[1.5, 0.0]; 100]).unwrap();
        let m = ring_coverage(&one, &radii, sigma, &ModeCoverageOptions::default()).unwrap();
        assert_eq!((m.modes_covered, m.high_quality_fraction), (1, 1.0));

        let three_d = Matrix::zeros(4, 3);
        assert!(ring_coverage(&three_d, &radii, sigma, &opts).is_err());
        assert!(ring_coverage(&pts, &[], sigma, &opts).is_err());
        assert!(ring_coverage(&pts, &radii, 0.0, &opts).is_err());
    }

    #[test]
    fn mode_coverage_counts_modes_and_quality() {
        let centres = Matrix::from_rows(&[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]).unwrap();
        let mut rows = Vec::new();
        for _ in 0..10 {
            rows.push([0.1, 0.0]); // mode 0
            rows.push([10.0, 0.2]); // mode 1
        }
        rows.push([0.0, 9.0]); // one sample 1.0 from mode 2 (within 3σ = 1.5)
        rows.push([5.0, 5.0]); // far from all: low quality
        let s = Matrix::from_rows(&rows).unwrap();
        let c = mode_coverage(&s, &centres, 0.5, &ModeCoverageOptions::default()).unwrap();
        // default min_count = ceil(0.1 * 22 / 3) = 1 → mode 2 covered too
        assert_eq!(c.min_count, 1);
        assert_eq!(c.modes_covered, 3);
        assert_eq!(c.counts, vec![10, 10, 1]);
        assert!((c.high_quality_fraction - 21.0 / 22.0).abs() < 1e-12);
        let strict = mode_coverage(
            &s,
            &centres,
            0.5,
            &ModeCoverageOptions {
                min_count: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(strict.modes_covered, 2);
        assert!(mode_coverage(&s, &centres, 0.0, &ModeCoverageOptions::default()).is_err());
    }

    #[test]
    fn kl_of_gaussians_matches_closed_form() {
        // p = N(0,1), q = N(1, 2²): KL(p‖q) = ln 2 + (1 + 1)/8 − ½, KL(q‖p) = −ln 2 + (4 + 1)/2 − ½.
        let lp = |x: f64| -0.5 * x * x - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let lq = |x: f64| {
            -0.5 * ((x - 1.0) / 2.0).powi(2) - 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
        };
        let mut rng = rng_from_seed(1);
        let xs: Vec<f64> = (0..20000)
            .map(|_| Normal::new(0.0, 1.0).unwrap().sample(&mut rng))
            .collect();
        let ys: Vec<f64> = (0..20000)
            .map(|_| Normal::new(1.0, 2.0).unwrap().sample(&mut rng))
            .collect();
        let pair = kl_pair(
            &xs.iter().map(|&x| lp(x)).collect::<Vec<_>>(),
            &xs.iter().map(|&x| lq(x)).collect::<Vec<_>>(),
            &ys.iter().map(|&y| lq(y)).collect::<Vec<_>>(),
            &ys.iter().map(|&y| lp(y)).collect::<Vec<_>>(),
        )
        .unwrap();
        let fwd = 2f64.ln() + 2.0 / 8.0 - 0.5;
        let rev = -(2f64.ln()) + 5.0 / 2.0 - 0.5;
        assert!(
            (pair.forward.value - fwd).abs() < 4.0 * pair.forward.std_err,
            "{:?} {fwd}",
            pair.forward
        );
        assert!(
            (pair.reverse.value - rev).abs() < 4.0 * pair.reverse.std_err,
            "{:?} {rev}",
            pair.reverse
        );
        assert!(forward_kl(&[0.0, 1.0], &[0.0]).is_err());
        assert!(reverse_kl(&[f64::NEG_INFINITY], &[0.0]).is_err());
    }
}
