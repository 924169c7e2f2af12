//! Several players in one training step (GANs): `n_critic` updates of a
//! critic D, then one update of a generator G, each player with its own
//! optimiser state and learning rate.
//!
//! Per step t of the trainer, with lr(t) the scheduled base rate:
//!
//! - for k = 0 .. n_critic − 1: θ_D ← Adam(θ_D, ∇_{θ_D} L_D(k), lr(t)·m_D)
//! - then: θ_G ← Adam(θ_G, ∇_{θ_G} L_G, lr(t)·m_G)
//!
//! Both learning rates follow the schedule; the multipliers m_D, m_G give the
//! two time-scale update rule (TTUR, Heusel et al. 2017, e.g. m_D = 4 m_G).
//! Each update back-propagates its own loss and steps only its own player's
//! parameters: gradients that reach the other player (G through a critic
//! loss built on an undetached fake, D through the generator loss) are
//! discarded. Detach the fake in the critic loss to save that work.
//!
//! A spectrally normalised critic ([`crate::nn::spectral_norm`]) takes a
//! power-iteration step in every training forward, the generator update's
//! included (as in PyTorch): n_critic + 1 steps per trainer step.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{GenError, Result};
use crate::optim::Optimized;
use crate::task::{Rng, StepContext};

/// How the players of a [`TwoPlayer`] step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TwoPlayerConfig {
    /// Critic updates per step (WGAN: 5; hinge/BCE GANs: 1).
    #[serde(default = "one_usize")]
    pub n_critic: usize,
    /// m_D: the critic's learning rate is lr(t)·m_D.
    #[serde(default = "one_f64")]
    pub d_lr_mult: f64,
    /// m_G: the generator's learning rate is lr(t)·m_G.
    #[serde(default = "one_f64")]
    pub g_lr_mult: f64,
}

fn one_usize() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

impl Default for TwoPlayerConfig {
    fn default() -> Self {
        Self {
            n_critic: 1,
            d_lr_mult: 1.0,
            g_lr_mult: 1.0,
        }
    }
}

impl TwoPlayerConfig {
    /// Errors unless n_critic ≥ 1 and both multipliers are finite and > 0.
    pub fn validate(&self) -> Result<()> {
        if self.n_critic == 0 {
            return Err(GenError::config(
                "n_critic",
                0,
                "the critic needs at least one update per step",
                "use 1 (hinge or BCE losses) or 5 (WGAN)",
            ));
        }
        for (field, m) in [("d_lr_mult", self.d_lr_mult), ("g_lr_mult", self.g_lr_mult)] {
            if !(m.is_finite() && m > 0.0) {
                return Err(GenError::config(
                    field,
                    m,
                    "must be finite and > 0",
                    "use 1, or e.g. d_lr_mult 4 for the two time-scale update rule",
                ));
            }
        }
        Ok(())
    }
}

/// The losses of one alternating step.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerLosses {
    /// L_D of each critic update, in order.
    pub d: Vec<f64>,
    /// L_G of the generator update (NaN when a non-finite critic loss
    /// stopped the step before it).
    pub g: f64,
}

impl PlayerLosses {
    /// Mean critic loss over the step's critic updates.
    pub fn d_mean(&self) -> f64 {
        if self.d.is_empty() {
            return f64::NAN;
        }
        self.d.iter().sum::<f64>() / self.d.len() as f64
    }

    /// Whether every loss is finite (the step completed).
    pub fn is_finite(&self) -> bool {
        self.g.is_finite() && self.d.iter().all(|l| l.is_finite())
    }
}

/// Runs `n_critic` updates of `d` at rate `lr_d`, then one update of `g` at
/// rate `lr_g` (see the module docs).
///
/// `d_loss(D, G, k, rng)` builds the k-th critic loss (k = 0 .. n_critic − 1,
/// e.g. to pick the k-th slice of the batch); `g_loss(D, G, rng)` the
/// generator loss; both are one-element tensors on the training device and
/// see the players as they are at that moment. A non-finite loss leaves its
/// player untouched and ends the step early (the remaining updates are
/// skipped), so the trainer's guard reports the divergence.
#[allow(clippy::too_many_arguments)]
pub fn alternating_step<D, G, FD, FG>(
    d: &mut Optimized<D>,
    g: &mut Optimized<G>,
    n_critic: usize,
    lr_d: f64,
    lr_g: f64,
    rng: &mut Rng,
    mut d_loss: FD,
    mut g_loss: FG,
) -> Result<PlayerLosses>
where
    D: Module,
    G: Module,
    FD: FnMut(&D, &G, usize, &mut Rng) -> Result<Tensor<1>>,
    FG: FnMut(&D, &G, &mut Rng) -> Result<Tensor<1>>,
{
    let mut losses = PlayerLosses {
        d: Vec::with_capacity(n_critic),
        g: f64::NAN,
    };
    for k in 0..n_critic {
        let loss = d_loss(&d.model, &g.model, k, rng)?;
        let value = d.step(loss, lr_d)?;
        losses.d.push(value);
        if !value.is_finite() {
            return Ok(losses);
        }
    }
    let loss = g_loss(&d.model, &g.model, rng)?;
    losses.g = g.step(loss, lr_g)?;
    Ok(losses)
}

