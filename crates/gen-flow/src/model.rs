//! [`FlowModel`]: a flow with its optimiser implementing the gen-core tasks
//! (exact score, sampling with temperature, exact encoding, learning by
//! maximum likelihood, checkpoints), and the capability row of each kind.

use std::path::Path;

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::optim::Optimized;
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::build::build_flow;
use crate::config::{FlowConfig, FlowKind};
use crate::flow::Flow;

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
            && let Some(p) = x.first_outside_unit_interval()
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
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        options.only_default(self.config.kind.name(), "the change of variables")?;
        let log_p = self.log_prob(x, None)?;
        // A CNF's log-density is an RK4 solve of the instantaneous change of
        // variables: exact up to the solver's error, so it is labelled as such.
        Ok(match self.config.kind {
            FlowKind::Cnf => Scores::integrated("rk4", self.config.cnf.steps, log_p),
            _ => Scores::exact(log_p),
        })
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
            // Data-parallel: each rank initialised from its own shard; all
            // continue from the mean of those statistics.
            self.train.model = gen_core::distributed::average_params(self.train.model.clone())?;
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

    fn shard_batch(&self, batch: &FlowBatch, rank: usize, size: usize) -> Result<FlowBatch> {
        Ok(FlowBatch {
            x: batch.x.shard_rows(rank, size)?,
            context: match &batch.context {
                Some(c) => Some(c.shard_rows(rank, size)?),
                None => None,
            },
        })
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
