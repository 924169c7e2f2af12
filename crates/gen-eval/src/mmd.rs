//! Maximum mean discrepancy (Gretton et al. 2012) and the Kernel Inception
//! Distance (Bińkowski et al. 2018).
//!
//! # Kernels
//!
//! - Polynomial: `k(x, y) = (γ xᵀy + c₀)^p`, KID's default being `p = 3`,
//!   `γ = 1/d`, `c₀ = 1`, i.e. `(xᵀy/d + 1)³` (torch-fidelity `kid`
//!   `kernel="poly"` defaults, and the KID paper).
//! - RBF: `k(x, y) = exp(−‖x − y‖² / (2σ²))` with an explicit `σ` or the
//!   median heuristic ([`Bandwidth::Median`]): `σ` = the median of the
//!   Euclidean distances `‖zᵢ − zⱼ‖`, `i < j` (diagonal excluded, each pair
//!   once), over the *pooled* sample `Z = X ∪ Y` (numpy's median: mean of the
//!   two middle values for an even count). When the pooled sample has more than
//!   [`MEDIAN_MAX_POINTS`] rows the median is taken over the evenly spaced rows
//!   `⌊i·N/2000⌋`, `i = 0..2000`. The pooled median does not change under
//!   relabelling, so the permutation test keeps one σ for every permutation,
//!   and KID resolves σ once on the full sets, not per subset.
//!
//! # Estimators of MMD²
//!
//! With `K_XX`, `K_YY`, `K_XY` the kernel matrices of `X` (`m` rows) and `Y`
//! (`n` rows):
//!
//! - [`MmdEstimator::Unbiased`] (torch-fidelity `mmd2(..., mmd_est="unbiased")`,
//!   the KID of torch-fidelity, clean-fid and the KID paper):
//!   `Σ_{i≠j} K_XX/(m(m−1)) + Σ_{i≠j} K_YY/(n(n−1)) − 2 Σ_{i,j} K_XY/(mn)`.
//! - [`MmdEstimator::UStatistic`] (torch-fidelity `mmd_est="u-statistic"`,
//!   Gretton's `MMD²_u` with `m = n`): the cross term also drops the pairs
//!   `i = j`: `Σ_{i≠j} (K_XX + K_YY − K_XY − K_YX)_{ij} / (m(m−1))`. Requires
//!   `m = n`.
//! - [`MmdEstimator::Biased`] (torch-fidelity `mmd_est="biased"`, Gretton's
//!   `MMD²_b`): `Σ K_XX/m² + Σ K_YY/n² − 2 Σ K_XY/(mn)`, diagonals included.
//!
//! The unbiased and u-statistic estimates can be negative. For
//! `X = {(0,1),(1,0),(1,1)}`, `Y = {(0,0),(2,1),(1,2)}` they give (polynomial
//! kernel) −0.4166667, 1.4583333, 6.7777778 and (RBF, σ = 1) −0.1402103,
//! −0.0355002, 0.2916797 (unbiased, u-statistic, biased).
//!
//! Kernel values are computed one block of rows at a time from `gemm` inner
//! products (for the RBF kernel via `‖x‖² + ‖y‖² − 2xᵀy`, clamped at 0, on
//! mean-shifted data), so memory stays bounded for large sets.

use std::str::FromStr;

use gen_core::numerics::linalg::gram_block;
use gen_core::numerics::mean_std;
use gen_core::{GenError, Matrix, Result, rng_from_seed};
use rand::seq::SliceRandom;

use crate::check;
use crate::knn::{BLOCK_ENTRIES, DistanceBlocks};

/// Largest pooled sample over which [`Bandwidth::Median`] computes all pairwise
/// distances; larger samples use evenly spaced rows.
pub const MEDIAN_MAX_POINTS: usize = 2000;

/// Largest pooled sample size `m + n` for [`mmd_permutation_test`], which holds
/// the full `(m+n)²` kernel matrix (8192² values = 512 MiB).
pub const PERMUTATION_MAX_POINTS: usize = 8192;

/// Which MMD² estimator to use (see the module docs for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MmdEstimator {
    /// Within-set diagonals excluded, all cross pairs kept (KID's estimator).
    Unbiased,
    /// Diagonals excluded everywhere, cross pairs `i = j` too; needs `m = n`.
    UStatistic,
    /// Every pair, diagonals included (a V-statistic).
    Biased,
}

