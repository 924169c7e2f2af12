//! Dense linear algebra on the host (`f64`): Cholesky factorisation
//! (nalgebra's [`Cholesky`]) with its triangular solve and log-determinant, a
//! Gaussian prepared for repeated log-density evaluation ([`GaussianFactor`]),
//! the symmetric eigen-decomposition (nalgebra's [`SymmetricEigen`]), views
//! of row-major data as nalgebra matrices with their products, column means
//! and covariances, and symmetric PSD square roots (used by the Fréchet
//! distance).
//!
//! Matrices passed as slices are row-major `d × d`.

// Triangular loops over covariance indices read best with explicit indices.
#![allow(clippy::needless_range_loop)]

use nalgebra::{Cholesky, DMatrix, DMatrixView, DMatrixViewMut, Dyn, SymmetricEigen};

use super::LN_2PI;
use crate::{GenError, Matrix, Result, Rng};

/// Lower-triangular Cholesky factor L with Σ = L Lᵀ (row-major d×d), by
/// nalgebra's [`Cholesky`] (only the lower triangle of `a` is read). A matrix
/// that is not positive definite (a pivot ≤ 0 or NaN) or whose factor is not
/// finite is an error.
pub fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>> {
    let not_pd = |why: &str| {
        GenError::input(
            "Cholesky factorisation",
            format!("the {d}×{d} covariance {why}"),
            "add regularisation (reg_covar) or remove duplicate / constant columns",
        )
    };
    if a.len() != d * d {
        return Err(GenError::input(
            "Cholesky factorisation",
            format!("{} entries for a {d}×{d} matrix", a.len()),
            "pass a row-major d×d covariance",
        ));
    }
    let l = Cholesky::new(DMatrix::from_row_slice(d, d, a))
        .ok_or_else(|| not_pd("is not positive definite"))?
        .unpack();
    if !l.iter().all(|x| x.is_finite()) {
        return Err(not_pd("has a non-finite Cholesky factor"));
    }
    // Column-major storage of Lᵀ is the row-major layout of L.
    Ok(l.transpose().as_slice().to_vec())
}

/// Solves L y = b for lower-triangular L (row-major d×d) by forward
/// substitution. This stays a plain loop: it runs once per scored row, with
/// no allocation, and nalgebra's `solve_lower_triangular_mut` cannot take the
/// row-major factor as a view (its `axpy` over a strided column reads past
/// the view, like the `gemm` fallback noted at `matmul`).
pub fn solve_lower(l: &[f64], d: usize, b: &[f64], y: &mut [f64]) {
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * y[k];
        }
        y[i] = s / l[i * d + i];
    }
}

/// log det Σ = 2 Σᵢ log Lᵢᵢ.
pub fn log_det_from_cholesky(l: &[f64], d: usize) -> f64 {
    (0..d).map(|i| l[i * d + i].ln()).sum::<f64>() * 2.0
}

/// A Gaussian N(μ, Σ) prepared for repeated log-density evaluation.
#[derive(Debug, Clone)]
pub struct GaussianFactor {
    /// Mean μ.
    pub mean: Vec<f64>,
    /// Cholesky factor L of Σ.
    pub chol: Vec<f64>,
    /// −½ (d log 2π + log det Σ).
    pub log_norm: f64,
}

impl GaussianFactor {
    /// Factorises Σ.
    pub fn new(mean: Vec<f64>, cov: &[f64]) -> Result<Self> {
        let d = mean.len();
        let chol = cholesky(cov, d)?;
        let log_norm = -0.5 * (d as f64 * LN_2PI + log_det_from_cholesky(&chol, d));
        Ok(Self {
            mean,
            chol,
            log_norm,
        })
    }

    /// log N(x; μ, Σ) = −½ (x−μ)ᵀ Σ⁻¹ (x−μ) − ½ log det(2πΣ), via y = L⁻¹(x−μ).
    pub fn log_prob(&self, x: &[f64], scratch: &mut [f64], y: &mut [f64]) -> f64 {
        let d = self.mean.len();
        for i in 0..d {
            scratch[i] = x[i] - self.mean[i];
        }
        solve_lower(&self.chol, d, scratch, y);
        self.log_norm - 0.5 * y.iter().map(|v| v * v).sum::<f64>()
    }

