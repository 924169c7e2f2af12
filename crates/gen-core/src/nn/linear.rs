//! Linear layers initialised from the host RNG, so every backend starts from
//! the same weights (burn's own initialisers use per-backend device RNGs).

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng as _;

use crate::task::Rng;

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: W, b ~ U(−1/√fan_in, 1/√fan_in).
    Default,
    /// All zeros (e.g. the last layer of a flow conditioner, so the flow starts at identity).
    Zeros,
}

/// `y = x W + b` with `W: [d_in, d_out]`, initialised per `init` from `rng`.
pub fn linear(d_in: usize, d_out: usize, init: Init, rng: &mut Rng, device: &Device) -> Linear {
    let bound = 1.0 / (d_in.max(1) as f32).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        match init {
            Init::Default => (0..n).map(|_| rng.random_range(-bound..bound)).collect(),
            Init::Zeros => vec![0.0; n],
        }
    };
    let w = draw(d_in * d_out);
    let b = draw(d_out);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}
