//! Host-side transforms of image data: scaling, uniform dequantization,
//! dynamic binarization, one-hot labels, and the bits/dim conversion.
//!
//! Image matrices hold raw integer grey levels `0..=levels-1` (see
//! [`crate::ImageDataset`]); `levels` is 256 for MNIST and 17 for digits 8×8.

use gen_core::{GenError, Matrix, Result, Rng};
use rand::Rng as _;

/// Checks `levels >= 2` and that every value is an integer grey level in
/// `0..=levels-1`.
fn check_levels(x: &Matrix, levels: u32, context: &str) -> Result<()> {
    if levels < 2 {
        return Err(GenError::config(
            "levels",
            levels,
            "an image needs at least 2 grey levels",
            "pass the data set's number of grey levels (256 for 8-bit images)",
        ));
    }
    let max = (levels - 1) as f64;
    if let Some(pos) = x
        .as_slice()
        .iter()
        .position(|&v| !(0.0..=max).contains(&v) || v.fract() != 0.0)
    {
        let cols = x.cols().max(1);
        return Err(GenError::input(
            context,
            format!(
                "value {} at row {}, column {} is not an integer grey level in 0..={}",
                x.as_slice()[pos],
                pos / cols,
                pos % cols,
                levels - 1
            ),
            "pass raw integer pixel values (e.g. ImageDataset::images) with the matching number of levels",
        ));
    }
    Ok(())
}

/// Scales raw grey levels to [0, 1]: x ↦ x / (levels − 1).
///
/// Errors if `levels < 2` or a value is not an integer in `0..=levels-1`.
pub fn scale_unit(x: &Matrix, levels: u32) -> Result<Matrix> {
    check_levels(x, levels, "scale_unit")?;
    let s = 1.0 / (levels - 1) as f64;
    Matrix::new(
        x.rows(),
        x.cols(),
        x.as_slice().iter().map(|v| v * s).collect(),
    )
}

/// The largest `f64` below 1.
const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

/// Uniform dequantization: x̃ = (x + u) / L with u ~ U[0, 1) drawn per value
/// from `rng`, where x ∈ {0, …, L−1} is a raw grey level and L = `levels`.
/// Every x̃ lies in [0, 1), inside its pixel's cell [x/L, (x+1)/L).
///
/// **Why.** A continuous density fitted to discrete data can put unbounded
/// density on the discrete points; adding uniform noise makes the data a
/// proper continuous distribution and turns the continuous likelihood into a
/// bound on the discrete one (Theis et al. 2016). For a density p̃ on
/// [0, 1)^D, the discrete model P(x) = ∫_{cell(x)} p̃(x̃) dx̃ has, by Jensen's
/// inequality over the cell of volume L^{−D},
///
/// ```text
/// log P(x) = log E_u[ p̃((x+u)/L) · L^{−D} ] ≥ E_u[ log p̃(x̃) ] − D · log L.
/// ```
///
/// So the discrete negative log-likelihood in bits per dimension is bounded
/// by
///
/// ```text
/// bits/dim ≤ NLL_continuous / (D · ln 2) + log₂ L,
/// ```
///
/// with NLL_continuous = −log p̃(x̃) in nats on the [0, 1) scale: the
/// "log 256 correction" (+8 bits/dim for 8-bit images).
/// `gen_eval::bits_per_dim_dequantized`
/// computes it. A model trained on data scaled differently (e.g. [−1, 1]) must
/// also add the log-Jacobian of that scaling.
pub fn dequantize(x: &Matrix, levels: u32, rng: &mut Rng) -> Result<Matrix> {
    check_levels(x, levels, "dequantize")?;
    let l = levels as f64;
    let data = x
        .as_slice()
        .iter()
        .map(|&v| {
            let u: f64 = rng.random();
            // (L−1 + u)/L can round up to 1.0 when u is within 2⁻⁴⁶ of 1
            ((v + u) / l).min(BELOW_ONE)
        })
        .collect();
    Matrix::new(x.rows(), x.cols(), data)
}

/// Dynamic binarization: each value becomes 1 with probability
/// x / (levels − 1) and 0 otherwise, independently, using `rng`. Call it again
/// (with the same, advancing `rng`) for a fresh binarization each epoch, as in
/// the binarized-MNIST literature (Salakhutdinov & Murray 2008).
pub fn binarize(x: &Matrix, levels: u32, rng: &mut Rng) -> Result<Matrix> {
    check_levels(x, levels, "binarize")?;
    let s = 1.0 / (levels - 1) as f64;
    let data = x
        .as_slice()
        .iter()
        .map(|&v| {
            let u: f64 = rng.random();
            if u < v * s { 1.0 } else { 0.0 }
        })
        .collect();
    Matrix::new(x.rows(), x.cols(), data)
}

