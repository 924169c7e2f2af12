//! Noise schedules and the closed forms of the forward process.
//!
//! # Indexing
//!
//! Timesteps are 0-based as in diffusers: t ∈ {0, …, T−1}, and the paper's
//! step t (1-based, Ho et al. 2020) is index t − 1 here. With α_t = 1 − β_t,
//!
//! ```text
//! ᾱ_t = Π_{s=0}^{t} α_s,          SNR(t) = ᾱ_t / (1 − ᾱ_t)
//! q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I)
//! q(x_t | x_0)     = N(√ᾱ_t x_0, (1 − ᾱ_t) I),   i.e. x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε
//! ```
//!
//! and "level −1" is the clean data (ᾱ = 1).
//!
//! # Posterior (Ho et al. 2020, eq. 6–7)
//!
//! With ᾱ_{t−1} = 1 at t = 0 (diffusers' `one`),
//!
//! ```text
//! q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I)
//! μ̃_t = [√ᾱ_{t−1} β_t / (1 − ᾱ_t)] x_0 + [√α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)] x_t
//! β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t            (0 at t = 0)
//! ```
//!
//! # Beta schedules (diffusers' `DDPMScheduler` / `DDIMScheduler`)
//!
//! - `linear`: β_t = β_start + t (β_end − β_start)/(T − 1), β from 1e-4 to
//!   0.02 (Ho et al.);
//! - `scaled_linear`: β_t = (√β_start + t (√β_end − √β_start)/(T − 1))², from
//!   0.00085 to 0.012 (latent diffusion);
//! - `squaredcos_cap_v2` (Nichol & Dhariwal 2021): with
//!   f(s) = cos²((s + 0.008)/1.008 · π/2), β_t = min(1 − f((t+1)/T)/f(t/T), β_max),
//!   β_max = 0.999.
//!
//! # Zero terminal SNR (Lin et al. 2024, Algorithm 1)
//!
//! `rescale_zero_terminal_snr` shifts and scales √ᾱ so that √ᾱ_{T−1} = 0
//! while √ᾱ_0 is kept:
//!
//! ```text
//! √ᾱ'_t = (√ᾱ_t − √ᾱ_{T−1}) · √ᾱ_0 / (√ᾱ_0 − √ᾱ_{T−1})
//! ```
//!
//! then β' is recovered from ᾱ' (β'_{T−1} = 1). The last step is then pure
//! noise, so ε-prediction cannot recover x̂₀ there (÷√ᾱ = ÷0): use v- or
//! x₀-prediction with it.

use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// How β_t grows over the T steps (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Linear in β (diffusers' `linear`).
    Linear {
        /// β_0.
        beta_start: f64,
        /// β_{T−1}.
        beta_end: f64,
    },
    /// Linear in √β (diffusers' `scaled_linear`).
    ScaledLinear {
        /// β_0.
        beta_start: f64,
        /// β_{T−1}.
        beta_end: f64,
    },
    /// Cosine ᾱ (diffusers' `squaredcos_cap_v2`), β capped at `max_beta`.
    Cosine {
        /// The cap on β (0.999).
        max_beta: f64,
    },
}

impl BetaSchedule {
    /// Names on the command line.
    pub const NAMES: [&'static str; 3] = ["linear", "cosine", "scaled-linear"];

    /// Ho et al.'s linear schedule, β from 1e-4 to 0.02.
    pub fn linear() -> Self {
        Self::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        }
    }

    /// Latent diffusion's scaled-linear schedule, β from 0.00085 to 0.012.
    pub fn scaled_linear() -> Self {
        Self::ScaledLinear {
            beta_start: 0.00085,
            beta_end: 0.012,
        }
    }

    /// Nichol & Dhariwal's cosine schedule with β capped at 0.999.
    pub fn cosine() -> Self {
        Self::Cosine { max_beta: 0.999 }
    }

