//! Coupling layers: RealNVP's affine coupling and NICE's additive coupling.
//!
//! With mask b (1 = conditioning coordinate) and a conditioner network NN
//! (Dinh et al. 2015, 2017):
//!
//! ```text
//! affine:   y = b⊙x + (1−b)⊙(x ⊙ exp(s) + t),  (s, t) = NN(b⊙x [, c]) ⊙ (1−b)
//!           log|det ∂y/∂x| = Σ_d (1−b_d) s_d
//! additive: y = x + (1−b)⊙t,                   log|det| = 0 (volume preserving)
//! ```
//!
//! The Jacobian is triangular (after reordering) because the conditioner
//! sees only the coordinates it leaves unchanged, so the inverse is
//! x = b⊙y + (1−b)⊙(y − t)⊙exp(−s) with (s, t) computed from b⊙y = b⊙x.
//! Optionally s is soft-clamped, s = c·tanh(s̃/c), which keeps every map finite.
//! The conditioner's last layer starts at zero, so each layer starts as the
//! identity map.

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::{Result, Rng};
use serde::{Deserialize, Serialize};

use crate::bijection::{Bijection, const_row, row_sum, zero_logdet};

/// Affine (RealNVP) or additive (NICE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouplingKind {
    /// y = x·exp(s) + t on the transformed coordinates.
    Affine,
    /// y = x + t on the transformed coordinates.
    Additive,
}

/// A coupling layer with a fixed mask and an MLP conditioner.
#[derive(Module, Debug)]
pub struct Coupling {
    /// Conditioner: `[b⊙x, context] → [s, t]` (affine, 2D outputs) or `t` (additive, D outputs).
    pub net: Mlp,
    /// The mask b as a `[1, D]` row (1 = conditioning).
    pub mask: Tensor<2>,
    /// Affine or additive.
    #[module(skip)]
    pub kind: CouplingKind,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Context width C (0 for an unconditional layer).
    #[module(skip)]
    pub context_dim: usize,
    /// Soft clamp of the log-scale, s = c·tanh(s̃/c) (None: raw s̃, as normflows).
    /// It keeps exp(s) finite far from the data, where a ReLU conditioner
    /// extrapolates linearly.
    #[module(skip)]
    pub scale_clamp: Option<f64>,
}

impl Coupling {
    /// A coupling layer on `mask.len()` coordinates; the conditioner has the
    /// given hidden widths and, with `zero_last`, a zero-initialised last
    /// layer (identity start).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: CouplingKind,
        mask: &[f32],
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let dim = mask.len();
        let d_out = match kind {
            CouplingKind::Affine => 2 * dim,
            CouplingKind::Additive => dim,
        };
        let net = MlpConfig {
            d_in: dim + context_dim,
            hidden: hidden.to_vec(),
            d_out,
            activation,
            zero_last,
        }
        .init(rng, device)?;
        Ok(Self {
            net,
            mask: const_row(mask, device),
            kind,
            dim,
            context_dim,
            scale_clamp: None,
        })
    }

    /// The same layer with log-scales soft-clamped to (−c, c).
    pub fn with_scale_clamp(mut self, c: Option<f64>) -> Self {
        self.scale_clamp = c;
        self
    }

    /// (s, t) for the transformed coordinates, zero on the conditioning ones.
    fn params(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Option<Tensor<2>>, Tensor<2>) {
        let keep = self.mask.clone();
        let free = keep.clone().neg() + 1.0;
        let xb = x * keep;
        let input = match context {
            Some(c) if self.context_dim > 0 => Tensor::cat(vec![xb, c.clone()], 1),
            _ => xb,
        };
        let h = self.net.forward(input);
        match self.kind {
            CouplingKind::Affine => {
                let s = h.clone().narrow(1, 0, self.dim);
                let s = match self.scale_clamp {
                    Some(c) => (s / c).tanh() * c,
                    None => s,
                } * free.clone();
                let t = h.narrow(1, self.dim, self.dim) * free;
                (Some(s), t)
            }
            CouplingKind::Additive => (None, h * free),
        }
    }
}

impl Bijection for Coupling {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let (s, t) = self.params(x.clone(), context);
        Ok(match s {
            Some(s) => (x * s.clone().exp() + t, row_sum(s)),
            None => (x + t, zero_logdet(n, &self.mask.device())),
        })
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let (s, t) = self.params(y.clone(), context);
        Ok(match s {
            Some(s) => ((y - t) * s.clone().neg().exp(), row_sum(s).neg()),
            None => (y - t, zero_logdet(n, &self.mask.device())),
        })
    }
}
