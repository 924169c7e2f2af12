//! Input validation shared by every metric: each failure is a [`GenError`]
//! that names the argument, the problem and the fix.

use gen_core::{GenError, Matrix, Result};

/// Errors unless `x` has at least `min_rows` rows, at least one column and
/// only finite values.
pub(crate) fn features(x: &Matrix, ctx: &str, what: &str, min_rows: usize) -> Result<()> {
    if x.cols() == 0 {
        return Err(GenError::shape(
            format!("{ctx}: {what}"),
            "at least 1 column (feature dimension)",
            format!("{} x 0", x.rows()),
            "pass feature vectors as rows of a matrix with one column per feature",
        ));
    }
    if x.rows() < min_rows {
        return Err(GenError::shape(
            format!("{ctx}: {what}"),
            format!("at least {min_rows} rows (samples)"),
            format!("{} rows", x.rows()),
            format!("pass at least {min_rows} samples of {what}"),
        ));
    }
    x.ensure_finite(&format!("{ctx}: {what}"))
}

/// Errors unless `a` and `b` have the same number of columns.
pub(crate) fn same_dim(
    a: &Matrix,
    b: &Matrix,
    ctx: &str,
    a_name: &str,
    b_name: &str,
) -> Result<()> {
    if a.cols() != b.cols() {
        return Err(GenError::shape(
            ctx,
            format!("{b_name} with {} columns (as {a_name})", a.cols()),
            format!("{} columns", b.cols()),
            format!(
                "compute {a_name} and {b_name} features with the same extractor so they share one dimension"
            ),
        ));
    }
    Ok(())
}

/// Errors unless `v` has at least `min_len` values, all finite.
pub(crate) fn finite_slice(v: &[f64], ctx: &str, what: &str, min_len: usize) -> Result<()> {
    if v.len() < min_len {
        return Err(GenError::shape(
            format!("{ctx}: {what}"),
            format!("at least {min_len} values"),
            format!("{} values", v.len()),
            format!("pass at least {min_len} values of {what}"),
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(GenError::input(
            format!("{ctx}: {what}"),
            format!("value {} at index {i} is not finite", v[i]),
            "remove or fix NaN/Inf values before computing the metric",
        ));
    }
    Ok(())
}

/// Errors unless two slices that pair up element by element have equal length.
pub(crate) fn same_len(a: &[f64], b: &[f64], ctx: &str, a_name: &str, b_name: &str) -> Result<()> {
    if a.len() != b.len() {
        return Err(GenError::shape(
            ctx,
            format!(
                "{b_name} with {} values (one per entry of {a_name})",
                a.len()
            ),
            format!("{} values", b.len()),
            format!("pass {a_name} and {b_name} for the same samples, in the same order"),
        ));
    }
    Ok(())
}

/// Errors unless `v` is finite and strictly positive.
pub(crate) fn positive(v: f64, field: &str, fix: &str) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return Err(GenError::config(
            field,
            v,
            "must be a finite number > 0",
            fix,
        ));
    }
    Ok(())
}
