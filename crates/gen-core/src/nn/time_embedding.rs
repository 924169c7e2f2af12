//! Sinusoidal embedding of a continuous time (diffusion time, ODE time).
//!
//! e(t)_i = sin(t · ω_i), e(t)_{h+i} = cos(t · ω_i) for i < h = dim/2,
//! ω_i = max_period^(−i/h) (Vaswani et al. 2017; DDPM's timestep embedding),
//! for float t: the sines fill the first half, the cosines the second.
//!
//! Token positions and vocabularies use [`crate::nn::TokenEmbedding`] instead.

use burn::tensor::{Device, Tensor, TensorData};

/// Embeds times `t` (`[batch]`) into `[batch, 2·⌊dim/2⌋]` (pass an even `dim`).
///
/// # Shapes
/// - `t`: `[batch]` → `[batch, dim]`
pub fn sinusoidal_time_embedding(t: Tensor<1>, dim: usize, max_period: f64) -> Tensor<2> {
    let half = (dim / 2).max(1);
    let device: Device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|i| (max_period.powf(-(i as f64) / half as f64)) as f32)
        .collect();
    let freqs = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device);
    let args = t.unsqueeze_dim::<2>(1) * freqs.unsqueeze_dim(0);
    Tensor::cat(vec![args.clone().sin(), args.cos()], 1)
}

/// The former name of [`sinusoidal_time_embedding`].
#[deprecated(since = "0.1.0", note = "renamed to `sinusoidal_time_embedding`")]
pub fn sinusoidal_embedding(t: Tensor<1>, dim: usize, max_period: f64) -> Tensor<2> {
    sinusoidal_time_embedding(t, dim, max_period)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::cpu_devices;
    use crate::tensor::{to_vec, vec_to_tensor};

    /// Every entry against sin/cos computed in f64 on the host, at t = 0, a
    /// fractional t and a large diffusion step.
    #[test]
    fn matches_the_formula_entry_by_entry() {
        let ts = [0.0f32, 0.37, 999.0];
        let (dim, max_period) = (8usize, 10_000.0f64);
        for dev in cpu_devices() {
            let e = sinusoidal_time_embedding(vec_to_tensor(&ts, &dev), dim, max_period);
            assert_eq!(e.dims(), [3, dim]);
            let e = to_vec(e).unwrap();
            for (r, &t) in ts.iter().enumerate() {
                for i in 0..dim / 2 {
                    let w = max_period.powf(-(i as f64) / (dim / 2) as f64);
                    let a = t as f64 * w;
                    // f32 argument t·ω rounds twice (relative 6e-8 each): ~1.2e-4 at 999.
                    let tol = 1e-6 + 3e-7 * a.abs();
                    assert!(
                        (e[r * dim + i] as f64 - a.sin()).abs() < tol,
                        "sin t={t} i={i}"
                    );
                    assert!((e[r * dim + dim / 2 + i] as f64 - a.cos()).abs() < tol);
                }
            }
            // t = 0: sines 0, cosines 1.
            assert!(e[..dim / 2].iter().all(|&x| x == 0.0));
            assert!(e[dim / 2..dim].iter().all(|&x| x == 1.0));
        }
    }

    #[test]
    #[allow(deprecated)]
    fn the_old_name_gives_the_same_embedding() {
        let dev = &cpu_devices()[0];
        let t = vec_to_tensor(&[0.5, 2.0], dev);
        let new = to_vec(sinusoidal_time_embedding(t.clone(), 6, 100.0)).unwrap();
        let old = to_vec(sinusoidal_embedding(t, 6, 100.0)).unwrap();
        assert_eq!(new, old);
    }
}
