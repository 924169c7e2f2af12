//! The GAN model: configuration, the alternating training step, sampling
//! and checkpoints.
//!
//! # One learning step (Goodfellow et al. 2014, Alg. 1; Arjovsky et al. 2017, Alg. 1)
//!
//! With the trainer's rate lr(t), a data batch x₁..x_m and fresh noise:
//!
//! 1. n_critic times: draw z₁..z_m ~ N(0, I), x̃ = G(z) (detached), and take
//!    one Adam step of D on L_D(D(x), D(x̃)) at rate lr(t)·d_lr_mult; for the
//!    Wasserstein loss clip every critic weight to [−c, c] after it. Every
//!    critic update sees the whole data batch with its own noise.
//! 2. Draw fresh z, take one Adam step of G on L_G(D(G(z))) at rate
//!    lr(t)·g_lr_mult (gradients that reach D are discarded).
//! 3. Fold G's new weights into the EMA, if configured.
//!
//! The steps run through gen-core's [`TwoPlayer`] (each player with its own
//! Adam state, β = (0.5, 0.999) by default as in DCGAN). The MMD loss (a
//! generative moment-matching network) has no adversary: step 1 is skipped
//! and G minimises the biased MMD²_k(G(z), x) directly.
//!
//! A GAN defines q_θ only implicitly, as the push-forward of N(0, I) through
//! G: sampling is one forward pass, but there is no density to score and no
//! encoder to infer z from x (a BiGAN learns one, see [`crate::bigan`]).
//!
//! The same step trains every pair of networks ([`CriticNet`],
//! [`GeneratorNet`]): the MLP GAN, [`DcGan`] (with classes, the conditional
//! GAN: each fake is generated with its batch row's class, and the critic
//! sees the class too), and [`BiGan`], whose critic judges pairs
//! (x, E(x)) against (G(z), z) and whose generator player (G and E) minimises
//! the critic's loss with the two sides swapped.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::optim::Optimized;
use gen_core::tensor::{to_matrix, to_tensor};
use gen_core::train::{Ema, EmaConfig, PlayerLosses, TwoPlayer};
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Matrix, Model, Result, Rng, Sample, SampleOptions,
    StepContext, StepStats, TaskSupport, rng_from_seed,
};

use crate::bigan::BiganGenerator;
pub use crate::config::{GanArch, GanConfig};
use crate::conv::{ConvDiscriminator, ConvGenerator};
use crate::losses::{self, GanLoss};
use crate::mlp::{Discriminator, Generator, latent_noise};
use crate::nets::{CriticNet, GeneratorNet, one_hot};

/// Rows per generator forward when sampling many rows.
const CHUNK: usize = 512;

/// A generative adversarial network (module docs) over a critic network `D`
/// and a generator network `G`: the MLP GAN by default, [`DcGan`] (and the
/// conditional cGAN) on images, [`BiGan`] with an encoder.
#[derive(Debug)]
pub struct Gan<D: CriticNet = Discriminator, G: GeneratorNet = Generator> {
    config: GanConfig,
    players: TwoPlayer<D, G>,
    ema: Option<Ema<G>>,
    /// Training device (autodiff).
    device: Device,
}

/// DCGAN (and, with `classes` > 0, the conditional GAN with a projection
/// discriminator) on square images: see [`crate::conv`].
pub type DcGan = Gan<ConvDiscriminator, ConvGenerator>;

/// BiGAN / ALI: generator, encoder and joint critic; see [`crate::bigan`].
pub type BiGan = Gan<Discriminator, BiganGenerator>;

/// The discriminator's loss L_D for `loss` (not defined for MMD).
pub fn critic_loss(loss: &GanLoss, real: Tensor<1>, fake: Tensor<1>) -> Result<Tensor<1>> {
    Ok(match loss {
        GanLoss::Minimax | GanLoss::NonSaturating => losses::minimax_d_loss(real, fake),
        GanLoss::Wasserstein { .. } => losses::wgan_critic_loss(real, fake),
        GanLoss::Hinge => losses::hinge_d_loss(real, fake),
        GanLoss::LeastSquares => losses::lsgan_d_loss(real, fake),
        GanLoss::Mmd { .. } => {
            return Err(GenError::Other(
                "the MMD loss has no discriminator, so no critic loss".into(),
            ));
        }
    })
}

