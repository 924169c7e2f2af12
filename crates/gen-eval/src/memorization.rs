//! Memorization and novelty: exact copies, nearest-neighbour authenticity and
//! the data-copying statistic `C_T`.
//!
//! # Exact-copy rate
//!
//! A generated row is an exact copy if some training row equals it within an
//! absolute tolerance in every coordinate: `maxₖ |gₖ − tₖ| ≤ tol` (L∞).
//!
//! # Authenticity (Alaa et al. 2022, "How Faithful is your Synthetic Data?")
//!
//! For a generated sample `g` with nearest training point `t* = argminₜ ‖g − t‖`,
//! and `r(t*)` the distance from `t*` to its nearest *other* training point
//! (its own index excluded), `g` is **inauthentic** when
//! `‖g − t*‖ < r(t*)` — it sits closer to a training point than that point's
//! training neighbours do — and authentic otherwise (ties count as
//! authentic). The reported value is the authentic fraction.
//!
//! Corrected indexing: the reference code (`synthcity`'s
//! `compute_authenticity`) loops over *real* points and indexes the real
//! nearest-neighbour radii with the indices of their nearest *synthetic*
//! points (`real_to_real[real_to_synth_args]`), which mixes the two index
//! spaces. Here the loop is over generated samples, the radius is that of the
//! generated sample's nearest training point, and that radius excludes the
//! training point itself (the 2nd neighbour of `t*` among training points, its
//! 1st being itself).
//!
//! # Data-copying test `C_T` (Meehan, Chaudhuri, Dasgupta 2020)
//!
//! The training set `T` is partitioned into `k` cells by seeded k-means
//! (k-means++ initialisation, Lloyd iterations; test and generated samples go
//! to the cell of their nearest centroid), as the paper's experiments do with
//! scikit-learn's `KMeans`. In each cell `π`, with `L(x)` the distance from
//! `x` to its nearest training point *in the cell*, the Mann–Whitney `U`
//! statistic compares the generated distances `L(Q_m(π))` (`m_π` values) with
//! the test distances `L(P_n(π))` (`n_π` values):
//!
//! ```text
//! U = #{(q, p) : L(q) > L(p)} + ½ #{(q, p) : L(q) = L(p)}
//! Z_U = (U − (m_π n_π / 2 − ½)) / √(m_π n_π (m_π + n_π + 1) / 12)
//! ```
//!
//! exactly as the authors' `Zu` (scipy `mannwhitneyu(LQm, LPn)`'s `U` for the
//! first sample, their `−½` "continuity correction" kept, no tie correction of
//! the variance). Cells kept are `Π_τ = {π : Q_m(π) > τ}` (fraction of
//! generated samples in the cell, strict `>` as in their code), and
//!
//! ```text
//! C_T = Σ_{π∈Π_τ} P_n(π) Z_U(π) / Σ_{π∈Π_τ} P_n(π),
//! ```
//!
//! weighting by the fraction of *test* samples per cell. `C_T ≪ 0` means
//! generated samples are closer to the training data than fresh test data is
//! (data copying); `C_T ≫ 0` means under-fitting. Every cell must hold test
//! samples (as their code requires); otherwise use fewer cells. The default
//! `τ = 20/m` keeps cells with more than 20 generated samples.

use gen_core::{GenError, Matrix, Result, Rng, rng_from_seed};
use rand::Rng as _;

use crate::check;
use crate::knn::{kth_neighbour_sq, nearest_sq};

/// Exact-copy rate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CopyRate {
    /// Fraction of generated rows that copy a training row.
    pub value: f64,
    /// Number of copies.
    pub copies: usize,
    /// Number of generated rows.
    pub n_generated: usize,
    /// The L∞ tolerance used.
    pub tolerance: f64,
}

