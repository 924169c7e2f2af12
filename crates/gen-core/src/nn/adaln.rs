//! Residual MLP blocks modulated by a conditioning vector (adaLN-Zero,
//! Peebles & Xie 2023, "Scalable Diffusion Models with Transformers"; the
//! per-token denoiser of Li et al. 2024, "Autoregressive Image Generation
//! without Vector Quantization", is a stack of them).
//!
//! For a residual stream x ∈ ℝᵂ and a condition c (e.g. a diffusion
//! timestep's embedding):
//!
//! ```text
//! (shift, scale, gate) = W_c σ(c) + b_c                    (3W values)
//! h = norm(x) ⊙ (1 + scale) + shift                        (norm: LayerNorm without affine)
//! y = x + gate ⊙ (W₂ σ(W₁ h + b₁) + b₂)
//! ```
//!
//! with σ = SiLU. W_c and b_c start at zero, so every block starts as the
//! identity whatever c is ("-Zero"), and the condition acts on every block
//! rather than only at the input.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::nn::activation::Activation;
use crate::nn::linear::{Init, linear};
use crate::nn::norm::NORM_EPSILON;
use crate::task::Rng;

/// x normalised over its last axis to zero mean and unit variance (a
/// LayerNorm without its affine map), ε = 1e-5 added to the variance.
///
/// # Shapes
/// - `x`: `[batch, d]` → `[batch, d]`
pub fn normalize_rows(x: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - x.mean_dim(1);
    let var = centred.clone().square().mean_dim(1);
    centred / var.add_scalar(NORM_EPSILON).sqrt()
}

/// `norm(x) ⊙ (1 + scale) + shift`.
///
/// # Shapes
/// - `x`, `shift`, `scale`: `[batch, d]` → `[batch, d]`
pub fn modulate(x: Tensor<2>, shift: Tensor<2>, scale: Tensor<2>) -> Tensor<2> {
    normalize_rows(x) * scale.add_scalar(1.0) + shift
}

/// One adaLN-Zero residual MLP block of width `d` conditioned on a vector
/// of width `d_cond` (module docs).
#[derive(Module, Debug)]
pub struct AdaLnMlpBlock {
    /// c ↦ (shift, scale, gate), zero-initialised.
    pub modulation: Linear,
    /// First affine map of the residual branch.
    pub fc1: Linear,
    /// Second affine map of the residual branch.
    pub fc2: Linear,
}

impl AdaLnMlpBlock {
    /// A block of width `d` conditioned on `d_cond` values, weights drawn
    /// from `rng` (modulation, fc1, fc2 in that order).
    pub fn new(d: usize, d_cond: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            modulation: linear(d_cond, 3 * d, Init::Zeros, rng, device),
            fc1: linear(d, d, Init::Default, rng, device),
            fc2: linear(d, d, Init::Default, rng, device),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, d]`, `cond`: `[batch, d_cond]` → `[batch, d]`
    pub fn forward(&self, x: Tensor<2>, cond: Tensor<2>) -> Tensor<2> {
        let m = self.modulation.forward(Activation::Silu.forward(cond));
        let [n, three_d] = m.dims();
        let d = three_d / 3;
        let shift = m.clone().slice([0..n, 0..d]);
        let scale = m.clone().slice([0..n, d..2 * d]);
        let gate = m.slice([0..n, 2 * d..3 * d]);
        let h = modulate(x.clone(), shift, scale);
        let h = self
            .fc2
            .forward(Activation::Silu.forward(self.fc1.forward(h)));
        x + gate * h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;
    use burn::module::Param;
    use burn::tensor::TensorData;

    fn silu(v: f64) -> f64 {
        v / (1.0 + (-v).exp())
    }

    /// `x W + b` on the host (row-major, `W: [d_in, d_out]`).
    fn affine(x: &[f64], w: &[f32], b: &[f32], d_in: usize, d_out: usize) -> Vec<f64> {
        (0..d_out)
            .map(|o| {
                b[o] as f64
                    + (0..d_in)
                        .map(|i| x[i] * w[i * d_out + o] as f64)
                        .sum::<f64>()
            })
            .collect()
    }

    fn set(layer: &mut Linear, w: &[f32], b: &[f32], d_in: usize, d_out: usize, dev: &Device) {
        layer.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w.to_vec(), [d_in, d_out]),
            dev,
        ));
        layer.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b.to_vec(), [d_out]),
            dev,
        )));
    }

    #[test]
    fn starts_as_the_identity_whatever_the_condition() {
        let (rows, d, dc) = (3, 6, 4);
        for dev in cpu_devices() {
            let block = AdaLnMlpBlock::new(d, dc, &mut rng_from_seed(3), &dev);
            let xv = host(rows * d, 1);
            let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [rows, d]), &dev);
            let c = Tensor::<2>::from_data(TensorData::new(host(rows * dc, 2), [rows, dc]), &dev);
            assert_eq!(to_vec(block.forward(x, c)).unwrap(), xv);
        }
    }

    /// Every output against the module docs' formula computed in f64 on the
    /// host, with non-zero modulation weights.
    #[test]
    fn computes_the_adaln_formula() {
        let (rows, d, dc) = (2, 5, 3);
        for dev in cpu_devices() {
            let mut block = AdaLnMlpBlock::new(d, dc, &mut rng_from_seed(4), &dev);
            let (wm, bm) = (host(dc * 3 * d, 5), host(3 * d, 6));
            set(&mut block.modulation, &wm, &bm, dc, 3 * d, &dev);
            let w1: Vec<f32> = to_vec(block.fc1.weight.val()).unwrap();
            let b1: Vec<f32> = to_vec(block.fc1.bias.as_ref().unwrap().val()).unwrap();
            let w2: Vec<f32> = to_vec(block.fc2.weight.val()).unwrap();
            let b2: Vec<f32> = to_vec(block.fc2.bias.as_ref().unwrap().val()).unwrap();
            let (xv, cv) = (host(rows * d, 7), host(rows * dc, 8));
            let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [rows, d]), &dev);
            let c = Tensor::<2>::from_data(TensorData::new(cv.clone(), [rows, dc]), &dev);
            let got = to_vec(block.forward(x, c)).unwrap();
            for r in 0..rows {
                let xr: Vec<f64> = xv[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                let cr: Vec<f64> = cv[r * dc..(r + 1) * dc]
                    .iter()
                    .map(|&v| silu(v as f64))
                    .collect();
                let m = affine(&cr, &wm, &bm, dc, 3 * d);
                let mean = xr.iter().sum::<f64>() / d as f64;
                let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
                let h: Vec<f64> = (0..d)
                    .map(|i| (xr[i] - mean) / (var + NORM_EPSILON).sqrt() * (1.0 + m[d + i]) + m[i])
                    .collect();
                let a: Vec<f64> = affine(&h, &w1, &b1, d, d).into_iter().map(silu).collect();
                let y = affine(&a, &w2, &b2, d, d);
                for i in 0..d {
                    let want = xr[i] + m[2 * d + i] * y[i];
                    let g = got[r * d + i] as f64;
                    assert!((g - want).abs() < 1e-4, "row {r} col {i}: {g} vs {want}");
                }
            }
        }
    }
}