/// The generator's loss L_G for `loss` from D's output on fakes (not
/// defined for MMD, see [`losses::mmd2`]).
pub fn generator_loss(loss: &GanLoss, fake: Tensor<1>) -> Result<Tensor<1>> {
    Ok(match loss {
        GanLoss::Minimax => losses::minimax_g_loss(fake),
        GanLoss::NonSaturating => losses::non_saturating_g_loss(fake),
        GanLoss::Wasserstein { .. } => losses::wgan_g_loss(fake),
        GanLoss::Hinge => losses::hinge_g_loss(fake),
        GanLoss::LeastSquares => losses::lsgan_g_loss(fake),
        GanLoss::Mmd { .. } => {
            return Err(GenError::Other(
                "the MMD loss is computed from samples, not discriminator outputs".into(),
            ));
        }
    })
}

impl Gan {
    /// A new MLP GAN on `device` (autodiff is added for training); the
    /// generator's weights, then the discriminator's, are drawn from `seed`.
    pub fn new(config: GanConfig, device: &Device, seed: u64) -> Result<Self> {
        Self::build(config, device, seed)
    }
}

/// Class indices of a conditional batch's last column, each checked to be
/// an integer in 0..k.
fn labels_of(column: impl Iterator<Item = f64>, k: usize, context: &str) -> Result<Vec<usize>> {
    column
        .map(|v| {
            if v.fract() == 0.0 && v >= 0.0 && (v as usize) < k {
                Ok(v as usize)
            } else {
                Err(class_error(v, k, context))
            }
        })
        .collect()
}

fn class_error(v: f64, k: usize, context: &str) -> GenError {
    GenError::config(
        "class",
        v,
        format!(
            "{context}: the model has {k} classes, so a class is an integer in 0..={}",
            k.saturating_sub(1)
        ),
        format!("give a class between 0 and {}", k.saturating_sub(1)),
    )
}

impl<D: CriticNet, G: GeneratorNet> Gan<D, G> {
    /// A new GAN with the networks `config.arch` describes, on `device`
    /// (autodiff is added for training); the generator's weights, then the
    /// discriminator's, are drawn from `seed`.
    pub fn build(config: GanConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let mut rng = rng_from_seed(seed);
        let g = G::init(&config, &mut rng, &train)?;
        let mut d = D::init(&config, &mut rng, &train)?;
        if let GanLoss::Wasserstein { clip } = config.loss {
            d = losses::clip_weights(d, clip);
        }
        let ema = config
            .ema
            .map(|decay| Ema::new(&g, EmaConfig::new(decay)))
            .transpose()?;
        let optim = config.optim();
        let players = TwoPlayer::new(
            Optimized::new(d, &optim),
            Optimized::new(g, &optim),
            config.two_player(),
        )?;
        Ok(Self {
            config,
            players,
            ema,
            device: train,
        })
    }

    /// The settings.
    pub fn config(&self) -> &GanConfig {
        &self.config
    }

    /// Both players with their optimisers.
    pub fn players(&self) -> &TwoPlayer<D, G> {
        &self.players
    }

    /// Both players, mutably (for custom training loops and tests).
    pub fn players_mut(&mut self) -> &mut TwoPlayer<D, G> {
        &mut self.players
    }

    /// The moving average of the generator, if configured.
    pub fn ema(&self) -> Option<&Ema<G>> {
        self.ema.as_ref()
    }

    /// The training device (autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Classes K of a conditional GAN (0: unconditional).
    pub fn classes(&self) -> usize {
        self.config.classes
    }

    /// The generator used for sampling, encoding and interpolating: the EMA
    /// when configured, else the live weights; without autodiff, so batch
    /// norm runs in eval mode on its running statistics.
    pub fn sampling_generator(&self) -> G {
        match &self.ema {
            Some(e) => e.model().clone(),
            None => self.players.g.model.valid(),
        }
    }

