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
    /// What checks the values already passed; rows selected from a checked
    /// matrix inherit it, so a training batch drawn every step from a data
    /// set validated once is not scanned again every step.
    #[serde(skip)]
    checked: Checked,
}

/// Facts about a matrix's values established by a full scan. Not part of
/// the matrix's value: equal matrices compare equal whatever was checked.
#[derive(Debug, Default)]
struct Checked {
    finite: std::sync::atomic::AtomicBool,
    unit_interval: std::sync::atomic::AtomicBool,
}

impl Checked {
    fn get(flag: &std::sync::atomic::AtomicBool) -> bool {
        flag.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(flag: &std::sync::atomic::AtomicBool) {
        flag.store(true, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Clone for Checked {
    fn clone(&self) -> Self {
        Self {
            finite: Self::get(&self.finite).into(),
            unit_interval: Self::get(&self.unit_interval).into(),
        }
    }
}

impl PartialEq for Checked {
    fn eq(&self, _: &Self) -> bool {
        true
    }
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
        Ok(Self {
            rows,
            cols,
            data,
            checked: Checked::default(),
        })
    }

    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
            checked: Checked::default(),
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
            checked: Checked::default(),
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
        // The caller may write anything.
        self.checked = Checked::default();
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
            // A subset of checked values is checked.
            checked: self.checked.clone(),
        })
    }

    /// Values as `f32` (for moving to a device).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    /// Errors with the first non-finite value's position, if any.
    /// Scans once: a matrix that passed (or whose rows were selected from
    /// one that passed) is not scanned again.
    pub fn ensure_finite(&self, context: &str) -> Result<()> {
        if Checked::get(&self.checked.finite) {
            return Ok(());
        }
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
        Checked::set(&self.checked.finite);
        Ok(())
    }

    /// The position of the first value outside [0, 1] (NaN included), if
    /// any; like [`ensure_finite`](Self::ensure_finite), remembered once
    /// every value is inside.
    pub fn first_outside_unit_interval(&self) -> Option<usize> {
        if Checked::get(&self.checked.unit_interval) {
            return None;
        }
        let pos = self.data.iter().position(|v| !(0.0..=1.0).contains(v));
        if pos.is_none() {
            Checked::set(&self.checked.unit_interval);
        }
        pos
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered checks never hide a bad value: writing through
    /// `as_mut_slice` forgets them, selections keep only what holds for
    /// their rows, and they do not change equality or serialisation.
    #[test]
    fn remembered_checks_are_forgotten_when_values_change() {
        let mut m = Matrix::new(3, 2, vec![0.0, 1.0, 0.5, 0.25, 1.0, 0.0]).unwrap();
        assert!(m.ensure_finite("m").is_ok());
        assert_eq!(m.first_outside_unit_interval(), None);
        let batch = m.select_rows(&[2, 0]).unwrap();
        assert!(batch.ensure_finite("batch").is_ok());
        assert_eq!(batch.first_outside_unit_interval(), None);

        m.as_mut_slice()[3] = f64::NAN;
        let e = m.ensure_finite("m").unwrap_err().to_string();
        assert!(e.contains("row 1, column 1"), "{e}");
        assert_eq!(m.first_outside_unit_interval(), Some(3));
        m.as_mut_slice()[3] = 2.0;
        assert!(m.ensure_finite("m").is_ok());
        assert_eq!(m.first_outside_unit_interval(), Some(3));
        // Rows selected from an unchecked matrix are scanned themselves.
        assert_eq!(
            m.select_rows(&[1]).unwrap().first_outside_unit_interval(),
            Some(1)
        );

        let fresh = Matrix::new(2, 2, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
        let checked = fresh.clone();
        checked.ensure_finite("c").unwrap();
        assert_eq!(fresh, checked);
        let json = serde_json::to_string(&checked).unwrap();
        let back: Matrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, checked);
    }
}
