//! k-NN manifold metrics: improved precision/recall (Kynkäänniemi et al.
//! 2019) and density/coverage (Naeem et al. 2020).
//!
//! Each set's manifold is the union of balls `B(xᵢ, rᵢ)` where `rᵢ` is the
//! distance from `xᵢ` to its k-th nearest neighbour *within its own set*
//! (self excluded; equivalently the `(k+1)`-th smallest distance counting the
//! self-distance 0, as the reference code computes it). For real samples
//! `x₁..x_N` with radii `rᵢ` and fake samples `y₁..y_M` with radii `sⱼ`:
//!
//! - precision `= (1/M) Σⱼ 1[∃i: ‖yⱼ − xᵢ‖ ⋄ rᵢ]`
//! - recall    `= (1/N) Σᵢ 1[∃j: ‖xᵢ − yⱼ‖ ⋄ sⱼ]`
//! - density   `= (1/(kM)) Σⱼ Σᵢ 1[‖yⱼ − xᵢ‖ < rᵢ]`
//! - coverage  `= (1/N) Σᵢ 1[minⱼ ‖xᵢ − yⱼ‖ < rᵢ]`
//!
//! The two papers' conventions differ, and the names keep them apart:
//!
//! - [`improved_precision_recall`]: Kynkäänniemi et al. — `⋄` is `≤`
//!   (NVlabs `precision-recall-distributions` / torch-fidelity `prc` compare
//!   squared distances with `<=`), default `k = 3`.
//! - [`density_coverage`]: Naeem et al. — strict `<`, default `k = 5`.
//! - [`prdc`]: all four with clovaai `prdc.compute_prdc(real, fake, nearest_k)`
//!   conventions — strict `<` for every comparison, including precision and
//!   recall.
//!
//! Comparisons use squared distances (monotone, so equivalent to comparing
//! distances). Distances come in row blocks (module `knn`): for 10k × 10k,
//! d = 64 memory stays at a few MiB of distances plus the inputs.

use gen_core::{GenError, Matrix, Result};

use crate::check;
use crate::knn::{DistanceBlocks, kth_neighbour_sq};

/// Default `k` of improved precision/recall (Kynkäänniemi et al.).
pub const DEFAULT_PR_K: usize = 3;
/// Default `k` of density/coverage and [`prdc`] (Naeem et al.).
pub const DEFAULT_DC_K: usize = 5;

/// Improved precision and recall.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrecisionRecall {
    /// Fraction of fake samples inside the real manifold (`≤`).
    pub precision: f64,
    /// Fraction of real samples inside the fake manifold (`≤`).
    pub recall: f64,
    /// Neighbourhood size `k`.
    pub k: usize,
    /// Number of real samples.
    pub n_real: usize,
    /// Number of fake samples.
    pub n_fake: usize,
}

/// Density and coverage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DensityCoverage {
    /// `(1/(kM)) Σⱼ Σᵢ 1[‖yⱼ − xᵢ‖ < rᵢ]` (can exceed 1).
    pub density: f64,
    /// Fraction of real samples whose nearest fake sample is inside their ball.
    pub coverage: f64,
    /// Neighbourhood size `k`.
    pub k: usize,
    /// Number of real samples.
    pub n_real: usize,
    /// Number of fake samples.
    pub n_fake: usize,
}

/// Precision, recall, density and coverage in the clovaai `prdc` convention.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prdc {
    /// Fraction of fake samples inside the real manifold (`<`).
    pub precision: f64,
    /// Fraction of real samples inside the fake manifold (`<`).
    pub recall: f64,
    /// Density (`<`).
    pub density: f64,
    /// Coverage (`<`).
    pub coverage: f64,
    /// Neighbourhood size `k`.
    pub k: usize,
    /// Number of real samples.
    pub n_real: usize,
    /// Number of fake samples.
    pub n_fake: usize,
}

fn validate(
    real: &Matrix,
    fake: &Matrix,
    k: usize,
    ctx: &str,
    need_fake_radii: bool,
) -> Result<()> {
    check::features(real, ctx, "real features", 1)?;
    check::features(fake, ctx, "fake features", 1)?;
    check::same_dim(real, fake, ctx, "real", "fake")?;
    if k == 0 {
        return Err(GenError::config(
            "k",
            0,
            "the neighbourhood size must be at least 1",
            "use --k 3 (precision/recall) or --k 5 (density/coverage)",
        ));
    }
    let mut sets = vec![("real", real.rows())];
    if need_fake_radii {
        sets.push(("fake", fake.rows()));
    }
    for (name, n) in sets {
        if k >= n {
            return Err(GenError::config(
                "k",
                k,
                format!(
                    "the {name} set has only {n} samples; the k-th nearest other sample needs k < {n}"
                ),
                format!("lower --k below {n} or pass more {name} samples"),
            ));
        }
    }
    Ok(())
}

