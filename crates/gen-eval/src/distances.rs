//! Sample distances: energy distance, 1-D Wasserstein, sliced Wasserstein.
//!
//! - [`energy_distance_1d`] is `scipy.stats.energy_distance(u, v)`:
//!   `D = √(2 E|X − Y| − E|X − X'| − E|Y − Y'|)`, computed as scipy does, as
//!   `√2 · (∫ (F(t) − G(t))² dt)^{1/2}` over the empirical CDFs.
//! - [`energy_distance`] is the same quantity for vectors with the Euclidean
//!   norm, `√(2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖)`, each expectation the mean
//!   over *all* pairs (the V-statistic, i.e. including the zero `i = j`
//!   terms), which for one column equals scipy's value.
//! - [`wasserstein_1d`] is `scipy.stats.wasserstein_distance(u, v)`:
//!   `W₁ = ∫ |F(t) − G(t)| dt`, the area between the empirical CDFs.
//! - [`wasserstein_1d_p`] is `W_p = (∫₀¹ |F⁻¹(q) − G⁻¹(q)|^p dq)^{1/p}` between
//!   the empirical quantile functions (for equal sizes: sort both and average
//!   `|u₍ᵢ₎ − v₍ᵢ₎|^p`), which for `p = 1` equals [`wasserstein_1d`]. (scipy's
//!   `_cdf_distance(p)` for `p ≠ 1` is an L_p distance between CDFs, not `W_p`.)
//! - [`sliced_wasserstein`] projects both sets on `L` random unit directions
//!   `θₗ` (seeded; `θ = g/‖g‖` with `g ~ N(0, I_d)`, uniform on the sphere) and
//!   reports `value = (1/L) Σₗ W_p(θₗᵀX, θₗᵀY)`, the mean of the 1-D `W_p`, and
//!   `root_mean_power = ((1/L) Σₗ W_pᵖ)^{1/p}`, which is what POT's
//!   `ot.sliced_wasserstein_distance` reports. Both agree for `p = 1`.
//!   Default `p = 2`, `L = 50` (POT's defaults).

use gen_core::{GenError, Matrix, Result, rng_from_seed};
use rand_distr::{Distribution, StandardNormal};

use crate::check;

/// A distance between two samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Distance {
    /// The distance.
    pub value: f64,
    /// Size of the first sample.
    pub n_x: usize,
    /// Size of the second sample.
    pub n_y: usize,
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// scipy's `_cdf_distance` core: `Σ |F − G|^p Δt` over the merged sorted
/// values (returns the sum, before the `1/p` power).
fn cdf_power_integral(u: &[f64], v: &[f64], p: i32) -> f64 {
    let us = sorted(u);
    let vs = sorted(v);
    let mut all: Vec<f64> = us.iter().chain(&vs).copied().collect();
    all.sort_by(f64::total_cmp);
    let (m, n) = (us.len() as f64, vs.len() as f64);
    let (mut iu, mut iv) = (0usize, 0usize);
    let mut total = 0.0;
    for w in all.windows(2) {
        let t = w[0];
        // searchsorted(.., 'right'): number of values ≤ t
        while iu < us.len() && us[iu] <= t {
            iu += 1;
        }
        while iv < vs.len() && vs[iv] <= t {
            iv += 1;
        }
        let diff = (iu as f64 / m - iv as f64 / n).abs();
        total += diff.powi(p) * (w[1] - w[0]);
    }
    total
}

/// `scipy.stats.energy_distance(u, v)` for 1-D samples (module docs).
pub fn energy_distance_1d(u: &[f64], v: &[f64]) -> Result<Distance> {
    check::finite_slice(u, "energy_distance_1d", "first sample", 1)?;
    check::finite_slice(v, "energy_distance_1d", "second sample", 1)?;
    Ok(Distance {
        value: 2f64.sqrt() * cdf_power_integral(u, v, 2).sqrt(),
        n_x: u.len(),
        n_y: v.len(),
    })
}

/// Mean Euclidean distance over all pairs `(a, b)` of rows; with `same`, the
/// pairs of one set (zero diagonal included in the count, each unordered pair
/// summed once and doubled).
fn mean_pair_distance(a: &Matrix, b: &Matrix, same: bool) -> f64 {
    let mut total = 0.0;
    for (i, x) in a.iter_rows().enumerate() {
        let rows = if same {
            &b.as_slice()[(i + 1) * b.cols()..]
        } else {
            b.as_slice()
        };
        for y in rows.chunks_exact(b.cols()) {
            let d2: f64 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
            total += d2.sqrt();
        }
    }
    if same {
        total *= 2.0;
    }
    total / (a.rows() as f64 * b.rows() as f64)
}

