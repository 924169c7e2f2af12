//! Masked affine autoregressive transforms: MAF and IAF built on MADE.
//!
//! MADE (Germain et al. 2015) outputs (μ_i, α_i) depending only on the
//! coordinates with a smaller degree in the ordering, x_{<i}. MAF
//! (Papamakarios et al. 2017) is the flow
//!
//! ```text
//! generative:  x_i = z_i · exp(α_i(x_{<i})) + μ_i(x_{<i})    (sequential, D passes)
//! normalizing: z_i = (x_i − μ_i(x_{<i})) · exp(−α_i(x_{<i}))  (one parallel pass)
//! log|det ∂x/∂z| = Σ_i α_i
//! ```
//!
//! Optionally α is soft-clamped, α = c·tanh(α̃/c) (as the affine coupling's
//! log-scale), which bounds every layer's scale to [e^−c, e^c] and keeps deep
//! stacks from overflowing.
//!
//! IAF (Kingma et al. 2016) is MAF with the two directions swapped
//! (Papamakarios et al. 2017, section 3.3): its generative direction is the
//! one-pass map above (fast sampling) and its density evaluation the
//! sequential one. [`MaskedAutoregressive::inverted`] builds IAF from the
//! same MADE, so an IAF layer and a MAF layer sharing weights are exact
//! inverses of each other.

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::{Activation, Made};
use gen_core::{Result, Rng};

use crate::bijection::{Bijection, row_sum};

/// A MADE-conditioned affine autoregressive layer (MAF, or IAF when inverted).
#[derive(Module, Debug)]
pub struct MaskedAutoregressive {
    /// MADE outputting [μ, α] (2 parameters per coordinate).
    pub made: Made,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// `false`: MAF; `true`: IAF (directions swapped).
    #[module(skip)]
    pub inverted: bool,
    /// Soft clamp c of α, α = c·tanh(α̃/c) (None: raw α̃).
    #[module(skip)]
    pub scale_clamp: Option<f64>,
}

impl MaskedAutoregressive {
    /// A MAF layer on `order.len()` coordinates with autoregressive `order`
    /// (degrees 1..=D), hidden widths `hidden` (each ≥ 1) and a zero output
    /// layer (identity start) unless `zero_last` is false.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        order: Vec<usize>,
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let made = Made::new(
            order,
            hidden,
            2,
            activation,
            context_dim,
            zero_last,
            rng,
            device,
        )?;
        Ok(Self {
            dim: made.dim(),
            made,
            inverted: false,
            scale_clamp: None,
        })
    }

    /// The same layer with α soft-clamped to (−c, c) (None: unclamped).
    pub fn with_scale_clamp(mut self, c: Option<f64>) -> Self {
        self.scale_clamp = c;
        self
    }

    /// The same layer with forward and inverse swapped (MAF ↔ IAF).
    pub fn inverted(mut self) -> Self {
        self.inverted = !self.inverted;
        self
    }

    /// (μ, α) from MADE: `[batch, D]` each.
    pub fn made(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let h = self.made.forward_flat(x, context);
        let mu = h.clone().narrow(1, 0, self.dim);
        let alpha = h.narrow(1, self.dim, self.dim);
        let alpha = match self.scale_clamp {
            Some(c) => gen_core::nn::ops::tanh(alpha / c) * c,
            None => alpha,
        };
        (mu, alpha)
    }
}

impl AutoregressiveLayer for MaskedAutoregressive {
    fn ar_dim(&self) -> usize {
        self.dim
    }

    fn is_inverted(&self) -> bool {
        self.inverted
    }

    /// MAF's one-pass map z = (x − μ(x)) ⊙ exp(−α(x)), log|det ∂z/∂x| = −Σ α.
    fn parallel(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let (mu, alpha) = self.made(x.clone(), context);
        ((x - mu) * alpha.clone().neg().exp(), row_sum(alpha).neg())
    }

    /// MAF's sequential map x = z ⊙ exp(α(x)) + μ(x), D passes (after pass k
    /// every coordinate of degree ≤ k is final); log|det ∂x/∂z| = Σ α.
    fn sequential(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        solve_sequentially(self.dim, &z, |x| {
            let (mu, a) = self.made(x, context);
            (z.clone() * a.clone().exp() + mu, a)
        })
    }
}

/// The D-pass generative solve of an autoregressive map with a MADE in
/// degree order: starting from x = 0, `pass(x)` returns the candidate x' and
/// per-element log|dx'/dz| computed from the current x; after pass k every
/// coordinate of degree ≤ k is final, so D passes give the exact inverse of
/// the one-pass density direction. Returns x and Σ log|dx/dz| per row.
pub(crate) fn solve_sequentially(
    dim: usize,
    z: &Tensor<2>,
    pass: impl Fn(Tensor<2>) -> (Tensor<2>, Tensor<2>),
) -> (Tensor<2>, Tensor<1>) {
    let mut x = z.zeros_like();
    let mut ld = z.zeros_like();
    for _ in 0..dim {
        (x, ld) = pass(x);
    }
    (x, row_sum(ld))
}

/// A MADE-based layer with a one-pass map and its D-pass inverse (MAF,
/// NSF-AR). MAF-style layers (`is_inverted` false) normalize in one pass and
/// generate in D; IAF-style layers swap the two. [`Bijection`] follows from this.
pub trait AutoregressiveLayer {
    /// D.
    fn ar_dim(&self) -> usize;
    /// `true` for the IAF-style direction (one-pass generation).
    fn is_inverted(&self) -> bool;
    /// The one-pass map and its log|det|.
    fn parallel(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>);
    /// The D-pass inverse of [`Self::parallel`] and its log|det|.
    fn sequential(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>);
}

impl<T: AutoregressiveLayer> Bijection for T {
    fn dim(&self) -> usize {
        self.ar_dim()
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        Ok(if self.is_inverted() {
            self.parallel(x, context)
        } else {
            self.sequential(x, context)
        })
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        Ok(if self.is_inverted() {
            self.sequential(y, context)
        } else {
            self.parallel(y, context)
        })
    }
}
