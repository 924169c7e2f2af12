//! 2-D convolutions initialised from the host RNG, so every backend starts from
//! the same weights (burn's `Conv2dConfig::init` draws from per-backend device
//! RNGs).
//!
//! `y[o, i, j] = b[o] + Σ_c Σ_{u,v} W[o, c, u, v] · x[c, s·i + u − p, s·j + v − p]`
//! (zero padding `p`, stride `s`), burn's [`Conv2d`] with weights of shape
//! `[c_out, c_in, k, k]`.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng as _;

use crate::nn::linear::Init;
use crate::task::Rng;

/// Shape of a square convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side `k`.
    pub kernel: usize,
    /// Stride `s` (≥ 1).
    pub stride: usize,
    /// Symmetric zero padding `p` on every side.
    pub padding: usize,
}

impl ConvShape {
    /// A stride-1 `k × k` convolution padded to keep the spatial size (`p = ⌊k/2⌋`).
    pub fn same(c_in: usize, c_out: usize, kernel: usize) -> Self {
        Self {
            c_in,
            c_out,
            kernel,
            stride: 1,
            padding: kernel / 2,
        }
    }

    /// Output side for an input side `n`: `⌊(n + 2p − k)/s⌋ + 1` (0 if the kernel does not fit).
    pub fn out_size(&self, n: usize) -> usize {
        (n + 2 * self.padding)
            .checked_sub(self.kernel)
            .map_or(0, |d| d / self.stride.max(1) + 1)
    }
}

/// The convolution of `shape` with weights `[c_out, c_in, k, k]`.
///
/// [`Init::Default`] is PyTorch's `nn.Conv2d` default (Kaiming-uniform with
/// `a = √5`): `W, b ~ U(−1/√fan_in, 1/√fan_in)` with `fan_in = c_in · k²`.
pub fn conv2d(shape: ConvShape, init: Init, rng: &mut Rng, device: &Device) -> Conv2d {
    let ConvShape {
        c_in,
        c_out,
        kernel,
        stride,
        padding,
    } = shape;
    let fan_in = (c_in * kernel * kernel).max(1);
    let bound = 1.0 / (fan_in as f32).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        match init {
            Init::Default => (0..n).map(|_| rng.random_range(-bound..bound)).collect(),
            Init::Zeros => vec![0.0; n],
        }
    };
    let w = draw(c_out * c_in * kernel * kernel);
    let b = draw(c_out);
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [c_out, c_in, kernel, kernel]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [c_out]),
            device,
        ))),
        stride: [stride.max(1); 2],
        kernel_size: [kernel; 2],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(padding, padding, padding, padding),
    }
}
