//! Flow families, their configuration, and [`FlowModel`]: a flow with its
//! optimiser implementing the gen-core tasks (exact score, sampling with
//! temperature, exact encoding, learning by maximum likelihood, checkpoints).

use std::path::Path;
use std::str::FromStr;

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::Activation;
use gen_core::nn::masked_linear::random_order;
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::base::{BaseKind, LearnedBase};
use crate::flow::{Flow, FlowLayer};
use crate::masks::{MaskKind, Split, coupling_mask};
use crate::transforms::{
    ActNorm, Coupling, CouplingKind, Logit, LuLinear, MaskedAutoregressive, Permutation,
    PermutationKind, SplineAutoregressive, SplineCoupling, spline,
};

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
    pub cnf: crate::transforms::CnfConfig,
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
    pub image: Option<crate::multiscale::ImageLayout>,
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
            cnf: crate::transforms::CnfConfig::default(),
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

    /// A coupling layer of this configuration on `split`: conditioner widths,
    /// activation and context from the config, zero last layer (identity
    /// start), and the config's scale map (clamp or Glow's sigmoid).
    pub fn coupling(
        &self,
        kind: CouplingKind,
        split: &Split,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<FlowLayer> {
        Ok(FlowLayer::Coupling(
            Coupling::with_split(
                kind,
                split,
                &self.hidden,
                self.activation,
                self.context_dim,
                true,
                rng,
                device,
            )?
            .with_scale_clamp(self.scale_clamp)
            .with_sigmoid_scale(self.sigmoid_scale),
        ))
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

/// Builds the flow of `config` on `device` with weights from `rng`.
pub fn build_flow(config: &FlowConfig, rng: &mut Rng, device: &Device) -> Result<Flow> {
    config.validate()?;
    let d = config.dim;
    let c = config.context_dim;
    let mut layers = Vec::new();
    let perm = |rng: &mut Rng| -> Result<Option<FlowLayer>> {
        Ok(match config.permutation {
            PermutationKind::Reverse => {
                Some(FlowLayer::Permutation(Permutation::reverse(d, device)?))
            }
            PermutationKind::Random => {
                Some(FlowLayer::Permutation(Permutation::random(d, rng, device)?))
            }
            PermutationKind::None => None,
        })
    };
    // Multi-scale image flows build their own stack; `layers` counts per stage there.
    let flat_layers = if config.image.is_some() {
        0
    } else {
        config.layers
    };
    if let Some(layout) = &config.image {
        layers = crate::multiscale::build_multiscale(config, layout, rng, device)?;
    }
    for k in 0..flat_layers {
        match config.kind {
            FlowKind::RealNvp | FlowKind::Nice => {
                let kind = if config.kind == FlowKind::Nice {
                    CouplingKind::Additive
                } else {
                    CouplingKind::Affine
                };
                let split = Split::from_mask(&coupling_mask(config.mask, d, k)?)?;
                layers.push(config.coupling(kind, &split, rng, device)?);
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                layers.extend(perm(rng)?);
            }
            FlowKind::Glow => {
                // Generative order of one Glow step: coupling, then LU linear, then ActNorm
                // (so the normalizing direction is ActNorm → 1x1 → coupling, as in Glow).
                let split = Split::from_mask(&coupling_mask(config.mask, d, k)?)?;
                layers.push(config.coupling(CouplingKind::Affine, &split, rng, device)?);
                layers.push(FlowLayer::LuLinear(LuLinear::new(d, 0.0, rng, device)));
                layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
            }
            FlowKind::Maf | FlowKind::Iaf => {
                let order: Vec<usize> = match config.permutation {
                    PermutationKind::Random => random_order(d, rng),
                    _ => (1..=d).collect(),
                };
                let l = MaskedAutoregressive::new(
                    order,
                    &config.hidden,
                    config.activation,
                    c,
                    true,
                    rng,
                    device,
                )?
                .with_scale_clamp(config.scale_clamp);
                let l = if config.kind == FlowKind::Iaf {
                    l.inverted()
                } else {
                    l
                };
                layers.push(FlowLayer::Autoregressive(l));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                if config.permutation == PermutationKind::Reverse {
                    layers.push(FlowLayer::Permutation(Permutation::reverse(d, device)?));
                }
            }
            FlowKind::Nsf => {
                let mask = coupling_mask(config.mask, d, k)?;
                layers.push(FlowLayer::Spline(SplineCoupling::new(
                    &mask,
                    &config.hidden,
                    config.activation,
                    c,
                    config.spline_bins,
                    config.spline_bound,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                layers.extend(perm(rng)?);
            }
            FlowKind::NsfAr => {
                let order: Vec<usize> = match config.permutation {
                    PermutationKind::Random => random_order(d, rng),
                    _ => (1..=d).collect(),
                };
                layers.push(FlowLayer::SplineAutoregressive(SplineAutoregressive::new(
                    order,
                    &config.hidden,
                    config.activation,
                    c,
                    config.spline_bins,
                    config.spline_bound,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                if config.permutation == PermutationKind::Reverse {
                    layers.push(FlowLayer::Permutation(Permutation::reverse(d, device)?));
                }
            }
            FlowKind::Cnf => {
                layers.push(FlowLayer::Cnf(crate::transforms::Cnf::new(
                    d,
                    c,
                    &config.hidden,
                    config.activation,
                    &config.cnf,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
            }
        }
    }
    if config.kind == FlowKind::Nice {
        layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
    }
    if let Some(alpha) = config.logit {
        layers.push(FlowLayer::Logit(Logit { alpha, dim: d }));
    }
    let base = LearnedBase::build(
        config.base,
        d,
        &config.hidden,
        config.activation,
        c,
        rng,
        device,
    )?;
    Ok(Flow {
        layers,
        base,
        dim: d,
        context_dim: c,
    })
}

/// One training batch: rows and, for conditional flows, their context.
#[derive(Debug, Clone)]
pub struct FlowBatch {
    /// Data rows `[batch, D]`.
    pub x: Matrix,
    /// Context rows `[batch, C]`.
    pub context: Option<Matrix>,
}

impl From<Matrix> for FlowBatch {
    fn from(x: Matrix) -> Self {
        Self { x, context: None }
    }
}

/// Rows per device call when scoring or sampling many rows.
const CHUNK: usize = 8192;

/// A flow with its optimiser: the gen-core model.
#[derive(Debug)]
pub struct FlowModel {
    config: FlowConfig,
    device: Device,
    /// The flow (on the autodiff device) and its Adam state.
    pub train: Optimized<Flow>,
    data_initialized: bool,
}

#[derive(Serialize, Deserialize)]
struct FlowMeta {
    config: FlowConfig,
    data_initialized: bool,
}

impl FlowModel {
    /// A fresh model on `device` (training uses `device` with autodiff).
    pub fn new(config: FlowConfig, device: &Device) -> Result<Self> {
        let device = device.clone().without_autodiff();
        let mut rng = rng_from_seed(config.seed);
        let flow = build_flow(&config, &mut rng, &device.clone().autodiff())?;
        let train = Optimized::new(flow, &config.optim);
        Ok(Self {
            config,
            device,
            train,
            data_initialized: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// The flow without autodiff (for evaluation).
    pub fn flow(&self) -> Flow {
        self.train.model.valid()
    }

    fn check_rows(&self, x: &Matrix, context: &str) -> Result<()> {
        x.ensure_cols(self.config.dim, context)?;
        x.ensure_finite(context)?;
        if self.config.logit.is_some()
            && let Some(p) = x.as_slice().iter().position(|v| !(0.0..=1.0).contains(v))
        {
            return Err(GenError::input(
                context,
                format!(
                    "value {} at row {}, column {} lies outside [0, 1], the domain of the logit pre-processing",
                    x.as_slice()[p],
                    p / x.cols(),
                    p % x.cols()
                ),
                "dequantize and scale the data to [0, 1] (gen_data::transforms::dequantize)",
            ));
        }
        Ok(())
    }

    fn context_tensor(
        &self,
        ctx: Option<&Matrix>,
        n: usize,
        device: &Device,
        what: &str,
    ) -> Result<Option<Tensor<2>>> {
        let c = self.config.context_dim;
        match (ctx, c) {
            (None, 0) => Ok(None),
            (Some(_), 0) => Err(GenError::config(
                "context",
                "given",
                "this flow is unconditional",
                "drop the context, or build the flow with context_dim > 0",
            )),
            (None, _) => Err(GenError::input(
                what,
                format!("this conditional flow needs a context of {c} columns"),
                "pass one context row per example (or one row for all)",
            )),
            (Some(m), _) => {
                m.ensure_cols(c, what)?;
                m.ensure_finite(what)?;
                let m = if m.rows() == 1 && n != 1 {
                    let row = m.row(0).to_vec();
                    Matrix::new(n, c, row.iter().cycle().take(n * c).copied().collect())?
                } else if m.rows() == n {
                    m.clone()
                } else {
                    return Err(GenError::shape(
                        what,
                        format!("{n} context rows (or 1)"),
                        format!("{} rows", m.rows()),
                        "give one context row per example",
                    ));
                };
                Ok(Some(to_tensor(&m, device)))
            }
        }
    }

    fn chunks(n: usize) -> impl Iterator<Item = (usize, usize)> {
        (0..n.div_ceil(CHUNK)).map(move |k| (k * CHUNK, ((k + 1) * CHUNK).min(n)))
    }

    fn rows(m: &Matrix, lo: usize, hi: usize) -> Result<Matrix> {
        Matrix::new(
            hi - lo,
            m.cols(),
            m.as_slice()[lo * m.cols()..hi * m.cols()].to_vec(),
        )
    }

    fn slice_ctx(ctx: Option<&Matrix>, lo: usize, hi: usize) -> Result<Option<Matrix>> {
        match ctx {
            Some(m) if m.rows() > 1 => Ok(Some(Self::rows(m, lo, hi)?)),
            other => Ok(other.cloned()),
        }
    }

    /// Exact log p(x | context) per row, in nats.
    pub fn log_prob(&self, x: &Matrix, context: Option<&Matrix>) -> Result<Vec<f64>> {
        self.check_rows(x, "flow log_prob")?;
        let flow = self.flow();
        let mut out = Vec::with_capacity(x.rows());
        for (lo, hi) in Self::chunks(x.rows()) {
            let xc = to_tensor(&Self::rows(x, lo, hi)?, &self.device);
            let cc = Self::slice_ctx(context, lo, hi)?;
            let ct =
                self.context_tensor(cc.as_ref(), hi - lo, &self.device, "flow log_prob context")?;
            let lp = flow.log_prob(xc, ct.as_ref())?;
            out.extend(to_vec(lp)?.into_iter().map(|v| v as f64));
        }
        if let Some(i) = out.iter().position(|v| v.is_nan()) {
            return Err(GenError::input(
                "flow log_prob",
                format!("the flow produced NaN for row {i}"),
                "the model diverged: retrain with a lower learning rate",
            ));
        }
        Ok(out)
    }

    /// Exact encoding z = f⁻¹(x).
    pub fn encode(&self, x: &Matrix, context: Option<&Matrix>) -> Result<Matrix> {
        self.check_rows(x, "flow encode")?;
        let flow = self.flow();
        let mut data = Vec::with_capacity(x.rows() * x.cols());
        for (lo, hi) in Self::chunks(x.rows()) {
            let xc = to_tensor(&Self::rows(x, lo, hi)?, &self.device);
            let cc = Self::slice_ctx(context, lo, hi)?;
            let ct =
                self.context_tensor(cc.as_ref(), hi - lo, &self.device, "flow encode context")?;
            data.extend(to_matrix(flow.inverse(xc, ct.as_ref())?.0)?.into_vec());
        }
        Matrix::new(x.rows(), x.cols(), data)
    }

    /// Exact decoding x = f(z).
    pub fn decode(&self, z: &Matrix, context: Option<&Matrix>) -> Result<Matrix> {
        z.ensure_cols(self.config.dim, "flow decode")?;
        z.ensure_finite("flow decode")?;
        let ct = self.context_tensor(context, z.rows(), &self.device, "flow decode context")?;
        to_matrix(
            self.flow()
                .forward(to_tensor(z, &self.device), ct.as_ref())?
                .0,
        )
    }

    /// `n` samples x = f(z), z from the base at temperature τ (N(0, I): z = τ ε)
    /// with noise drawn on the host, and their exact log p(x).
    pub fn sample_and_log_prob(
        &self,
        n: usize,
        options: &SampleOptions,
        rng: &mut Rng,
    ) -> Result<(Matrix, Vec<f64>)> {
        options.validate()?;
        let d = self.config.dim;
        let eps: Vec<f64> = (0..n * d).map(|_| StandardNormal.sample(rng)).collect();
        let eps = Matrix::new(n, d, eps)?;
        // Mixture bases pick components with these (unused for N(0, I)).
        let u: Vec<f64> = (0..n * d).map(|_| rand::Rng::random::<f64>(rng)).collect();
        let u = Matrix::new(n, d, u)?;
        let ct = self.context_tensor(
            options.condition.as_ref(),
            n,
            &self.device,
            "flow sample condition",
        )?;
        let (x, lp) = self.flow().sample_and_log_prob(
            &eps,
            &u,
            options.temperature,
            ct.as_ref(),
            &self.device,
        )?;
        Ok((
            to_matrix(x)?,
            to_vec(lp)?.into_iter().map(|v| v as f64).collect(),
        ))
    }

    /// Data-dependent ActNorm initialisation from a batch (done automatically
    /// on the first learning step otherwise).
    pub fn initialize(&mut self, batch: &FlowBatch) -> Result<()> {
        self.check_rows(&batch.x, "flow initialisation")?;
        let dev = self.device.clone().autodiff();
        let x = to_tensor(&batch.x, &dev);
        let ct =
            self.context_tensor(batch.context.as_ref(), batch.x.rows(), &dev, "flow context")?;
        self.train.model.initialize(x, ct.as_ref())?;
        self.data_initialized = true;
        Ok(())
    }

    /// The training loss −(1/B) Σ log p(x_b) on the autodiff device.
    pub fn loss(&self, batch: &FlowBatch) -> Result<Tensor<1>> {
        self.check_rows(&batch.x, "flow training batch")?;
        let dev = self.device.clone().autodiff();
        let x = to_tensor(&batch.x, &dev);
        let ct =
            self.context_tensor(batch.context.as_ref(), batch.x.rows(), &dev, "flow context")?;
        Ok(self.train.model.log_prob(x, ct.as_ref())?.mean().neg())
    }
}

impl Model for FlowModel {
    fn capabilities(&self) -> Capabilities {
        capabilities(self.config.kind)
    }
}

/// The capability row of a flow kind.
pub fn capabilities(kind: FlowKind) -> Capabilities {
    let (sample, score) = match kind {
        FlowKind::Maf | FlowKind::NsfAr => (
            TaskSupport::exact("exact; sequential inverse, D passes"),
            TaskSupport::exact("exact change of variables, one pass"),
        ),
        FlowKind::Iaf => (
            TaskSupport::exact("exact; one pass"),
            TaskSupport::exact("exact change of variables, D sequential passes"),
        ),
        FlowKind::Cnf => (
            TaskSupport::exact("one RK4 ODE solve t: 0 → 1; temperature scales the base"),
            TaskSupport::approximate(
                "instantaneous change of variables, exact trace, ∫ by RK4 (O(h⁴) solver error)",
            ),
        ),
        _ => (
            TaskSupport::exact("exact, one pass; temperature scales the base"),
            TaskSupport::exact("exact change of variables"),
        ),
    };
    let infer = if kind == FlowKind::Cnf {
        TaskSupport::approximate("z = f⁻¹(x) by the reverse RK4 solve (inverse up to solver error)")
    } else {
        TaskSupport::exact("exact encoding z = f⁻¹(x)")
    };
    Capabilities {
        model: kind.name(),
        family: "flow",
        learn: TaskSupport::exact("maximum likelihood (exact NLL), Adam"),
        score,
        sample,
        infer,
    }
}

impl Sample for FlowModel {
    type Output = Matrix;
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        Ok(self.sample_and_log_prob(n, options, rng)?.0)
    }
}

impl Score for FlowModel {
    type Input = Matrix;
    fn score(&self, x: &Matrix) -> Result<Scores> {
        Ok(Scores::exact(self.log_prob(x, None)?))
    }
}

impl Infer for FlowModel {
    type Input = Matrix;
    type Posterior = Matrix;
    fn infer(&self, x: &Matrix) -> Result<Matrix> {
        self.encode(x, None)
    }
}

impl Learn for FlowModel {
    type Batch = FlowBatch;
    fn learn_step(&mut self, batch: &FlowBatch, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        if !self.data_initialized && self.config.data_initialised() {
            self.initialize(batch)?;
        }
        // CNF: fresh Hutchinson noise for this step (used only where the
        // configuration asks for it); cleared so scoring uses the exact trace.
        if self.config.kind == FlowKind::Cnf {
            let seed = self.config.seed.rotate_left(32) ^ ctx.step;
            self.train.model.set_noise_seed(Some(seed));
        }
        let loss = self.loss(batch);
        self.train.model.set_noise_seed(None);
        let value = self.train.step(loss?, ctx.lr)?;
        Ok(StepStats::loss(value).with("nll", value))
    }
}

impl FlowConfig {
    /// Whether the first batch initialises something: ActNorm layers, or a
    /// Gaussian-mixture base (its means and scales).
    fn data_initialised(&self) -> bool {
        self.actnorm
            || matches!(self.kind, FlowKind::Nice | FlowKind::Glow)
            || matches!(self.base, BaseKind::Gmm { .. })
    }
}

impl Checkpoint for FlowModel {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(
            &dir.join("flow.json"),
            &FlowMeta {
                config: self.config.clone(),
                data_initialized: self.data_initialized,
            },
        )?;
        self.train.save(dir, "flow")
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let meta: FlowMeta = read_json(&dir.join("flow.json"))?;
        if meta.config.kind != self.config.kind
            || meta.config.dim != self.config.dim
            || meta.config.layers != self.config.layers
            || meta.config.hidden != self.config.hidden
            || meta.config.spline_bins != self.config.spline_bins
            || meta.config.spline_bound != self.config.spline_bound
        {
            return Err(GenError::Format {
                path: dir.join("flow.json"),
                problem: "the checkpoint was written for a different flow architecture".into(),
                fix: "load it with the configuration it was trained with (FlowModel::load)".into(),
            });
        }
        self.train.load(dir, "flow")?;
        self.data_initialized = meta.data_initialized;
        Ok(())
    }
}

impl FlowModel {
    /// Rebuilds a model from a checkpoint folder written by [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let meta: FlowMeta = read_json(&dir.join("flow.json"))?;
        let mut m = Self::new(meta.config, device)?;
        m.load_checkpoint(dir)?;
        Ok(m)
    }
}
