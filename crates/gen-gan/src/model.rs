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
//! encoder to infer z from x.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_matrix, to_tensor};
use gen_core::train::{Ema, EmaConfig, PlayerLosses, TwoPlayer, TwoPlayerConfig};
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Matrix, Model, Result, Rng, Sample, SampleOptions,
    StepContext, StepStats, TaskSupport, rng_from_seed,
};
use serde::{Deserialize, Serialize};

use crate::losses::{self, GanLoss};
use crate::mlp::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, latent_noise};

/// Settings of a [`Gan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanConfig {
    /// The adversarial objective.
    pub loss: GanLoss,
    /// Critic updates per generator update (1 for minimax / hinge / LSGAN,
    /// 5 for WGAN).
    pub n_critic: usize,
    /// The critic's learning rate is lr(t)·d_lr_mult (lr(t): the trainer's
    /// scheduled rate), e.g. 4 with g_lr_mult 1 for the two time-scale
    /// update rule.
    pub d_lr_mult: f64,
    /// The generator's learning rate is lr(t)·g_lr_mult.
    pub g_lr_mult: f64,
    /// Adam β₁ of both players (DCGAN: 0.5).
    pub beta1: f32,
    /// Adam β₂ of both players.
    pub beta2: f32,
    /// Spectrally normalise every discriminator layer.
    pub spectral_norm: bool,
    /// Decay of an exponential moving average of the generator's weights,
    /// used for sampling when set (e.g. 0.999).
    pub ema: Option<f64>,
    /// Latent width L.
    pub latent: usize,
    /// Hidden widths of both players.
    pub hidden: Vec<usize>,
    /// Data width D (2 for the 2-D toys).
    pub data_dim: usize,
    /// Truncation trick at sampling time: latent coordinates with
    /// |ε| > t are redrawn (None: plain N(0, I)).
    pub truncation: Option<f64>,
}

impl Default for GanConfig {
    fn default() -> Self {
        Self {
            loss: GanLoss::NonSaturating,
            n_critic: 1,
            d_lr_mult: 1.0,
            g_lr_mult: 1.0,
            beta1: 0.5,
            beta2: 0.999,
            spectral_norm: false,
            ema: None,
            latent: 2,
            hidden: vec![128, 128],
            data_dim: 2,
            truncation: None,
        }
    }
}

impl GanConfig {
    /// The default settings with `loss` (and n_critic 5 for Wasserstein).
    pub fn with_loss(loss: GanLoss) -> Self {
        let n_critic = if matches!(loss, GanLoss::Wasserstein { .. }) {
            5
        } else {
            1
        };
        Self {
            loss,
            n_critic,
            ..Self::default()
        }
    }

    /// Errors with the cause and a fix for: n_critic 0, a clip bound ≤ 0,
    /// non-positive bandwidths, learning-rate multipliers, Adam βs outside
    /// [0, 1), an EMA decay outside [0, 1), zero widths, truncation ≤ 0.
    pub fn validate(&self) -> Result<()> {
        self.loss.validate()?;
        self.two_player().validate()?;
        for (field, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                return Err(GenError::config(
                    field,
                    b,
                    "Adam's β must be in [0, 1)",
                    "use beta1 0.5 and beta2 0.999 (DCGAN)",
                ));
            }
        }
        if let Some(decay) = self.ema {
            EmaConfig::new(decay).validate()?;
        }
        if self.latent == 0
            || self.data_dim == 0
            || self.hidden.is_empty()
            || self.hidden.contains(&0)
        {
            return Err(GenError::config(
                "gan widths",
                format!(
                    "latent {}, hidden {:?}, data_dim {}",
                    self.latent, self.hidden, self.data_dim
                ),
                "every width must be positive and there must be at least one hidden layer",
                "use latent 2, hidden [128, 128], data_dim 2 for the 2-D toys",
            ));
        }
        if let Some(t) = self.truncation
            && !(t.is_finite() && t > 0.0)
        {
            return Err(GenError::config(
                "truncation",
                t,
                "the truncation threshold must be finite and > 0",
                "use e.g. 1.0, or no truncation",
            ));
        }
        Ok(())
    }

    /// The [`TwoPlayerConfig`] of these settings.
    pub fn two_player(&self) -> TwoPlayerConfig {
        TwoPlayerConfig {
            n_critic: self.n_critic,
            d_lr_mult: self.d_lr_mult,
            g_lr_mult: self.g_lr_mult,
        }
    }

    fn optim(&self) -> OptimConfig {
        OptimConfig {
            beta1: self.beta1,
            beta2: self.beta2,
            ..OptimConfig::default()
        }
    }
}