/// Fraction of generated rows equal to some training row within `tolerance`
/// in every coordinate (module docs). `O(n_gen · n_train · d)` in the worst
/// case, with an early exit per pair.
pub fn exact_copy_rate(generated: &Matrix, train: &Matrix, tolerance: f64) -> Result<CopyRate> {
    check::features(generated, "exact_copy_rate", "generated samples", 1)?;
    check::features(train, "exact_copy_rate", "training samples", 1)?;
    check::same_dim(generated, train, "exact_copy_rate", "training", "generated")?;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(GenError::config(
            "tolerance",
            tolerance,
            "must be a finite number ≥ 0",
            "use 0 for bit-exact copies or e.g. 1e-6 for float round-off",
        ));
    }
    let copies = generated
        .iter_rows()
        .filter(|g| {
            train
                .iter_rows()
                .any(|t| g.iter().zip(t).all(|(a, b)| (a - b).abs() <= tolerance))
        })
        .count();
    Ok(CopyRate {
        value: copies as f64 / generated.rows() as f64,
        copies,
        n_generated: generated.rows(),
        tolerance,
    })
}

/// Nearest-neighbour authenticity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Authenticity {
    /// Fraction of generated samples that are authentic.
    pub value: f64,
    /// Number of inauthentic generated samples.
    pub inauthentic: usize,
    /// Number of generated samples.
    pub n_generated: usize,
}

/// Authenticity fraction (Alaa et al. 2022, corrected indexing; module docs).
/// Needs at least 2 training rows.
pub fn authenticity(generated: &Matrix, train: &Matrix) -> Result<Authenticity> {
    check::features(generated, "authenticity", "generated samples", 1)?;
    check::features(train, "authenticity", "training samples", 2)?;
    check::same_dim(generated, train, "authenticity", "training", "generated")?;
    let train_r2 = kth_neighbour_sq(train, 1);
    let (d2, idx) = nearest_sq(generated, train);
    let inauthentic = d2
        .iter()
        .zip(&idx)
        .filter(|&(d, &j)| *d < train_r2[j])
        .count();
    let n = generated.rows();
    Ok(Authenticity {
        value: (n - inauthentic) as f64 / n as f64,
        inauthentic,
        n_generated: n,
    })
}

/// A k-means partition.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KMeans {
    /// Cluster centres (`k × d`).
    pub centroids: Matrix,
    /// Cell of each row of the data it was fitted on.
    pub labels: Vec<usize>,
    /// Lloyd iterations run.
    pub iterations: usize,
}

impl KMeans {
    /// The cell (nearest centroid) of each row of `x`.
    pub fn assign(&self, x: &Matrix) -> Result<Vec<usize>> {
        check::features(x, "KMeans::assign", "samples", 1)?;
        check::same_dim(&self.centroids, x, "KMeans::assign", "centroids", "samples")?;
        Ok(nearest_sq(x, &self.centroids).1)
    }
}

/// Seeded k-means: k-means++ initialisation, then Lloyd iterations until the
/// labels stop changing or `max_iterations`. An empty cluster is re-seeded
/// at the row farthest from its centre, so every cell keeps ≥ 1 row.
/// Needs `1 ≤ k ≤ rows`.
pub fn kmeans(x: &Matrix, k: usize, max_iterations: usize, seed: u64) -> Result<KMeans> {
    check::features(x, "kmeans", "data", 1)?;
    let (n, d) = x.shape();
    if k == 0 || k > n {
        return Err(GenError::config(
            "cells",
            k,
            format!("k-means needs between 1 and {n} (the number of rows) clusters"),
            "use fewer cells",
        ));
    }
    let mut rng: Rng = rng_from_seed(seed);
    // k-means++
    let mut centres = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centres.extend_from_slice(x.row(first));
    let sq = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>();
    let mut best: Vec<f64> = x.iter_rows().map(|r| sq(r, x.row(first))).collect();
    for c in 1..k {
        let total: f64 = best.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, b) in best.iter().enumerate() {
                if u < *b {
                    pick = i;
                    break;
                }
                u -= b;
            }
            pick
        } else {
            rng.random_range(0..n)
        };
        centres.extend_from_slice(x.row(pick));
        let new = &centres[c * d..(c + 1) * d];
        for (b, r) in best.iter_mut().zip(x.iter_rows()) {
            *b = b.min(sq(r, new));
        }
    }
    let mut centroids = Matrix::new(k, d, centres)?;
    let mut labels = vec![usize::MAX; n];
    let mut iterations = 0;
    for _ in 0..max_iterations.max(1) {
        iterations += 1;
        let (dist, new_labels) = nearest_sq(x, &centroids);
        let changed = new_labels != labels;
        labels = new_labels;
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (r, &l) in x.iter_rows().zip(&labels) {
            counts[l] += 1;
            for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(r) {
                *s += v;
            }
        }
        let mut far: Vec<usize> = (0..n).collect();
        far.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]));
        let mut far_iter = far.into_iter();
        let c = centroids.as_mut_slice();
        for l in 0..k {
            if counts[l] > 0 {
                for (dst, s) in c[l * d..(l + 1) * d]
                    .iter_mut()
                    .zip(&sums[l * d..(l + 1) * d])
                {
                    *dst = s / counts[l] as f64;
                }
            } else if let Some(i) = far_iter.next() {
                c[l * d..(l + 1) * d].copy_from_slice(x.row(i));
            }
        }
        if !changed && counts.iter().all(|&c| c > 0) {
            break;
        }
    }
    let labels = nearest_sq(x, &centroids).1;
    Ok(KMeans {
        centroids,
        labels,
        iterations,
    })
}

