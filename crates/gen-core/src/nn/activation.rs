//! Element-wise activations, chosen by configuration.

use burn::tensor::{Tensor, activation};

/// A hidden-layer non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// x·σ(x) (SiLU / swish).
    Silu,
    /// Leaky ReLU with slope 0.2.
    LeakyRelu,
    /// GELU (tanh-free exact form).
    Gelu,
}

impl Activation {
    /// Applies the activation.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Silu => activation::silu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.2),
            Activation::Gelu => activation::gelu(x),
        }
    }
}