    /// Rows of a conditional batch or input: the data columns and the
    /// labels of the last column; unconditional rows pass through.
    fn split_labels(&self, batch: &Matrix, context: &str) -> Result<(Matrix, Option<Vec<usize>>)> {
        let (d, k) = (self.config.data_dim, self.config.classes);
        if k == 0 {
            batch.ensure_cols(d, context)?;
            return Ok((batch.clone(), None));
        }
        batch.ensure_cols(d + 1, &format!("{context} (pixels, then the class index)"))?;
        let labels = labels_of(batch.iter_rows().map(|r| r[d]), k, context)?;
        let x: Vec<f64> = batch
            .iter_rows()
            .flat_map(|r| r[..d].iter().copied())
            .collect();
        Ok((Matrix::new(batch.rows(), d, x)?, Some(labels)))
    }

    /// σ(D(x)) for minimax / non-saturating, D(x) otherwise, for every row
    /// of `x` (evaluation: spectral-norm state is not updated). A
    /// conditional GAN reads the class from the last column; a BiGAN pairs
    /// each row with its encoding E(x).
    pub fn discriminate(&self, x: &Matrix) -> Result<Vec<f64>> {
        let (x, labels) = self.split_labels(x, "GAN discriminate")?;
        // A packing critic judges m samples at once: each point is shown
        // as m copies of itself.
        let m = self.config.pack;
        let x = if m > 1 {
            let rows: Vec<usize> = (0..x.rows())
                .flat_map(|i| std::iter::repeat_n(i, m))
                .collect();
            x.select_rows(&rows)?
        } else {
            x
        };
        let dev = self.device.clone().inner();
        let d = self.players.d.model.valid();
        let xt = to_tensor(&x, &dev);
        let z = self.players.g.model.valid().encode(xt.clone());
        let y = labels.map(|l| one_hot(&l, self.config.classes, &dev));
        let out = d.critic(xt, z, y);
        let out = match self.config.loss {
            GanLoss::Minimax | GanLoss::NonSaturating => burn::tensor::activation::sigmoid(out),
            _ => out,
        };
        Ok(gen_core::tensor::to_vec(out)?
            .into_iter()
            .map(f64::from)
            .collect())
    }

    /// x = G(z, y) for latent rows `z` (n × L) and, for a conditional GAN,
    /// one class per row, with the sampling generator.
    pub fn decode(&self, z: &Matrix, labels: Option<&[usize]>) -> Result<Matrix> {
        z.ensure_cols(self.config.latent, "GAN decode latents")?;
        z.ensure_finite("GAN decode latents")?;
        let labels = self.checked_labels(labels, z.rows())?;
        self.generate_rows(&z.to_f32(), z.rows(), labels.as_deref())
    }

    fn checked_labels(&self, labels: Option<&[usize]>, n: usize) -> Result<Option<Vec<usize>>> {
        let k = self.config.classes;
        match (labels, k) {
            (None, 0) => Ok(None),
            (Some(_), 0) => Err(GenError::config(
                "condition",
                "a class",
                "this GAN is unconditional",
                "sample without a class, or train a conditional GAN (cgan)",
            )),
            (None, _) => Err(GenError::config(
                "class",
                "none",
                format!("this conditional GAN needs one class (0..{k}) per row"),
                "pass a class per row",
            )),
            (Some(l), _) => {
                if l.len() != n {
                    return Err(GenError::shape(
                        "GAN classes",
                        format!("{n} classes (one per row)"),
                        format!("{} classes", l.len()),
                        "pass one class per latent row",
                    ));
                }
                labels_of(l.iter().map(|&c| c as f64), k, "GAN classes").map(Some)
            }
        }
    }

    /// G(z, y) in chunks of host latents (row-major, n × L).
    fn generate_rows(&self, z: &[f32], n: usize, labels: Option<&[usize]>) -> Result<Matrix> {
        let l = self.config.latent;
        let dev = self.device.clone().inner();
        let g = self.sampling_generator();
        let mut out = Vec::with_capacity(n * self.config.data_dim);
        for start in (0..n).step_by(CHUNK) {
            let m = CHUNK.min(n - start);
            let zt = Tensor::from_data(
                TensorData::new(z[start * l..(start + m) * l].to_vec(), [m, l]),
                &dev,
            );
            let y = labels.map(|c| one_hot(&c[start..start + m], self.config.classes, &dev));
            out.extend_from_slice(to_matrix(g.generate_from(zt, y))?.as_slice());
        }
        Matrix::new(n, self.config.data_dim, out)
    }

