//! VQ-VAE: a discrete-latent autoencoder with a learned codebook
//! (van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation
//! Learning", NeurIPS).
//!
//! # Model
//!
//! The encoder maps x to L continuous vectors z_e(x)_1, …, z_e(x)_L ∈ R^{D_e}
//! (here an MLP with L·D_e outputs reshaped to `[batch·L, D_e]`). A codebook
//! e ∈ R^{K×D_e} quantises each of them to its nearest codeword
//!
//! ```text
//! k_l(x) = argmin_j ‖z_e(x)_l − e_j‖²,   z_q(x)_l = e_{k_l(x)}
//! ‖z − e_j‖² = ‖z‖² − 2 z·e_j + ‖e_j‖²            (one matmul for all pairs)
//! ```
//!
//! and the decoder models p_θ(x | z_q) (Bernoulli logits or Gaussian means,
//! [`Likelihood`]). The codebook is initialised uniform(−1/K, 1/K) from the
//! host RNG, as in the original implementation.
//!
//! # Objective (eq. 3 of the paper)
//!
//! ```text
//! L(x) = −log p_θ(x | z_q(x)) + ‖sg[z_e(x)] − e‖² + β ‖z_e(x) − sg[e]‖²
//! ```
//!
//! where sg[·] stops gradients (`detach`), the squared norms are summed over
//! the L latent vectors and D_e coordinates of one example and averaged over
//! the batch, and β = 0.25 (the commitment cost). The argmin has no gradient,
//! so the decoder input is the straight-through estimate
//! z_e + sg[z_q − z_e]: its value is z_q, its gradient is copied to z_e.
//! Hence the encoder learns from the reconstruction and commitment terms, the
//! codebook only from the codebook term ‖sg[z_e] − e‖², and the decoder only
//! from the reconstruction term.
//!
//! # Prior, sampling and scoring
//!
//! During training the prior over the K^L code configurations is uniform,
//! p(k) = K^{−L}. The paper then fits an autoregressive prior (a PixelCNN over
//! the code map) to sample; this crate does **not**: [`Sample`] draws codes
//! uniformly and decodes them, which gives poor, blotchy samples (every code
//! position is independent). The capability row says so (sample: approximate).
//!
//! A VQ-VAE has no likelihood of its own, but with the uniform prior and the
//! deterministic (one-hot) posterior q(k | x) = 1[k = k(x)], the ELBO is
//!
//! ```text
//! log p(x) ≥ E_q[log p(x | k)] − KL(q(k | x) ‖ p(k)) = log p(x | z_q(x)) − L log K
//! ```
//!
//! (the entropy of a one-hot q is 0, so KL = −log p(k(x)) = L log K). [`Score`]
//! returns this as `Scores::bound("vq-elbo", …)`; a fitted prior would raise it.
//!
//! # Diagnostics
//!
//! Codebook usage: the number of distinct codes chosen on a batch, and the
//! perplexity exp(H(p̄)) of the average one-hot assignment p̄_j = #{k = j}/N
//! (1 when a single code is used, K when all are used equally). Dead codes are
//! not re-initialised (no dead-code restarts or EMA updates): usage is only
//! reported, in the step metrics and in [`VqVae::code_usage`].

use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::config::Likelihood;
use crate::input::{SCORE_BUDGET, check_images, row_chunks};
use crate::net::observation_log_prob;

/// Everything needed to build a [`VqVae`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqVaeConfig {
    /// Observed dimension D (pixels).
    pub d_in: usize,
    /// Hidden widths of the encoder MLP; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Number of latent positions L (code vectors per example).
    pub codes: usize,
    /// Width D_e of each code vector (and of each codeword).
    pub code_dim: usize,
    /// Codebook size K (number of codewords).
    pub codebook_size: usize,
    /// Commitment cost β of ‖z_e − sg[e]‖² (0.25 in the paper).
    pub commitment: f64,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Decoder observation model.
    pub likelihood: Likelihood,
    /// Optimiser.
    pub optim: OptimConfig,
}

impl VqVaeConfig {
    /// An MLP VQ-VAE for `d_in` binary pixels: D-400-(16·16) ReLU, K = 64
    /// codewords, β = 0.25, Bernoulli decoder, Adam.
    pub fn mlp_bernoulli(d_in: usize) -> Self {
        Self {
            d_in,
            hidden: vec![400],
            codes: 16,
            code_dim: 16,
            codebook_size: 64,
            commitment: 0.25,
            activation: Activation::Relu,
            likelihood: Likelihood::Bernoulli,
            optim: OptimConfig::default(),
        }
    }

