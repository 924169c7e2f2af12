//! Input checks and batching shared by the models of the crate (VAE, VQ-VAE).

use gen_core::{GenError, Matrix, Result};

use crate::config::Likelihood;

/// At most this many (example, importance sample) pairs go through the
/// decoder at once when scoring; larger K is processed in chunks.
pub const SCORE_BUDGET: usize = 16_384;

/// Errors unless `x` has `d_in` columns, at least one row, finite values and
/// (Bernoulli decoder) values in [0, 1]; messages say how to fix the input.
pub fn check_images(x: &Matrix, d_in: usize, likelihood: Likelihood, context: &str) -> Result<()> {
    if x.cols() != d_in {
        let side = (x.cols() as f64).sqrt().round() as usize;
        let img = if side * side == x.cols() {
            format!(" ({side}x{side} images)")
        } else {
            String::new()
        };
        return Err(GenError::shape(
            context,
            format!("{} values per row (the model's input dimension)", d_in),
            format!("{} values per row{img}", x.cols()),
            "pass images of the size the model was trained on, flattened row-major",
        ));
    }
    if x.rows() == 0 {
        return Err(GenError::input(
            context,
            "no rows",
            "pass at least one example",
        ));
    }
    x.ensure_finite(context)?;
    if likelihood == Likelihood::Bernoulli
        && let Some(p) = x.first_outside_unit_interval()
    {
        return Err(GenError::input(
            context,
            format!(
                "value {} at row {}, column {} is outside [0, 1]",
                x.as_slice()[p],
                p / x.cols(),
                p % x.cols()
            ),
            "a Bernoulli decoder models binary pixels: scale to [0, 1] and binarize (gen_data::transforms::binarize)",
        ));
    }
    Ok(())
}

/// Consecutive row indices in chunks of at most `size`.
pub(crate) fn row_chunks(n: usize, size: usize) -> Vec<Vec<usize>> {
    let size = size.max(1);
    (0..n)
        .step_by(size)
        .map(|s| (s..(s + size).min(n)).collect())
        .collect()
}