    /// `n` samples x = G(τ·ε) with ε ~ N(0, I) (truncated at `truncation`
    /// when given), as an n × D matrix. A conditional GAN draws each class
    /// uniformly (after the latents), sampling the marginal
    /// p(x) = (1/K) Σ_y p(x | y).
    pub fn sample_with(
        &self,
        n: usize,
        temperature: f64,
        truncation: Option<f64>,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        self.sample_classes(n, temperature, truncation, None, rng)
    }

    /// As [`Self::sample_with`], with the class of every row given
    /// (conditional GANs; an unconditional GAN refuses classes).
    pub fn sample_classes(
        &self,
        n: usize,
        temperature: f64,
        truncation: Option<f64>,
        labels: Option<&[usize]>,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        SampleOptions::with_temperature(temperature).validate()?;
        if let Some(t) = truncation
            && !(t.is_finite() && t > 0.0)
        {
            return Err(GenError::config(
                "truncation",
                t,
                "the truncation threshold must be finite and > 0",
                "use e.g. 1.0, or no truncation",
            ));
        }
        let mut labels = self.checked_labels_or_none(labels, n)?;
        let z = latent_noise(n, self.config.latent, temperature, truncation, rng);
        if labels.is_none() && self.config.classes > 0 {
            use rand::Rng as _;
            let k = self.config.classes;
            labels = Some((0..n).map(|_| rng.random_range(0..k)).collect());
        }
        self.generate_rows(&z, n, labels.as_deref())
    }

    fn checked_labels_or_none(
        &self,
        labels: Option<&[usize]>,
        n: usize,
    ) -> Result<Option<Vec<usize>>> {
        match labels {
            None => Ok(None),
            some => self.checked_labels(some, n),
        }
    }

    /// Latent interpolation: for each of `pairs` pairs of fresh
    /// z_a, z_b ~ N(0, I), the `steps` points G((1 − t) z_a + t z_b),
    /// t = 0, 1/(steps − 1), …, 1, rows pair after pair. A conditional GAN
    /// keeps class `labels[p]` along pair p (classes p mod K without labels).
    pub fn latent_interpolation(
        &self,
        pairs: usize,
        steps: usize,
        labels: Option<&[usize]>,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        if steps < 2 {
            return Err(GenError::config(
                "interpolation steps",
                steps,
                "a segment needs both end points",
                "use at least 2 steps",
            ));
        }
        let l = self.config.latent;
        let k = self.config.classes;
        let pair_labels: Option<Vec<usize>> = match (labels, k) {
            (Some(c), _) => Some(c.to_vec()),
            (None, 0) => None,
            (None, _) => Some((0..pairs).map(|p| p % k).collect()),
        };
        let mut z = Vec::with_capacity(pairs * steps * l);
        for _ in 0..pairs {
            let a = latent_noise(1, l, 1.0, None, rng);
            let b = latent_noise(1, l, 1.0, None, rng);
            for s in 0..steps {
                let t = s as f32 / (steps - 1) as f32;
                z.extend(a.iter().zip(&b).map(|(a, b)| (1.0 - t) * a + t * b));
            }
        }
        let rows: Option<Vec<usize>> = pair_labels.map(|c| {
            c.iter()
                .take(pairs)
                .flat_map(|&y| std::iter::repeat_n(y, steps))
                .collect()
        });
        let labels = self.checked_labels_or_none(rows.as_deref(), pairs * steps)?;
        self.generate_rows(&z, pairs * steps, labels.as_deref())
    }

    fn check_batch(&self, batch: &Matrix) -> Result<()> {
        batch.ensure_finite("GAN training batch")?;
        let m = self.config.pack;
        if !batch.rows().is_multiple_of(m) {
            return Err(GenError::input(
                "GAN training batch",
                format!("{} rows with packing {m}", batch.rows()),
                "use a batch divisible by the packing (e.g. 256 with pack 2 or 4)",
            ));
        }
        if batch.rows() < 2 {
            return Err(GenError::input(
                "GAN training batch",
                format!("{} rows", batch.rows()),
                "use batches of at least 2 rows (typically 128 to 512)",
            ));
        }
        Ok(())
    }