    /// Checks every field; errors say which value is wrong and how to fix it.
    pub fn validate(&self) -> Result<()> {
        crate::config::check_network(self.d_in, &self.hidden, self.likelihood)?;
        if self.codebook_size == 0 {
            return Err(GenError::config(
                "codebook_size",
                0,
                "the codebook needs at least one codeword",
                "use K = 64 or 512 (genlab: --codebook-size)",
            ));
        }
        if self.code_dim == 0 {
            return Err(GenError::config(
                "code_dim",
                0,
                "code vectors need at least one dimension",
                "use 8..64 (genlab: --code-dim)",
            ));
        }
        if self.codes == 0 {
            return Err(GenError::config(
                "codes",
                0,
                "each example needs at least one latent position",
                "use 16 positions for 28x28 MNIST, 4..16 for 8x8 digits (genlab: --codes)",
            ));
        }
        if !(self.commitment.is_finite() && self.commitment >= 0.0) {
            return Err(GenError::config(
                "commitment",
                self.commitment,
                "the commitment cost β must be finite and ≥ 0",
                "use 0.25 as in van den Oord et al. 2017 (genlab: --commitment)",
            ));
        }
        Ok(())
    }

    /// L · log K: the KL term of the VQ bound (nats per example).
    pub fn prior_nats(&self) -> f64 {
        self.codes as f64 * (self.codebook_size as f64).ln()
    }
}

/// Encoder, codebook and decoder of a VQ-VAE.
#[derive(Module, Debug)]
pub struct VqNet {
    /// x ↦ z_e(x), width L·D_e.
    pub encoder: Mlp,
    /// z_q (flattened, width L·D_e) ↦ logits or means (width D).
    pub decoder: Mlp,
    /// The codebook e, `[K, D_e]`.
    pub codebook: Param<Tensor<2>>,
    /// Learned per-pixel decoder log-variance (Gaussian, learned variance only).
    pub log_var: Option<Param<Tensor<1>>>,
    /// Latent positions L.
    #[module(skip)]
    pub codes: usize,
    /// Code width D_e.
    #[module(skip)]
    pub code_dim: usize,
    /// Observation model.
    #[module(skip)]
    pub likelihood: Likelihood,
}

/// What one forward pass produces.
#[derive(Debug, Clone)]
pub struct VqForward {
    /// Decoder output (logits or means), `[batch, D]`.
    pub out: Tensor<2>,
    /// Encoder output z_e, `[batch·L, D_e]`.
    pub z_e: Tensor<2>,
    /// Quantised z_q = e_k, `[batch·L, D_e]` (gradient reaches the codebook only).
    pub z_q: Tensor<2>,
    /// Code indices k, `[batch·L]` (row-major: example, then position).
    pub indices: Tensor<1, Int>,
}

impl VqNet {
    /// Builds the networks from `config` with weights drawn from `rng`
    /// (PyTorch `nn.Linear` initialisation; codebook uniform(−1/K, 1/K)).
    pub fn new(config: &VqVaeConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        config.validate()?;
        let width = config.codes * config.code_dim;
        let encoder = MlpConfig {
            d_in: config.d_in,
            hidden: config.hidden.clone(),
            d_out: width,
            activation: config.activation,
            zero_last: false,
        }
        .init(rng, device)?;
        let decoder = MlpConfig {
            d_in: width,
            hidden: config.hidden.iter().rev().copied().collect(),
            d_out: config.d_in,
            activation: config.activation,
            zero_last: false,
        }
        .init(rng, device)?;
        let (k, de) = (config.codebook_size, config.code_dim);
        let bound = 1.0 / k as f32;
        let init: Vec<f32> = (0..k * de)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let codebook =
            Param::from_tensor(Tensor::from_data(TensorData::new(init, [k, de]), device));
        let log_var = match config.likelihood {
            Likelihood::Gaussian {
                log_var,
                learned: true,
            } => Some(Param::from_tensor(Tensor::full(
                [config.d_in],
                log_var,
                device,
            ))),
            _ => None,
        };
        Ok(Self {
            encoder,
            decoder,
            codebook,
            log_var,
            codes: config.codes,
            code_dim: config.code_dim,
            likelihood: config.likelihood,
        })
    }

    /// z_e(x) as `[batch·L, D_e]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        self.encoder
            .forward(x)
            .reshape([b * self.codes, self.code_dim])
    }

    /// Decoder output from code vectors `[batch·L, D_e]` → `[batch, D]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [n, _] = z.dims();
        let b = n / self.codes;
        self.decoder
            .forward(z.reshape([b, self.codes * self.code_dim]))
    }

    /// The mean of p_θ(x | z_q) given the decoder output: σ(ℓ) or μ.
    pub fn mean(&self, out: Tensor<2>) -> Tensor<2> {
        match self.likelihood {
            Likelihood::Bernoulli => burn::tensor::activation::sigmoid(out),
            Likelihood::Gaussian { .. } => out,
        }
    }

    /// log p_θ(x | z_q) per row from the decoder output (`[batch]`).
    pub fn log_px(&self, x: Tensor<2>, out: Tensor<2>) -> Tensor<1> {
        observation_log_prob(
            self.likelihood,
            self.log_var.as_ref().map(|p| p.val()),
            x,
            out,
        )
    }

    /// Encoder, quantiser (straight-through) and decoder.
    pub fn forward(&self, x: Tensor<2>) -> VqForward {
        let z_e = self.encode(x);
        let (indices, z_q) = quantize(z_e.clone(), self.codebook.val());
        let out = self.decode(straight_through(z_e.clone(), z_q.clone()));
        VqForward {
            out,
            z_e,
            z_q,
            indices,
        }
    }
}