/// Mann–Whitney `U` of `a` against `b` (`#{a > b} + ½ #{a = b}`, scipy's `U`
/// for the first sample) and the Meehan et al. z-score
/// `(U − (|a||b|/2 − ½)) / √(|a||b|(|a|+|b|+1)/12)`.
pub fn mann_whitney_z(a: &[f64], b: &[f64]) -> Result<(f64, f64)> {
    check::finite_slice(a, "mann_whitney_z", "first sample", 1)?;
    check::finite_slice(b, "mann_whitney_z", "second sample", 1)?;
    let mut bs = b.to_vec();
    bs.sort_by(f64::total_cmp);
    let mut u = 0.0;
    for &x in a {
        let below = bs.partition_point(|&v| v < x);
        let not_above = bs.partition_point(|&v| v <= x);
        u += below as f64 + 0.5 * (not_above - below) as f64;
    }
    let (m, n) = (a.len() as f64, b.len() as f64);
    let mean = m * n / 2.0 - 0.5;
    let std = (m * n * (m + n + 1.0) / 12.0).sqrt();
    Ok((u, (u - mean) / std))
}

/// Options of [`data_copying`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataCopyingOptions {
    /// Number of k-means cells (default 10).
    pub cells: usize,
    /// `τ`: keep cells holding more than this fraction of the generated
    /// samples; `None` for `20/m` (more than 20 generated samples).
    pub tau: Option<f64>,
    /// Lloyd iterations at most (default 100).
    pub max_iterations: usize,
    /// Seed of the k-means initialisation.
    pub seed: u64,
}

impl Default for DataCopyingOptions {
    fn default() -> Self {
        Self {
            cells: 10,
            tau: None,
            max_iterations: 100,
            seed: 0,
        }
    }
}

/// One cell of the `C_T` partition.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CellStat {
    /// Training samples in the cell.
    pub n_train: usize,
    /// Test samples in the cell.
    pub n_test: usize,
    /// Generated samples in the cell.
    pub n_generated: usize,
    /// `Z_U` of the cell (`None` without generated samples).
    pub z_u: Option<f64>,
    /// Whether the cell is in `Π_τ`.
    pub included: bool,
}

/// The data-copying statistic.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataCopying {
    /// `C_T` (≪ 0: data copying; ≈ 0: fine; ≫ 0: under-fitting).
    pub value: f64,
    /// `τ` used.
    pub tau: f64,
    /// Per-cell details.
    pub cells: Vec<CellStat>,
}