    /// One learning step (module docs); the losses of every update. A
    /// conditional GAN's batch carries each row's class in an extra last
    /// column (see [`labelled_batch`]); its fakes are generated with the
    /// batch's classes.
    pub fn step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<PlayerLosses> {
        self.check_batch(batch)?;
        let (x, labels) = self.split_labels(batch, "GAN training batch")?;
        let n = x.rows();
        let dev = self.device.clone();
        let real = to_tensor(&x, &dev);
        let y = labels.map(|l| one_hot(&l, self.config.classes, &dev));
        let l = self.config.latent;
        let loss = self.config.loss;
        // (G(z, y), z) for fresh z ~ N(0, I) from the run RNG.
        let fake = |g: &G, rng: &mut Rng| {
            let z: Tensor<2> = Tensor::from_data(
                TensorData::new(latent_noise(n, l, 1.0, None, rng), [n, l]),
                &dev,
            );
            (g.generate_from(z.clone(), y.clone()), z)
        };
        // L_D on (x, E(x)) against (G(z), z) for a BiGAN, x against G(z)
        // otherwise; nothing reaches G.
        let d_loss = |d: &D, g: &G, rng: &mut Rng| {
            let (xf, z) = fake(g, rng);
            let zr = g.encode(real.clone()).map(|e| e.detach());
            let zf = zr.as_ref().map(|_| z);
            critic_loss(
                &loss,
                d.critic(real.clone(), zr, y.clone()),
                d.critic(xf.detach(), zf, y.clone()),
            )
        };
        // L_G on D(G(z)); a BiGAN's G and E minimise L_D with the sides swapped.
        let g_loss = |d: &D, g: &G, rng: &mut Rng| {
            let (xf, z) = fake(g, rng);
            match g.encode(real.clone()) {
                Some(zr) => critic_loss(
                    &loss,
                    d.critic(xf, Some(z), y.clone()),
                    d.critic(real.clone(), Some(zr), y.clone()),
                ),
                None => generator_loss(&loss, d.critic(xf, None, y.clone())),
            }
        };
        let losses = match loss {
            GanLoss::Mmd { bandwidths } => {
                let lr = self.players.lr_g(ctx);
                let (xf, _) = fake(&self.players.g.model, ctx.rng);
                let l = losses::mmd2(xf, real.clone(), &bandwidths, false)?;
                PlayerLosses {
                    d: Vec::new(),
                    g: self.players.g.step(l, lr)?,
                }
            }
            GanLoss::Wasserstein { clip } => {
                // alternating_step's closures see D immutably; weight
                // clipping must change D between critic updates, so the
                // same loop is written out here.
                let (lr_d, lr_g) = (self.players.lr_d(ctx), self.players.lr_g(ctx));
                let mut out = PlayerLosses {
                    d: Vec::with_capacity(self.config.n_critic),
                    g: f64::NAN,
                };
                for _ in 0..self.config.n_critic {
                    let l = d_loss(&self.players.d.model, &self.players.g.model, ctx.rng)?;
                    let v = self.players.d.step(l, lr_d)?;
                    out.d.push(v);
                    if !v.is_finite() {
                        return Ok(out);
                    }
                    let d = self.players.d.model.clone();
                    self.players.d.model = losses::clip_weights(d, clip);
                }
                let l = g_loss(&self.players.d.model, &self.players.g.model, ctx.rng)?;
                out.g = self.players.g.step(l, lr_g)?;
                out
            }
            _ => self.players.step(
                ctx,
                |d, g, _k, rng| d_loss(d, g, rng),
                |d, g, rng| g_loss(d, g, rng),
            )?,
        };
        if losses.g.is_finite()
            && let Some(ema) = &mut self.ema
        {
            ema.update(&self.players.g.model)?;
        }
        Ok(losses)
    }
}

/// Pixels with each row's class appended as a last column: the batch (and
/// `discriminate` input) of a conditional GAN.
pub fn labelled_batch(x: &Matrix, labels: &[u8]) -> Result<Matrix> {
    if labels.len() != x.rows() {
        return Err(GenError::shape(
            "labelled GAN batch",
            format!("{} labels (one per row)", x.rows()),
            format!("{} labels", labels.len()),
            "pass one label per image row",
        ));
    }
    let d = x.cols();
    let mut v = Vec::with_capacity(x.rows() * (d + 1));
    for (r, &y) in x.iter_rows().zip(labels) {
        v.extend_from_slice(r);
        v.push(f64::from(y));
    }
    Matrix::new(x.rows(), d + 1, v)
}