/// All squared distances ‖z_i − e_j‖² = ‖z_i‖² − 2 z_i·e_j + ‖e_j‖².
///
/// # Shapes
/// - `z`: `[N, D_e]`, `codebook`: `[K, D_e]` → `[N, K]`
pub fn squared_distances(z: Tensor<2>, codebook: Tensor<2>) -> Tensor<2> {
    let [n, _] = z.dims();
    let [k, _] = codebook.dims();
    let z2 = z.clone().powf_scalar(2.0).sum_dim(1).expand([n, k]);
    let e2 = codebook
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .transpose()
        .expand([n, k]);
    z2 - z.matmul(codebook.transpose()) * 2.0 + e2
}

/// Nearest-codeword quantisation: k_i = argmin_j ‖z_i − e_j‖² and z_q,i = e_{k_i}.
///
/// The distances are computed on detached inputs (the argmin has no
/// gradient); z_q is gathered from `codebook` with `select`, so gradients of
/// z_q flow to the selected codewords only.
///
/// # Shapes
/// - `z_e`: `[N, D_e]`, `codebook`: `[K, D_e]` → (`[N]` indices, `[N, D_e]` z_q)
pub fn quantize(z_e: Tensor<2>, codebook: Tensor<2>) -> (Tensor<1, Int>, Tensor<2>) {
    let [n, _] = z_e.dims();
    let d = squared_distances(z_e.detach(), codebook.clone().detach());
    let idx: Tensor<1, Int> = d.argmin(1).reshape([n]);
    let z_q = codebook.select(0, idx.clone());
    (idx, z_q)
}

/// The straight-through estimate z_e + sg[z_q − z_e]: value z_q, gradient
/// passed unchanged to z_e (and none to z_q).
pub fn straight_through(z_e: Tensor<2>, z_q: Tensor<2>) -> Tensor<2> {
    z_e.clone() + (z_q - z_e).detach()
}

/// The two vector-quantisation terms of eq. 3, per example (summed over the
/// L·D_e code coordinates of an example, averaged over `batch` examples):
/// (codebook loss ‖sg[z_e] − e‖², commitment loss ‖z_e − sg[e]‖²).
///
/// Their values are equal; their gradients differ: the first moves the
/// codewords towards the encoder outputs, the second the encoder outputs
/// towards their codewords.
pub fn vq_losses(z_e: Tensor<2>, z_q: Tensor<2>, batch: usize) -> (Tensor<1>, Tensor<1>) {
    let inv = 1.0 / batch.max(1) as f64;
    let codebook = (z_e.clone().detach() - z_q.clone()).powf_scalar(2.0).sum() * inv;
    let commit = (z_e - z_q.detach()).powf_scalar(2.0).sum() * inv;
    (codebook, commit)
}

/// Codebook usage of a set of code indices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeUsage {
    /// Number of distinct codewords used.
    pub used: usize,
    /// exp(H(p̄)) with p̄_j the fraction of assignments to code j (1 … K).
    pub perplexity: f64,
    /// Assignments per codeword (length K).
    pub counts: Vec<usize>,
}

impl CodeUsage {
    /// Usage statistics of `indices` (each < `k`).
    pub fn of(indices: &[usize], k: usize) -> Self {
        let mut counts = vec![0usize; k];
        for &i in indices {
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        let n = indices.len().max(1) as f64;
        let entropy: f64 = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.ln()
            })
            .sum();
        Self {
            used: counts.iter().filter(|&&c| c > 0).count(),
            perplexity: entropy.exp(),
            counts,
        }
    }
}

/// The code assignment of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct VqCodes {
    /// Code indices, `rows × L` (values in 0..K, stored as f64).
    pub indices: Matrix,
    /// The quantised vectors z_q, `rows × (L·D_e)`.
    pub z_q: Matrix,
}

/// Reads an integer tensor back as indices.
fn int_to_host(t: Tensor<1, Int>) -> Result<Vec<usize>> {
    let v = t
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| GenError::Other(format!("reading code indices back failed: {e:?}")))?;
    Ok(v.into_iter().map(|i| i.max(0) as usize).collect())
}