/// A critic D and a generator G, each with its optimiser, and how they step.
#[derive(Debug, Clone)]
pub struct TwoPlayer<D: Module, G: Module> {
    /// The critic (discriminator) and its optimiser.
    pub d: Optimized<D>,
    /// The generator and its optimiser.
    pub g: Optimized<G>,
    /// Updates per step and learning-rate multipliers.
    pub config: TwoPlayerConfig,
}

impl<D: Module, G: Module> TwoPlayer<D, G> {
    /// Pairs the two players.
    pub fn new(d: Optimized<D>, g: Optimized<G>, config: TwoPlayerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { d, g, config })
    }

    /// The critic's learning rate at this step: lr(t)·m_D.
    pub fn lr_d(&self, ctx: &StepContext<'_>) -> f64 {
        ctx.player_lr(self.config.d_lr_mult)
    }

    /// The generator's learning rate at this step: lr(t)·m_G.
    pub fn lr_g(&self, ctx: &StepContext<'_>) -> f64 {
        ctx.player_lr(self.config.g_lr_mult)
    }

    /// One trainer step: [`alternating_step`] with `n_critic` from the
    /// config, the two learning rates from `ctx` and the run's RNG.
    pub fn step<FD, FG>(
        &mut self,
        ctx: &mut StepContext<'_>,
        d_loss: FD,
        g_loss: FG,
    ) -> Result<PlayerLosses>
    where
        FD: FnMut(&D, &G, usize, &mut Rng) -> Result<Tensor<1>>,
        FG: FnMut(&D, &G, &mut Rng) -> Result<Tensor<1>>,
    {
        let (lr_d, lr_g) = (self.lr_d(ctx), self.lr_g(ctx));
        alternating_step(
            &mut self.d,
            &mut self.g,
            self.config.n_critic,
            lr_d,
            lr_g,
            ctx.rng,
            d_loss,
            g_loss,
        )
    }

    /// Writes both players (weights and optimiser state) into `dir` as
    /// `<name>_d.*` and `<name>_g.*`, atomically.
    pub fn save(&self, dir: &Path, name: &str) -> Result<()> {
        self.d.save(dir, &format!("{name}_d"))?;
        self.g.save(dir, &format!("{name}_g"))
    }

    /// Restores what [`TwoPlayer::save`] wrote.
    pub fn load(&mut self, dir: &Path, name: &str) -> Result<()> {
        self.d.load(dir, &format!("{name}_d"))?;
        self.g.load(dir, &format!("{name}_g"))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use burn::nn::Linear;
    use burn::tensor::{Device, TensorData};
    use rand::Rng as _;

    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::nn::linear::{Init, linear, normal};
    use crate::optim::OptimConfig;
    use crate::rng_from_seed;
    use crate::tensor::to_vec;
    use crate::train::{LrSchedule, TrainConfig, Trainer};
    use crate::{Capabilities, Learn, Model, StepStats, TaskSupport};

    #[allow(deprecated)]
    fn dev() -> Device {
        Device::ndarray().autodiff()
    }

    fn params(l: &Linear) -> Vec<f32> {
        let mut v = to_vec(l.weight.val()).unwrap();
        v.extend(to_vec(l.bias.as_ref().unwrap().val()).unwrap());
        v
    }

    fn t2(v: Vec<f32>, shape: [usize; 2], d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), d)
    }

    /// A WGAN-style toy: G: z ∈ ℝ² → x ∈ ℝ², D: x → score ∈ ℝ (both affine).
    fn players(
        d_mult: f64,
        g_mult: f64,
        n_critic: usize,
        dev: &Device,
    ) -> TwoPlayer<Linear, Linear> {
        let mut rng = rng_from_seed(1);
        let g = linear(2, 2, Init::Default, &mut rng, dev);
        let d = linear(2, 1, Init::Default, &mut rng, dev);
        let cfg = OptimConfig::default();
        TwoPlayer::new(
            Optimized::new(d, &cfg),
            Optimized::new(g, &cfg),
            TwoPlayerConfig {
                n_critic,
                d_lr_mult: d_mult,
                g_lr_mult: g_mult,
            },
        )
        .unwrap()
    }

    fn critic_loss(d: &Linear, g: &Linear, real: Tensor<2>, rng: &mut Rng) -> Tensor<1> {
        let n = real.dims()[0];
        let z = t2(normal(n * 2, 1.0, rng), [n, 2], &real.device());
        let fake = g.forward(z).detach();
        (d.forward(fake).mean() - d.forward(real).mean()).reshape([1])
    }

    fn generator_loss(d: &Linear, g: &Linear, n: usize, dev: &Device, rng: &mut Rng) -> Tensor<1> {
        let z = t2(normal(n * 2, 1.0, rng), [n, 2], dev);
        d.forward(g.forward(z)).mean().neg().reshape([1])
    }

    /// Adam's first step moves every parameter with a non-zero gradient by
    /// lr·g/(|g| + ε) ≈ ±lr.
    fn assert_first_adam_step(before: &[f32], after: &[f32], lr: f64, who: &str) {
        for (b, a) in before.iter().zip(after) {
            let step = f64::from((a - b).abs());
            assert!(
                (step / lr - 1.0).abs() < 1e-3,
                "{who}: |Δθ| = {step}, lr = {lr}"
            );
        }
    }

    #[test]
    fn n_critic_updates_of_d_then_one_of_g_each_touching_only_its_own_params() {
        let dev = dev();
        let mut p = players(4.0, 0.5, 3, &dev);
        let real = t2(normal(8 * 2, 1.0, &mut rng_from_seed(2)), [8, 2], &dev);
        let (d0, g0) = (params(&p.d.model), params(&p.g.model));

        let d_seen = RefCell::new(Vec::new());
        let g_seen = RefCell::new(Vec::new());
        let mut rng = rng_from_seed(3);
        let mut ctx = StepContext {
            step: 0,
            lr: 1e-2,
            rng: &mut rng,
        };
        assert_eq!(p.lr_d(&ctx), 4e-2);
        assert_eq!(p.lr_g(&ctx), 5e-3);
        let losses = p
            .step(
                &mut ctx,
                |d, g, k, rng| {
                    d_seen.borrow_mut().push((k, params(d), params(g)));
                    Ok(critic_loss(d, g, real.clone(), rng))
                },
                |d, g, rng| {
                    g_seen.borrow_mut().push((params(d), params(g)));
                    Ok(generator_loss(d, g, 8, &dev, rng))
                },
            )
            .unwrap();
        assert_eq!(losses.d.len(), 3);
        assert!(losses.is_finite());

        let d_seen = d_seen.into_inner();
        let g_seen = g_seen.into_inner();
        assert_eq!(
            d_seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(g_seen.len(), 1);
        // The critic updates: each one moves D (the first by exactly lr·m_D)
        // and none moves G.
        assert_eq!(d_seen[0].1, d0);
        // D = (w₁, w₂, b): L_D = mean D(fake) − mean D(real) has ∂L_D/∂b = 1 − 1 = 0,
        // so Adam leaves b where it is and moves each weight by lr·m_D.
        assert_first_adam_step(&d0[..2], &d_seen[1].1[..2], 4e-2, "D");
        assert_eq!(d0[2], d_seen[1].1[2]);
        assert_ne!(d_seen[1].1, d_seen[2].1);
        let (d_at_g, g_at_g) = &g_seen[0];
        assert_ne!(
            d_at_g, &d_seen[2].1,
            "the third critic update did not move D"
        );
        for (_, _, g) in &d_seen {
            assert_eq!(g, &g0);
        }
        assert_eq!(g_at_g, &g0, "a critic update moved G");
        // The generator update moves G by exactly lr·m_G and leaves D alone.
        assert_eq!(&params(&p.d.model), d_at_g, "the generator update moved D");
        assert_first_adam_step(&g0, &params(&p.g.model), 5e-3, "G");
    }

    #[test]
    fn a_non_finite_critic_loss_stops_the_step_before_anything_else_moves() {
        let dev = dev();
        let mut p = players(1.0, 1.0, 3, &dev);
        let (d0, g0) = (params(&p.d.model), params(&p.g.model));
        let calls = RefCell::new(0);
        let mut rng = rng_from_seed(0);
        let mut ctx = StepContext {
            step: 0,
            lr: 1e-2,
            rng: &mut rng,
        };
        let losses = p
            .step(
                &mut ctx,
                |d, _, _, _| {
                    *calls.borrow_mut() += 1;
                    let x = t2(vec![1.0, 1.0], [1, 2], &dev);
                    Ok((d.forward(x).sum() * f32::NAN).reshape([1]))
                },
                |_, _, _| panic!("the generator must not step after a NaN critic loss"),
            )
            .unwrap();
        assert_eq!(calls.into_inner(), 1);
        assert!(!losses.is_finite() && losses.g.is_nan());
        assert_eq!(params(&p.d.model), d0);
        assert_eq!(params(&p.g.model), g0);
        assert!(
            TwoPlayerConfig {
                n_critic: 0,
                ..TwoPlayerConfig::default()
            }
            .validate()
            .is_err()
        );
    }

    /// The toy GAN as a trainer model: real data are the batch, noise comes
    /// from the run RNG, two critic updates per step.
    #[derive(Debug)]
    struct ToyGan {
        p: TwoPlayer<Linear, Linear>,
        dev: Device,
    }

    impl Model for ToyGan {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                model: "toy-gan",
                family: "test",
                learn: TaskSupport::exact("alternating Adam"),
                score: TaskSupport::none("none"),
                sample: TaskSupport::none("none"),
                infer: TaskSupport::none("none"),
            }
        }
    }

    impl Learn for ToyGan {
        type Batch = Vec<f32>;
        fn learn_step(&mut self, batch: &Vec<f32>, ctx: &mut StepContext<'_>) -> Result<StepStats> {
            let n = batch.len() / 2;
            let real = t2(batch.clone(), [n, 2], &self.dev);
            let dev = self.dev.clone();
            let l = self.p.step(
                ctx,
                |d, g, _, rng| Ok(critic_loss(d, g, real.clone(), rng)),
                |d, g, rng| Ok(generator_loss(d, g, n, &dev, rng)),
            )?;
            Ok(StepStats::loss(l.g).with("d_loss", l.d_mean()))
        }
    }

    impl Checkpoint for ToyGan {
        fn save_checkpoint(&self, dir: &Path) -> Result<()> {
            self.p.save(dir, "gan")
        }
        fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
            self.p.load(dir, "gan")
        }
    }

    /// Trains the toy GAN for 30 steps into `dir`; `fail_at` makes the batch
    /// source fail at that step, as a killed process would stop.
    fn train(dir: &Path, resume: bool, fail_at: Option<u64>) -> (Result<Vec<f64>>, ToyGan) {
        let dev = dev();
        let mut m = ToyGan {
            p: players(2.0, 0.5, 2, &dev),
            dev,
        };
        let cfg = TrainConfig {
            steps: 30,
            lr: 1e-2,
            schedule: LrSchedule::Cosine {
                warmup: 5,
                min_factor: 0.1,
            },
            seed: 7,
            checkpoint_every: 5,
            progress: false,
            resume,
            batch_size: 8,
            ..TrainConfig::default()
        };
        let out = Trainer::new(cfg, dir)
            .unwrap()
            .fit(&mut m, |step, rng| {
                if Some(step) == fail_at {
                    return Err(GenError::Other("interrupted".into()));
                }
                // Real data: N((2, −1), 0.5²), drawn from the run RNG.
                Ok((0..16)
                    .map(|i| {
                        let c = if i % 2 == 0 { 2.0 } else { -1.0 };
                        c + rng.random_range(-0.5f32..0.5)
                    })
                    .collect())
            })
            .map(|r| r.losses);
        (out, m)
    }

    #[test]
    fn resuming_an_interrupted_two_player_run_reproduces_it_exactly() {
        let root = std::env::temp_dir().join(format!("genlab-players-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (full, full_model) = train(&root.join("full"), false, None);
        let full = full.unwrap();
        assert_eq!(full.len(), 30);

        // Killed during step 17: the last checkpoint is step 15.
        let (cut, _) = train(&root.join("split"), false, Some(17));
        assert!(cut.is_err());
        let (resumed, resumed_model) = train(&root.join("split"), true, None);
        assert_eq!(resumed.unwrap(), full, "resumed losses differ");
        assert_eq!(
            params(&resumed_model.p.d.model),
            params(&full_model.p.d.model)
        );
        assert_eq!(
            params(&resumed_model.p.g.model),
            params(&full_model.p.g.model)
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