impl BiGan {
    /// ẑ = E(x) for every row of `x` (n × D → n × L): the encoder's
    /// approximate inverse of G, not a posterior.
    pub fn encode(&self, x: &Matrix) -> Result<Matrix> {
        x.ensure_cols(self.config.data_dim, "BiGAN encode")?;
        x.ensure_finite("BiGAN encode")?;
        let dev = self.device.clone().inner();
        let g = self.sampling_generator();
        let mut out = Vec::with_capacity(x.rows() * self.config.latent);
        for start in (0..x.rows()).step_by(CHUNK) {
            let idx: Vec<usize> = (start..(start + CHUNK).min(x.rows())).collect();
            let xt = to_tensor(&x.select_rows(&idx)?, &dev);
            out.extend_from_slice(to_matrix(g.e.forward(xt))?.as_slice());
        }
        Matrix::new(x.rows(), self.config.latent, out)
    }

    /// G(E(x)): rows through the encoder and back.
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        self.decode(&self.encode(x)?, None)
    }
}

impl<D: CriticNet, G: GeneratorNet> Model for Gan<D, G> {
    fn capabilities(&self) -> Capabilities {
        capabilities_for(&self.config)
    }
}

/// The capability row of the GAN `config` describes.
pub fn capabilities_for(config: &GanConfig) -> Capabilities {
    match (config.arch, config.classes) {
        (GanArch::Mlp, _) => capabilities_row(),
        (GanArch::Dcgan { .. }, 0) => dcgan_row(),
        (GanArch::Dcgan { .. }, _) => cgan_row(),
        (GanArch::Bigan { .. }, _) => bigan_row(),
    }
}

const NO_DENSITY: &str = "the discriminator's output is not a density";

/// The capability row of the GAN (`gan`).
pub fn capabilities_row() -> Capabilities {
    Capabilities {
        model: "gan",
        family: "gan",
        learn: TaskSupport::approximate(
            "adversarial, unstable: n_critic critic Adam steps, then one generator step",
        ),
        score: TaskSupport::none(NO_DENSITY),
        sample: TaskSupport::exact("one pass x = G(z), z ~ N(0, I)"),
        infer: TaskSupport::none("no encoder: z is not recovered from x"),
    }
}

/// The capability row of DCGAN (`dcgan`).
pub fn dcgan_row() -> Capabilities {
    Capabilities {
        model: "dcgan",
        family: "gan",
        learn: TaskSupport::approximate(
            "adversarial, unstable: strided-conv critic and transposed-conv generator with batch norm, alternating Adam steps",
        ),
        score: TaskSupport::none(NO_DENSITY),
        sample: TaskSupport::exact(
            "one pass x = G(z), z ~ N(0, I); batch norm in eval mode (running statistics)",
        ),
        infer: TaskSupport::none("no encoder: z is not recovered from x"),
    }
}

/// The capability row of the conditional GAN (`cgan`).
pub fn cgan_row() -> Capabilities {
    Capabilities {
        model: "cgan",
        family: "gan",
        learn: TaskSupport::approximate(
            "adversarial, unstable: DCGAN with the label in G and a projection discriminator",
        ),
        score: TaskSupport::none(NO_DENSITY),
        sample: TaskSupport::exact(
            "one pass x = G(z, y) for a requested class y (uniform y when none is given)",
        ),
        infer: TaskSupport::none("no encoder: z is not recovered from x"),
    }
}

/// The capability row of BiGAN / ALI (`bigan`).
pub fn bigan_row() -> Capabilities {
    Capabilities {
        model: "bigan",
        family: "gan",
        learn: TaskSupport::approximate(
            "adversarial, unstable: joint critic D(x, z) on (x, E(x)) vs (G(z), z)",
        ),
        score: TaskSupport::none(NO_DENSITY),
        sample: TaskSupport::exact("one pass x = G(z), z ~ N(0, I)"),
        infer: TaskSupport::approximate(
            "z = E(x), a learned approximate inverse of G (a point, not a posterior)",
        ),
    }
}