/// One-hot encoding: an n × `num_classes` matrix with row i all zero except a
/// 1 in column `labels[i]`. Errors if a label is `>= num_classes`.
pub fn one_hot(labels: &[u8], num_classes: usize) -> Result<Matrix> {
    let mut m = Matrix::zeros(labels.len(), num_classes);
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        if l >= num_classes {
            return Err(GenError::input(
                "one_hot",
                format!("label {l} at position {i} is not below num_classes = {num_classes}"),
                "pass num_classes = (largest label) + 1, e.g. ImageDataset::num_classes()",
            ));
        }
        m.as_mut_slice()[i * num_classes + l] = 1.0;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    fn grey(rows: usize, cols: usize, levels: u32) -> Matrix {
        let data = (0..rows * cols)
            .map(|k| (k as u32 * 7 % levels) as f64)
            .collect();
        Matrix::new(rows, cols, data).unwrap()
    }

    #[test]
    fn scale_maps_extremes_to_0_and_1() {
        let x = Matrix::new(1, 3, vec![0.0, 8.0, 16.0]).unwrap();
        assert_eq!(scale_unit(&x, 17).unwrap().as_slice(), &[0.0, 0.5, 1.0]);
        let e = scale_unit(&x, 16).unwrap_err().to_string();
        assert!(
            e.contains("value 16 at row 0, column 2") && e.contains("0..=15"),
            "{e}"
        );
        assert!(scale_unit(&x, 1).is_err());
        let nan = Matrix::new(1, 1, vec![f64::NAN]).unwrap();
        assert!(scale_unit(&nan, 256).is_err());
        let frac = Matrix::new(1, 1, vec![0.5]).unwrap();
        assert!(scale_unit(&frac, 256).is_err());
    }

    #[test]
    fn dequantized_values_stay_in_their_cells() {
        let levels = 256;
        let x = grey(200, 50, levels);
        let mut rng = rng_from_seed(1);
        let d = dequantize(&x, levels, &mut rng).unwrap();
        let l = levels as f64;
        for (xt, xv) in d.as_slice().iter().zip(x.as_slice()) {
            assert!((0.0..1.0).contains(xt));
            // x̃·L ∈ [x, x+1): floor recovers the grey level
            assert_eq!((xt * l).floor(), *xv);
        }
        // the noise u = x̃·L − x is U[0,1): mean 1/2, variance 1/12
        let u: Vec<f64> = d
            .as_slice()
            .iter()
            .zip(x.as_slice())
            .map(|(t, v)| t * l - v)
            .collect();
        let n = u.len() as f64;
        let mean = u.iter().sum::<f64>() / n;
        let var = u.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.003, "{var}");
        // the top level never reaches 1.0
        let top = Matrix::new(1, 1, vec![255.0]).unwrap();
        assert!(dequantize(&top, 256, &mut rng).unwrap().as_slice()[0] < 1.0);
    }

    #[test]
    fn dequantize_is_seeded() {
        let x = grey(3, 4, 17);
        let a = dequantize(&x, 17, &mut rng_from_seed(5)).unwrap();
        let b = dequantize(&x, 17, &mut rng_from_seed(5)).unwrap();
        let c = dequantize(&x, 17, &mut rng_from_seed(6)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn binarization_mean_matches_scaled_mean() {
        let levels = 256;
        let x = grey(300, 100, levels);
        let mut rng = rng_from_seed(2);
        let b = binarize(&x, levels, &mut rng).unwrap();
        assert!(b.as_slice().iter().all(|&v| v == 0.0 || v == 1.0));
        let s = scale_unit(&x, levels).unwrap();
        let n = s.as_slice().len() as f64;
        let ms = s.as_slice().iter().sum::<f64>() / n;
        let mb = b.as_slice().iter().sum::<f64>() / n;
        // sd of the mean ≤ 0.5/√n ≈ 0.0029
        assert!((ms - mb).abs() < 0.012, "{ms} vs {mb}");
        // extremes are deterministic
        let ends = Matrix::new(1, 2, vec![0.0, 255.0]).unwrap();
        assert_eq!(
            binarize(&ends, 256, &mut rng).unwrap().as_slice(),
            &[0.0, 1.0]
        );
        // fresh each call
        let b2 = binarize(&x, levels, &mut rng).unwrap();
        assert_ne!(b, b2);
    }

    #[test]
    fn one_hot_rows() {
        let m = one_hot(&[2, 0, 1], 3).unwrap();
        assert_eq!(m.as_slice(), &[0., 0., 1., 1., 0., 0., 0., 1., 0.]);
        let e = one_hot(&[0, 5], 3).unwrap_err().to_string();
        assert!(e.contains("label 5 at position 1"), "{e}");
    }
}