/// Energy distance between multivariate samples (rows), Euclidean norm,
/// V-statistic means (module docs). Cost `O((m + n)² d)`; distances are
/// computed directly (no norm expansion) so that `E‖X − X'‖` has no rounding
/// noise from the square root of near-zero values.
pub fn energy_distance(x: &Matrix, y: &Matrix) -> Result<Distance> {
    check::features(x, "energy_distance", "first sample", 1)?;
    check::features(y, "energy_distance", "second sample", 1)?;
    check::same_dim(x, y, "energy_distance", "first sample", "second sample")?;
    let exy = mean_pair_distance(x, y, false);
    let exx = mean_pair_distance(x, x, true);
    let eyy = mean_pair_distance(y, y, true);
    // The bracket is ≥ 0 in exact arithmetic; clamp rounding noise at 0.
    Ok(Distance {
        value: (2.0 * exy - exx - eyy).max(0.0).sqrt(),
        n_x: x.rows(),
        n_y: y.rows(),
    })
}

/// `scipy.stats.wasserstein_distance(u, v)`: the area between the empirical
/// CDFs of two equal-weight 1-D samples.
pub fn wasserstein_1d(u: &[f64], v: &[f64]) -> Result<Distance> {
    check::finite_slice(u, "wasserstein_1d", "first sample", 1)?;
    check::finite_slice(v, "wasserstein_1d", "second sample", 1)?;
    Ok(Distance {
        value: cdf_power_integral(u, v, 1),
        n_x: u.len(),
        n_y: v.len(),
    })
}

fn check_p(p: f64) -> Result<()> {
    if !(p.is_finite() && p >= 1.0) {
        return Err(GenError::config(
            "p",
            p,
            "the Wasserstein order must be a finite number ≥ 1",
            "use p = 1 or p = 2",
        ));
    }
    Ok(())
}

/// `∫₀¹ |F⁻¹(q) − G⁻¹(q)|^p dq` for sorted samples (before the `1/p` power).
fn quantile_power_integral(us: &[f64], vs: &[f64], p: f64) -> f64 {
    let (m, n) = (us.len(), vs.len());
    if m == n {
        return us
            .iter()
            .zip(vs)
            .map(|(a, b)| (a - b).abs().powf(p))
            .sum::<f64>()
            / m as f64;
    }
    // Breakpoints i/m and j/n, compared exactly as (i+1)·n vs (j+1)·m.
    let (mut i, mut j) = (0usize, 0usize);
    let mut q = 0.0;
    let mut total = 0.0;
    while i < m && j < n {
        let (ei, ej) = ((i + 1) * n, (j + 1) * m);
        let next = ei.min(ej) as f64 / (m * n) as f64;
        total += (us[i] - vs[j]).abs().powf(p) * (next - q);
        q = next;
        if ei <= ej {
            i += 1;
        }
        if ej <= ei {
            j += 1;
        }
    }
    total
}

/// `W_p` between two equal-weight 1-D samples from their quantile functions
/// (module docs); `p ≥ 1`.
pub fn wasserstein_1d_p(u: &[f64], v: &[f64], p: f64) -> Result<Distance> {
    check::finite_slice(u, "wasserstein_1d_p", "first sample", 1)?;
    check::finite_slice(v, "wasserstein_1d_p", "second sample", 1)?;
    check_p(p)?;
    Ok(Distance {
        value: quantile_power_integral(&sorted(u), &sorted(v), p).powf(1.0 / p),
        n_x: u.len(),
        n_y: v.len(),
    })
}

/// Options of [`sliced_wasserstein`] (POT's defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlicedOptions {
    /// Number of random directions `L` (default 50).
    pub projections: usize,
    /// Order `p ≥ 1` of the 1-D Wasserstein distances (default 2).
    pub p: f64,
    /// Seed of the directions.
    pub seed: u64,
}

impl Default for SlicedOptions {
    fn default() -> Self {
        Self {
            projections: 50,
            p: 2.0,
            seed: 0,
        }
    }
}

/// A sliced Wasserstein distance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlicedWasserstein {
    /// `(1/L) Σₗ W_p(θₗᵀX, θₗᵀY)`: the mean over projections of the 1-D `W_p`.
    pub value: f64,
    /// `((1/L) Σₗ W_pᵖ)^{1/p}` (POT's `ot.sliced_wasserstein_distance`).
    pub root_mean_power: f64,
    /// Order `p`.
    pub p: f64,
    /// Number of projections `L`.
    pub projections: usize,
    /// Size of the first sample.
    pub n_x: usize,
    /// Size of the second sample.
    pub n_y: usize,
}