impl MmdEstimator {
    /// The command-line spelling: `unbiased`, `u-statistic` or `biased`.
    pub fn as_str(self) -> &'static str {
        match self {
            MmdEstimator::Unbiased => "unbiased",
            MmdEstimator::UStatistic => "u-statistic",
            MmdEstimator::Biased => "biased",
        }
    }

    fn min_rows(self) -> usize {
        match self {
            MmdEstimator::Biased => 1,
            _ => 2,
        }
    }
}

impl std::fmt::Display for MmdEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MmdEstimator {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "unbiased" => Ok(MmdEstimator::Unbiased),
            "u-statistic" | "u_statistic" | "ustatistic" => Ok(MmdEstimator::UStatistic),
            "biased" => Ok(MmdEstimator::Biased),
            other => Err(GenError::config(
                "estimator",
                other,
                "unknown MMD estimator",
                "use one of: unbiased, u-statistic, biased",
            )),
        }
    }
}

/// RBF bandwidth `σ`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bandwidth {
    /// A given `σ > 0`.
    Fixed(f64),
    /// The median heuristic over the pooled sample (module docs).
    Median,
}

/// A kernel for MMD / KID, before its data-dependent parameters are resolved.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Kernel {
    /// `(γ xᵀy + c₀)^degree`; `gamma: None` means `γ = 1/d`.
    Polynomial {
        /// Exponent `p ≥ 1`.
        degree: u32,
        /// `γ`, or `None` for `1/d`.
        gamma: Option<f64>,
        /// `c₀`.
        coef0: f64,
    },
    /// `exp(−‖x − y‖² / (2σ²))`.
    Rbf {
        /// How `σ` is chosen.
        bandwidth: Bandwidth,
    },
}

impl Kernel {
    /// KID's kernel `(xᵀy/d + 1)³`.
    pub fn kid_polynomial() -> Self {
        Kernel::Polynomial {
            degree: 3,
            gamma: None,
            coef0: 1.0,
        }
    }

    /// RBF kernel with a fixed `σ`.
    pub fn rbf(sigma: f64) -> Self {
        Kernel::Rbf {
            bandwidth: Bandwidth::Fixed(sigma),
        }
    }

    /// RBF kernel with the median heuristic.
    pub fn rbf_median() -> Self {
        Kernel::Rbf {
            bandwidth: Bandwidth::Median,
        }
    }

    /// Resolves `γ = 1/d` or the median-heuristic `σ` on the pooled sample
    /// `x ∪ y` (finite, equal columns: checked here).
    pub fn resolve(&self, x: &Matrix, y: &Matrix) -> Result<ResolvedKernel> {
        check::features(x, "Kernel::resolve", "first sample", 1)?;
        check::features(y, "Kernel::resolve", "second sample", 1)?;
        check::same_dim(x, y, "Kernel::resolve", "first sample", "second sample")?;
        match *self {
            Kernel::Polynomial {
                degree,
                gamma,
                coef0,
            } => {
                if degree == 0 {
                    return Err(GenError::config(
                        "kernel degree",
                        0,
                        "a degree-0 polynomial kernel is constant and gives MMD = 0",
                        "use degree ≥ 1 (KID uses 3)",
                    ));
                }
                let gamma = gamma.unwrap_or(1.0 / x.cols() as f64);
                if !gamma.is_finite() || !coef0.is_finite() {
                    return Err(GenError::config(
                        "kernel gamma/coef0",
                        format!("{gamma}/{coef0}"),
                        "must be finite",
                        "leave gamma unset for 1/d and use coef0 = 1 (KID)",
                    ));
                }
                Ok(ResolvedKernel::Polynomial {
                    degree,
                    gamma,
                    coef0,
                })
            }
            Kernel::Rbf {
                bandwidth: Bandwidth::Fixed(sigma),
            } => {
                check::positive(
                    sigma,
                    "bandwidth",
                    "pass --bandwidth σ > 0, or use the median heuristic",
                )?;
                Ok(ResolvedKernel::Rbf { sigma })
            }
            Kernel::Rbf {
                bandwidth: Bandwidth::Median,
            } => Ok(ResolvedKernel::Rbf {
                sigma: median_heuristic(x, y)?,
            }),
        }
    }
}

/// A kernel with all parameters fixed (what a result reports).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ResolvedKernel {
    /// `(γ xᵀy + c₀)^degree`.
    Polynomial {
        /// Exponent.
        degree: u32,
        /// `γ`.
        gamma: f64,
        /// `c₀`.
        coef0: f64,
    },
    /// `exp(−‖x − y‖² / (2σ²))`.
    Rbf {
        /// `σ`.
        sigma: f64,
    },
}

