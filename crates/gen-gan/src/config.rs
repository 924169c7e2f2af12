//! The settings of a [`crate::Gan`]: losses, networks ([`GanArch`]),
//! optimiser and the two-player schedule, validated before a model is built.

use gen_core::optim::OptimConfig;
use gen_core::train::{EmaConfig, TwoPlayerConfig};
use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

use crate::losses::GanLoss;

/// Which networks a [`GanConfig`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GanArch {
    /// MLP generator and critic ([`Gan`]); `hidden` are the hidden widths.
    #[default]
    Mlp,
    /// DCGAN ([`DcGan`]) on square images of side `side` in [0, 1]
    /// (`data_dim` = side²); `hidden` are the channel widths from the image
    /// inward (see [`crate::conv`]). With `classes` > 0 a conditional GAN.
    Dcgan {
        /// Image side s.
        side: usize,
    },
    /// BiGAN / ALI ([`BiGan`]): MLP generator, encoder and joint critic.
    Bigan {
        /// Bound G's output to [0, 1] (images) instead of ℝ (points).
        unit_interval: bool,
    },
}

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
    /// The networks.
    #[serde(default)]
    pub arch: GanArch,
    /// Classes K of a conditional GAN (0: unconditional; dcgan arch only).
    #[serde(default)]
    pub classes: usize,
    /// PacGAN packing (Lin et al. 2018): the critic judges m samples at
    /// once, all real or all fake, concatenated into one input of width
    /// m·D, which lets it see the diversity of a batch and punishes a
    /// collapsed generator (1: no packing; mlp arch only).
    #[serde(default = "one")]
    pub pack: usize,
}

fn one() -> usize {
    1
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
            arch: GanArch::Mlp,
            classes: 0,
            pack: 1,
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

    /// DCGAN (non-saturating loss, Adam β₁ 0.5) on `side`×`side` images,
    /// conditional on `classes` labels when `classes` > 0: channel widths
    /// [64, 128] and L = 100 from side 28 up (7 → 14 → 28), [32, 64] and
    /// L = 32 below (8: 2 → 4 → 8).
    pub fn dcgan(side: usize, classes: usize) -> Self {
        let (hidden, latent) = if side >= 28 {
            (vec![64, 128], 100)
        } else {
            (vec![32, 64], 32)
        };
        Self {
            arch: GanArch::Dcgan { side },
            hidden,
            latent,
            data_dim: side * side,
            classes,
            ..Self::default()
        }
    }

    /// BiGAN (non-saturating loss) on rows of width `data_dim`: 2-D points
    /// (L = 2, hidden [128, 128], unbounded output) or images in [0, 1]
    /// (`unit_interval`; hidden [512, 512] and L = 32 from 784 pixels,
    /// [256, 256] and L = 16 below).
    pub fn bigan(data_dim: usize, unit_interval: bool) -> Self {
        let (hidden, latent) = match (unit_interval, data_dim) {
            (false, _) => (vec![128, 128], 2),
            (true, d) if d >= 784 => (vec![512, 512], 32),
            (true, _) => (vec![256, 256], 16),
        };
        Self {
            arch: GanArch::Bigan { unit_interval },
            hidden,
            latent,
            data_dim,
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
        if self.pack == 0 || (self.pack > 1 && self.arch != GanArch::Mlp) {
            return Err(GenError::config(
                "pack",
                self.pack,
                "packing needs m ≥ 1 samples per critic input, and m > 1 only with the MLP players",
                "use pack 1, or pack 2 to 4 with an MLP GAN on points",
            ));
        }
        match self.arch {
            GanArch::Dcgan { side } => {
                if self.data_dim != side * side {
                    return Err(GenError::config(
                        "gan data_dim",
                        self.data_dim,
                        format!(
                            "a DCGAN on {side}×{side} images has {} pixels per row",
                            side * side
                        ),
                        "set data_dim to side², or use GanConfig::dcgan",
                    ));
                }
                dcgan_start_side(side, self.hidden.len())?;
                if self.classes == 1 {
                    return Err(GenError::config(
                        "classes",
                        1,
                        "a conditional GAN needs at least 2 classes",
                        "use 0 (unconditional) or the number of labels, e.g. 10 for digits",
                    ));
                }
            }
            _ if self.classes > 0 => {
                return Err(GenError::config(
                    "classes",
                    self.classes,
                    "only the DCGAN arch is conditional (label in G, projection in D)",
                    "use classes 0, or GanConfig::dcgan(side, classes)",
                ));
            }
            GanArch::Bigan { .. } if !self.loss.has_discriminator() => {
                return Err(GenError::config(
                    "loss",
                    self.loss.name(),
                    "a BiGAN's encoder learns only through the joint critic, which MMD does not have",
                    "use a critic loss, e.g. non-saturating",
                ));
            }
            _ => {}
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

    pub(crate) fn optim(&self) -> OptimConfig {
        OptimConfig {
            beta1: self.beta1,
            beta2: self.beta2,
            ..OptimConfig::default()
        }
    }
}

/// s₀ = s / 2^k, the side the generator starts from, or a clear error when
/// the image side `side` is not s₀·2^k for `doublings` = k.
pub fn dcgan_start_side(side: usize, doublings: usize) -> Result<usize> {
    let factor = 1usize.checked_shl(doublings as u32).unwrap_or(0);
    if side == 0 || doublings == 0 || factor == 0 || !side.is_multiple_of(factor) {
        let fits: Vec<String> = (1..=4)
            .filter(|k| side > 0 && side.is_multiple_of(1 << k))
            .map(|k| {
                format!(
                    "{k} channel width{} ({} → {side})",
                    if k == 1 { "" } else { "s" },
                    side >> k
                )
            })
            .collect();
        return Err(GenError::config(
            "dcgan image size",
            format!("{side}×{side} with {doublings} channel widths"),
            format!(
                "the generator doubles the side once per width from an integer side: {side} is not a multiple of 2^{doublings}"
            ),
            if fits.is_empty() {
                "use images whose side is even (28×28: 2 widths, 7 → 14 → 28; 8×8: 1 or 2 widths)"
                    .to_string()
            } else {
                format!("use {}", fits.join(" or "))
            },
        ));
    }
    Ok(side / factor)
}