    /// Draws x = μ + τ L ε with ε ~ N(0, I) into `out` (`eps` is scratch of
    /// length d; ε from `rand_distr`'s `StandardNormal`).
    pub fn sample_into(&self, rng: &mut Rng, tau: f64, eps: &mut [f64], out: &mut [f64]) {
        use rand_distr::{Distribution, StandardNormal};
        eps.iter_mut()
            .for_each(|e| *e = StandardNormal.sample(&mut *rng));
        self.transform_noise(eps, tau, out);
    }

    /// x = μ + τ L ε for standard-normal ε.
    pub fn transform_noise(&self, eps: &[f64], tau: f64, out: &mut [f64]) {
        let d = self.mean.len();
        for i in 0..d {
            let mut s = 0.0;
            for k in 0..=i {
                s += self.chol[i * d + k] * eps[k];
            }
            out[i] = self.mean[i] + tau * s;
        }
    }
}

/// Eigen-decomposition of the symmetric `d × d` matrix `a` (row-major),
/// A = V diag(λ) Vᵀ, by nalgebra's [`SymmetricEigen`]. Returns (λ, V) with
/// the eigenvalues in descending order and eigenvector i in column i of V
/// (row-major), signed so that its largest-magnitude entry (the first one on
/// ties) is positive: the result does not depend on the solver's arbitrary
/// order and signs.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let eig = SymmetricEigen::new(DMatrix::from_row_slice(d, d, a));
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
    let lambda = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let mut v = vec![0.0; d * d];
    for (col, &i) in order.iter().enumerate() {
        let u = eig.eigenvectors.column(i);
        let largest = u
            .iter()
            .fold(0.0f64, |m, &x| if x.abs() > m.abs() { x } else { m });
        let sign = if largest < 0.0 { -1.0 } else { 1.0 };
        for (r, x) in u.iter().enumerate() {
            v[r * d + col] = sign * x;
        }
    }
    (lambda, v)
}

/// `data` (row-major `rows × cols`) as an nalgebra view without copying.
pub fn row_major(data: &[f64], rows: usize, cols: usize) -> DMatrixView<'_, f64, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(data, rows, cols, cols, 1)
}

/// The transpose of row-major `rows × cols` data, i.e. a `cols × rows` view.
pub fn row_major_t(data: &[f64], rows: usize, cols: usize) -> DMatrixView<'_, f64, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(data, cols, rows, 1, cols)
}

/// `C = α A B` on strided views. nalgebra hands the product to
/// `matrixmultiply` only when every dimension exceeds 5; its fallback loop
/// mishandles views with arbitrary strides (it reads past the view), so small
/// products are computed here with plain indexed loops instead.
fn matmul<S>(
    alpha: f64,
    a: &DMatrixView<'_, f64, Dyn, Dyn>,
    b: &DMatrixView<'_, f64, Dyn, Dyn>,
    c: &mut nalgebra::Matrix<f64, Dyn, Dyn, S>,
) where
    S: nalgebra::StorageMut<f64, Dyn, Dyn>,
{
    const SMALL_DIM: usize = 5;
    let (m, k) = a.shape();
    let n = b.ncols();
    debug_assert_eq!(b.nrows(), k);
    debug_assert_eq!(c.shape(), (m, n));
    if m > SMALL_DIM && n > SMALL_DIM && k > SMALL_DIM {
        c.gemm(alpha, a, b, 0.0);
        return;
    }
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for l in 0..k {
                s += a[(i, l)] * b[(l, j)];
            }
            c[(i, j)] = alpha * s;
        }
    }
}

/// `out (a_rows × b_rows, row-major) = A Bᵀ` for row-major `A` (`a_rows × d`)
/// and `B` (`b_rows × d`): the Gram block of inner products.
pub fn gram_block(a: &[f64], a_rows: usize, b: &[f64], b_rows: usize, d: usize, out: &mut [f64]) {
    debug_assert_eq!(out.len(), a_rows * b_rows);
    let av = row_major(a, a_rows, d);
    let bt = row_major_t(b, b_rows, d);
    let mut c = DMatrixViewMut::<f64, Dyn, Dyn>::from_slice_with_strides_mut(
        out, a_rows, b_rows, b_rows, 1,
    );
    matmul(1.0, &av, &bt, &mut c);
}