impl ResolvedKernel {
    /// `k(x, y)` for two vectors (direct formula; used for checks).
    pub fn eval(&self, x: &[f64], y: &[f64]) -> f64 {
        match *self {
            ResolvedKernel::Polynomial {
                degree,
                gamma,
                coef0,
            } => {
                let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
                (gamma * dot + coef0).powi(degree as i32)
            }
            ResolvedKernel::Rbf { sigma } => {
                let d2: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
                (-d2 / (2.0 * sigma * sigma)).exp()
            }
        }
    }

    /// Calls `f(first_row, block)` with row blocks of the kernel matrix
    /// `k(xᵢ, yⱼ)` (row-major, `y.rows()` columns). With `same`, `x` and `y`
    /// are the same set.
    fn for_each_block(&self, x: &Matrix, y: &Matrix, same: bool, mut f: impl FnMut(usize, &[f64])) {
        match *self {
            ResolvedKernel::Polynomial {
                degree,
                gamma,
                coef0,
            } => {
                let (m, n, d) = (x.rows(), y.rows(), x.cols());
                let block_rows = (BLOCK_ENTRIES / n.max(1)).clamp(1, m.max(1));
                let mut buf = vec![0.0; block_rows * n];
                let mut start = 0;
                while start < m {
                    let rows = block_rows.min(m - start);
                    let block = &mut buf[..rows * n];
                    gram_block(
                        &x.as_slice()[start * d..(start + rows) * d],
                        rows,
                        y.as_slice(),
                        n,
                        d,
                        block,
                    );
                    for v in block.iter_mut() {
                        *v = (gamma * *v + coef0).powi(degree as i32);
                    }
                    f(start, block);
                    start += rows;
                }
            }
            ResolvedKernel::Rbf { sigma } => {
                let scale = -1.0 / (2.0 * sigma * sigma);
                let blocks = if same {
                    DistanceBlocks::within(x)
                } else {
                    DistanceBlocks::new(x, y)
                };
                let mut tmp = Vec::new();
                blocks.for_each(|start, block| {
                    tmp.clear();
                    tmp.extend(block.iter().map(|d2| (d2 * scale).exp()));
                    f(start, &tmp);
                });
            }
        }
    }

    /// `(Σ_{i,j} k(xᵢ, yⱼ), Σ_i k(xᵢ, yᵢ))`, the second over `i < min(m, n)`.
    fn sums(&self, x: &Matrix, y: &Matrix, same: bool) -> (f64, f64) {
        let n = y.rows();
        let (mut total, mut diag) = (0.0, 0.0);
        self.for_each_block(x, y, same, |start, block| {
            for (bi, row) in block.chunks_exact(n).enumerate() {
                total += row.iter().sum::<f64>();
                if start + bi < n {
                    diag += row[start + bi];
                }
            }
        });
        (total, diag)
    }
}

/// The kernel sums an MMD² estimate needs.
#[derive(Debug, Clone, Copy)]
struct Sums {
    m: f64,
    n: f64,
    xx: f64,
    xx_diag: f64,
    yy: f64,
    yy_diag: f64,
    xy: f64,
    xy_diag: f64,
}

impl Sums {
    fn estimate(&self, est: MmdEstimator) -> f64 {
        let (m, n) = (self.m, self.n);
        match est {
            MmdEstimator::Unbiased => {
                (self.xx - self.xx_diag) / (m * (m - 1.0))
                    + (self.yy - self.yy_diag) / (n * (n - 1.0))
                    - 2.0 * self.xy / (m * n)
            }
            MmdEstimator::UStatistic => {
                (self.xx - self.xx_diag + self.yy - self.yy_diag - 2.0 * (self.xy - self.xy_diag))
                    / (m * (m - 1.0))
            }
            MmdEstimator::Biased => self.xx / (m * m) + self.yy / (n * n) - 2.0 * self.xy / (m * n),
        }
    }
}

fn sums(kernel: &ResolvedKernel, x: &Matrix, y: &Matrix) -> Sums {
    let (xx, xx_diag) = kernel.sums(x, x, true);
    let (yy, yy_diag) = kernel.sums(y, y, true);
    let (xy, xy_diag) = kernel.sums(x, y, false);
    Sums {
        m: x.rows() as f64,
        n: y.rows() as f64,
        xx,
        xx_diag,
        yy,
        yy_diag,
        xy,
        xy_diag,
    }
}