/// The `C_T` data-copying statistic of Meehan et al. 2020 (module docs):
/// `train` is the training set `T`, `test` a held-out sample `P_n` from the
/// data distribution, `generated` the model's samples `Q_m`.
pub fn data_copying(
    train: &Matrix,
    test: &Matrix,
    generated: &Matrix,
    options: &DataCopyingOptions,
) -> Result<DataCopying> {
    let ctx = "data_copying";
    check::features(train, ctx, "training samples", 1)?;
    check::features(test, ctx, "test samples", 1)?;
    check::features(generated, ctx, "generated samples", 1)?;
    check::same_dim(train, test, ctx, "training", "test")?;
    check::same_dim(train, generated, ctx, "training", "generated")?;
    let m = generated.rows();
    let tau = options.tau.unwrap_or(20.0 / m as f64);
    if !(tau.is_finite() && (0.0..1.0).contains(&tau)) {
        return Err(GenError::config(
            "tau",
            tau,
            format!(
                "must be a fraction in [0, 1) (the default is 20/m with m = {m} generated samples)"
            ),
            "pass a smaller tau, or more than 20 generated samples",
        ));
    }
    let km = kmeans(train, options.cells, options.max_iterations, options.seed)?;
    let test_cells = km.assign(test)?;
    let gen_cells = km.assign(generated)?;
    let k = options.cells;
    let mut cells = Vec::with_capacity(k);
    let (mut num, mut den) = (0.0, 0.0);
    for c in 0..k {
        let pick = |labels: &[usize], x: &Matrix| -> Result<Matrix> {
            let idx: Vec<usize> = labels
                .iter()
                .enumerate()
                .filter(|&(_, &l)| l == c)
                .map(|(i, _)| i)
                .collect();
            x.select_rows(&idx)
        };
        let t = pick(&km.labels, train)?;
        let p = pick(&test_cells, test)?;
        let q = pick(&gen_cells, generated)?;
        if t.rows() == 0 {
            return Err(GenError::input(
                ctx,
                format!("k-means left cell {c} of {k} without training samples"),
                "use fewer cells (--cells) or raise max_iterations",
            ));
        }
        if p.rows() == 0 {
            return Err(GenError::input(
                ctx,
                format!(
                    "cell {c} of {k} has {} training but no test samples",
                    t.rows()
                ),
                "use fewer cells (--cells) or more test samples",
            ));
        }
        let frac_q = q.rows() as f64 / m as f64;
        let z_u = if q.rows() > 0 {
            let lq: Vec<f64> = nearest_sq(&q, &t).0.into_iter().map(f64::sqrt).collect();
            let lp: Vec<f64> = nearest_sq(&p, &t).0.into_iter().map(f64::sqrt).collect();
            Some(mann_whitney_z(&lq, &lp)?.1)
        } else {
            None
        };
        let included = frac_q > tau;
        if included {
            let w = p.rows() as f64 / test.rows() as f64;
            num += w * z_u.unwrap_or(0.0);
            den += w;
        }
        cells.push(CellStat {
            n_train: t.rows(),
            n_test: p.rows(),
            n_generated: q.rows(),
            z_u,
            included,
        });
    }
    if den == 0.0 {
        return Err(GenError::input(
            ctx,
            format!("no cell holds more than a fraction τ = {tau} of the generated samples"),
            "lower tau, use fewer cells, or pass more generated samples",
        ));
    }
    Ok(DataCopying {
        value: num / den,
        tau,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    fn gaussian(n: usize, d: usize, scale: f64, seed: u64) -> Matrix {
        let mut rng = rng_from_seed(seed);
        let v = (0..n * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .map(|z: f64| z * scale)
            .collect();
        Matrix::new(n, d, v).unwrap()
    }

    #[test]
    fn exact_copies_are_counted() {
        let train = Matrix::from_rows(&[[0.0, 1.0], [2.0, 3.0]]).unwrap();
        let gen_ =
            Matrix::from_rows(&[[0.0, 1.0], [2.0, 3.0 + 1e-9], [5.0, 5.0], [2.0, 2.0]]).unwrap();
        let r = exact_copy_rate(&gen_, &train, 1e-6).unwrap();
        assert_eq!((r.copies, r.value), (2, 0.5));
        assert_eq!(exact_copy_rate(&gen_, &train, 0.0).unwrap().copies, 1);
        assert!(exact_copy_rate(&gen_, &train, -1.0).is_err());
    }

    #[test]
    fn authenticity_uses_generated_points_nearest_training_radius() {
        // Training points 0, 1, 10: radii 1, 1, 9.
        let train = Matrix::new(3, 1, vec![0.0, 1.0, 10.0]).unwrap();
        // 0.2 → nearest 0 (d 0.2 < 1): inauthentic. 5.0 → nearest 1 (d 4 ≥ 1): authentic.
        // 8.0 → nearest 10 (d 2 < 9): inauthentic. -1.0 → nearest 0 (d 1, tie): authentic.
        let gen_ = Matrix::new(4, 1, vec![0.2, 5.0, 8.0, -1.0]).unwrap();
        let a = authenticity(&gen_, &train).unwrap();
        assert_eq!(a.inauthentic, 2);
        assert_eq!(a.value, 0.5);
        let one = Matrix::new(1, 1, vec![0.0]).unwrap();
        assert!(authenticity(&gen_, &one).is_err());
    }

    #[test]
    fn mann_whitney_matches_hand_count() {
        // a = {1, 3, 5}, b = {2, 3}: pairs a > b: (3,2), (5,2), (5,3) = 3; ties (3,3) = ½ → U = 3.5
        let (u, z) = mann_whitney_z(&[1.0, 3.0, 5.0], &[2.0, 3.0]).unwrap();
        assert_eq!(u, 3.5);
        let want = (3.5 - (3.0 - 0.5)) / (6.0f64 * 6.0 / 12.0).sqrt();
        assert!((z - want).abs() < 1e-12);
    }

    #[test]
    fn kmeans_separates_clusters() {
        let mut rows = Vec::new();
        for c in [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]] {
            for i in 0..20 {
                rows.push([c[0] + (i % 5) as f64 * 0.1, c[1] + (i / 5) as f64 * 0.1]);
            }
        }
        let x = Matrix::from_rows(&rows).unwrap();
        let km = kmeans(&x, 3, 50, 1).unwrap();
        for block in km.labels.chunks(20) {
            assert!(block.iter().all(|&l| l == block[0]));
        }
        let mut firsts: Vec<usize> = km.labels.chunks(20).map(|b| b[0]).collect();
        firsts.sort();
        assert_eq!(firsts, vec![0, 1, 2]);
        assert!(kmeans(&x, 0, 10, 0).is_err());
        assert!(kmeans(&x, 61, 10, 0).is_err());
    }

    #[test]
    fn data_copying_detects_copies_and_passes_fresh_samples() {
        let d = 3;
        let train = gaussian(1000, d, 1.0, 1);
        let test = gaussian(1000, d, 1.0, 2);
        let fresh = gaussian(1000, d, 1.0, 3);
        // Copies: training points with tiny noise.
        let noise = gaussian(1000, d, 1e-3, 4);
        let copies = Matrix::new(
            1000,
            d,
            train
                .as_slice()
                .iter()
                .zip(noise.as_slice())
                .map(|(a, b)| a + b)
                .collect(),
        )
        .unwrap();
        let opts = DataCopyingOptions {
            cells: 5,
            ..DataCopyingOptions::default()
        };
        let ok = data_copying(&train, &test, &fresh, &opts).unwrap();
        let bad = data_copying(&train, &test, &copies, &opts).unwrap();
        assert!(ok.value.abs() < 3.0, "fresh samples: C_T = {}", ok.value);
        assert!(bad.value < -10.0, "copies: C_T = {}", bad.value);
        assert_eq!(ok.cells.len(), 5);
        assert!(ok.cells.iter().all(|c| c.included));
        // Too many cells for the test set errors with a fix.
        let tiny_test = gaussian(3, d, 1.0, 5);
        let many = DataCopyingOptions {
            cells: 20,
            ..DataCopyingOptions::default()
        };
        assert!(data_copying(&train, &tiny_test, &fresh, &many).is_err());
    }
}
