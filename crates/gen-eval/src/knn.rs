//! Blocked squared Euclidean distances and k-nearest-neighbour radii.
//!
//! Distances between a query set and a reference set are produced one block
//! of query rows at a time (at most [`BLOCK_ENTRIES`] values, 8 MiB), so a
//! 10k × 10k comparison never holds the full distance matrix. Each block is
//! `‖q‖² + ‖r‖² − 2 qᵀr` (the expansion scikit-learn's `euclidean_distances`
//! and NVlabs' precision/recall code use) with the inner products from one
//! `gemm`, clamped at 0; both sets are first shifted by the reference set's
//! column means (distances are translation invariant, and this avoids
//! cancellation for features with a large common offset). When the query and
//! reference are the same set, the self-distances are set to exactly 0.

use gen_core::Matrix;
use gen_core::numerics::linalg::gram_block;

/// Largest number of distances held at once (1 Mi values = 8 MiB).
pub(crate) const BLOCK_ENTRIES: usize = 1 << 20;

/// A matrix shifted by a common vector, with its rows' squared norms.
struct Shifted {
    data: Vec<f64>,
    norms: Vec<f64>,
    rows: usize,
}

impl Shifted {
    fn new(x: &Matrix, shift: &[f64]) -> Self {
        let d = x.cols();
        let mut data = x.as_slice().to_vec();
        let mut norms = Vec::with_capacity(x.rows());
        for row in data.chunks_exact_mut(d) {
            let mut s = 0.0;
            for (v, m) in row.iter_mut().zip(shift) {
                *v -= m;
                s += *v * *v;
            }
            norms.push(s);
        }
        Self {
            data,
            norms,
            rows: x.rows(),
        }
    }
}

/// Squared distances from every row of a query set to every row of a
/// reference set, handed out in row blocks.
pub(crate) struct DistanceBlocks {
    query: Shifted,
    reference: Option<Shifted>,
    dim: usize,
    block_entries: usize,
}

impl DistanceBlocks {
    /// Distances between `query` and `reference` rows (same column count,
    /// checked by callers).
    pub(crate) fn new(query: &Matrix, reference: &Matrix) -> Self {
        let shift = reference.column_means();
        Self {
            query: Shifted::new(query, &shift),
            reference: Some(Shifted::new(reference, &shift)),
            dim: query.cols(),
            block_entries: BLOCK_ENTRIES,
        }
    }

    /// Distances among the rows of `x` (self-distances exactly 0).
    pub(crate) fn within(x: &Matrix) -> Self {
        let shift = x.column_means();
        Self {
            query: Shifted::new(x, &shift),
            reference: None,
            dim: x.cols(),
            block_entries: BLOCK_ENTRIES,
        }
    }

    /// Calls `f(first_row, block)` for consecutive row blocks; `block` is
    /// row-major `rows × n_ref` squared distances (`n_ref` reference rows;
    /// `rows = block.len() / n_ref`).
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &[f64])) {
        let r = self.reference.as_ref().unwrap_or(&self.query);
        let same = self.reference.is_none();
        let nr = r.rows;
        let nq = self.query.rows;
        let d = self.dim;
        if nq == 0 || nr == 0 {
            return;
        }
        let block_rows = (self.block_entries / nr).clamp(1, nq);
        let mut buf = vec![0.0; block_rows * nr];
        let mut start = 0;
        while start < nq {
            let rows = block_rows.min(nq - start);
            let block = &mut buf[..rows * nr];
            let q = &self.query.data[start * d..(start + rows) * d];
            gram_block(q, rows, &r.data, nr, d, block);
            for (bi, row) in block.chunks_exact_mut(nr).enumerate() {
                let qn = self.query.norms[start + bi];
                for (v, rn) in row.iter_mut().zip(&r.norms) {
                    *v = (qn + rn - 2.0 * *v).max(0.0);
                }
                if same {
                    row[start + bi] = 0.0;
                }
            }
            f(start, block);
            start += rows;
        }
    }
}

/// Inserts `v` into the ascending buffer `top` (fixed length k) if it is
/// smaller than the current largest entry.
#[inline]
fn push_top(top: &mut [f64], v: f64) {
    let k = top.len();
    if v >= top[k - 1] {
        return;
    }
    let mut p = k - 1;
    while p > 0 && top[p - 1] > v {
        top[p] = top[p - 1];
        p -= 1;
    }
    top[p] = v;
}