/// Counts from one blocked pass over real × fake distances.
struct Counts {
    precision: f64,
    recall: f64,
    density: f64,
    coverage: f64,
}

/// One pass over `d²(xᵢ, yⱼ)`: `strict` picks `<` or `≤` for precision and
/// recall; density and coverage always use `<`. `fake_r2` empty skips recall.
fn manifold_pass(
    real: &Matrix,
    fake: &Matrix,
    real_r2: &[f64],
    fake_r2: &[f64],
    k: usize,
    strict: bool,
) -> Counts {
    let m = fake.rows();
    let mut fake_in_real = vec![false; m];
    let mut real_in_fake = vec![false; real.rows()];
    let mut covered = 0usize;
    let mut inside = 0u64;
    DistanceBlocks::new(real, fake).for_each(|start, block| {
        for (bi, row) in block.chunks_exact(m).enumerate() {
            let i = start + bi;
            let r = real_r2[i];
            let mut min = f64::INFINITY;
            let mut in_fake = false;
            for (j, &d2) in row.iter().enumerate() {
                min = min.min(d2);
                let lt = d2 < r;
                inside += lt as u64;
                if lt || (!strict && d2 <= r) {
                    fake_in_real[j] = true;
                }
                if let Some(&s) = fake_r2.get(j) {
                    in_fake |= if strict { d2 < s } else { d2 <= s };
                }
            }
            real_in_fake[i] = in_fake;
            covered += (min < r) as usize;
        }
    });
    let n = real.rows() as f64;
    let mf = m as f64;
    Counts {
        precision: fake_in_real.iter().filter(|&&b| b).count() as f64 / mf,
        recall: real_in_fake.iter().filter(|&&b| b).count() as f64 / n,
        density: inside as f64 / (k as f64 * mf),
        coverage: covered as f64 / n,
    }
}

/// Improved precision and recall (Kynkäänniemi et al. 2019): k-th-NN balls
/// within each set, membership by `‖·‖² ≤ r²` (NVlabs / torch-fidelity `prc`).
/// Needs `1 ≤ k <` both set sizes.
pub fn improved_precision_recall(
    real: &Matrix,
    fake: &Matrix,
    k: usize,
) -> Result<PrecisionRecall> {
    validate(real, fake, k, "improved_precision_recall", true)?;
    let real_r2 = kth_neighbour_sq(real, k);
    let fake_r2 = kth_neighbour_sq(fake, k);
    let c = manifold_pass(real, fake, &real_r2, &fake_r2, k, false);
    Ok(PrecisionRecall {
        precision: c.precision,
        recall: c.recall,
        k,
        n_real: real.rows(),
        n_fake: fake.rows(),
    })
}

/// Density and coverage (Naeem et al. 2020): real k-th-NN balls, strict `<`.
/// Needs `1 ≤ k <` the real set size (fake radii are not used).
pub fn density_coverage(real: &Matrix, fake: &Matrix, k: usize) -> Result<DensityCoverage> {
    validate(real, fake, k, "density_coverage", false)?;
    let real_r2 = kth_neighbour_sq(real, k);
    let c = manifold_pass(real, fake, &real_r2, &[], k, true);
    Ok(DensityCoverage {
        density: c.density,
        coverage: c.coverage,
        k,
        n_real: real.rows(),
        n_fake: fake.rows(),
    })
}