impl<D: CriticNet, G: GeneratorNet> Learn for Gan<D, G> {
    type Batch = Matrix;
    /// Rows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    /// `loss` is the generator's loss (the critic's mean loss when a
    /// non-finite critic loss stopped the step); metrics `d_loss` (mean
    /// over the critic updates; absent for MMD) and `g_loss` (for MMD, the
    /// biased MMD², also reported as `mmd2`).
    fn learn_step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let l = self.step(batch, ctx)?;
        let mut stats = if l.g.is_finite() || l.d.is_empty() {
            StepStats::loss(l.g)
        } else {
            StepStats::loss(l.d_mean())
        }
        .with("g_loss", l.g);
        if l.d.is_empty() {
            stats = stats.with("mmd2", l.g);
        } else {
            stats = stats.with("d_loss", l.d_mean());
        }
        Ok(stats)
    }
}

impl<D: CriticNet, G: GeneratorNet> Sample for Gan<D, G> {
    type Output = Matrix;
    /// x = G(τ·ε), ε ~ N(0, I), truncated as the config says; from the EMA
    /// generator when configured. A conditional GAN takes its classes from
    /// `options.condition` (one column of class indices: one row for every
    /// sample, or one row per sample), uniform classes without it.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let labels = match &options.condition {
            None => None,
            Some(_) if self.config.classes == 0 => {
                return Err(GenError::config(
                    "condition",
                    "given",
                    "this GAN is unconditional",
                    "sample without a condition",
                ));
            }
            Some(c) => {
                c.ensure_cols(1, "GAN condition (one class index per row)")?;
                let k = self.config.classes;
                let classes = labels_of(c.as_slice().iter().copied(), k, "GAN condition")?;
                match classes.len() {
                    1 => Some(vec![classes[0]; n]),
                    m if m == n => Some(classes),
                    m => {
                        return Err(GenError::shape(
                            "GAN condition",
                            format!("1 or {n} rows"),
                            format!("{m} rows"),
                            "give one class for all samples or one per sample",
                        ));
                    }
                }
            }
        };
        self.sample_classes(
            n,
            options.temperature,
            self.config.truncation,
            labels.as_deref(),
            rng,
        )
    }
}

impl<D: CriticNet, G: GeneratorNet> Checkpoint for Gan<D, G> {
    /// Writes `gan_config.json`, both players with their Adam states
    /// (`gan_d.*`, `gan_g.*`) and the EMA (`gan_g.ema.*`), each file atomically.
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("gan_config.json"), &self.config)?;
        self.players.save(dir, "gan")?;
        if let Some(ema) = &self.ema {
            ema.save(dir, "gan_g")?;
        }
        Ok(())
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("gan_config.json");
        let saved: GanConfig = read_json(&path)?;
        let c = &self.config;
        if saved.latent != c.latent
            || saved.hidden != c.hidden
            || saved.data_dim != c.data_dim
            || saved.pack != c.pack
            || saved.spectral_norm != c.spectral_norm
            || saved.ema.is_some() != c.ema.is_some()
            || saved.arch != c.arch
            || saved.classes != c.classes
        {
            return Err(GenError::Format {
                path,
                problem: format!(
                    "the checkpoint is of a GAN with arch {:?}, classes {}, latent {}, hidden {:?}, data_dim {}, spectral_norm {}, ema {:?}; this one has arch {:?}, classes {}, latent {}, hidden {:?}, data_dim {}, spectral_norm {}, ema {:?}",
                    saved.arch,
                    saved.classes,
                    saved.latent,
                    saved.hidden,
                    saved.data_dim,
                    saved.spectral_norm,
                    saved.ema,
                    c.arch,
                    c.classes,
                    c.latent,
                    c.hidden,
                    c.data_dim,
                    c.spectral_norm,
                    c.ema
                ),
                fix: "build the GAN with the checkpoint's gan_config.json".into(),
            });
        }
        self.players.load(dir, "gan")?;
        if let Some(ema) = &mut self.ema {
            ema.load(dir, "gan_g")?;
        }
        Ok(())
    }
}
