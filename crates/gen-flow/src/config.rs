//! Flow families ([`FlowKind`]) and [`FlowConfig`], everything needed to
//! rebuild a flow, with its checks.

use std::str::FromStr;

use gen_core::nn::Activation;
use gen_core::optim::OptimConfig;
use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

use crate::base::BaseKind;
use crate::masks::MaskKind;
use crate::multiscale::ImageLayout;
use crate::transforms::{CnfConfig, PermutationKind, spline};

/// The flow families `genlab train` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowKind {
    /// Affine couplings (Dinh et al. 2017).
    RealNvp,
    /// Additive couplings + a final scaling (ActNorm) layer (Dinh et al. 2015).
    Nice,
    /// Steps of ActNorm → LU linear → affine coupling (Kingma & Dhariwal 2018).
    Glow,
    /// Masked autoregressive flow (Papamakarios et al. 2017).
    Maf,
    /// Inverse autoregressive flow (Kingma et al. 2016).
    Iaf,
    /// Rational-quadratic spline couplings (Durkan et al. 2019), K bins on
    /// [−B, B] with identity tails (`spline_bins`, `spline_bound`: 8 and 3 by
    /// default), each followed by an ActNorm by default.
    Nsf,
    /// Autoregressive rational-quadratic splines (Durkan et al. 2019, §3.2):
    /// MADE-conditioned splines, MAF-style (one-pass density, D-pass sampling),
    /// each block followed by an ActNorm by default. CLI name `nsf-ar`.
    #[serde(rename = "nsf-ar", alias = "nsfar")]
    NsfAr,
    /// Continuous normalizing flow (Chen et al. 2018; FFJORD, Grathwohl et al.
    /// 2019): dz/dt = g(z, t) integrated by fixed-step RK4, log-density by the
    /// instantaneous change of variables (exact trace, or Hutchinson while training).
    Cnf,
}

impl FlowKind {
    /// Every kind, in CLI order.
    pub const ALL: [FlowKind; 8] = [
        FlowKind::RealNvp,
        FlowKind::Nice,
        FlowKind::Glow,
        FlowKind::Maf,
        FlowKind::Iaf,
        FlowKind::Nsf,
        FlowKind::NsfAr,
        FlowKind::Cnf,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::RealNvp => "realnvp",
            FlowKind::Nice => "nice",
            FlowKind::Glow => "glow",
            FlowKind::Maf => "maf",
            FlowKind::Iaf => "iaf",
            FlowKind::Nsf => "nsf",
            FlowKind::NsfAr => "nsf-ar",
            FlowKind::Cnf => "cnf",
        }
    }

    /// Whether this build implements the kind.
    pub fn implemented(self) -> bool {
        true
    }
}

impl FromStr for FlowKind {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        let k = s.to_ascii_lowercase().replace(['-', '_'], "");
        let k = if k == "arnsf" { "nsfar".to_string() } else { k };
        FlowKind::ALL
            .into_iter()
            .find(|f| f.name().replace('-', "") == k)
            .ok_or_else(|| {
                GenError::config(
                    "flow",
                    s,
                    "unknown flow type",
                    "use one of: realnvp, nice, glow, maf, iaf, nsf, nsf-ar, cnf",
                )
            })
    }
}

/// Everything needed to rebuild a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowConfig {
    /// Family.
    pub kind: FlowKind,
    /// Data dimension D.
    pub dim: usize,
    /// Context width C (0: unconditional).
    pub context_dim: usize,
    /// Coupling layers / MADE blocks / Glow steps.
    pub layers: usize,
    /// Conditioner hidden widths.
    pub hidden: Vec<usize>,
    /// Conditioner non-linearity.
    pub activation: Activation,
    /// Coupling mask.
    pub mask: MaskKind,
    /// Permutation between layers.
    pub permutation: PermutationKind,
    /// Add an ActNorm (data-initialised) after every block.
    pub actnorm: bool,
    /// Soft clamp c of the affine log-scales of couplings and MAF/IAF,
    /// s = c·tanh(s̃/c) (None: unclamped).
    pub scale_clamp: Option<f64>,
    /// Logit pre-processing with this α, for data in [0, 1] (images).
    pub logit: Option<f64>,
    /// Seed of the initial weights.
    pub seed: u64,
    /// ODE solver and trace estimator of CNF.
    #[serde(default)]
    pub cnf: CnfConfig,
    /// Optimiser.
    pub optim: OptimConfig,
    /// Spline bins K of NSF / NSF-AR (≥ 2).
    #[serde(default = "default_spline_bins")]
    pub spline_bins: usize,
    /// Half-width B of the spline interval [−B, B] of NSF / NSF-AR (finite, > 0).
    #[serde(default = "default_spline_bound")]
    pub spline_bound: f64,
    /// Image layout: RealNVP and Glow become multi-scale (squeeze / split,
    /// see [`crate::multiscale`]); `layers` is then the couplings (steps) per stage.
    #[serde(default)]
    pub image: Option<ImageLayout>,
    /// Glow's scale map in affine couplings, exp(−s) = σ(s̃ + 2), instead of
    /// the (clamped) exp(s̃): the normalizing direction only contracts.
    #[serde(default)]
    pub sigmoid_scale: bool,
    /// Base density p_Z: N(0, I) (default), a learned Gaussian mixture, or a
    /// MADE MoG (with `hidden` widths; a MAF on it is "MAF MoG").
    #[serde(default)]
    pub base: BaseKind,
}