/// Sliced Wasserstein distance between multivariate samples (module docs).
pub fn sliced_wasserstein(
    x: &Matrix,
    y: &Matrix,
    options: &SlicedOptions,
) -> Result<SlicedWasserstein> {
    check::features(x, "sliced_wasserstein", "first sample", 1)?;
    check::features(y, "sliced_wasserstein", "second sample", 1)?;
    check::same_dim(x, y, "sliced_wasserstein", "first sample", "second sample")?;
    check_p(options.p)?;
    if options.projections == 0 {
        return Err(GenError::config(
            "projections",
            0,
            "at least one projection is needed",
            "use 50 or more projections",
        ));
    }
    let d = x.cols();
    let mut rng = rng_from_seed(options.seed);
    let project = |m: &Matrix, theta: &[f64]| -> Vec<f64> {
        let mut v: Vec<f64> = m
            .iter_rows()
            .map(|r| r.iter().zip(theta).map(|(a, b)| a * b).sum())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (mut sum_w, mut sum_wp) = (0.0, 0.0);
    for _ in 0..options.projections {
        let mut theta: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
        theta.iter_mut().for_each(|t| *t /= norm);
        let wp = quantile_power_integral(&project(x, &theta), &project(y, &theta), options.p);
        sum_w += wp.powf(1.0 / options.p);
        sum_wp += wp;
    }
    let l = options.projections as f64;
    Ok(SlicedWasserstein {
        value: sum_w / l,
        root_mean_power: (sum_wp / l).powf(1.0 / options.p),
        p: options.p,
        projections: options.projections,
        n_x: x.rows(),
        n_y: y.rows(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_reference_values() {
        let u = [0.0, 1.0, 3.0];
        let v = [5.0, 6.0, 10.0];
        let e = energy_distance_1d(&u, &v).unwrap().value;
        assert!((e - 2.7888667551).abs() < 1e-9, "{e}");
        let w = wasserstein_1d(&u, &v).unwrap().value;
        assert!((w - 5.6666667).abs() < 1e-7, "{w}");
        assert!((wasserstein_1d_p(&u, &v, 1.0).unwrap().value - w).abs() < 1e-12);
    }

    #[test]
    fn multivariate_energy_matches_1d_for_one_column() {
        let u = [0.0, 1.0, 3.0, 0.5];
        let v = [5.0, 6.0, 10.0];
        let x = Matrix::new(4, 1, u.to_vec()).unwrap();
        let y = Matrix::new(3, 1, v.to_vec()).unwrap();
        let a = energy_distance(&x, &y).unwrap().value;
        let b = energy_distance_1d(&u, &v).unwrap().value;
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        assert_eq!(energy_distance(&x, &x).unwrap().value, 0.0);
    }

    #[test]
    fn unequal_sizes_wasserstein() {
        // scipy.stats.wasserstein_distance([0, 1], [0, 0.5, 2]) = 0.5
        let w1 = wasserstein_1d(&[0.0, 1.0], &[0.0, 0.5, 2.0]).unwrap().value;
        assert!((w1 - 0.5).abs() < 1e-12, "{w1}");
        let wq = wasserstein_1d_p(&[0.0, 1.0], &[0.0, 0.5, 2.0], 1.0)
            .unwrap()
            .value;
        assert!((wq - w1).abs() < 1e-12);
        // W2 between {0,1} and {0,0.5,2}: quantile pieces [0,1/3]:0, [1/3,1/2]:0.5,
        // [1/2,2/3]: 0.5, [2/3,1]: 1 -> (0.25/6 + 0.25/6 + 1/3)^{1/2}
        let w2 = wasserstein_1d_p(&[0.0, 1.0], &[0.0, 0.5, 2.0], 2.0)
            .unwrap()
            .value;
        assert!(
            (w2 - (0.25f64 / 3.0 + 1.0 / 3.0).sqrt()).abs() < 1e-12,
            "{w2}"
        );
    }

    #[test]
    fn sliced_wasserstein_sanity() {
        // A translation by t along every axis: each projection sees a shift
        // of θᵀt, so W_p per projection = |θᵀt| exactly.
        let x = Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.5], [2.0, -1.0]]).unwrap();
        let t = [3.0, -1.0];
        let y = Matrix::from_rows(
            &x.iter_rows()
                .map(|r| [r[0] + t[0], r[1] + t[1]])
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let s = sliced_wasserstein(
            &x,
            &y,
            &SlicedOptions {
                projections: 2000,
                p: 1.0,
                seed: 3,
            },
        )
        .unwrap();
        // E|θᵀt| over the circle = 2‖t‖/π
        let want = 2.0 * (10f64).sqrt() / std::f64::consts::PI;
        assert!(
            (s.value - want).abs() < 0.05 * want,
            "{} vs {want}",
            s.value
        );
        assert!((s.value - s.root_mean_power).abs() < 1e-12);
        let z = sliced_wasserstein(&x, &x, &SlicedOptions::default()).unwrap();
        assert_eq!(z.value, 0.0);
        let s2 = sliced_wasserstein(&x, &y, &SlicedOptions::default()).unwrap();
        assert!(s2.root_mean_power >= s2.value);
        assert_eq!(
            s2,
            sliced_wasserstein(&x, &y, &SlicedOptions::default()).unwrap()
        );
    }

    #[test]
    fn bad_inputs_error() {
        assert!(energy_distance_1d(&[], &[1.0]).is_err());
        assert!(wasserstein_1d(&[f64::NAN], &[1.0]).is_err());
        assert!(wasserstein_1d_p(&[0.0], &[1.0], 0.5).is_err());
        let x = Matrix::from_rows(&[[0.0, 1.0]]).unwrap();
        let y = Matrix::from_rows(&[[0.0]]).unwrap();
        assert!(energy_distance(&x, &y).is_err());
        assert!(sliced_wasserstein(&x, &y, &SlicedOptions::default()).is_err());
    }
}
