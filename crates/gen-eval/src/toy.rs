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
//! # CircleArc coverage (mass along circular arcs)
//!
//! The general case of the two above for curves: each mode is a circular
//! arc (centre `c`, radius `r`, angles `θ₀ … θ₀ + Δ`; a ring is the arc with
//! Δ = 2π, a moon of the two-moons toy a half circle) and a sample's
//! distance to a mode is its distance to the nearest point of the arc —
//! `| ‖x − c‖ − r |` where the direction of `x − c` falls within the arc,
//! the distance to the nearer end point otherwise ([`arc_coverage`]).
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
/// one ring radius each (circles about the origin), `sigma` their common
/// radial standard deviation; samples are 2-D points. The full-circle case
/// of [`arc_coverage`].
pub fn ring_coverage(
    samples: &Matrix,
    radii: &[f64],
    sigma: f64,
    options: &ModeCoverageOptions,
) -> Result<ModeCoverage> {
    let arcs: Vec<CircleArc> = radii
        .iter()
        .map(|&radius| CircleArc {
            centre: [0.0, 0.0],
            radius,
            start: 0.0,
            sweep: std::f64::consts::TAU,
        })
        .collect();
    coverage_of_arcs(samples, &arcs, sigma, options, "ring_coverage")
}

/// A circular arc, one mode of [`arc_coverage`]: the points
/// `centre + radius·(cos θ, sin θ)` for θ from `start` to `start + sweep`
/// (radians, counter-clockwise; `sweep` = 2π is the whole circle).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CircleArc {
    /// Centre of the circle.
    pub centre: [f64; 2],
    /// Radius, ≥ 0.
    pub radius: f64,
    /// Angle where the arc starts.
    pub start: f64,
    /// Angle it turns through, in (0, 2π].
    pub sweep: f64,
}

impl CircleArc {
    /// Euclidean distance from `p` to the nearest point of the arc.
    pub fn distance(&self, p: [f64; 2]) -> f64 {
        let (vx, vy) = (p[0] - self.centre[0], p[1] - self.centre[1]);
        let rho = vx.hypot(vy);
        let along = (vy.atan2(vx) - self.start).rem_euclid(std::f64::consts::TAU);
        if along <= self.sweep || rho == 0.0 {
            return (rho - self.radius).abs();
        }
        [self.start, self.start + self.sweep]
            .iter()
            .map(|a| {
                let (s, c) = a.sin_cos();
                (vx - self.radius * c).hypot(vy - self.radius * s)
            })
            .fold(f64::INFINITY, f64::min)
    }
}

/// Arcs covered and high-quality fraction (module docs): each sample goes
/// to its nearest arc and is high quality within `radius_sigmas · sigma` of
/// it, `sigma` being the noise's standard deviation across the arcs; an arc
/// with `min_count` such samples is covered. Samples are 2-D points.
pub fn arc_coverage(
    samples: &Matrix,
    arcs: &[CircleArc],
    sigma: f64,
    options: &ModeCoverageOptions,
) -> Result<ModeCoverage> {
    coverage_of_arcs(samples, arcs, sigma, options, "arc_coverage")
}

