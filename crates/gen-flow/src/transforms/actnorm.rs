//! ActNorm (Kingma & Dhariwal 2018, Glow section 3.1): a per-coordinate affine map
//! y = x ⊙ exp(log s) + b, log|det| = Σ_d log s_d, with data-dependent
//! initialisation so that the first batch leaves the layer (in the
//! normalizing direction) with zero mean and unit variance per coordinate.

use gen_core::burn::module::{Module, Param};
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::{GenError, Result};

use crate::bijection::Bijection;

/// Learned per-coordinate scale and shift.
#[derive(Module, Debug)]
pub struct ActNorm {
    /// log s: `[D]`.
    pub log_scale: Param<Tensor<1>>,
    /// b: `[D]`.
    pub bias: Param<Tensor<1>>,
}

impl ActNorm {
    /// The identity (log s = 0, b = 0) on `d` coordinates.
    pub fn new(d: usize, device: &Device) -> Self {
        Self {
            log_scale: Param::from_tensor(Tensor::zeros([d], device)),
            bias: Param::from_tensor(Tensor::zeros([d], device)),
        }
    }

    /// A layer with the given parameters (host values).
    pub fn with_params(log_scale: &[f32], bias: &[f32], device: &Device) -> Self {
        Self {
            log_scale: Param::from_tensor(gen_core::tensor::vec_to_tensor(log_scale, device)),
            bias: Param::from_tensor(gen_core::tensor::vec_to_tensor(bias, device)),
        }
    }

    /// Data-dependent initialisation from `y` (rows in this layer's output
    /// space): b = mean(y), s = std(y), so f⁻¹(y) = (y − b)/s is standardised.
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
        let mut mean = vec![0f64; d];
        let mut var = vec![0f64; d];
        for r in v.chunks(d) {
            for (m, x) in mean.iter_mut().zip(r) {
                *m += *x as f64 / n as f64;
            }
        }
        for r in v.chunks(d) {
            for ((s, x), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (*x as f64 - m).powi(2) / n as f64;
            }
        }
        let ls: Vec<f32> = var.iter().map(|s| (0.5 * (s + 1e-6).ln()) as f32).collect();
        let b: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
        *self = Self::with_params(&ls, &b, &device);
        Ok(())
    }
}

impl Bijection for ActNorm {
    fn dim(&self) -> usize {
        self.bias.dims()[0]
    }

    fn forward(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let ls = self.log_scale.val();
        let y = x * ls.clone().exp().unsqueeze_dim(0) + self.bias.val().unsqueeze_dim(0);
        Ok((y, ls.sum().repeat_dim(0, n)))
    }

    fn inverse(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let ls = self.log_scale.val();
        let x = (y - self.bias.val().unsqueeze_dim(0)) * ls.clone().neg().exp().unsqueeze_dim(0);
        Ok((x, ls.sum().neg().repeat_dim(0, n)))
    }
}
