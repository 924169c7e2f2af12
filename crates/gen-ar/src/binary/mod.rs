//! Autoregressive models of binary images with exact likelihoods (tutorial,
//! chapter 7): FVSBN, NADE, MADE and PixelCNN.
//!
//! # Mathematics
//!
//! Every model factorises a D-dimensional binary vector by the chain rule in
//! an ordering π (a permutation of the coordinates):
//!
//! ```text
//! p(x) = Π_t p(x_{π(t)} | x_{π(<t)}),   p(x_i = 1 | x_<i) = σ(ℓ_i(x_<i))
//! log p(x) = Σ_i [x_i log σ(ℓ_i) + (1 − x_i) log(1 − σ(ℓ_i))] = −Σ_i BCE(ℓ_i, x_i)
//! ```
//!
//! The network computes all D logits ℓ_i in one pass; ℓ_i may depend only on
//! the coordinates generated before i (the autoregressive property, checked
//! by the perturbation tests). So scoring and learning (exact maximum
//! likelihood) are parallel, while sampling is sequential: D passes, each
//! drawing one coordinate x_i = 1[u < σ(ℓ_i / τ)] with a host uniform u, so
//! the same seed draws the same images on every backend.
//!
//! MADE holds M orderings with shared weights (order-agnostic training): the
//! model it scores is the uniform mixture p(x) = (1/M) Σ_k p_k(x), i.e. the
//! log-mean-exp of the M exact log-likelihoods, and it samples that mixture
//! exactly (pick k uniformly, then sample ordering k ancestrally).
//!
//! | model | logits ℓ(x) | file |
//! |---|---|---|
//! | FVSBN (Frey 1998) | b + x (W ⊙ M), M strictly upper triangular (row j → column i iff j < i) | [`fvsbn`] |
//! | NADE (Larochelle & Murray 2011) | ℓ_i = b_i + V_i · σ(c + Σ_{j<i} x_j W_j) | [`nade`] |
//! | MADE (Germain et al. 2015) | masked MLP, M orderings | [`made`] |
//! | PixelCNN (van den Oord et al. 2016) | masked convolutions A then B, residual blocks, 1×1 head | [`pixelcnn`] |

pub mod fvsbn;
pub mod made;
pub mod nade;
pub mod pixelcnn;
pub mod presets;
#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData, activation};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::bce_with_logits;
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Matrix, Model, Result, Rng, Sample, SampleOptions,
    Score, ScoreOptions, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand::Rng as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use fvsbn::{Fvsbn, FvsbnConfig, FvsbnNet};
pub use made::{Made, MadeConfig, MadeNet};
pub use nade::{Nade, NadeConfig, NadeNet};
pub use pixelcnn::{MaskType, MaskedConv2d, PixelCnn, PixelCnnConfig, PixelCnnNet, ResidualBlock};

/// The family name of every model here.
pub const FAMILY: &str = "autoregressive";

/// The network of one binary autoregressive model: its configuration, its
/// orderings and the D logits of all conditionals in one pass.
pub trait ArNet: Module + Sized {
    /// The model's configuration (saved as JSON in checkpoints).
    type Config: Clone + Debug + PartialEq + Serialize + DeserializeOwned;
    /// The name in the capability table (`fvsbn`, `nade`, `made`, `pixelcnn`).
    const NAME: &'static str;
    /// The data dimension D of a configuration.
    fn dim(config: &Self::Config) -> usize;
    /// The optimiser settings of a configuration.
    fn optim(config: &Self::Config) -> &OptimConfig;
    /// Errors with a clear message unless the configuration is usable.
    fn validate(config: &Self::Config) -> Result<()>;
    /// Builds the network with weights drawn from the host `rng`.
    fn init(config: &Self::Config, rng: &mut Rng, device: &Device) -> Result<Self>;
    /// The orderings, as ranks: `orders()[k][i]` ∈ 1..=D is the step at which
    /// coordinate i is generated under ordering k. One raster ordering unless
    /// overridden.
    fn orders(&self) -> Vec<Vec<usize>>;
    /// Logits of p(x_i = 1 | x before i in ordering `k`) for every i.
    ///
    /// # Shapes
    /// - `x`: `[n, D]` → `[n, D]`
    fn logits(&self, x: Tensor<2>, k: usize) -> Tensor<2>;
    /// Rows per forward pass when scoring or sampling (memory bound).
    fn chunk_rows(config: &Self::Config) -> usize;
    /// How the model learns, in words, for the capability row.
    const LEARN_HOW: &'static str;
    /// How the model scores, in words, for the capability row.
    const SCORE_HOW: &'static str;
    /// A stepwise form of the conditionals for ancestral sampling, when the
    /// network has one cheaper than a full pass per coordinate (NADE: O(H)
    /// per coordinate instead of O(DH)). `None`: sampling runs one
    /// [`ArNet::logits`] pass per coordinate.
    fn stepwise(&self) -> Option<&dyn Stepwise> {
        None
    }
}