/// A VQ-VAE with its optimiser.
#[derive(Debug)]
pub struct VqVae {
    config: VqVaeConfig,
    state: Optimized<VqNet>,
    /// Training device (autodiff).
    device: Device,
}

impl VqVae {
    /// A new VQ-VAE on `device` (autodiff is added for training), weights
    /// drawn from `seed`.
    pub fn new(config: VqVaeConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let net = VqNet::new(&config, &mut rng_from_seed(seed), &train)?;
        Ok(Self {
            state: Optimized::new(net, &config.optim),
            config,
            device: train,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VqVaeConfig {
        &self.config
    }

    /// The trained networks (on the training device).
    pub fn net(&self) -> &VqNet {
        &self.state.model
    }

    fn eval(&self) -> (VqNet, Device) {
        (self.state.model.valid(), self.device.clone().inner())
    }

    /// Errors unless `x` has D columns, finite values, and (Bernoulli) values in [0, 1].
    pub fn check_input(&self, x: &Matrix, context: &str) -> Result<()> {
        check_images(x, self.config.d_in, self.config.likelihood, context)
    }

    /// Per row: (log p(x | z_q(x)), code indices), evaluated in chunks.
    fn evaluate(&self, x: &Matrix, context: &str) -> Result<(Vec<f64>, Vec<usize>)> {
        self.check_input(x, context)?;
        let (net, dev) = self.eval();
        let mut log_px = Vec::with_capacity(x.rows());
        let mut idx = Vec::with_capacity(x.rows() * self.config.codes);
        for rows in row_chunks(x.rows(), SCORE_BUDGET) {
            let xs = to_tensor(&x.select_rows(&rows)?, &dev);
            let f = net.forward(xs.clone());
            log_px.extend(to_vec(net.log_px(xs, f.out))?.into_iter().map(f64::from));
            idx.extend(int_to_host(f.indices)?);
        }
        if let Some(p) = log_px.iter().position(|v| !v.is_finite()) {
            return Err(GenError::input(
                context,
                format!("log p(x | z_q) of row {p} is not finite"),
                "the model's parameters are not finite: retrain or load a good checkpoint",
            ));
        }
        Ok((log_px, idx))
    }

    /// The VQ bound per row: log p(x | z_q(x)) − L log K (a lower bound on
    /// log p(x) under the uniform prior over codes; see the module docs).
    pub fn vq_elbo(&self, x: &Matrix) -> Result<Scores> {
        let (lp, _) = self.evaluate(x, "VQ-VAE scoring")?;
        let kl = self.config.prior_nats();
        Ok(Scores::bound(
            "vq-elbo",
            lp.into_iter().map(|v| v - kl).collect(),
        ))
    }

    /// Mean reconstruction loss −log p(x | z_q(x)) in nats per example.
    pub fn reconstruction_nll(&self, x: &Matrix) -> Result<f64> {
        let (lp, _) = self.evaluate(x, "VQ-VAE reconstruction loss")?;
        Ok(-lp.iter().sum::<f64>() / lp.len() as f64)
    }

    /// Codebook usage over all code assignments of `x`.
    pub fn code_usage(&self, x: &Matrix) -> Result<CodeUsage> {
        let (_, idx) = self.evaluate(x, "VQ-VAE code usage")?;
        Ok(CodeUsage::of(&idx, self.config.codebook_size))
    }

    /// The codebook e as a host matrix `K × D_e`.
    pub fn codebook(&self) -> Result<Matrix> {
        let (net, _) = self.eval();
        let v = to_vec(net.codebook.val())?;
        Matrix::from_f32(self.config.codebook_size, self.config.code_dim, &v)
    }

    /// Code indices and z_q of every row.
    pub fn encode(&self, x: &Matrix) -> Result<VqCodes> {
        let (_, idx) = self.evaluate(x, "VQ-VAE encode")?;
        let e = self.codebook()?;
        let (l, de) = (self.config.codes, self.config.code_dim);
        let mut zq = Vec::with_capacity(x.rows() * l * de);
        for &k in &idx {
            zq.extend_from_slice(e.row(k));
        }
        Ok(VqCodes {
            indices: Matrix::new(x.rows(), l, idx.iter().map(|&k| k as f64).collect())?,
            z_q: Matrix::new(x.rows(), l * de, zq)?,
        })
    }

    /// The decoder mean for code indices (`rows × L`, each in 0..K).
    pub fn decode_indices(&self, indices: &Matrix) -> Result<Matrix> {
        let (l, k, de) = (
            self.config.codes,
            self.config.codebook_size,
            self.config.code_dim,
        );
        indices.ensure_cols(l, "VQ-VAE decode (code indices)")?;
        if let Some(p) = indices
            .as_slice()
            .iter()
            .position(|v| !(v.fract() == 0.0 && *v >= 0.0 && *v < k as f64))
        {
            return Err(GenError::input(
                "VQ-VAE decode (code indices)",
                format!(
                    "value {} at row {}, column {} is not a code index in 0..{k}",
                    indices.as_slice()[p],
                    p / l,
                    p % l
                ),
                "pass integer code indices below the codebook size (from `encode`)",
            ));
        }
        let e = self.codebook()?;
        let mut z = Vec::with_capacity(indices.rows() * l * de);
        for &v in indices.as_slice() {
            z.extend_from_slice(e.row(v as usize));
        }
        let z = Matrix::new(indices.rows() * l, de, z)?;
        let (net, dev) = self.eval();
        let mut out = Vec::with_capacity(indices.rows() * self.config.d_in);
        for rows in row_chunks(indices.rows(), SCORE_BUDGET) {
            let zr: Vec<usize> = rows.iter().flat_map(|&r| (r * l)..(r * l + l)).collect();
            let zs = to_tensor(&z.select_rows(&zr)?, &dev);
            out.extend(to_vec(net.mean(net.decode(zs)))?.into_iter().map(f64::from));
        }
        Matrix::new(indices.rows(), self.config.d_in, out)
    }

    /// Reconstructions: the decoder mean at z_q(x).
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        let codes = self.encode(x)?;
        self.decode_indices(&codes.indices)
    }

    /// One training step of eq. 3 on `batch`.
    fn objective_step(&mut self, batch: &Matrix, lr: f64) -> Result<StepStats> {
        self.check_input(batch, "VQ-VAE training batch")?;
        let b = batch.rows();
        let x = to_tensor(batch, &self.device);
        let net = &self.state.model;
        let f = net.forward(x.clone());
        let rec = net.log_px(x, f.out).mean();
        let (cb, commit) = vq_losses(f.z_e, f.z_q, b);
        let loss = rec.clone().neg() + cb.clone() + commit * self.config.commitment;
        let extra = Tensor::cat(vec![rec.detach(), cb.detach()], 0);
        let indices = f.indices;
        let loss = self.state.step(loss, lr)?;
        let extra = to_vec(extra)?;
        let usage = CodeUsage::of(&int_to_host(indices)?, self.config.codebook_size);
        let (rec, vq) = (extra[0] as f64, extra[1] as f64);
        Ok(StepStats::loss(loss)
            .with("recon_nll", -rec)
            .with("codebook_loss", vq)
            .with("commitment_loss", vq)
            .with("vq_elbo", rec - self.config.prior_nats())
            .with("codes_used", usage.used as f64)
            .with("perplexity", usage.perplexity))
    }
}

/// The capability row of the VQ-VAE.
pub fn capabilities_row() -> Capabilities {
    Capabilities {
        model: "vq-vae",
        family: "vae",
        learn: TaskSupport::approximate(
            "Adam on recon + codebook + beta*commitment, straight-through gradients",
        ),
        score: TaskSupport::approximate(
            "vq-elbo bound log p(x|z_q) - L log K (uniform prior over codes)",
        ),
        sample: TaskSupport::approximate(
            "uniform prior over codes, decoder mean (no fitted PixelCNN prior: poor samples)",
        ),
        infer: TaskSupport::approximate("deterministic nearest-codeword indices k(x)"),
    }
}

impl Model for VqVae {
    fn capabilities(&self) -> Capabilities {
        capabilities_row()
    }
}

impl Learn for VqVae {
    type Batch = Matrix;
    /// Rows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    fn learn_step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        self.objective_step(batch, ctx.lr)
    }
}

impl Score for VqVae {
    type Input = Matrix;
    /// The VQ bound log p(x | z_q(x)) − L log K per row ([`VqVae::vq_elbo`]).
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        match options.estimator {
            gen_core::ScoreEstimator::Default | gen_core::ScoreEstimator::Elbo => self.vq_elbo(x),
            other => Err(GenError::config(
                "--estimator",
                other,
                "a VQ-VAE is scored by its bound log p(x|z_q) - L log K (uniform prior over codes); its posterior is one-hot, so there is no importance-weighted estimate",
                "use --estimator elbo (the vq-elbo bound) with a vq-vae run",
            )),
        }
    }
}

