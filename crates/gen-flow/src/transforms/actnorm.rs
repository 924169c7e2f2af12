//! ActNorm (Kingma & Dhariwal 2018, Glow section 3.1): an affine map
//! y = x ⊙ exp(log s) + b with data-dependent initialisation, so that the
//! first batch leaves the layer (in the normalizing direction) with zero mean
//! and unit variance.
//!
//! Two layouts:
//! - per coordinate (vectors): one (log s_d, b_d) per coordinate,
//!   log|det| = Σ_d log s_d;
//! - per channel (images, as in Glow): on the first C·P coordinates, stored
//!   channel-major (`c·P + p`, P = H·W pixels), one (log s_c, b_c) per channel
//!   shared by its P pixels, log|det| = P · Σ_c log s_c; coordinates from C·P
//!   on (factored out in a multi-scale flow) are untouched. This is Glow's
//!   layout; the multi-scale image flows use it.

use gen_core::burn::module::{Module, Param};
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::{GenError, Result};

use crate::bijection::Bijection;

/// Learned scale and shift, per coordinate or per channel.
#[derive(Module, Debug)]
pub struct ActNorm {
    /// log s: `[C]` (C = D per coordinate).
    pub log_scale: Param<Tensor<1>>,
    /// b: `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Pixels P sharing each parameter (1: per coordinate).
    #[module(skip)]
    pub pixels: usize,
    /// D (≥ C·P).
    #[module(skip)]
    pub dim: usize,
}

impl ActNorm {
    /// The identity (log s = 0, b = 0) on `d` coordinates, per coordinate.
    pub fn new(d: usize, device: &Device) -> Self {
        Self::with_params(&vec![0.0; d], &vec![0.0; d], device)
    }

    /// The identity per channel: `channels` × `pixels` of `dim` coordinates.
    pub fn per_channel(
        channels: usize,
        pixels: usize,
        dim: usize,
        device: &Device,
    ) -> Result<Self> {
        Self::with_layout(
            &vec![0.0; channels],
            &vec![0.0; channels],
            pixels,
            dim,
            device,
        )
    }

    /// A per-coordinate layer with the given parameters (host values).
    pub fn with_params(log_scale: &[f32], bias: &[f32], device: &Device) -> Self {
        Self {
            log_scale: Param::from_tensor(gen_core::tensor::vec_to_tensor(log_scale, device)),
            bias: Param::from_tensor(gen_core::tensor::vec_to_tensor(bias, device)),
            pixels: 1,
            dim: log_scale.len(),
        }
    }

    /// A per-channel layer with the given parameters (C = `log_scale.len()`).
    pub fn with_layout(
        log_scale: &[f32],
        bias: &[f32],
        pixels: usize,
        dim: usize,
        device: &Device,
    ) -> Result<Self> {
        let c = log_scale.len();
        if c == 0 || pixels == 0 || c * pixels > dim || bias.len() != c {
            return Err(GenError::config(
                "ActNorm layout",
                format!("{c} channels × {pixels} pixels in dimension {dim}"),
                "the channels must be non-empty and fit in the data dimension",
                "check the image shape given to the flow",
            ));
        }
        Ok(Self {
            pixels,
            dim,
            ..Self::with_params(log_scale, bias, device)
        })
    }

    /// C.
    pub fn channels(&self) -> usize {
        self.bias.dims()[0]
    }

    /// Data-dependent initialisation from `y` (rows in this layer's output
    /// space): b = mean(y), s = std(y) per coordinate or per channel (over
    /// rows and pixels), so f⁻¹(y) = (y − b)/s is standardised.
    pub fn initialize(&mut self, y: Tensor<2>) -> Result<()> {
        let [n, d] = y.dims();
        let device = y.device();
        let v = gen_core::tensor::to_vec(y)?;
        if n < 2 {
            return Err(GenError::input(
                "ActNorm initialisation",
                format!("needs at least 2 rows, got {n}"),
                "initialise with a batch of several examples",
            ));
        }
        let (c, p) = (self.channels(), self.pixels);
        let count = (n * p) as f64;
        let mut mean = vec![0f64; c];
        let mut var = vec![0f64; c];
        for r in v.chunks(d) {
            for (k, x) in r[..c * p].iter().enumerate() {
                mean[k / p] += *x as f64 / count;
            }
        }
        for r in v.chunks(d) {
            for (k, x) in r[..c * p].iter().enumerate() {
                var[k / p] += (*x as f64 - mean[k / p]).powi(2) / count;
            }
        }
        let ls: Vec<f32> = var.iter().map(|s| (0.5 * (s + 1e-6).ln()) as f32).collect();
        let b: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
        *self = Self::with_layout(&ls, &b, p, self.dim, &device)?;
        Ok(())
    }

    /// (log s, b) broadcast to the active coordinates: `[1, C·P]` each.
    fn expanded(&self) -> (Tensor<2>, Tensor<2>) {
        let (c, p) = (self.channels(), self.pixels);
        let spread = |t: Tensor<1>| t.reshape([c, 1]).repeat_dim(1, p).reshape([1, c * p]);
        (spread(self.log_scale.val()), spread(self.bias.val()))
    }

    /// Applies `f` to the active prefix and keeps the rest.
    fn on_active(&self, x: Tensor<2>, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        let [_, d] = x.dims();
        let a = self.channels() * self.pixels;
        if a == d {
            return f(x);
        }
        let head = f(x.clone().narrow(1, 0, a));
        Tensor::cat(vec![head, x.narrow(1, a, d - a)], 1)
    }

    /// log|det ∂y/∂x| = P Σ_c log s_c, per row.
    fn logdet(&self, n: usize) -> Tensor<1> {
        (self.log_scale.val().sum() * self.pixels as f64).repeat_dim(0, n)
    }
}

impl Bijection for ActNorm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let (ls, b) = self.expanded();
        let y = self.on_active(x, |a| a * ls.exp() + b);
        Ok((y, self.logdet(n)))
    }

    fn inverse(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let (ls, b) = self.expanded();
        let x = self.on_active(y, |a| (a - b) * ls.neg().exp());
        Ok((x, self.logdet(n).neg()))
    }
}