/// Conditionals computed one coordinate at a time in ordering 0, from a
/// running state that summarises the coordinates already generated.
pub trait Stepwise {
    /// The state before any coordinate, for `n` rows: `[n, S]`.
    fn start(&self, n: usize, device: &Device) -> Tensor<2>;
    /// Logits of p(x_i = 1 | x_<i) from the state: `[n, S]` → `[n, 1]`.
    fn logit(&self, state: &Tensor<2>, i: usize) -> Tensor<2>;
    /// The state after coordinate `i` took the values `x_i` (`[n, 1]`).
    fn feed(&self, state: Tensor<2>, i: usize, x_i: Tensor<2>) -> Tensor<2>;
}

/// The raster ordering 1..=D as ranks.
pub fn raster_order(d: usize) -> Vec<usize> {
    (1..=d).collect()
}

/// The capability row of a model named `model`.
fn row(model: &'static str, learn: &'static str, score: &'static str) -> Capabilities {
    Capabilities {
        model,
        family: FAMILY,
        learn: TaskSupport::exact(learn),
        score: TaskSupport::exact(score),
        sample: TaskSupport::exact(
            "sequential ancestral sampling: D network passes, x_i = 1[u < sigmoid(logit_i / T)]",
        ),
        infer: TaskSupport::none(
            "no latent variables: a fully visible autoregressive model has nothing to infer",
        ),
    }
}

/// The capability row of the network type `N`.
pub fn capabilities_of<N: ArNet>() -> Capabilities {
    row(N::NAME, N::LEARN_HOW, N::SCORE_HOW)
}

/// The capability rows of the binary autoregressive models: `fvsbn`, `nade`,
/// `made`, `pixelcnn`.
pub fn capabilities() -> Vec<Capabilities> {
    vec![
        capabilities_of::<FvsbnNet>(),
        capabilities_of::<NadeNet>(),
        capabilities_of::<MadeNet>(),
        capabilities_of::<PixelCnnNet>(),
    ]
}

/// Errors unless `x` has `d` columns, at least one row and only the values
/// 0 and 1; the message names the offending rows.
pub fn check_binary(x: &Matrix, d: usize, context: &str) -> Result<()> {
    if x.cols() != d {
        let side = (x.cols() as f64).sqrt().round() as usize;
        let img = if side * side == x.cols() && side > 0 {
            format!(" ({side}x{side} images)")
        } else {
            String::new()
        };
        return Err(GenError::shape(
            context,
            format!("{d} values per row (the model's dimension D)"),
            format!("{} values per row{img}", x.cols()),
            "pass binary images of the size the model was built for, flattened row-major",
        ));
    }
    if x.rows() == 0 {
        return Err(GenError::input(
            context,
            "no rows",
            "pass at least one example",
        ));
    }
    let mut bad_rows = Vec::new();
    let mut first = None;
    for (r, row) in x.iter_rows().enumerate() {
        if let Some(c) = row.iter().position(|&v| v != 0.0 && v != 1.0) {
            if first.is_none() {
                first = Some((r, c, row[c]));
            }
            bad_rows.push(r);
        }
    }
    if let Some((r, c, v)) = first {
        let shown: Vec<String> = bad_rows.iter().take(8).map(|r| r.to_string()).collect();
        let more = if bad_rows.len() > 8 {
            format!(" and {} more", bad_rows.len() - 8)
        } else {
            String::new()
        };
        return Err(GenError::input(
            context,
            format!(
                "{} non-binary row(s): rows {}{more} hold values other than 0 and 1 (first: {v} at row {r}, column {c})",
                bad_rows.len(),
                shown.join(", ")
            ),
            "these models are Bernoulli per pixel: binarize the data first (gen_data::transforms::binarize)",
        ));
    }
    Ok(())
}