fn default_spline_bins() -> usize {
    spline::DEFAULT_BINS
}

fn default_spline_bound() -> f64 {
    spline::DEFAULT_BOUND
}

impl FlowConfig {
    /// Defaults for `kind` on `dim`-dimensional data: 8 blocks, MLP 64-64
    /// (ReLU), half masks with reversal between layers.
    pub fn new(kind: FlowKind, dim: usize) -> Self {
        let (layers, actnorm) = match kind {
            // NSF: ActNorm standardises each spline's input, so the data
            // falls inside the spline interval [−B, B] rather than the identity tails.
            FlowKind::Glow | FlowKind::Nsf => (8, true),
            FlowKind::NsfAr => (5, true),
            FlowKind::Maf | FlowKind::Iaf => (5, false),
            // CNF: one ODE block (its depth is the integration time).
            FlowKind::Cnf => (1, false),
            _ => (8, false),
        };
        Self {
            kind,
            dim,
            context_dim: 0,
            layers,
            // CNF: FFJORD's toy dynamics, 64-64-64 with a smooth non-linearity.
            hidden: if kind == FlowKind::Cnf {
                vec![64, 64, 64]
            } else {
                vec![64, 64]
            },
            activation: if kind == FlowKind::Cnf {
                Activation::Tanh
            } else {
                Activation::Relu
            },
            mask: MaskKind::Half,
            permutation: PermutationKind::Reverse,
            actnorm,
            scale_clamp: Some(3.0),
            logit: None,
            seed: 0,
            cnf: CnfConfig::default(),
            optim: OptimConfig::default(),
            spline_bins: spline::DEFAULT_BINS,
            spline_bound: spline::DEFAULT_BOUND,
            image: None,
            sigmoid_scale: false,
            base: BaseKind::StandardNormal,
        }
    }

    /// The normflows RealNVP reference: 8 affine couplings with an MLP
    /// 64-64 conditioner (zero last layer), the two coordinates swapped after
    /// every coupling, N(0, I) base, Adam with PyTorch defaults.
    /// The log-scale is unclamped, as in normflows' `AffineCouplingBlock`.
    pub fn normflows_realnvp() -> Self {
        Self {
            scale_clamp: None,
            ..Self::new(FlowKind::RealNvp, 2)
        }
    }

    /// Checks the configuration before anything is built.
    pub fn validate(&self) -> Result<()> {
        self.base.validate()?;
        if !self.kind.implemented() {
            return Err(GenError::config(
                "flow",
                self.kind.name(),
                "is not implemented in this version of gen-flow",
                "use realnvp, nice, glow, maf, iaf, nsf or nsf-ar",
            ));
        }
        if self.kind == FlowKind::Cnf {
            self.cnf.validate()?;
            if matches!(self.activation, Activation::Relu | Activation::LeakyRelu) {
                return Err(GenError::config(
                    "activation",
                    format!("{:?}", self.activation).to_lowercase(),
                    "CNF dynamics must be smooth: RK4 and the trace ∂g/∂z assume a differentiable g",
                    "use tanh (default), silu or gelu",
                ));
            }
        }
        if let Some(layout) = &self.image {
            if !matches!(self.kind, FlowKind::RealNvp | FlowKind::Glow) {
                return Err(GenError::config(
                    "image layout",
                    self.kind.name(),
                    "the multi-scale (squeeze / split) architecture is built for realnvp and glow",
                    "drop the image layout, or use realnvp or glow",
                ));
            }
            layout.validate(self.dim)?;
        }
        if self.dim == 0 {
            return Err(GenError::config(
                "dim",
                0,
                "a flow needs D ≥ 1",
                "pass data with at least one column",
            ));
        }
        // Zero layers is the base density alone (e.g. MADE MoG), which only
        // makes sense for a learned base.
        if self.layers == 0 && (self.base == BaseKind::StandardNormal || self.image.is_some()) {
            return Err(GenError::config(
                "layers",
                0,
                "a flow needs at least one layer (zero layers is allowed only with a learned --base on vectors)",
                "use e.g. 8",
            ));
        }
        if matches!(
            self.kind,
            FlowKind::RealNvp | FlowKind::Nice | FlowKind::Glow | FlowKind::Nsf
        ) && self.dim < 2
        {
            return Err(GenError::config(
                "dim",
                self.dim,
                "coupling flows split the coordinates in two and need D ≥ 2",
                "use maf for one-dimensional data",
            ));
        }
        if matches!(self.kind, FlowKind::Nsf | FlowKind::NsfAr) {
            spline::check_bins_and_bound(self.spline_bins, self.spline_bound)?;
        }
        if let Some(c) = self.scale_clamp
            && !(c.is_finite() && c > 0.0)
        {
            return Err(GenError::config(
                "scale_clamp",
                c,
                "must be finite and > 0",
                "use e.g. 3.0, or None for no clamp",
            ));
        }
        if let Some(a) = self.logit
            && !(0.0..0.5).contains(&a)
        {
            return Err(GenError::config(
                "logit alpha",
                a,
                "must lie in [0, 0.5)",
                "use 1e-6 or 0.05",
            ));
        }
        Ok(())
    }
}

impl FlowConfig {
    /// Whether the first batch initialises something: ActNorm layers, or a
    /// Gaussian-mixture base (its means and scales).
    pub(crate) fn data_initialised(&self) -> bool {
        self.actnorm
            || matches!(self.kind, FlowKind::Nice | FlowKind::Glow)
            || matches!(self.base, BaseKind::Gmm { .. })
    }
}