    /// The name (`linear`, `scaled-linear`, `cosine`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Linear { .. } => "linear",
            Self::ScaledLinear { .. } => "scaled-linear",
            Self::Cosine { .. } => "cosine",
        }
    }

    /// β_0 … β_{T−1}.
    pub fn betas(&self, steps: usize) -> Vec<f64> {
        let frac = |i: usize| {
            if steps > 1 {
                i as f64 / (steps - 1) as f64
            } else {
                0.0
            }
        };
        match *self {
            Self::Linear {
                beta_start,
                beta_end,
            } => (0..steps)
                .map(|i| beta_start + frac(i) * (beta_end - beta_start))
                .collect(),
            Self::ScaledLinear {
                beta_start,
                beta_end,
            } => {
                let (a, b) = (beta_start.sqrt(), beta_end.sqrt());
                (0..steps)
                    .map(|i| (a + frac(i) * (b - a)).powi(2))
                    .collect()
            }
            Self::Cosine { max_beta } => {
                let f = |s: f64| {
                    ((s + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                let n = steps as f64;
                (0..steps)
                    .map(|i| (1.0 - f((i + 1) as f64 / n) / f(i as f64 / n)).min(max_beta))
                    .collect()
            }
        }
    }
}

impl std::str::FromStr for BetaSchedule {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "linear" => Ok(Self::linear()),
            "scaled-linear" | "scaled_linear" => Ok(Self::scaled_linear()),
            "cosine" | "squaredcos_cap_v2" => Ok(Self::cosine()),
            other => Err(GenError::config(
                "--schedule",
                other,
                "unknown beta schedule",
                "use linear (Ho et al.), cosine (Nichol & Dhariwal) or scaled-linear (latent diffusion)",
            )),
        }
    }
}

/// Settings of a [`NoiseSchedule`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// The β schedule.
    pub beta: BetaSchedule,
    /// The number of diffusion steps T.
    pub steps: usize,
    /// Rescale to zero terminal SNR (Lin et al. 2024).
    pub zero_terminal_snr: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            beta: BetaSchedule::linear(),
            steps: 1000,
            zero_terminal_snr: false,
        }
    }
}