fn check_sizes(est: MmdEstimator, m: usize, n: usize, ctx: &str) -> Result<()> {
    let min = est.min_rows();
    if m < min || n < min {
        return Err(GenError::shape(
            ctx,
            format!("at least {min} rows in each sample for the {est} estimator"),
            format!("{m} and {n} rows"),
            "pass more samples",
        ));
    }
    if est == MmdEstimator::UStatistic && m != n {
        return Err(GenError::shape(
            ctx,
            format!("equal sample sizes for the u-statistic estimator (first has {m})"),
            format!("{n} rows"),
            "pass samples of equal size, or use --estimator unbiased",
        ));
    }
    Ok(())
}

/// An MMD² estimate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mmd {
    /// The MMD² estimate (can be negative for the unbiased estimators).
    pub value: f64,
    /// The estimator used.
    pub estimator: MmdEstimator,
    /// The kernel with its resolved parameters.
    pub kernel: ResolvedKernel,
    /// Rows of the first sample.
    pub n_x: usize,
    /// Rows of the second sample.
    pub n_y: usize,
}

/// MMD² between samples `x` and `y` (rows = samples) with the given kernel and
/// estimator (module docs). Matches torch-fidelity's `mmd2(K_XX, K_XY, K_YY,
/// mmd_est=...)` on the same kernel matrices.
pub fn mmd2(x: &Matrix, y: &Matrix, kernel: &Kernel, estimator: MmdEstimator) -> Result<Mmd> {
    check::features(x, "mmd2", "first sample", 1)?;
    check::features(y, "mmd2", "second sample", 1)?;
    check::same_dim(x, y, "mmd2", "first sample", "second sample")?;
    check_sizes(estimator, x.rows(), y.rows(), "mmd2")?;
    let k = kernel.resolve(x, y)?;
    let value = sums(&k, x, y).estimate(estimator);
    Ok(Mmd {
        value,
        estimator,
        kernel: k,
        n_x: x.rows(),
        n_y: y.rows(),
    })
}

/// The median-heuristic bandwidth `σ` over the pooled sample `x ∪ y`
/// (module docs). Errors if the median distance is 0 (more than half the
/// pairs are duplicates).
pub fn median_heuristic(x: &Matrix, y: &Matrix) -> Result<f64> {
    check::features(x, "median_heuristic", "first sample", 1)?;
    check::features(y, "median_heuristic", "second sample", 1)?;
    check::same_dim(x, y, "median_heuristic", "first sample", "second sample")?;
    let total = x.rows() + y.rows();
    if total < 2 {
        return Err(GenError::shape(
            "median_heuristic",
            "at least 2 pooled rows",
            format!("{total}"),
            "pass more samples",
        ));
    }
    let pick: Vec<usize> = if total > MEDIAN_MAX_POINTS {
        (0..MEDIAN_MAX_POINTS)
            .map(|i| i * total / MEDIAN_MAX_POINTS)
            .collect()
    } else {
        (0..total).collect()
    };
    let d = x.cols();
    let mut data = Vec::with_capacity(pick.len() * d);
    for &i in &pick {
        data.extend_from_slice(if i < x.rows() {
            x.row(i)
        } else {
            y.row(i - x.rows())
        });
    }
    let z = Matrix::new(pick.len(), d, data)?;
    let p = z.rows();
    let mut dists = Vec::with_capacity(p * (p - 1) / 2);
    DistanceBlocks::within(&z).for_each(|start, block| {
        for (bi, row) in block.chunks_exact(p).enumerate() {
            dists.extend(row[start + bi + 1..].iter().map(|v| v.sqrt()));
        }
    });
    let med = median(&mut dists);
    if med <= 0.0 {
        return Err(GenError::input(
            "median_heuristic",
            "the median pairwise distance is 0 (most points are duplicates)",
            "pass an explicit RBF bandwidth (--bandwidth σ)",
        ));
    }
    Ok(med)
}

/// numpy's median (mean of the two middle values for an even count).
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    }
}

/// Options of [`kid`]; the defaults are torch-fidelity's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KidOptions {
    /// Number of random subsets (torch-fidelity `kid_subsets`, 100).
    pub subsets: usize,
    /// Rows per subset, drawn from each set (`kid_subset_size`, 1000).
    pub subset_size: usize,
    /// Kernel (default `(xᵀy/d + 1)³`).
    pub kernel: Kernel,
    /// Estimator (default unbiased).
    pub estimator: MmdEstimator,
    /// Seed of the subset draws.
    pub seed: u64,
}

