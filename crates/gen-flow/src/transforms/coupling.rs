//! Coupling layers: RealNVP's affine coupling and NICE's additive coupling.
//!
//! The coordinates split into a conditioning set c, a transformed set τ and
//! (in multi-scale flows) a set already factored out, left untouched
//! ([`Split`]). With a conditioner network NN (Dinh et al. 2015, 2017):
//!
//! ```text
//! affine:   y_c = x_c,  y_τ = x_τ ⊙ exp(s) + t,  (s, t) = NN(x_c [, context])
//!           log|det ∂y/∂x| = Σ_{d∈τ} s_d
//! additive: y_c = x_c,  y_τ = x_τ + t,           log|det| = 0 (volume preserving)
//! ```
//!
//! The Jacobian is triangular (after reordering) because the conditioner
//! sees only the coordinates it leaves unchanged, so the inverse is
//! x_τ = (y_τ − t) ⊙ exp(−s) with (s, t) computed from y_c = x_c.
//! Optionally s is soft-clamped, s = c·tanh(s̃/c), which keeps every map finite,
//! or mapped as in Glow, exp(−s) = σ(s̃ + 2): the normalizing direction then
//! only contracts the transformed coordinates (Kingma & Dhariwal 2018, code).
//! The conditioner's last layer starts at zero, so each layer starts as the
//! identity map.

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::{Result, Rng};
use serde::{Deserialize, Serialize};

use crate::bijection::{Bijection, index_tensor, row_sum, zero_logdet};
use crate::masks::Split;

/// Affine (RealNVP) or additive (NICE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouplingKind {
    /// y = x·exp(s) + t on the transformed coordinates.
    Affine,
    /// y = x + t on the transformed coordinates.
    Additive,
}

/// A coupling layer with a fixed [`Split`] and an MLP conditioner.
#[derive(Module, Debug)]
pub struct Coupling {
    /// Conditioner: `[x_c, context] → [s, t]` (affine, 2|τ| outputs) or `t` (additive, |τ| outputs).
    pub net: Mlp,
    /// Affine or additive.
    #[module(skip)]
    pub kind: CouplingKind,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Conditioning coordinates c.
    #[module(skip)]
    pub cond: Vec<usize>,
    /// Transformed coordinates τ.
    #[module(skip)]
    pub trans: Vec<usize>,
    /// Untouched coordinates.
    #[module(skip)]
    pub rest: Vec<usize>,
    /// Column order restoring 0..D from `[x_c, y_τ, x_rest]`.
    #[module(skip)]
    pub merge_order: Vec<usize>,
    /// Context width C (0 for an unconditional layer).
    #[module(skip)]
    pub context_dim: usize,
    /// Soft clamp of the log-scale, s = c·tanh(s̃/c) (None: raw s̃, as normflows).
    /// It keeps exp(s) finite far from the data, where a ReLU conditioner
    /// extrapolates linearly.
    #[module(skip)]
    pub scale_clamp: Option<f64>,
    /// Glow's scale map instead of exp(s̃): the normalizing direction
    /// multiplies by σ(s̃ + 2) ∈ (0, 1), i.e. s = softplus(−s̃ − 2) ≥ 0.
    #[module(skip)]
    pub sigmoid_scale: bool,
}

