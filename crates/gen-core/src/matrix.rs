//! [`Matrix`]: the host-side, row-major `f64` table every crate exchanges.
//!
//! Data sets, samples, features and per-row scores live on the host as a
//! `Matrix`; neural models move it to a burn device with `to_tensor` (feature
//! `burn`). Building inputs on the host keeps results identical across devices.

use crate::error::{GenError, Result};

/// A dense row-major matrix of `f64`: row `i` is `data[i*cols .. (i+1)*cols]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// The contiguous part of `n` items that `rank` of `size` trains on in
/// data-parallel training ([`crate::distributed`]):
/// `[rank·n/size, (rank+1)·n/size)`. Refuses an `n` that does not split
/// evenly, because unequal shards would weight rows unequally in the
/// averaged gradient.
pub fn shard_range(n: usize, rank: usize, size: usize) -> Result<std::ops::Range<usize>> {
    if size == 0 || rank >= size {
        return Err(GenError::config(
            "rank",
            format!("{rank} of {size}"),
            "is not a rank of the world",
            "launch with mpirun -n N (N ≥ 1)",
        ));
    }
    if !n.is_multiple_of(size) {
        return Err(GenError::config(
            "--batch",
            n,
            format!("does not split evenly over {size} ranks"),
            format!(
                "use a global batch divisible by the world size, e.g. {}",
                n.div_ceil(size) * size
            ),
        ));
    }
    let per = n / size;
    Ok(rank * per..(rank + 1) * per)
}

impl Matrix {
    /// Wraps `data` as a `rows × cols` matrix; errors if the length does not match.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(GenError::shape(
                "Matrix::new",
                format!("{rows} x {cols} = {} values", rows.saturating_mul(cols)),
                format!("{} values", data.len()),
                "pass as many values as rows * cols, in row-major order",
            ));
        }
        Ok(Self { rows, cols, data })
    }

    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Builds a matrix from equally long rows; errors on ragged rows.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(GenError::shape(
                    format!("Matrix::from_rows, row {i}"),
                    format!("{cols} columns (as row 0)"),
                    format!("{} columns", r.len()),
                    "give every row the same number of columns",
                ));
            }
            data.extend_from_slice(r);
        }
        Ok(Self {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Builds a matrix from `f32` values.
    pub fn from_f32(rows: usize, cols: usize, data: &[f32]) -> Result<Self> {
        Self::new(rows, cols, data.iter().map(|&v| v as f64).collect())
    }

    /// Number of rows (examples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (dimensions).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The values in row-major order.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Mutable values in row-major order.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major values.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `i` (panics if `i >= rows`, like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over rows.
    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        // chunks_exact on zero columns would panic; a 0-column matrix has `rows` empty rows.
        (0..self.rows).map(move |i| &self.data[i * self.cols..(i + 1) * self.cols])
    }

    /// Value at `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Rank `rank`'s equal share of the rows in data-parallel training:
    /// rows `[rank·n/size, (rank+1)·n/size)`; refuses a row count that
    /// does not split evenly ([`shard_range`]).
    pub fn shard_rows(&self, rank: usize, size: usize) -> Result<Self> {
        let range = shard_range(self.rows, rank, size)?;
        self.select_rows(&range.collect::<Vec<_>>())
    }

    /// A new matrix holding the given rows, in the given order.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self> {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            if i >= self.rows {
                return Err(GenError::input(
                    "Matrix::select_rows",
                    format!("row index {i} out of range for {} rows", self.rows),
                    "select rows below the row count",
                ));
            }
            data.extend_from_slice(self.row(i));
        }
        Ok(Self {
            rows: indices.len(),
            cols: self.cols,
            data,
        })
    }

    /// Values as `f32` (for moving to a device).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    /// Errors with the first non-finite value's position, if any.
    pub fn ensure_finite(&self, context: &str) -> Result<()> {
        if let Some(pos) = self.data.iter().position(|v| !v.is_finite()) {
            let i = pos.checked_div(self.cols).unwrap_or(0);
            let j = pos.checked_rem(self.cols).unwrap_or(0);
            return Err(GenError::input(
                context,
                format!(
                    "value {} at row {i}, column {j} is not finite",
                    self.data[pos]
                ),
                "remove or impute NaN/Inf values before passing the data",
            ));
        }
        Ok(())
    }

    /// Errors unless the matrix has `cols` columns.
    pub fn ensure_cols(&self, cols: usize, context: &str) -> Result<()> {
        if self.cols != cols {
            return Err(GenError::shape(
                context,
                format!("{cols} columns"),
                format!("{} columns", self.cols),
                "pass data with the dimension the model was built/trained for",
            ));
        }
        Ok(())
    }

    /// Column means (length `cols`).
    pub fn column_means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.cols];
        for r in self.iter_rows() {
            for (a, b) in m.iter_mut().zip(r) {
                *a += b;
            }
        }
        let n = self.rows.max(1) as f64;
        m.iter_mut().for_each(|v| *v /= n);
        m
    }
}