fn coverage_of_arcs(
    samples: &Matrix,
    arcs: &[CircleArc],
    sigma: f64,
    options: &ModeCoverageOptions,
    ctx: &str,
) -> Result<ModeCoverage> {
    check::features(samples, ctx, "samples", 1)?;
    let bad_arc = |a: &CircleArc| {
        !(a.centre.iter().all(|c| c.is_finite())
            && a.radius.is_finite()
            && a.radius >= 0.0
            && a.start.is_finite()
            && a.sweep > 0.0
            && a.sweep <= std::f64::consts::TAU)
    };
    if samples.cols() != 2 || arcs.is_empty() || arcs.iter().any(bad_arc) {
        return Err(GenError::input(
            ctx,
            format!("{} columns and {} arc(s)", samples.cols(), arcs.len()),
            "pass 2-D points and at least one arc with a finite centre and start, \
             a finite radius ≥ 0 and a sweep in (0, 2π]",
        ));
    }
    check::positive(
        sigma,
        "sigma",
        "pass the noise's standard deviation across the arcs, σ > 0",
    )?;
    let limit = options.radius_sigmas * sigma;
    let nearest: Vec<(usize, bool)> = samples
        .iter_rows()
        .map(|row| {
            let (j, d) = arcs
                .iter()
                .map(|a| a.distance([row[0], row[1]]))
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |best, (j, d)| {
                        if d < best.1 { (j, d) } else { best }
                    },
                );
            (j, d <= limit)
        })
        .collect();
    tally(nearest.into_iter(), arcs.len(), options)
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

    /// Distances to an arc by hand: across the arc within its angles, to
    /// the nearer end point outside them.
    #[test]
    fn arc_distance_is_to_the_nearest_point_of_the_arc() {
        let upper = CircleArc {
            centre: [0.0, 0.0],
            radius: 1.0,
            start: 0.0,
            sweep: std::f64::consts::PI,
        };
        assert!((upper.distance([0.0, 2.0]) - 1.0).abs() < 1e-12);
        assert!((upper.distance([0.0, 0.5]) - 0.5).abs() < 1e-12);
        // Below the arc: the end points (±1, 0) are nearest.
        assert!((upper.distance([0.0, -1.0]) - 2f64.sqrt()).abs() < 1e-12);
        assert!((upper.distance([1.0, -0.3]) - 0.3).abs() < 1e-12);
        assert!((upper.distance([0.0, 0.0]) - 1.0).abs() < 1e-12);
        // A start past 2π and a full circle.
        let shifted = CircleArc {
            start: 3.0 * std::f64::consts::PI,
            ..upper
        };
        assert!((shifted.distance([0.0, -2.0]) - 1.0).abs() < 1e-12);
        let full = CircleArc {
            sweep: std::f64::consts::TAU,
            ..upper
        };
        assert!((full.distance([0.0, -1.5]) - 0.5).abs() < 1e-12);
    }

    /// gen-data's arcs as gen-eval's (gen-eval uses gen-data only in its tests).
    fn eval_arcs(arcs: &[gen_data::CircleArc]) -> Vec<CircleArc> {
        arcs.iter()
            .map(|a| CircleArc {
                centre: [a.centre.0, a.centre.1],
                radius: a.radius,
                start: a.start,
                sweep: a.sweep,
            })
            .collect()
    }

    /// The two moons' own samples: both arcs covered, high quality at
    /// about the 3σ rate (a little below it near the end points, where the
    /// distance is to a point, not a line); one moon alone covers one; a
    /// blob between them is mostly low quality.
    #[test]
    fn arc_coverage_counts_moons_and_quality() {
        use gen_data::Toy2d;
        let (arcs, sigma) = Toy2d::TwoMoons.arcs().unwrap();
        let arcs = eval_arcs(&arcs);
        let data = Toy2d::TwoMoons.sample(20_000, 5);
        let m = arc_coverage(&data, &arcs, sigma, &ModeCoverageOptions::default()).unwrap();
        assert_eq!((m.modes_covered, m.modes), (2, 2));
        assert!(m.high_quality_fraction > 0.99, "{m:?}");
        assert!(
            (m.counts[0] as f64 / m.counts[1] as f64 - 1.0).abs() < 0.05,
            "{m:?}"
        );

        let upper: Vec<[f64; 2]> = data
            .iter_rows()
            .filter(|p| arcs[0].distance([p[0], p[1]]) < arcs[1].distance([p[0], p[1]]))
            .map(|p| [p[0], p[1]])
            .collect();
        let upper = Matrix::from_rows(&upper).unwrap();
        let m = arc_coverage(&upper, &arcs, sigma, &ModeCoverageOptions::default()).unwrap();
        assert_eq!(m.modes_covered, 1);
        assert_eq!(m.counts[1], 0);

        // A Gaussian blob at the origin, σ 1: most of it is off both moons.
        let blob = Toy2d::EightGaussians.sample(2_000, 1);
        let m = arc_coverage(&blob, &arcs, sigma, &ModeCoverageOptions::default()).unwrap();
        assert!(m.high_quality_fraction < 0.6, "{m:?}");

        // Rings through the general function agree with ring_coverage.
        let (radii, rs) = Toy2d::Rings.ring_radii().unwrap();
        let (ring_arcs, rs2) = Toy2d::Rings.arcs().unwrap();
        assert_eq!(rs, rs2);
        let rings = eval_arcs(&ring_arcs);
        let pts = Toy2d::Rings.sample(3_000, 2);
        let opts = ModeCoverageOptions::default();
        assert_eq!(
            arc_coverage(&pts, &rings, rs, &opts).unwrap(),
            ring_coverage(&pts, &radii, rs, &opts).unwrap()
        );

        let bad = CircleArc {
            sweep: 0.0,
            ..arcs[0]
        };
        assert!(arc_coverage(&data, &[bad], sigma, &opts).is_err());
        assert!(arc_coverage(&data, &[], sigma, &opts).is_err());
        assert!(arc_coverage(&Matrix::zeros(3, 3), &arcs, sigma, &opts).is_err());
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