impl Coupling {
    /// A coupling layer on `mask.len()` coordinates (mask 1 = conditioning,
    /// 0 = transformed); the conditioner has the given hidden widths and, with
    /// `zero_last`, a zero-initialised last layer (identity start).
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
        let split = Split::from_mask(mask)?;
        Self::with_split(
            kind,
            &split,
            hidden,
            activation,
            context_dim,
            zero_last,
            rng,
            device,
        )
    }

    /// A coupling layer with an explicit split (coordinates outside
    /// `cond ∪ trans` are untouched: multi-scale flows).
    #[allow(clippy::too_many_arguments)]
    pub fn with_split(
        kind: CouplingKind,
        split: &Split,
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let nt = split.trans.len();
        let d_out = match kind {
            CouplingKind::Affine => 2 * nt,
            CouplingKind::Additive => nt,
        };
        let net = MlpConfig {
            d_in: split.cond.len() + context_dim,
            hidden: hidden.to_vec(),
            d_out,
            activation,
            zero_last,
        }
        .init(rng, device)?;
        Ok(Self {
            net,
            kind,
            dim: split.dim,
            cond: split.cond.clone(),
            trans: split.trans.clone(),
            rest: split.rest.clone(),
            merge_order: split.merge_order(),
            context_dim,
            scale_clamp: None,
            sigmoid_scale: false,
        })
    }

    /// The same layer with Glow's sigmoid scale map (see [`Coupling::sigmoid_scale`]).
    pub fn with_sigmoid_scale(mut self, on: bool) -> Self {
        self.sigmoid_scale = on;
        self
    }

    /// The same layer with log-scales soft-clamped to (−c, c).
    pub fn with_scale_clamp(mut self, c: Option<f64>) -> Self {
        self.scale_clamp = c;
        self
    }

    /// Splits x into (x_c, x_τ, x_rest) (x_rest is None when nothing is untouched).
    fn split(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>, Option<Tensor<2>>) {
        let device = x.device();
        let xc = x.clone().select(1, index_tensor(&self.cond, &device));
        let xt = x.clone().select(1, index_tensor(&self.trans, &device));
        let xr = (!self.rest.is_empty()).then(|| x.select(1, index_tensor(&self.rest, &device)));
        (xc, xt, xr)
    }

    /// Reassembles `[x_c, y_τ, x_rest]` in the original coordinate order.
    fn merge(&self, xc: Tensor<2>, yt: Tensor<2>, xr: Option<Tensor<2>>) -> Tensor<2> {
        let device = xc.device();
        let mut parts = vec![xc, yt];
        parts.extend(xr);
        Tensor::cat(parts, 1).select(1, index_tensor(&self.merge_order, &device))
    }

    /// (s, t) for the transformed coordinates, from the conditioning ones.
    fn params(&self, xc: Tensor<2>, context: Option<&Tensor<2>>) -> (Option<Tensor<2>>, Tensor<2>) {
        let input = match context {
            Some(c) if self.context_dim > 0 => Tensor::cat(vec![xc, c.clone()], 1),
            _ => xc,
        };
        let h = self.net.forward(input);
        let nt = self.trans.len();
        match self.kind {
            CouplingKind::Affine => {
                let s = h.clone().narrow(1, 0, nt);
                let s = if self.sigmoid_scale {
                    // −log σ(s̃ + 2) = softplus(−s̃ − 2), computed stably.
                    gen_core::burn::tensor::activation::softplus((s + 2.0).neg(), 1.0)
                } else {
                    match self.scale_clamp {
                        Some(c) => gen_core::nn::ops::tanh(s / c) * c,
                        None => s,
                    }
                };
                (Some(s), h.narrow(1, nt, nt))
            }
            CouplingKind::Additive => (None, h),
        }
    }
}

impl Bijection for Coupling {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let device = x.device();
        let (xc, xt, xr) = self.split(x);
        let (s, t) = self.params(xc.clone(), context);
        let (yt, ld) = match s {
            Some(s) => (xt * s.clone().exp() + t, row_sum(s)),
            None => (xt + t, zero_logdet(n, &device)),
        };
        Ok((self.merge(xc, yt, xr), ld))
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let device = y.device();
        let (yc, yt, yr) = self.split(y);
        let (s, t) = self.params(yc.clone(), context);
        let (xt, ld) = match s {
            Some(s) => ((yt - t) * s.clone().neg().exp(), row_sum(s).neg()),
            None => (yt - t, zero_logdet(n, &device)),
        };
        Ok((self.merge(yc, xt, yr), ld))
    }
}
