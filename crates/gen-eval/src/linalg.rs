//! Dense linear-algebra helpers: views of [`Matrix`] as nalgebra matrices
//! (products run through nalgebra's `gemm`, which hands dynamic `f64`
//! products to `matrixmultiply`), column means and covariances, and the
//! symmetric matrix square root used by the Fréchet distance.

use gen_core::Matrix;
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, Dyn, SymmetricEigen};

/// `data` (row-major `rows × cols`) as an nalgebra view without copying.
pub(crate) fn row_major(data: &[f64], rows: usize, cols: usize) -> DMatrixView<'_, f64, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(data, rows, cols, cols, 1)
}

/// The transpose of row-major `rows × cols` data, i.e. a `cols × rows` view.
pub(crate) fn row_major_t(
    data: &[f64],
    rows: usize,
    cols: usize,
) -> DMatrixView<'_, f64, Dyn, Dyn> {
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
pub(crate) fn gram_block(
    a: &[f64],
    a_rows: usize,
    b: &[f64],
    b_rows: usize,
    d: usize,
    out: &mut [f64],
) {
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
pub(crate) fn mean_and_cov(x: &Matrix) -> (Vec<f64>, DMatrix<f64>) {
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
pub(crate) fn symmetrize(m: DMatrix<f64>) -> DMatrix<f64> {
    let t = m.transpose();
    (m + t) * 0.5
}

/// Eigenvalues (ascending order not guaranteed) and eigenvectors of the
/// symmetric matrix `m`.
pub(crate) fn sym_eigen(m: DMatrix<f64>) -> SymmetricEigen<f64, Dyn> {
    SymmetricEigen::new(m)
}

/// Square root of a symmetric positive semi-definite matrix:
/// `√S = V diag(√max(λᵢ, 0)) Vᵀ` from `S = V diag(λ) Vᵀ`. Also returns the
/// smallest eigenvalue of `S` (before clamping) so callers can warn.
pub(crate) fn sqrt_psd(s: &DMatrix<f64>) -> (DMatrix<f64>, f64) {
    let eig = sym_eigen(s.clone());
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
pub(crate) fn trace_sqrt_product(s1: &DMatrix<f64>, s2: &DMatrix<f64>) -> (f64, f64, f64) {
    let (r1, min1) = sqrt_psd(s1);
    let m = symmetrize(&r1 * s2 * &r1);
    let eig = sym_eigen(m);
    let min_m = eig
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let tr = eig.eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    (tr, min1, min_m)
}

/// Mean and population standard deviation (ddof 0, `np.std`).
pub(crate) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Mean and standard error of the mean (sample std with ddof 1 over `√n`;
/// 0 for a single value).
pub(crate) fn mean_stderr(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

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