/// Precision, recall, density and coverage as clovaai `prdc.compute_prdc`
/// computes them (strict `<` everywhere). Needs `1 ≤ k <` both set sizes.
pub fn prdc(real: &Matrix, fake: &Matrix, k: usize) -> Result<Prdc> {
    validate(real, fake, k, "prdc", true)?;
    let real_r2 = kth_neighbour_sq(real, k);
    let fake_r2 = kth_neighbour_sq(fake, k);
    let c = manifold_pass(real, fake, &real_r2, &fake_r2, k, true);
    Ok(Prdc {
        precision: c.precision,
        recall: c.recall,
        density: c.density,
        coverage: c.coverage,
        k,
        n_real: real.rows(),
        n_fake: fake.rows(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    fn col(v: &[f64]) -> Matrix {
        Matrix::new(v.len(), 1, v.to_vec()).unwrap()
    }

    #[test]
    fn one_dimensional_reference_values() {
        let real = col(&[0.0, 1.0, 2.0, 3.0, 10.0]);
        let fake = col(&[0.5, 2.6, 4.0, 20.0]);
        let p1 = prdc(&real, &fake, 1).unwrap();
        assert_eq!(
            (p1.precision, p1.recall, p1.density, p1.coverage),
            (0.75, 1.0, 1.25, 1.0)
        );
        let p2 = prdc(&real, &fake, 2).unwrap();
        assert_eq!(
            (p2.precision, p2.recall, p2.density, p2.coverage),
            (0.75, 1.0, 0.875, 1.0)
        );
        let dc = density_coverage(&real, &fake, 2).unwrap();
        assert_eq!((dc.density, dc.coverage), (0.875, 1.0));
    }

    #[test]
    fn boundary_convention_differs() {
        // Fake point 1.0 lies exactly on the ball of real 0 (radius 1): inside
        // for Kynkäänniemi's ≤, outside for clovaai's <.
        let real = col(&[0.0, -1.0]);
        let fake = col(&[1.0, 3.0]);
        assert_eq!(
            improved_precision_recall(&real, &fake, 1)
                .unwrap()
                .precision,
            0.5
        );
        assert_eq!(prdc(&real, &fake, 1).unwrap().precision, 0.0);
    }

    fn naive(real: &Matrix, fake: &Matrix, k: usize) -> Prdc {
        let d = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt()
        };
        let radius = |x: &Matrix, i: usize| {
            let mut v: Vec<f64> = x.iter_rows().map(|r| d(x.row(i), r)).collect();
            v.sort_by(f64::total_cmp);
            v[k]
        };
        let rr: Vec<f64> = (0..real.rows()).map(|i| radius(real, i)).collect();
        let fr: Vec<f64> = (0..fake.rows()).map(|j| radius(fake, j)).collect();
        let (n, m) = (real.rows(), fake.rows());
        let mut p = 0.0;
        let mut dens = 0.0;
        for j in 0..m {
            let c = (0..n)
                .filter(|&i| d(real.row(i), fake.row(j)) < rr[i])
                .count();
            dens += c as f64;
            p += (c > 0) as u8 as f64;
        }
        let mut r = 0.0;
        let mut cov = 0.0;
        for (i, &ri) in rr.iter().enumerate() {
            r += (0..m).any(|j| d(real.row(i), fake.row(j)) < fr[j]) as u8 as f64;
            let mn = (0..m)
                .map(|j| d(real.row(i), fake.row(j)))
                .fold(f64::INFINITY, f64::min);
            cov += (mn < ri) as u8 as f64;
        }
        Prdc {
            precision: p / m as f64,
            recall: r / n as f64,
            density: dens / (k * m) as f64,
            coverage: cov / n as f64,
            k,
            n_real: n,
            n_fake: m,
        }
    }

    #[test]
    fn matches_naive_implementation_on_gaussians() {
        let mut rng = gen_core::rng_from_seed(11);
        let mut g = |n: usize, shift: f64| {
            let v = (0..n * 6)
                .map(|_| StandardNormal.sample(&mut rng))
                .map(|z: f64| z + shift)
                .collect();
            Matrix::new(n, 6, v).unwrap()
        };
        let real = g(120, 0.0);
        let fake = g(90, 0.4);
        for k in [1, 3, 5] {
            assert_eq!(prdc(&real, &fake, k).unwrap(), naive(&real, &fake, k));
        }
    }

    #[test]
    fn bad_k_and_shapes_error() {
        let real = col(&[0.0, 1.0, 2.0]);
        let fake = col(&[0.5, 2.5]);
        assert!(matches!(
            prdc(&real, &fake, 0),
            Err(GenError::InvalidConfig { .. })
        ));
        assert!(prdc(&real, &fake, 2).is_err()); // k ≥ fake size
        assert!(density_coverage(&real, &fake, 2).is_ok()); // fake radii unused
        assert!(density_coverage(&real, &fake, 3).is_err());
        let wide = Matrix::from_rows(&[[0.0, 1.0], [1.0, 1.0]]).unwrap();
        assert!(matches!(
            prdc(&real, &wide, 1),
            Err(GenError::ShapeMismatch { .. })
        ));
    }
}
