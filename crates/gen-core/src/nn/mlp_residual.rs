//! Residual MLP block: y = x + W₂ σ(W₁ σ(x) + b₁) + b₂ (pre-activation, He et al. 2016).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::nn::activation::Activation;
use crate::nn::linear::{Init, linear};
use crate::task::Rng;

/// A residual MLP block of width `d`.
#[derive(Module, Debug)]
pub struct MlpResidualBlock {
    /// First affine map.
    pub fc1: Linear,
    /// Second affine map (zero-initialised: the block starts as the identity).
    pub fc2: Linear,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
}

/// The former name of [`MlpResidualBlock`].
#[deprecated(since = "0.1.0", note = "renamed to `MlpResidualBlock`")]
pub type ResidualBlock = MlpResidualBlock;

impl MlpResidualBlock {
    /// A width-`d` block.
    pub fn new(d: usize, activation: Activation, rng: &mut Rng, device: &Device) -> Self {
        Self {
            fc1: linear(d, d, Init::Default, rng, device),
            fc2: linear(d, d, Init::Zeros, rng, device),
            activation,
        }
    }

    /// # Shapes
    /// - `x`: `[batch, d]` → `[batch, d]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.fc1.forward(self.activation.forward(x.clone()));
        x + self.fc2.forward(self.activation.forward(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;
    use burn::tensor::TensorData;

    /// Row-major `[rows, cols]` times `[cols, out]` on the host, plus `b`.
    fn affine(x: &[f32], w: &[f32], b: &[f32], rows: usize, d: usize) -> Vec<f32> {
        let mut y = vec![0.0f32; rows * d];
        for r in 0..rows {
            for o in 0..d {
                y[r * d + o] = b[o] + (0..d).map(|i| x[r * d + i] * w[i * d + o]).sum::<f32>();
            }
        }
        y
    }

    #[test]
    fn starts_as_the_identity_and_computes_the_pre_activation_formula() {
        let (rows, d) = (3, 5);
        for dev in cpu_devices() {
            let mut block = MlpResidualBlock::new(d, Activation::Tanh, &mut rng_from_seed(1), &dev);
            let xv = host(rows * d, 2);
            let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [rows, d]), &dev);
            assert_eq!(to_vec(block.forward(x.clone())).unwrap(), xv);
            // Give fc2 non-zero weights and compare with a host computation.
            let w2 = host(d * d, 3);
            let b2 = host(d, 4);
            block.fc2.weight = burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(w2.clone(), [d, d]),
                &dev,
            ));
            block.fc2.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(b2.clone(), [d]),
                &dev,
            )));
            let w1 = to_vec(block.fc1.weight.val()).unwrap();
            let b1 = to_vec(block.fc1.bias.as_ref().unwrap().val()).unwrap();
            let tanh = |v: Vec<f32>| v.into_iter().map(f32::tanh).collect::<Vec<_>>();
            let h = affine(&tanh(xv.clone()), &w1, &b1, rows, d);
            let r = affine(&tanh(h), &w2, &b2, rows, d);
            let want: Vec<f32> = xv.iter().zip(&r).map(|(a, b)| a + b).collect();
            let got = to_vec(block.forward(x)).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{g} vs {w}");
            }
        }
    }
}