impl Default for KidOptions {
    fn default() -> Self {
        Self {
            subsets: 100,
            subset_size: 1000,
            kernel: Kernel::kid_polynomial(),
            estimator: MmdEstimator::Unbiased,
            seed: 0,
        }
    }
}

/// Kernel Inception Distance: mean and spread of MMD² over random subsets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Kid {
    /// Mean of the per-subset MMD² estimates.
    pub mean: f64,
    /// Their standard deviation with ddof 0 (`np.std`, as torch-fidelity).
    pub std: f64,
    /// Number of subsets.
    pub subsets: usize,
    /// Rows per subset.
    pub subset_size: usize,
    /// Estimator used.
    pub estimator: MmdEstimator,
    /// Kernel with resolved parameters.
    pub kernel: ResolvedKernel,
    /// Rows of the real set.
    pub n_real: usize,
    /// Rows of the fake set.
    pub n_fake: usize,
}

/// KID as torch-fidelity computes it: for each of `subsets` subsets, draw
/// `subset_size` rows without replacement from each set (independently, with
/// a ChaCha8 generator seeded by `seed` — the draws differ from numpy's
/// `RandomState`, the formula does not), compute MMD² with the chosen kernel
/// and estimator, and report the mean and the ddof-0 standard deviation.
/// Errors if `subset_size` exceeds either set (torch-fidelity does too).
pub fn kid(real: &Matrix, fake: &Matrix, options: &KidOptions) -> Result<Kid> {
    check::features(real, "kid", "real features", 1)?;
    check::features(fake, "kid", "fake features", 1)?;
    check::same_dim(real, fake, "kid", "real", "fake")?;
    if options.subsets == 0 {
        return Err(GenError::config(
            "subsets",
            0,
            "KID needs at least one subset",
            "pass --subsets ≥ 1 (torch-fidelity uses 100)",
        ));
    }
    let size = options.subset_size;
    if size > real.rows() || size > fake.rows() {
        return Err(GenError::config(
            "subset-size",
            size,
            format!(
                "larger than the samples ({} real, {} fake rows)",
                real.rows(),
                fake.rows()
            ),
            "lower --subset-size to at most the smaller set, or pass more samples",
        ));
    }
    check_sizes(options.estimator, size, size, "kid: subset size")?;
    let kernel = options.kernel.resolve(real, fake)?;
    let mut rng = rng_from_seed(options.seed);
    let mut values = Vec::with_capacity(options.subsets);
    for _ in 0..options.subsets {
        let ix = rand::seq::index::sample(&mut rng, real.rows(), size).into_vec();
        let iy = rand::seq::index::sample(&mut rng, fake.rows(), size).into_vec();
        let xs = real.select_rows(&ix)?;
        let ys = fake.select_rows(&iy)?;
        values.push(sums(&kernel, &xs, &ys).estimate(options.estimator));
    }
    let (mean, std) = mean_std(&values);
    Ok(Kid {
        mean,
        std,
        subsets: options.subsets,
        subset_size: size,
        estimator: options.estimator,
        kernel,
        n_real: real.rows(),
        n_fake: fake.rows(),
    })
}

/// Options of [`mmd_permutation_test`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MmdTestOptions {
    /// Number of random permutations `B` (default 500).
    pub permutations: usize,
    /// Kernel (default RBF with the median heuristic).
    pub kernel: Kernel,
    /// Estimator (default unbiased).
    pub estimator: MmdEstimator,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for MmdTestOptions {
    fn default() -> Self {
        Self {
            permutations: 500,
            kernel: Kernel::rbf_median(),
            estimator: MmdEstimator::Unbiased,
            seed: 0,
        }
    }
}

/// Result of an MMD two-sample permutation test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MmdTest {
    /// The observed MMD² estimate.
    pub statistic: f64,
    /// `p = (1 + #{b : MMD²_b ≥ observed}) / (1 + B)`.
    pub p_value: f64,
    /// How many permuted statistics were ≥ the observed one.
    pub exceedances: usize,
    /// `B`.
    pub permutations: usize,
    /// Estimator used.
    pub estimator: MmdEstimator,
    /// Kernel with resolved parameters.
    pub kernel: ResolvedKernel,
    /// Rows of the first sample.
    pub n_x: usize,
    /// Rows of the second sample.
    pub n_y: usize,
}

