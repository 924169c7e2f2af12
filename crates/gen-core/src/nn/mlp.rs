//! Multi-layer perceptron: h₀ = x, hᵢ = σ(hᵢ₋₁ Wᵢ + bᵢ), y = h_{L−1} W_L + b_L.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::error::{GenError, Result};
use crate::nn::activation::Activation;
use crate::nn::linear::{Init, linear};
use crate::task::Rng;

/// Shape and initialisation of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpConfig {
    /// Input width.
    pub d_in: usize,
    /// Hidden widths, e.g. `[64, 64]`.
    pub hidden: Vec<usize>,
    /// Output width.
    pub d_out: usize,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Zero-initialise the output layer (flows then start at the identity map).
    pub zero_last: bool,
}

impl MlpConfig {
    /// Builds the MLP with weights drawn from `rng`.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<Mlp> {
        if self.d_in == 0 || self.d_out == 0 || self.hidden.contains(&0) {
            return Err(GenError::config(
                "mlp widths",
                format!("{} -> {:?} -> {}", self.d_in, self.hidden, self.d_out),
                "every layer needs at least one unit",
                "give positive input, hidden and output widths",
            ));
        }
        let mut widths = vec![self.d_in];
        widths.extend(&self.hidden);
        widths.push(self.d_out);
        let n = widths.len() - 1;
        let layers = (0..n)
            .map(|i| {
                let init = if i + 1 == n && self.zero_last {
                    Init::Zeros
                } else {
                    Init::Default
                };
                linear(widths[i], widths[i + 1], init, rng, device)
            })
            .collect();
        Ok(Mlp {
            layers,
            activation: self.activation,
        })
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The affine layers, input to output.
    pub layers: Vec<Linear>,
    /// Hidden activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[batch, d_in]` → `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i + 1 < n {
                h = self.activation.forward(h);
            }
        }
        h
    }
}