/// A binary autoregressive model: its configuration, network and optimiser.
///
/// The public models are [`Fvsbn`], [`Nade`], [`Made`] and [`PixelCnn`].
#[derive(Debug)]
pub struct BinaryAr<N: ArNet> {
    config: N::Config,
    state: Optimized<N>,
    /// Training device (autodiff).
    device: Device,
}

fn t2(v: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// Per-element log p(x_i | x_<i) = −BCE(ℓ_i, x_i).
fn log_prob_terms(logits: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
    bce_with_logits(logits, x).neg()
}

impl<N: ArNet> BinaryAr<N> {
    /// A new model on `device` (autodiff is added for training), weights drawn
    /// from `seed`.
    pub fn new(config: N::Config, device: &Device, seed: u64) -> Result<Self> {
        N::validate(&config)?;
        let train = device.clone().autodiff();
        let net = N::init(&config, &mut rng_from_seed(seed), &train)?;
        Ok(Self {
            state: Optimized::new(net, N::optim(&config)),
            config,
            device: train,
        })
    }

    /// Rebuilds a model from a checkpoint folder written by
    /// [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: N::Config = read_json(&Self::config_path(dir))?;
        let mut model = Self::new(config, device, 0)?;
        model.load_checkpoint(dir)?;
        Ok(model)
    }

    fn config_path(dir: &Path) -> std::path::PathBuf {
        dir.join(format!("{}_config.json", N::NAME))
    }

    /// The configuration.
    pub fn config(&self) -> &N::Config {
        &self.config
    }

    /// The network (on the training device).
    pub fn net(&self) -> &N {
        &self.state.model
    }

    /// The data dimension D.
    pub fn dim(&self) -> usize {
        N::dim(&self.config)
    }

    /// The orderings as ranks (see [`ArNet::orders`]).
    pub fn orders(&self) -> Vec<Vec<usize>> {
        self.state.model.orders()
    }

    fn eval(&self) -> (N, Device) {
        (self.state.model.valid(), self.device.clone().inner())
    }

    /// Row chunks for scoring and sampling.
    fn chunks(&self, n: usize) -> Vec<std::ops::Range<usize>> {
        let size = N::chunk_rows(&self.config).max(1);
        (0..n).step_by(size).map(|s| s..(s + size).min(n)).collect()
    }

    /// The conditionals p(x_i = 1 | x before i in ordering `k`) for every row
    /// and coordinate (`rows × D`): what the network outputs, after a sigmoid.
    pub fn conditionals(&self, x: &Matrix, k: usize) -> Result<Matrix> {
        let d = self.dim();
        x.ensure_cols(d, &format!("{} conditionals", N::NAME))?;
        x.ensure_finite(&format!("{} conditionals", N::NAME))?;
        self.check_ordering(k)?;
        let (net, dev) = self.eval();
        let mut out = Vec::with_capacity(x.rows() * d);
        for r in self.chunks(x.rows()) {
            let idx: Vec<usize> = r.collect();
            let xs = to_tensor(&x.select_rows(&idx)?, &dev);
            let p = activation::sigmoid(net.logits(xs, k));
            out.extend(to_vec(p)?.into_iter().map(f64::from));
        }
        Matrix::new(x.rows(), d, out)
    }

    fn check_ordering(&self, k: usize) -> Result<()> {
        let m = self.orders().len();
        if k >= m {
            return Err(GenError::config(
                "ordering",
                k,
                format!("{} has {m} ordering(s)", N::NAME),
                format!("choose an ordering index below {m}"),
            ));
        }
        Ok(())
    }

    /// The exact log-likelihood of every row under every ordering
    /// (`rows × M`), summed over coordinates in f64.
    pub fn log_prob_per_ordering(&self, x: &Matrix) -> Result<Matrix> {
        let d = self.dim();
        check_binary(x, d, &format!("{} scoring", N::NAME))?;
        let (net, dev) = self.eval();
        let m = net.orders().len();
        let mut out = Matrix::zeros(x.rows(), m);
        for r in self.chunks(x.rows()) {
            let idx: Vec<usize> = r.clone().collect();
            let xs = to_tensor(&x.select_rows(&idx)?, &dev);
            for k in 0..m {
                let terms = to_vec(log_prob_terms(net.logits(xs.clone(), k), xs.clone()))?;
                for (j, row) in r.clone().enumerate() {
                    let lp: f64 = terms[j * d..(j + 1) * d].iter().map(|&v| v as f64).sum();
                    out.as_mut_slice()[row * m + k] = lp;
                }
            }
        }
        if let Some(p) = out.as_slice().iter().position(|v| !v.is_finite()) {
            return Err(GenError::input(
                format!("{} scoring", N::NAME),
                format!("log-likelihood of row {} is not finite", p / m),
                "the model's parameters are not finite: retrain or load a good checkpoint",
            ));
        }
        Ok(out)
    }

    /// The mean negative log-likelihood of `x` in nats per example.
    pub fn nll(&self, x: &Matrix) -> Result<f64> {
        Ok(self.score(x, &ScoreOptions::default())?.mean_nll())
    }

    /// Mean NLL (nats per example) of `x` under ordering `k` as a tensor on
    /// the training device, for gradient steps.
    fn loss(&self, x: &Matrix, k: usize) -> Tensor<1> {
        let xs = to_tensor(x, &self.device);
        let terms = log_prob_terms(self.state.model.logits(xs.clone(), k), xs);
        terms.sum_dim(1).mean().neg()
    }

    /// Samples `n` rows with ordering `k` (ranks `order`), drawing one host
    /// uniform per row and coordinate in generation order.
    #[allow(clippy::too_many_arguments)]
    fn sample_ordering(
        &self,
        net: &N,
        dev: &Device,
        n: usize,
        k: usize,
        order: &[usize],
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<Vec<f64>> {
        let d = order.len();
        let mut seq: Vec<usize> = (0..d).collect();
        seq.sort_by_key(|&i| order[i]);
        let mut x = vec![0f32; n * d];
        if let (Some(step), 0) = (net.stepwise(), k) {
            let mut state = step.start(n, dev);
            for &i in &seq {
                let l = to_vec(step.logit(&state, i))?;
                let mut xi = vec![0f32; n];
                for (row, &li) in l.iter().enumerate() {
                    let p = 1.0 / (1.0 + (-(li as f64) / temperature).exp());
                    let u: f64 = rng.random();
                    xi[row] = if u < p { 1.0 } else { 0.0 };
                    x[row * d + i] = xi[row];
                }
                state = step.feed(state, i, t2(xi, n, 1, dev));
            }
            return Ok(x.into_iter().map(f64::from).collect());
        }
        for &i in &seq {
            let logits = net
                .logits(t2(x.clone(), n, d, dev), k)
                .slice([0..n, i..i + 1]);
            let l = to_vec(logits)?;
            for (row, &li) in l.iter().enumerate() {
                let p = 1.0 / (1.0 + (-(li as f64) / temperature).exp());
                let u: f64 = rng.random();
                x[row * d + i] = if u < p { 1.0 } else { 0.0 };
            }
        }
        Ok(x.into_iter().map(f64::from).collect())
    }
}

impl<N: ArNet> Model for BinaryAr<N> {
    fn capabilities(&self) -> Capabilities {
        capabilities_of::<N>()
    }
}

impl<N: ArNet> Score for BinaryAr<N> {
    type Input = Matrix;
    /// The exact log-likelihood by the chain rule (MADE: the log-mean-exp over
    /// its M orderings, the exact log-likelihood of the ensemble).
    fn score(&self, x: &Matrix, options: &ScoreOptions) -> Result<Scores> {
        options.only_default(N::NAME, N::SCORE_HOW)?;
        let per = self.log_prob_per_ordering(x)?;
        let values = if per.cols() == 1 {
            per.into_vec()
        } else {
            per.iter_rows()
                .map(gen_core::numerics::log_mean_exp)
                .collect()
        };
        Ok(Scores::exact(values))
    }
}

impl<N: ArNet> Sample for BinaryAr<N> {
    type Output = Matrix;
    /// Ancestral sampling with logits divided by the temperature; the
    /// ordering of each row (MADE) and every Bernoulli draw come from `rng`.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        if options.condition.is_some() {
            return Err(GenError::Unsupported {
                model: N::NAME.into(),
                task: gen_core::Task::Sample,
                why: "the binary autoregressive models are unconditional: drop the condition"
                    .into(),
            });
        }
        let d = self.dim();
        let (net, dev) = self.eval();
        let orders = net.orders();
        let m = orders.len();
        let ks: Vec<usize> = (0..n)
            .map(|_| if m > 1 { rng.random_range(0..m) } else { 0 })
            .collect();
        let mut out = Matrix::zeros(n, d);
        for (k, order) in orders.iter().enumerate() {
            let rows: Vec<usize> = (0..n).filter(|&r| ks[r] == k).collect();
            // A stepwise sampler holds only [rows, S]: no need to chunk.
            let chunks = if net.stepwise().is_some() && k == 0 {
                std::iter::once(0..rows.len()).collect()
            } else {
                self.chunks(rows.len())
            };
            for chunk in chunks {
                let rs = &rows[chunk];
                let x =
                    self.sample_ordering(&net, &dev, rs.len(), k, order, options.temperature, rng)?;
                for (j, &r) in rs.iter().enumerate() {
                    out.as_mut_slice()[r * d..(r + 1) * d].copy_from_slice(&x[j * d..(j + 1) * d]);
                }
            }
        }
        Ok(out)
    }
}