impl Sample for VqVae {
    type Output = Matrix;
    /// Codes drawn uniformly (the training prior; no fitted PixelCNN prior),
    /// returns the decoder means. The uniform prior is unchanged by a
    /// temperature, so `options.temperature` (validated) has no effect.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let (l, k) = (self.config.codes, self.config.codebook_size);
        let idx: Vec<f64> = (0..n * l).map(|_| rng.random_range(0..k) as f64).collect();
        self.decode_indices(&Matrix::new(n, l, idx)?)
    }
}

impl Infer for VqVae {
    type Input = Matrix;
    type Posterior = VqCodes;
    fn infer(&self, x: &Matrix) -> Result<VqCodes> {
        self.encode(x)
    }
}

impl Checkpoint for VqVae {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("vqvae_config.json"), &self.config)?;
        self.state.save(dir, "vqvae")
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("vqvae_config.json");
        if path.exists() {
            let saved: VqVaeConfig = read_json(&path)?;
            let c = &self.config;
            if (saved.d_in, &saved.hidden, saved.codes, saved.code_dim)
                != (c.d_in, &c.hidden, c.codes, c.code_dim)
                || saved.codebook_size != c.codebook_size
                || saved.likelihood != c.likelihood
            {
                return Err(GenError::Format {
                    path,
                    problem: format!(
                        "the checkpoint is a {}-{:?} VQ-VAE with {} codes x {} dims, K = {}; this model is {}-{:?} with {} x {}, K = {}",
                        saved.d_in,
                        saved.hidden,
                        saved.codes,
                        saved.code_dim,
                        saved.codebook_size,
                        c.d_in,
                        c.hidden,
                        c.codes,
                        c.code_dim,
                        c.codebook_size
                    ),
                    fix: "build the model from the checkpoint's vqvae_config.json (VqVae::load)"
                        .into(),
                });
            }
        }
        self.state.load(dir, "vqvae")
    }
}