/// For each row of `x`, the squared distance to its k-th nearest *other*
/// row (the row's own index is skipped, so duplicates of a row count as
/// neighbours at distance 0). Equals the `(k+1)`-th smallest distance
/// including the self-distance 0, as clovaai `prdc`'s
/// `compute_nearest_neighbour_distances` and NVlabs' `ManifoldEstimator`
/// compute it. Requires `1 ≤ k < x.rows()` (checked by callers).
pub(crate) fn kth_neighbour_sq(x: &Matrix, k: usize) -> Vec<f64> {
    let blocks = DistanceBlocks::within(x);
    let n = x.rows();
    let mut out = vec![0.0; n];
    let mut top = vec![f64::INFINITY; k];
    blocks.for_each(|start, block| {
        for (bi, row) in block.chunks_exact(n).enumerate() {
            let i = start + bi;
            top.fill(f64::INFINITY);
            for (j, &v) in row.iter().enumerate() {
                if j != i {
                    push_top(&mut top, v);
                }
            }
            out[i] = top[k - 1];
        }
    });
    out
}

/// For each query row, the squared distance to its nearest reference row and
/// that row's index (the first one on ties).
pub(crate) fn nearest_sq(query: &Matrix, reference: &Matrix) -> (Vec<f64>, Vec<usize>) {
    let blocks = DistanceBlocks::new(query, reference);
    let nr = reference.rows();
    let mut dist = vec![f64::INFINITY; query.rows()];
    let mut idx = vec![0usize; query.rows()];
    blocks.for_each(|start, block| {
        for (bi, row) in block.chunks_exact(nr).enumerate() {
            let (mut best, mut arg) = (f64::INFINITY, 0);
            for (j, &v) in row.iter().enumerate() {
                if v < best {
                    best = v;
                    arg = j;
                }
            }
            dist[start + bi] = best;
            idx[start + bi] = arg;
        }
    });
    (dist, idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_sq(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    fn pseudo(n: usize, d: usize, seed: u64) -> Matrix {
        let data = (0..n * d)
            .map(|i| (((i as u64 + 1) * (seed * 2654435761 + 97)) % 1009) as f64 / 100.0 + 50.0)
            .collect();
        Matrix::new(n, d, data).unwrap()
    }

    #[test]
    fn blocks_match_naive_distances() {
        let q = pseudo(37, 8, 1);
        let r = pseudo(29, 8, 2);
        let mut blocks = DistanceBlocks::new(&q, &r);
        blocks.block_entries = 100; // 3 rows per block: exercises the ragged last block
        let mut seen = 0;
        blocks.for_each(|start, block| {
            for (bi, row) in block.chunks_exact(29).enumerate() {
                for (j, v) in row.iter().enumerate() {
                    let want = naive_sq(q.row(start + bi), r.row(j));
                    assert!((v - want).abs() < 1e-9 * want.max(1.0), "{v} vs {want}");
                }
                seen += 1;
            }
        });
        assert_eq!(seen, 37);
    }

    #[test]
    fn within_blocks_have_exact_zero_diagonal() {
        let x = pseudo(23, 6, 3);
        let mut blocks = DistanceBlocks::within(&x);
        blocks.block_entries = 50; // 2 rows per block
        blocks.for_each(|start, block| {
            for (bi, row) in block.chunks_exact(23).enumerate() {
                let i = start + bi;
                assert_eq!(row[i], 0.0);
                for (j, v) in row.iter().enumerate() {
                    let want = naive_sq(x.row(i), x.row(j));
                    assert!((v - want).abs() < 1e-9 * want.max(1.0));
                }
            }
        });
    }

    #[test]
    fn kth_neighbour_skips_self_and_counts_duplicates() {
        let x = Matrix::from_rows(&[[0.0], [1.0], [1.0], [5.0]]).unwrap();
        assert_eq!(kth_neighbour_sq(&x, 1), vec![1.0, 0.0, 0.0, 16.0]);
        assert_eq!(kth_neighbour_sq(&x, 2), vec![1.0, 1.0, 1.0, 16.0]);
        assert_eq!(kth_neighbour_sq(&x, 3), vec![25.0, 16.0, 16.0, 25.0]);
    }

    #[test]
    fn nearest_finds_index() {
        let q = Matrix::from_rows(&[[0.1, 0.0], [4.0, 4.2]]).unwrap();
        let r = Matrix::from_rows(&[[4.0, 4.0], [0.0, 0.0], [9.0, 9.0]]).unwrap();
        let (d, i) = nearest_sq(&q, &r);
        assert_eq!(i, vec![1, 0]);
        assert!((d[0] - 0.01).abs() < 1e-12 && (d[1] - 0.04).abs() < 1e-12);
    }
}