impl<N: ArNet> Learn for BinaryAr<N> {
    type Batch = Matrix;
    /// Rows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    /// One Adam step on the mean NLL (nats per example) of `batch`; MADE
    /// draws the ordering of this step uniformly from its M orderings.
    fn learn_step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let d = self.dim();
        check_binary(batch, d, &format!("{} learning", N::NAME))?;
        let m = self.orders().len();
        let k = if m > 1 { ctx.rng.random_range(0..m) } else { 0 };
        let loss = self.loss(batch, k);
        let value = self.state.step(loss, ctx.lr)?;
        Ok(StepStats::loss(value)
            .with("bits_per_dim", value / (d as f64 * std::f64::consts::LN_2))
            .with("ordering", k as f64))
    }
}

/// The configuration as JSON without its optimiser settings (which may change
/// between runs without changing the network).
fn architecture<C: Serialize>(c: &C) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut v {
        map.remove("optim");
    }
    v
}

impl<N: ArNet> Checkpoint for BinaryAr<N> {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&Self::config_path(dir), &self.config)?;
        self.state.save(dir, N::NAME)
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = Self::config_path(dir);
        if path.exists() {
            let saved: N::Config = read_json(&path)?;
            if architecture(&saved) != architecture(&self.config) {
                return Err(GenError::Format {
                    path,
                    problem: format!(
                        "the checkpoint holds a different {} ({}) from this model ({})",
                        N::NAME,
                        architecture(&saved),
                        architecture(&self.config)
                    ),
                    fix: format!(
                        "build the model from the checkpoint's {}_config.json (load)",
                        N::NAME
                    ),
                });
            }
        }
        self.state.load(dir, N::NAME)
    }
}

/// Errors unless `value ≥ 1`, naming the `field` of model `model`.
pub(crate) fn positive(model: &str, field: &str, value: usize, fix: &str) -> Result<()> {
    if value == 0 {
        return Err(GenError::config(
            format!("{model} {field}"),
            value,
            "must be at least 1",
            fix,
        ));
    }
    Ok(())
}
