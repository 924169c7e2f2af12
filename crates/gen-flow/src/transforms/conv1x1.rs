//! Glow's invertible 1×1 convolution (Kingma & Dhariwal 2018, section 3.2).
//!
//! On an image with C channels and P = H·W pixels, stored channel-major in a
//! flat row (`c·P + p`), the layer mixes the channels of every pixel with one
//! C×C matrix W (LU-parameterised, see [`LuLinear`]):
//!
//! ```text
//! z[·, p] = W y[·, p]   for every pixel p,   log|det| = P · log|det W| = P · Σ_c log|s_c|
//! ```
//!
//! In a multi-scale flow the layer acts on the active prefix (the first C·P
//! coordinates) and leaves the factored-out coordinates after it untouched.

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::{GenError, Result, Rng};

use crate::bijection::Bijection;
use crate::transforms::LuLinear;

/// An invertible 1×1 convolution over the first `channels · pixels` coordinates.
#[derive(Module, Debug)]
pub struct Conv1x1 {
    /// The C×C channel-mixing matrix.
    pub mix: LuLinear,
    /// C.
    #[module(skip)]
    pub channels: usize,
    /// P = H·W.
    #[module(skip)]
    pub pixels: usize,
    /// D (≥ C·P; coordinates from C·P on are untouched).
    #[module(skip)]
    pub dim: usize,
}

impl Conv1x1 {
    /// A random rotation-like start (as Glow) on `channels` × `pixels` of `dim` coordinates.
    pub fn new(
        channels: usize,
        pixels: usize,
        dim: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        if channels == 0 || pixels == 0 || channels * pixels > dim {
            return Err(GenError::config(
                "1x1 convolution",
                format!("{channels} channels × {pixels} pixels in dimension {dim}"),
                "the image must be non-empty and fit in the data dimension",
                "check the image shape given to the flow",
            ));
        }
        Ok(Self {
            mix: LuLinear::new(channels, 0.0, rng, device),
            channels,
            pixels,
            dim,
        })
    }

    /// Applies a `[n·P, C] → [n·P, C]` map to every pixel of the active prefix.
    fn per_pixel(
        &self,
        x: Tensor<2>,
        f: impl Fn(Tensor<2>) -> Result<(Tensor<2>, Tensor<1>)>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let (c, p) = (self.channels, self.pixels);
        let active = x.clone().narrow(1, 0, c * p);
        let rows = active
            .reshape([n, c, p])
            .swap_dims(1, 2)
            .reshape([n * p, c]);
        let (y, ld) = f(rows)?;
        let y = y.reshape([n, p, c]).swap_dims(1, 2).reshape([n, c * p]);
        let ld = ld.reshape([n, p]).sum_dim(1).squeeze_dim(1);
        let y = if c * p < self.dim {
            Tensor::cat(vec![y, x.narrow(1, c * p, self.dim - c * p)], 1)
        } else {
            y
        };
        Ok((y, ld))
    }
}

impl Bijection for Conv1x1 {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.per_pixel(x, |r| self.mix.forward(r, context))
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.per_pixel(y, |r| self.mix.inverse(r, context))
    }
}