impl ScheduleConfig {
    /// Errors with cause and fix for T < 2 and β bounds outside (0, 1).
    pub fn validate(&self) -> Result<()> {
        if self.steps < 2 {
            return Err(GenError::config(
                "diffusion steps",
                self.steps,
                "a diffusion needs at least 2 steps",
                "use T = 1000 (Ho et al.), or 100 for quick experiments",
            ));
        }
        let bad = |v: f64| !(v.is_finite() && v > 0.0 && v < 1.0);
        match self.beta {
            BetaSchedule::Linear {
                beta_start,
                beta_end,
            }
            | BetaSchedule::ScaledLinear {
                beta_start,
                beta_end,
            } if bad(beta_start) || bad(beta_end) || beta_start > beta_end => {
                Err(GenError::config(
                    "beta schedule",
                    format!("β from {beta_start} to {beta_end}"),
                    "β must rise within (0, 1)",
                    "use β from 1e-4 to 0.02 (linear) or 0.00085 to 0.012 (scaled-linear)",
                ))
            }
            BetaSchedule::Cosine { max_beta } if !(max_beta > 0.0 && max_beta <= 1.0) => {
                Err(GenError::config(
                    "max_beta",
                    max_beta,
                    "the cap on β must be in (0, 1]",
                    "use 0.999 (diffusers)",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Lin et al.'s rescaling of β to zero terminal SNR (module docs), as
/// diffusers' `rescale_zero_terminal_snr`.
pub fn rescale_zero_terminal_snr(betas: &[f64]) -> Vec<f64> {
    let ab = cumprod(betas);
    let sq: Vec<f64> = ab.iter().map(|a| a.sqrt()).collect();
    let (first, last) = (sq[0], sq[sq.len() - 1]);
    let scaled: Vec<f64> = sq
        .iter()
        .map(|s| (s - last) * first / (first - last))
        .collect();
    let ab: Vec<f64> = scaled.iter().map(|s| s * s).collect();
    let mut out = Vec::with_capacity(ab.len());
    out.push(1.0 - ab[0]);
    for t in 1..ab.len() {
        out.push(1.0 - ab[t] / ab[t - 1]);
    }
    out
}

fn cumprod(betas: &[f64]) -> Vec<f64> {
    let mut p = 1.0;
    betas
        .iter()
        .map(|b| {
            p *= 1.0 - b;
            p
        })
        .collect()
}

/// The coefficients of q(x_{t−1} | x_t, x_0) (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    /// √ᾱ_{t−1} β_t / (1 − ᾱ_t), the weight of x_0 in μ̃_t.
    pub coef_x0: f64,
    /// √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), the weight of x_t in μ̃_t.
    pub coef_xt: f64,
    /// β̃_t.
    pub variance: f64,
}

/// A discrete noise schedule: β_t and ᾱ_t for t = 0 … T−1 (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    config: ScheduleConfig,
    betas: Vec<f64>,
    alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    /// The schedule of `config`.
    pub fn new(config: ScheduleConfig) -> Result<Self> {
        config.validate()?;
        let mut betas = config.beta.betas(config.steps);
        if config.zero_terminal_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        let alphas_cumprod = cumprod(&betas);
        Ok(Self {
            config,
            betas,
            alphas_cumprod,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// T.
    pub fn steps(&self) -> usize {
        self.betas.len()
    }

    /// β_0 … β_{T−1}.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// ᾱ_0 … ᾱ_{T−1}.
    pub fn alphas_cumprod(&self) -> &[f64] {
        &self.alphas_cumprod
    }

    /// β_t.
    pub fn beta(&self, t: usize) -> f64 {
        self.betas[t]
    }

    /// ᾱ_t.
    pub fn alpha_bar(&self, t: usize) -> f64 {
        self.alphas_cumprod[t]
    }

    /// ᾱ at level `t`, where `None` (or a negative previous step) is the
    /// clean data with ᾱ = 1.
    pub fn alpha_bar_at(&self, t: Option<usize>) -> f64 {
        t.map_or(1.0, |t| self.alphas_cumprod[t])
    }

    /// SNR(t) = ᾱ_t / (1 − ᾱ_t).
    pub fn snr(&self, t: usize) -> f64 {
        let a = self.alpha_bar(t);
        a / (1.0 - a)
    }

    /// The mean coefficient √ᾱ_t and the variance 1 − ᾱ_t of q(x_t | x_0).
    pub fn q_moments(&self, t: usize) -> (f64, f64) {
        let a = self.alpha_bar(t);
        (a.sqrt(), 1.0 - a)
    }

    /// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, element by element.
    pub fn q_sample(&self, x0: &[f64], t: usize, eps: &[f64]) -> Vec<f64> {
        let (m, v) = self.q_moments(t);
        let s = v.sqrt();
        x0.iter().zip(eps).map(|(x, e)| m * x + s * e).collect()
    }

    /// The coefficients of q(x_{t−1} | x_t, x_0) (module docs).
    pub fn posterior(&self, t: usize) -> Posterior {
        let a = self.alpha_bar(t);
        let a_prev = if t == 0 { 1.0 } else { self.alpha_bar(t - 1) };
        let beta = self.beta(t);
        Posterior {
            coef_x0: a_prev.sqrt() * beta / (1.0 - a),
            coef_xt: (1.0 - beta).sqrt() * (1.0 - a_prev) / (1.0 - a),
            variance: (1.0 - a_prev) / (1.0 - a) * beta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ends_and_cumulative_product() {
        let s = NoiseSchedule::new(ScheduleConfig::default()).unwrap();
        assert_eq!(s.steps(), 1000);
        assert!((s.beta(0) - 1e-4).abs() < 1e-15);
        assert!((s.beta(999) - 0.02).abs() < 1e-15);
        let direct: f64 = (0..=10).map(|t| 1.0 - s.beta(t)).product();
        assert!((s.alpha_bar(10) - direct).abs() < 1e-15);
        // SNR falls monotonically.
        assert!((1..1000).all(|t| s.snr(t) < s.snr(t - 1)));
    }

    #[test]
    fn zero_terminal_snr_keeps_the_first_and_zeroes_the_last() {
        let plain = NoiseSchedule::new(ScheduleConfig::default()).unwrap();
        let z = NoiseSchedule::new(ScheduleConfig {
            zero_terminal_snr: true,
            ..ScheduleConfig::default()
        })
        .unwrap();
        assert!((z.alpha_bar(0) - plain.alpha_bar(0)).abs() < 1e-14);
        assert_eq!(z.alpha_bar(999), 0.0);
        assert_eq!(z.snr(999), 0.0);
        assert!((z.beta(999) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn bad_settings_are_refused() {
        for c in [
            ScheduleConfig {
                steps: 1,
                ..ScheduleConfig::default()
            },
            ScheduleConfig {
                beta: BetaSchedule::Linear {
                    beta_start: 0.02,
                    beta_end: 1e-4,
                },
                ..ScheduleConfig::default()
            },
            ScheduleConfig {
                beta: BetaSchedule::Cosine { max_beta: 1.5 },
                ..ScheduleConfig::default()
            },
        ] {
            assert!(NoiseSchedule::new(c).is_err(), "{c:?}");
        }
        assert!("sigmoid".parse::<BetaSchedule>().is_err());
    }
}