/// Two-sample test of `P_X = P_Y` by permutation: the pooled sample is
/// relabelled `B` times uniformly at random (seeded ChaCha8 Fisher–Yates
/// shuffles), the first `m` rows of each shuffle playing `X`, and
/// `p = (1 + #{MMD²_perm ≥ MMD²_obs}) / (1 + B)` (the add-one p-value, which is
/// a valid level-α test). The kernel (and a median-heuristic σ, which is
/// permutation invariant) is fixed once on the pooled sample. Holds the
/// `(m+n)²` kernel matrix, so `m + n ≤` [`PERMUTATION_MAX_POINTS`].
pub fn mmd_permutation_test(x: &Matrix, y: &Matrix, options: &MmdTestOptions) -> Result<MmdTest> {
    check::features(x, "mmd_permutation_test", "first sample", 1)?;
    check::features(y, "mmd_permutation_test", "second sample", 1)?;
    check::same_dim(
        x,
        y,
        "mmd_permutation_test",
        "first sample",
        "second sample",
    )?;
    let (m, n) = (x.rows(), y.rows());
    check_sizes(options.estimator, m, n, "mmd_permutation_test")?;
    if options.permutations == 0 {
        return Err(GenError::config(
            "permutations",
            0,
            "the test needs at least one permutation",
            "use several hundred permutations (p-values are multiples of 1/(B+1))",
        ));
    }
    let total = m + n;
    if total > PERMUTATION_MAX_POINTS {
        return Err(GenError::config(
            "sample size",
            total,
            format!(
                "the permutation test holds the full (m+n)² kernel matrix; m + n must be ≤ {PERMUTATION_MAX_POINTS}"
            ),
            "subsample both sets (a few thousand rows each is plenty for a test)",
        ));
    }
    let kernel = options.kernel.resolve(x, y)?;
    let mut data = Vec::with_capacity(total * x.cols());
    data.extend_from_slice(x.as_slice());
    data.extend_from_slice(y.as_slice());
    let z = Matrix::new(total, x.cols(), data)?;
    let mut k = vec![0.0; total * total];
    kernel.for_each_block(&z, &z, true, |start, block| {
        k[start * total..start * total + block.len()].copy_from_slice(block);
    });
    let row_sums: Vec<f64> = k.chunks_exact(total).map(|r| r.iter().sum()).collect();

    let stat = |order: &[usize], is_y: &mut [f64]| -> f64 {
        is_y.fill(0.0);
        for &p in &order[m..] {
            is_y[p] = 1.0;
        }
        let (mut xx, mut xy, mut yy, mut xx_d, mut yy_d) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for p in 0..total {
            let row = &k[p * total..(p + 1) * total];
            let to_y: f64 = row.iter().zip(is_y.iter()).map(|(a, b)| a * b).sum();
            if is_y[p] == 1.0 {
                yy += to_y;
                yy_d += row[p];
            } else {
                xx += row_sums[p] - to_y;
                xy += to_y;
                xx_d += row[p];
            }
        }
        let xy_diag = if options.estimator == MmdEstimator::UStatistic {
            (0..m).map(|i| k[order[i] * total + order[m + i]]).sum()
        } else {
            0.0
        };
        Sums {
            m: m as f64,
            n: n as f64,
            xx,
            xx_diag: xx_d,
            yy,
            yy_diag: yy_d,
            xy,
            xy_diag,
        }
        .estimate(options.estimator)
    };

    let mut order: Vec<usize> = (0..total).collect();
    let mut is_y = vec![0.0; total];
    let observed = stat(&order, &mut is_y);
    let mut rng = rng_from_seed(options.seed);
    let mut exceed = 0;
    for _ in 0..options.permutations {
        order.shuffle(&mut rng);
        if stat(&order, &mut is_y) >= observed {
            exceed += 1;
        }
    }
    Ok(MmdTest {
        statistic: observed,
        p_value: (1 + exceed) as f64 / (1 + options.permutations) as f64,
        exceedances: exceed,
        permutations: options.permutations,
        estimator: options.estimator,
        kernel,
        n_x: m,
        n_y: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    fn xy() -> (Matrix, Matrix) {
        (
            Matrix::from_rows(&[[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).unwrap(),
            Matrix::from_rows(&[[0.0, 0.0], [2.0, 1.0], [1.0, 2.0]]).unwrap(),
        )
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 5e-8, "{a} vs {b}");
    }

    #[test]
    fn polynomial_reference_values() {
        let (x, y) = xy();
        let k = Kernel::kid_polynomial();
        close(
            mmd2(&x, &y, &k, MmdEstimator::Unbiased).unwrap().value,
            -0.4166667,
        );
        close(
            mmd2(&x, &y, &k, MmdEstimator::UStatistic).unwrap().value,
            1.4583333,
        );
        close(
            mmd2(&x, &y, &k, MmdEstimator::Biased).unwrap().value,
            6.7777778,
        );
    }

    #[test]
    fn rbf_reference_values() {
        let (x, y) = xy();
        let k = Kernel::rbf(1.0);
        close(
            mmd2(&x, &y, &k, MmdEstimator::Unbiased).unwrap().value,
            -0.1402103,
        );
        close(
            mmd2(&x, &y, &k, MmdEstimator::UStatistic).unwrap().value,
            -0.0355002,
        );
        close(
            mmd2(&x, &y, &k, MmdEstimator::Biased).unwrap().value,
            0.2916797,
        );
    }

    fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Matrix {
        let mut rng = rng_from_seed(seed);
        let v = (0..n * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .map(|z: f64| z + shift)
            .collect();
        Matrix::new(n, d, v).unwrap()
    }

    fn naive(x: &Matrix, y: &Matrix, k: &ResolvedKernel, est: MmdEstimator) -> f64 {
        let mut s = Sums {
            m: x.rows() as f64,
            n: y.rows() as f64,
            xx: 0.0,
            xx_diag: 0.0,
            yy: 0.0,
            yy_diag: 0.0,
            xy: 0.0,
            xy_diag: 0.0,
        };
        for (i, a) in x.iter_rows().enumerate() {
            for (j, b) in x.iter_rows().enumerate() {
                s.xx += k.eval(a, b);
                if i == j {
                    s.xx_diag += k.eval(a, b);
                }
            }
            for (j, b) in y.iter_rows().enumerate() {
                s.xy += k.eval(a, b);
                if i == j {
                    s.xy_diag += k.eval(a, b);
                }
            }
        }
        for (i, a) in y.iter_rows().enumerate() {
            for (j, b) in y.iter_rows().enumerate() {
                s.yy += k.eval(a, b);
                if i == j {
                    s.yy_diag += k.eval(a, b);
                }
            }
        }
        s.estimate(est)
    }

    #[test]
    fn blocked_sums_match_direct_kernel_evaluation() {
        let x = gaussian(40, 9, 0.0, 1);
        let y = gaussian(40, 9, 0.3, 2);
        for kernel in [
            Kernel::kid_polynomial(),
            Kernel::rbf(2.5),
            Kernel::rbf_median(),
        ] {
            for est in [
                MmdEstimator::Unbiased,
                MmdEstimator::UStatistic,
                MmdEstimator::Biased,
            ] {
                let got = mmd2(&x, &y, &kernel, est).unwrap();
                let want = naive(&x, &y, &got.kernel, est);
                assert!(
                    (got.value - want).abs() < 1e-10,
                    "{kernel:?} {est}: {} vs {want}",
                    got.value
                );
            }
        }
    }

    #[test]
    fn median_heuristic_is_pooled_offdiagonal_median() {
        let x = Matrix::from_rows(&[[0.0], [1.0]]).unwrap();
        let y = Matrix::from_rows(&[[3.0], [7.0]]).unwrap();
        // distances: 1, 3, 7, 2, 6, 4 -> sorted 1 2 3 4 6 7 -> median 3.5
        assert_eq!(median_heuristic(&x, &y).unwrap(), 3.5);
        let z = Matrix::from_rows(&[[0.0], [0.0]]).unwrap();
        assert!(median_heuristic(&z, &z).is_err());
    }

    #[test]
    fn estimator_parsing_and_errors() {
        assert_eq!(
            "u-statistic".parse::<MmdEstimator>().unwrap(),
            MmdEstimator::UStatistic
        );
        assert!("foo".parse::<MmdEstimator>().is_err());
        let (x, _) = xy();
        let y4 = gaussian(4, 2, 0.0, 3);
        assert!(mmd2(&x, &y4, &Kernel::kid_polynomial(), MmdEstimator::UStatistic).is_err());
        assert!(mmd2(&x, &y4, &Kernel::kid_polynomial(), MmdEstimator::Unbiased).is_ok());
        let one = gaussian(1, 2, 0.0, 3);
        assert!(mmd2(&one, &y4, &Kernel::kid_polynomial(), MmdEstimator::Unbiased).is_err());
        assert!(mmd2(&x, &y4, &Kernel::rbf(0.0), MmdEstimator::Unbiased).is_err());
        assert!(
            mmd2(
                &x,
                &gaussian(3, 3, 0.0, 1),
                &Kernel::rbf(1.0),
                MmdEstimator::Biased
            )
            .is_err()
        );
        let s = serde_json::to_string(
            &mmd2(&x, &y4, &Kernel::rbf(1.0), MmdEstimator::Unbiased).unwrap(),
        )
        .unwrap();
        assert!(s.contains("\"value\""), "{s}");
    }

    #[test]
    fn kid_subsets_and_errors() {
        let x = gaussian(300, 8, 0.0, 4);
        let y = gaussian(300, 8, 0.0, 5);
        let z = gaussian(300, 8, 1.0, 6);
        let opts = KidOptions {
            subsets: 20,
            subset_size: 100,
            ..KidOptions::default()
        };
        let same = kid(&x, &y, &opts).unwrap();
        let diff = kid(&x, &z, &opts).unwrap();
        assert!(same.mean.abs() < 0.05, "{}", same.mean);
        assert!(
            diff.mean > 10.0 * same.std.max(1e-3),
            "{} {}",
            diff.mean,
            same.std
        );
        assert!(same.std > 0.0);
        // seeded: identical on rerun, different with another seed
        assert_eq!(kid(&x, &y, &opts).unwrap(), same);
        let other = kid(
            &x,
            &y,
            &KidOptions {
                seed: 1,
                ..opts.clone()
            },
        )
        .unwrap();
        assert_ne!(other.mean, same.mean);
        // a single subset of all rows is the plain MMD²
        let all = KidOptions {
            subsets: 1,
            subset_size: 300,
            ..KidOptions::default()
        };
        let full = kid(&x, &z, &all).unwrap();
        let direct = mmd2(&x, &z, &Kernel::kid_polynomial(), MmdEstimator::Unbiased).unwrap();
        assert!((full.mean - direct.value).abs() < 1e-9 * direct.value.abs());
        assert_eq!(full.std, 0.0);
        let too_big = KidOptions {
            subset_size: 301,
            ..KidOptions::default()
        };
        assert!(matches!(
            kid(&x, &y, &too_big),
            Err(GenError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn permutation_test_observed_matches_mmd2() {
        let x = gaussian(30, 3, 0.0, 7);
        let y = gaussian(30, 3, 0.5, 8);
        for est in [
            MmdEstimator::Unbiased,
            MmdEstimator::UStatistic,
            MmdEstimator::Biased,
        ] {
            let opts = MmdTestOptions {
                permutations: 20,
                estimator: est,
                ..MmdTestOptions::default()
            };
            let t = mmd_permutation_test(&x, &y, &opts).unwrap();
            let m = mmd2(&x, &y, &Kernel::rbf_median(), est).unwrap();
            assert!((t.statistic - m.value).abs() < 1e-12, "{est}");
            assert!(t.p_value > 0.0 && t.p_value <= 1.0);
        }
    }

    #[test]
    fn permutation_test_level_and_power() {
        let opts = |seed| MmdTestOptions {
            permutations: 100,
            seed,
            ..MmdTestOptions::default()
        };
        let (mut null_rejections, mut alt_rejections) = (0, 0);
        for seed in 0..40u64 {
            let x = gaussian(40, 2, 0.0, 1000 + seed);
            let y = gaussian(40, 2, 0.0, 2000 + seed);
            if mmd_permutation_test(&x, &y, &opts(seed)).unwrap().p_value <= 0.05 {
                null_rejections += 1;
            }
            let z = gaussian(40, 2, 1.5, 3000 + seed);
            if mmd_permutation_test(&x, &z, &opts(seed)).unwrap().p_value <= 0.05 {
                alt_rejections += 1;
            }
        }
        // Under H0 the rejection count is ~ Binomial(40, 0.05): mean 2, P(> 8) < 1e-3.
        assert!(
            null_rejections <= 8,
            "{null_rejections} / 40 null rejections"
        );
        assert!(
            alt_rejections >= 38,
            "{alt_rejections} / 40 rejections under a shift"
        );
    }
}