/// Column means and the unbiased covariance (divisor `n − 1`, numpy's
/// `np.cov(x, rowvar=False)`), computed in two passes on centred data.
/// Needs at least 2 rows (checked by callers).
pub fn mean_and_cov(x: &Matrix) -> (Vec<f64>, DMatrix<f64>) {
    let (n, d) = x.shape();
    let mean = x.column_means();
    let mut centred = x.as_slice().to_vec();
    for row in centred.chunks_exact_mut(d) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v -= m;
        }
    }
    let ct = row_major_t(&centred, n, d);
    let c = row_major(&centred, n, d);
    let mut cov = DMatrix::<f64>::zeros(d, d);
    matmul(1.0 / (n as f64 - 1.0), &ct, &c, &mut cov);
    (mean, symmetrize(cov))
}

/// `(M + Mᵀ) / 2`.
pub fn symmetrize(m: DMatrix<f64>) -> DMatrix<f64> {
    let t = m.transpose();
    (m + t) * 0.5
}

/// Square root of a symmetric positive semi-definite matrix:
/// `√S = V diag(√max(λᵢ, 0)) Vᵀ` from `S = V diag(λ) Vᵀ`. Also returns the
/// smallest eigenvalue of `S` (before clamping) so callers can warn.
pub fn sqrt_psd(s: &DMatrix<f64>) -> (DMatrix<f64>, f64) {
    let eig = SymmetricEigen::new(s.clone());
    let min = eig
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let mut v_scaled = eig.eigenvectors.clone();
    for (j, lam) in eig.eigenvalues.iter().enumerate() {
        let r = lam.max(0.0).sqrt();
        v_scaled.column_mut(j).scale_mut(r);
    }
    let root = symmetrize(&v_scaled * eig.eigenvectors.transpose());
    (root, min)
}

