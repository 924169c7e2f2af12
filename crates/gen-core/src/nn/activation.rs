//! Element-wise activations, chosen by configuration.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, activation};

/// A hidden-layer non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x) (computed as 2σ(2x) − 1, [`super::ops::tanh`]).
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
            Activation::Tanh => super::ops::tanh(x),
            Activation::Silu => activation::silu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.2),
            Activation::Gelu => activation::gelu(x),
        }
    }

    /// σ'(pre), given the pre-activation and the activation's value
    /// σ(pre) (forward-mode derivatives: Jacobian-vector products through
    /// an MLP, the trace of a CNF or of a diffusion model's ODE).
    pub fn derivative<const D: usize>(self, pre: Tensor<D>, post: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Tanh => post.square().neg() + 1.0,
            Activation::Relu => pre.greater_elem(0.0).float(),
            Activation::LeakyRelu => pre.greater_elem(0.0).float() * 0.8 + 0.2,
            Activation::Silu => {
                // d/dx x σ(x) = σ(x) (1 + x (1 − σ(x)))
                let s = sigmoid(pre.clone());
                s.clone() * ((s.neg() + 1.0) * pre + 1.0)
            }
            Activation::Gelu => {
                // d/dx x Φ(x) = Φ(x) + x φ(x)
                let cdf = ((pre.clone() / std::f64::consts::SQRT_2).erf() + 1.0) * 0.5;
                let pdf = (pre.clone().square() * -0.5).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + pre * pdf
            }
        }
    }
}
