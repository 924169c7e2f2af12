//! Residual MLP block: y = x + W₂ σ(W₁ σ(x) + b₁) + b₂ (pre-activation, He et al. 2016).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::nn::activation::Activation;
use crate::nn::linear::{Init, linear};
use crate::task::Rng;

/// A residual block of width `d`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// First affine map.
    pub fc1: Linear,
    /// Second affine map (zero-initialised: the block starts as the identity).
    pub fc2: Linear,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
}

impl ResidualBlock {
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