/// `tr √(Σ₁ Σ₂)` by the symmetric route: the eigenvalues `λᵢ` of
/// `√Σ₁ Σ₂ √Σ₁` (similar to `Σ₁ Σ₂`, but symmetric PSD) give
/// `Σᵢ √max(λᵢ, 0)`. Returns the trace and the smallest eigenvalues of `Σ₁`
/// and of `√Σ₁ Σ₂ √Σ₁` (before clamping).
pub fn trace_sqrt_product(s1: &DMatrix<f64>, s2: &DMatrix<f64>) -> (f64, f64, f64) {
    let (r1, min1) = sqrt_psd(s1);
    let m = symmetrize(&r1 * s2 * &r1);
    let eig = SymmetricEigen::new(m);
    let min_m = eig
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let tr = eig.eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    (tr, min1, min_m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::standard_normals;
    use crate::rng_from_seed;

    #[test]
    fn cholesky_reconstructs() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_err());
        // Solve and log-determinant against the factor.
        let b = [1.0, -2.0, 0.5];
        let mut y = [0.0; 3];
        solve_lower(&l, 3, &b, &mut y);
        for i in 0..3 {
            let ly: f64 = (0..3).map(|k| l[i * 3 + k] * y[k]).sum();
            assert!((ly - b[i]).abs() < 1e-12);
        }
        let det = 4.0 * (2.0 * 3.0 - 0.25) - 2.0 * (2.0 * 3.0 - 0.3) + 0.6 * (1.0 - 1.2);
        assert!((log_det_from_cholesky(&l, 3) - f64::ln(det)).abs() < 1e-12);
    }

    #[test]
    fn cholesky_matches_a_known_factor_and_reads_the_lower_triangle() {
        // A = L Lᵀ with L = [[2, 0, 0], [1, 3, 0], [−1, 1, 2]]: every step is exact.
        let a = [4.0, 2.0, -2.0, 2.0, 10.0, 2.0, -2.0, 2.0, 6.0];
        let want = vec![2.0, 0.0, 0.0, 1.0, 3.0, 0.0, -1.0, 1.0, 2.0];
        assert_eq!(cholesky(&a, 3).unwrap(), want);
        // The strictly upper triangle is never read.
        let lower_only = [4.0, 99.0, f64::NAN, 2.0, 10.0, -7.0, -2.0, 2.0, 6.0];
        assert_eq!(cholesky(&lower_only, 3).unwrap(), want);
        let mut y = [0.0; 3];
        solve_lower(&want, 3, &[2.0, 4.0, 2.0], &mut y);
        assert_eq!(y, [1.0, 1.0, 1.0]);
        assert!((log_det_from_cholesky(&want, 3) - 2.0 * 12f64.ln()).abs() < 1e-14);
        // Not positive definite, non-finite or mis-sized input is an error.
        for bad in [[0.0], [-1.0], [f64::NAN], [f64::INFINITY]] {
            assert!(cholesky(&bad, 1).is_err(), "{bad:?}");
        }
        assert!(cholesky(&[1.0, f64::INFINITY, f64::INFINITY, 1.0], 2).is_err());
        assert!(cholesky(&[1.0, 0.0, 0.0], 2).is_err());
        assert_eq!(cholesky(&[], 0).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn gaussian_factor_matches_the_one_dimensional_density() {
        let g = GaussianFactor::new(vec![1.0], &[4.0]).unwrap();
        let (mut s, mut y) = ([0.0], [0.0]);
        let lp = g.log_prob(&[2.5], &mut s, &mut y);
        assert!((lp - crate::numerics::normal_log_pdf(2.5, 1.0, 2.0)).abs() < 1e-14);
    }

    #[test]
    fn symmetric_eigen_reconstructs_the_matrix_with_orthonormal_vectors() {
        let d = 7;
        let b = standard_normals(d * d, &mut rng_from_seed(1));
        // A = B Bᵀ is symmetric positive semi-definite.
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum();
            }
        }
        let (l, v) = symmetric_eigen(&a, d);
        for i in 0..d {
            for j in 0..d {
                let rec: f64 = (0..d).map(|k| v[i * d + k] * l[k] * v[j * d + k]).sum();
                assert!((rec - a[i * d + j]).abs() < 1e-9);
                let dot: f64 = (0..d).map(|k| v[k * d + i] * v[k * d + j]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
        let trace: f64 = (0..d).map(|i| a[i * d + i]).sum();
        assert!((l.iter().sum::<f64>() - trace).abs() < 1e-9);
        // Descending, and each eigenvector's largest entry is positive.
        assert!(l.windows(2).all(|w| w[0] >= w[1]), "{l:?}");
        for j in 0..d {
            let largest = (0..d)
                .map(|i| v[i * d + j])
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            assert!(largest > 0.0);
        }
        // The same decomposition of −A: eigenvalues negated and reversed.
        let neg: Vec<f64> = a.iter().map(|x| -x).collect();
        let (ln, _) = symmetric_eigen(&neg, d);
        for k in 0..d {
            assert!((ln[k] + l[d - 1 - k]).abs() < 1e-9);
        }
    }

    #[test]
    fn gram_block_matches_naive_products() {
        let a: Vec<f64> = (0..7 * 9).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..8 * 9).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut out = vec![0.0; 7 * 8];
        gram_block(&a, 7, &b, 8, 9, &mut out);
        for i in 0..7 {
            for j in 0..8 {
                let dot: f64 = (0..9).map(|k| a[i * 9 + k] * b[j * 9 + k]).sum();
                assert!((out[i * 8 + j] - dot).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn covariance_is_ddof_one() {
        let x = Matrix::from_rows(&[[1.0, 2.0], [3.0, 1.0], [5.0, 6.0]]).unwrap();
        let (m, c) = mean_and_cov(&x);
        assert_eq!(m, vec![3.0, 3.0]);
        // np.cov([[1,3,5],[2,1,6]]) = [[4, 4], [4, 7]]
        assert!((c[(0, 0)] - 4.0).abs() < 1e-12);
        assert!((c[(0, 1)] - 4.0).abs() < 1e-12);
        assert!((c[(1, 1)] - 7.0).abs() < 1e-12);
    }

    #[test]
    fn covariance_large_uses_gemm_path() {
        let n = 50;
        let d = 7;
        let data: Vec<f64> = (0..n * d)
            .map(|i| ((i * 7919) % 97) as f64 / 10.0)
            .collect();
        let x = Matrix::new(n, d, data).unwrap();
        let (m, c) = mean_and_cov(&x);
        for a in 0..d {
            for b in 0..d {
                let s: f64 = x.iter_rows().map(|r| (r[a] - m[a]) * (r[b] - m[b])).sum();
                assert!((c[(a, b)] - s / (n as f64 - 1.0)).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn sqrt_psd_squares_back() {
        let s = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let (r, min) = sqrt_psd(&s);
        assert!(min > 0.0);
        let back = &r * &r;
        assert!((back - s).abs().max() < 1e-12);
    }
}