/// A generative adversarial network (module docs).
#[derive(Debug)]
pub struct Gan {
    config: GanConfig,
    players: TwoPlayer<Discriminator, Generator>,
    ema: Option<Ema<Generator>>,
    /// Training device (autodiff).
    device: Device,
}

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
    /// A new GAN on `device` (autodiff is added for training); the
    /// generator's weights, then the discriminator's, are drawn from `seed`.
    pub fn new(config: GanConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let mut rng = rng_from_seed(seed);
        let g = GeneratorConfig {
            latent: config.latent,
            hidden: config.hidden.clone(),
            d_out: config.data_dim,
        }
        .init(&mut rng, &train)?;
        let mut d = DiscriminatorConfig {
            d_in: config.data_dim,
            hidden: config.hidden.clone(),
            spectral_norm: config.spectral_norm,
        }
        .init(&mut rng, &train)?;
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
    pub fn players(&self) -> &TwoPlayer<Discriminator, Generator> {
        &self.players
    }

    /// Both players, mutably (for custom training loops and tests).
    pub fn players_mut(&mut self) -> &mut TwoPlayer<Discriminator, Generator> {
        &mut self.players
    }

    /// The moving average of the generator, if configured.
    pub fn ema(&self) -> Option<&Ema<Generator>> {
        self.ema.as_ref()
    }

    /// The training device (autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The generator used for sampling (the EMA when configured), without autodiff.
    pub fn sampling_generator(&self) -> Generator {
        match &self.ema {
            Some(e) => e.model().clone(),
            None => self.players.g.model.valid(),
        }
    }

    /// σ(D(x)) for minimax / non-saturating, D(x) otherwise, for every row
    /// of `x` (evaluation: spectral-norm state is not updated).
    pub fn discriminate(&self, x: &Matrix) -> Result<Vec<f64>> {
        x.ensure_cols(self.config.data_dim, "GAN discriminate")?;
        let d = self.players.d.model.valid();
        let out = d.forward(to_tensor(x, &self.device.clone().inner()));
        let out = match self.config.loss {
            GanLoss::Minimax | GanLoss::NonSaturating => burn::tensor::activation::sigmoid(out),
            _ => out,
        };
        Ok(gen_core::tensor::to_vec(out)?
            .into_iter()
            .map(f64::from)
            .collect())
    }

    /// `n` samples x = G(τ·ε) with ε ~ N(0, I) (truncated at `truncation`
    /// when given), as an n × D matrix.
    pub fn sample_with(
        &self,
        n: usize,
        temperature: f64,
        truncation: Option<f64>,
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
        let l = self.config.latent;
        let z = latent_noise(n, l, temperature, truncation, rng);
        let dev = self.device.clone().inner();
        let g = self.sampling_generator();
        to_matrix(g.forward(Tensor::from_data(TensorData::new(z, [n, l]), &dev)))
    }

    fn check_batch(&self, batch: &Matrix) -> Result<()> {
        batch.ensure_cols(self.config.data_dim, "GAN training batch")?;
        batch.ensure_finite("GAN training batch")?;
        if batch.rows() < 2 {
            return Err(GenError::input(
                "GAN training batch",
                format!("{} rows", batch.rows()),
                "use batches of at least 2 rows (typically 128 to 512)",
            ));
        }
        Ok(())
    }

    /// One learning step (module docs); the losses of every update.
    pub fn step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<PlayerLosses> {
        self.check_batch(batch)?;
        let n = batch.rows();
        let dev = self.device.clone();
        let real = to_tensor(batch, &dev);
        let loss = self.config.loss;
        let losses = match loss {
            GanLoss::Mmd { bandwidths } => {
                let lr = self.players.lr_g(ctx);
                let fake = self.players.g.model.generate(n, ctx.rng, &dev);
                let l = losses::mmd2(fake, real, &bandwidths, false)?;
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
                    let fake = self.players.g.model.generate(n, ctx.rng, &dev).detach();
                    let d = &self.players.d.model;
                    let l = critic_loss(&loss, d.forward(real.clone()), d.forward(fake))?;
                    let v = self.players.d.step(l, lr_d)?;
                    out.d.push(v);
                    if !v.is_finite() {
                        return Ok(out);
                    }
                    let d = self.players.d.model.clone();
                    self.players.d.model = losses::clip_weights(d, clip);
                }
                let fake = self.players.g.model.generate(n, ctx.rng, &dev);
                let l = generator_loss(&loss, self.players.d.model.forward(fake))?;
                out.g = self.players.g.step(l, lr_g)?;
                out
            }
            _ => self.players.step(
                ctx,
                |d, g, _k, rng| {
                    let fake = g.generate(n, rng, &dev).detach();
                    critic_loss(&loss, d.forward(real.clone()), d.forward(fake))
                },
                |d, g, rng| generator_loss(&loss, d.forward(g.generate(n, rng, &dev))),
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

impl Model for Gan {
    fn capabilities(&self) -> Capabilities {
        capabilities_row()
    }
}

/// The capability row of the GAN (`gan`).
pub fn capabilities_row() -> Capabilities {
    Capabilities {
        model: "gan",
        family: "gan",
        learn: TaskSupport::approximate(
            "adversarial, unstable: n_critic critic Adam steps, then one generator step",
        ),
        score: TaskSupport::none("the discriminator's output is not a density"),
        sample: TaskSupport::exact("one pass x = G(z), z ~ N(0, I)"),
        infer: TaskSupport::none("no encoder: z is not recovered from x"),
    }
}

impl Learn for Gan {
    type Batch = Matrix;
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

impl Sample for Gan {
    type Output = Matrix;
    /// x = G(τ·ε), ε ~ N(0, I), truncated as the config says; from the EMA
    /// generator when configured.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        if options.condition.is_some() {
            return Err(GenError::config(
                "condition",
                "given",
                "this GAN is unconditional",
                "sample without a condition",
            ));
        }
        self.sample_with(n, options.temperature, self.config.truncation, rng)
    }
}

impl Checkpoint for Gan {
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
        if saved.latent != self.config.latent
            || saved.hidden != self.config.hidden
            || saved.data_dim != self.config.data_dim
            || saved.spectral_norm != self.config.spectral_norm
            || saved.ema.is_some() != self.config.ema.is_some()
        {
            return Err(GenError::Format {
                path,
                problem: format!(
                    "the checkpoint is of a GAN with latent {}, hidden {:?}, data_dim {}, spectral_norm {}, ema {:?}; this one has latent {}, hidden {:?}, data_dim {}, spectral_norm {}, ema {:?}",
                    saved.latent,
                    saved.hidden,
                    saved.data_dim,
                    saved.spectral_norm,
                    saved.ema,
                    self.config.latent,
                    self.config.hidden,
                    self.config.data_dim,
                    self.config.spectral_norm,
                    self.config.ema
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