impl VqVae {
    /// Rebuilds a VQ-VAE from a checkpoint folder written by [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: VqVaeConfig = read_json(&dir.join("vqvae_config.json"))?;
        let mut m = VqVae::new(config, device, 0)?;
        m.load_checkpoint(dir)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::Backend;
    use gen_core::train::{EpochBatcher, TrainConfig, Trainer};

    fn dev() -> Device {
        Backend::Ndarray.device().unwrap()
    }

    fn t2(v: Vec<f32>, rows: usize, cols: usize, d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, [rows, cols]), d)
    }

    fn small(k: usize) -> VqVaeConfig {
        VqVaeConfig {
            hidden: vec![64],
            codes: 4,
            code_dim: 8,
            codebook_size: k,
            ..VqVaeConfig::mlp_bernoulli(64)
        }
    }

    #[test]
    fn quantizer_returns_the_brute_force_nearest_codeword() {
        let d = dev();
        let mut rng = rng_from_seed(7);
        let (n, k, de) = (200, 37, 5);
        let z: Vec<f32> = (0..n * de)
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect();
        let e: Vec<f32> = (0..k * de)
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect();
        let (idx, zq) = quantize(t2(z.clone(), n, de, &d), t2(e.clone(), k, de, &d));
        let idx = int_to_host(idx).unwrap();
        let zq = to_vec(zq).unwrap();
        let dist = |i: usize, j: usize| -> f64 {
            (0..de)
                .map(|c| (z[i * de + c] as f64 - e[j * de + c] as f64).powi(2))
                .sum()
        };
        for i in 0..n {
            let best = (0..k)
                .min_by(|&a, &b| dist(i, a).total_cmp(&dist(i, b)))
                .unwrap();
            // Equal up to f32 round-off of the matmul form (a near-tie may pick either).
            assert!(
                idx[i] == best || (dist(i, idx[i]) - dist(i, best)).abs() < 1e-4,
                "row {i}: got code {} (d² {}), nearest is {best} (d² {})",
                idx[i],
                dist(i, idx[i]),
                dist(i, best)
            );
            assert_eq!(
                &zq[i * de..(i + 1) * de],
                &e[idx[i] * de..(idx[i] + 1) * de]
            );
        }
        // The matmul form of the distances equals the direct one.
        let dm = to_vec(squared_distances(
            t2(z.clone(), n, de, &d),
            t2(e.clone(), k, de, &d),
        ))
        .unwrap();
        for i in 0..n {
            for j in 0..k {
                assert!((dm[i * k + j] as f64 - dist(i, j)).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn vq_losses_match_the_formula_on_a_hand_built_case() {
        let d = dev();
        // Codebook e0 = (0, 0), e1 = (1, 1), e2 = (−2, 0); two examples × L = 2 positions.
        let e = vec![0.0f32, 0.0, 1.0, 1.0, -2.0, 0.0];
        let z = vec![0.2f32, -0.1, 0.9, 1.5, -1.5, 0.5, 0.4, 0.7];
        // Nearest: (0.2, −0.1) → e0 (d² 0.05); (0.9, 1.5) → e1 (0.26);
        // (−1.5, 0.5) → e2 (0.5); (0.4, 0.7) → e1 (0.45; e0 gives 0.65).
        let (idx, zq) = quantize(t2(z.clone(), 4, 2, &d), t2(e, 3, 2, &d));
        assert_eq!(int_to_host(idx).unwrap(), vec![0, 1, 2, 1]);
        let (cb, commit) = vq_losses(t2(z, 4, 2, &d), zq, 2);
        let want = (0.05 + 0.26 + 0.5 + 0.45) / 2.0;
        let (cb, commit) = (to_vec(cb).unwrap()[0], to_vec(commit).unwrap()[0]);
        assert!((cb as f64 - want).abs() < 1e-6, "{cb} vs {want}");
        assert!((commit as f64 - want).abs() < 1e-6, "{commit} vs {want}");
        // Usage and perplexity: codes {0, 1, 2, 1} → p̄ = (¼, ½, ¼), H = 1.5 ln 2.
        let u = CodeUsage::of(&[0, 1, 2, 1], 5);
        assert_eq!(u.used, 3);
        assert!((u.perplexity - (1.5 * std::f64::consts::LN_2).exp()).abs() < 1e-12);
        assert!((CodeUsage::of(&[3; 10], 5).perplexity - 1.0).abs() < 1e-12);
    }

    #[test]
    fn straight_through_gradients_reach_the_encoder_and_the_codebook_only_via_its_term() {
        let d = dev().autodiff();
        // The estimator itself: y = z_e + sg[z_q − z_e] has value z_q and
        // ∂f(y)/∂z_e = f'(z_q). With f(y) = Σ w y², the gradient is 2 w z_q.
        let (ze, zq, w) = (
            [0.3f32, -1.0, 2.0],
            [0.5f32, -0.5, 1.5],
            [1.0f32, 2.0, -3.0],
        );
        let ze_t = t2(ze.to_vec(), 1, 3, &d).require_grad();
        let y = straight_through(ze_t.clone(), t2(zq.to_vec(), 1, 3, &d));
        assert_eq!(to_vec(y.clone()).unwrap(), zq.to_vec());
        let grads = (y.powf_scalar(2.0) * t2(w.to_vec(), 1, 3, &d))
            .sum()
            .backward();
        let g = to_vec(ze_t.grad(&grads).unwrap()).unwrap();
        for i in 0..3 {
            assert!((g[i] - 2.0 * w[i] * zq[i]).abs() < 1e-6, "{g:?}");
        }

        let cfg = small(8);
        let net = VqNet::new(&cfg, &mut rng_from_seed(1), &d).unwrap();
        let x = t2(
            (0..4 * 64)
                .map(|i| ((i * 7) % 3 == 0) as u8 as f32)
                .collect(),
            4,
            64,
            &d,
        );
        // burn has no retain_graph: every backward gets a fresh forward pass.
        let terms = || {
            let f = net.forward(x.clone());
            let rec = net.log_px(x.clone(), f.out.clone()).mean().neg();
            let (cb, commit) = vq_losses(f.z_e.clone(), f.z_q.clone(), 4);
            (f, rec, cb, commit)
        };

        // Reconstruction + commitment: the encoder gets finite, non-zero
        // gradients through the quantiser; the codebook gets none.
        let (_, rec, _, commit) = terms();
        let grads = (rec + commit * 0.25).backward();
        let g = to_vec(net.encoder.layers[0].weight.val().grad(&grads).unwrap()).unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(g.iter().any(|v| v.abs() > 1e-8), "encoder gradient is zero");
        let gc = net.codebook.val().grad(&grads);
        assert!(
            gc.is_none_or(|t| to_vec(t).unwrap().iter().all(|v| *v == 0.0)),
            "the codebook must not learn from the reconstruction or commitment terms"
        );
        // The decoder gets no gradient from the VQ terms.
        let (_, _, cb, commit) = terms();
        let grads = (cb + commit).backward();
        let gd = net.decoder.layers[0].weight.val().grad(&grads);
        assert!(gd.is_none_or(|t| to_vec(t).unwrap().iter().all(|v| *v == 0.0)));

        // Codebook term alone: ∂/∂e_j (1/B) Σ_i ‖sg[z_i] − e_{k_i}‖²
        //   = −(2/B) Σ_{i: k_i = j} (z_i − e_j); the encoder gets nothing.
        let (f, _, cb, _) = terms();
        let grads = cb.backward();
        let gc = to_vec(net.codebook.val().grad(&grads).unwrap()).unwrap();
        let ze = to_vec(f.z_e.clone()).unwrap();
        let idx = int_to_host(f.indices.clone()).unwrap();
        let e = to_vec(net.codebook.val()).unwrap();
        let de = cfg.code_dim;
        let mut want = vec![0.0f64; cfg.codebook_size * de];
        for (i, &k) in idx.iter().enumerate() {
            for c in 0..de {
                want[k * de + c] -= 2.0 / 4.0 * (ze[i * de + c] as f64 - e[k * de + c] as f64);
            }
        }
        for (a, b) in gc.iter().zip(&want) {
            assert!((*a as f64 - b).abs() < 1e-5, "codebook grad {a} vs {b}");
        }
        assert!(want.iter().any(|v| v.abs() > 1e-6));
        let ge = net.encoder.layers[0].weight.val().grad(&grads);
        assert!(ge.is_none_or(|t| to_vec(t).unwrap().iter().all(|v| *v == 0.0)));
    }

    #[test]
    fn training_on_digits_reduces_reconstruction_loss_and_uses_many_codes() {
        let data = gen_data::digits8x8(gen_data::Split::Train).unwrap();
        let x = data.binarized(&mut rng_from_seed(2)).unwrap();
        let test = gen_data::digits8x8(gen_data::Split::Test)
            .unwrap()
            .binarized(&mut rng_from_seed(3))
            .unwrap();
        let cfg = small(32);
        let mut m = VqVae::new(cfg.clone(), &dev(), 1).unwrap();
        let before = m.reconstruction_nll(&test).unwrap();
        let dir = std::env::temp_dir().join(format!("gen-vqvae-train-{}", std::process::id()));
        let batcher = EpochBatcher::new(x.rows(), 100, 1).unwrap();
        let tc = TrainConfig {
            steps: 300,
            lr: 2e-3,
            progress: false,
            batch_size: 100,
            ..TrainConfig::default()
        };
        let report = Trainer::new(tc, &dir)
            .unwrap()
            .fit(&mut m, |t, _| x.select_rows(&batcher.indices(t)))
            .unwrap();
        let after = m.reconstruction_nll(&test).unwrap();
        let usage = m.code_usage(&test).unwrap();
        let bound = m.score(&test, &gen_core::ScoreOptions::default()).unwrap();
        eprintln!(
            "recon NLL {before:.2} -> {after:.2} nats; codes used {} / {}, perplexity {:.2}; vq-elbo {:.2}; final loss {:.3}",
            usage.used,
            cfg.codebook_size,
            usage.perplexity,
            bound.mean(),
            report.final_loss
        );
        assert!(
            after < 0.7 * before,
            "reconstruction NLL {before} -> {after}: less than 30 % better"
        );
        assert!(usage.used > 1 && usage.perplexity > 1.5, "{usage:?}");
        // The bound is log p(x | z_q) − L log K, exactly.
        assert!((bound.mean() - (-after - cfg.prior_nats())).abs() < 1e-6);
        assert!(matches!(bound.kind, gen_core::ScoreKind::Bound { .. }));
        // Sample / encode / reconstruct shapes; checkpoint round trip.
        let s = m
            .sample(5, &SampleOptions::default(), &mut rng_from_seed(4))
            .unwrap();
        assert_eq!(s.shape(), (5, 64));
        assert!(s.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
        let codes = m.encode(&test).unwrap();
        assert_eq!(codes.indices.shape(), (test.rows(), 4));
        assert_eq!(codes.z_q.shape(), (test.rows(), 32));
        assert_eq!(m.reconstruct(&test).unwrap().shape(), test.shape());
        std::fs::create_dir_all(&dir).unwrap();
        let ck = dir.join("ck");
        std::fs::create_dir_all(&ck).unwrap();
        m.save_checkpoint(&ck).unwrap();
        let back = VqVae::load(&ck, &dev()).unwrap();
        assert_eq!(
            back.score(&test, &gen_core::ScoreOptions::default())
                .unwrap(),
            bound
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_input_gives_clear_errors() {
        let m = VqVae::new(VqVaeConfig::mlp_bernoulli(784), &dev(), 0).unwrap();
        let e = m
            .score(&Matrix::zeros(3, 64), &gen_core::ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("784") && e.contains("8x8") && e.contains("Fix"),
            "{e}"
        );
        let e = m
            .score(
                &Matrix::new(1, 784, vec![f64::NAN; 784]).unwrap(),
                &gen_core::ScoreOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
        for (cfg, field) in [
            (
                VqVaeConfig {
                    codebook_size: 0,
                    ..VqVaeConfig::mlp_bernoulli(784)
                },
                "codebook_size",
            ),
            (
                VqVaeConfig {
                    code_dim: 0,
                    ..VqVaeConfig::mlp_bernoulli(784)
                },
                "code_dim",
            ),
            (
                VqVaeConfig {
                    codes: 0,
                    ..VqVaeConfig::mlp_bernoulli(784)
                },
                "codes",
            ),
            (
                VqVaeConfig {
                    commitment: f64::NAN,
                    ..VqVaeConfig::mlp_bernoulli(784)
                },
                "commitment",
            ),
        ] {
            let e = VqVae::new(cfg, &dev(), 0).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains("Fix"), "{e}");
        }
        let e = m
            .decode_indices(&Matrix::new(1, 16, vec![64.0; 16]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("code index"), "{e}");
    }
}
