//! Samplers of the reverse process, each taking any [`Denoiser`].
//!
//! # Timestep grids (diffusers' `set_timesteps`, steps_offset 0)
//!
//! N of the T training steps are visited, in decreasing order:
//!
//! - `leading`: k = ⌊T/N⌋, t_i = i·k for i < N (ends at 0);
//! - `trailing`: t_i = round(T − i·T/N) − 1 over numpy's `arange(T, 0, −T/N)`
//!   (starts at T − 1; reaches pure noise under zero terminal SNR);
//! - `linspace`: t_i = round(i·(T − 1)/(N − 1)) (both ends);
//! - `quadratic`: t_i = ⌊(i·√(0.8 T)/(N − 1))²⌋, i < N, the DDIM paper's
//!   "quadratic" selection τ_i = ⌊c i²⌋ (Song et al. 2021, App. D.2, used for
//!   their CIFAR-10 table) as its code computes it (ermongroup/ddim,
//!   `skip_type = "quad"`): dense near the data, sparse near the noise, and
//!   starting at 0.8 T, where x_T ~ N(0, I) stands in for x_{0.8T} (ᾱ = 1.5·10⁻³
//!   under the linear schedule at T = 1000). Repeats at small i (0, 0 for
//!   N = 50) are dropped: the reference code's step between equal levels is
//!   the identity, so the samples are the same with one network call less.
//!
//! `round` is numpy's, half to even. Where numpy's float `arange` yields one
//! element too many (N = 61, 103, … at T = 1000) diffusers' trailing grid
//! ends in the invalid timestep −1; that entry is dropped here.
//!
//! # Ancestral DDPM (Ho et al. 2020, Alg. 2; diffusers' `DDPMScheduler.step`)
//!
//! From t to the next grid step t' (−1 after the last; ᾱ_{−1} = 1), with
//! α = ᾱ_t/ᾱ_{t'} and β = 1 − α:
//!
//! ```text
//! x_{t'} = [√ᾱ_{t'} β / (1 − ᾱ_t)] x̂₀ + [√α (1 − ᾱ_{t'}) / (1 − ᾱ_t)] x_t + σ z
//! σ² = (1 − ᾱ_{t'})/(1 − ᾱ_t) · β   ("fixed_small", β̃; floored at 1e-20)
//! σ² = β                            ("fixed_large")
//! ```
//!
//! with z ~ N(0, I) except in the last step, which returns the mean (z = 0
//! at t = 1 in Ho et al.'s Algorithm 2; diffusers adds noise whenever t > 0).
//!
//! # DDIM (Song et al. 2021, eq. 12; diffusers' `DDIMScheduler.step`)
//!
//! With t' = t − ⌊T/N⌋ (diffusers' rule, also for the linspace grid; on the
//! quadratic grid t' is the next grid step, as the DDIM paper's code) and
//! ᾱ_{t'} = 1 (set_alpha_to_one) or ᾱ_0 when t' < 0:
//!
//! ```text
//! σ_t = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'})
//! x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'} − σ_t²) ε̂ + σ_t z
//! ```
//!
//! η = 0 is deterministic; η = 1 with N = T is ancestral DDPM with β̃.
//!
//! # DDIM with the analytic variance (Bao et al. 2022, Analytic-DPM)
//!
//! The DDIM step's mean with λ = σ_t(η) as above, and in place of λ² the
//! variance that minimises the KL divergence to the reverse of the DDIM
//! forward process among isotropic Gaussians (Bao et al.'s Theorem 1):
//!
//! ```text
//! σ*² = λ² + (√((1 − ᾱ_t) ᾱ_{t'}/ᾱ_t) − √(1 − ᾱ_{t'} − λ²))² (1 − Γ_t)
//! Γ_t = E_{q(x_t)} ‖ε̂(x_t, t)‖² / D
//! ```
//!
//! The square is the coefficient of x₀ in the step's mean (times
//! √((1 − ᾱ_t)/ᾱ_t)), and (1 − ᾱ_t)/ᾱ_t · (1 − Γ_t) is the average
//! posterior variance of x₀ given x_t when ε̂ = E[ε | x_t] (x₀ = (x_t −
//! √(1 − ᾱ_t) ε)/√ᾱ_t and E‖ε‖²/D = 1): the noise adds back the spread of
//! x₀ that the mean, built from the posterior mean x̂₀, leaves out. Γ_t is
//! estimated once per grid by Monte Carlo over training rows
//! ([`score_moments`]) and clamped to [0, 1], so λ² ≤ σ*² ≤ λ² + (…)²
//! (Bao et al.'s Theorem 2). The last step returns the mean (x̂₀), as DDPM's.
//! For Gaussian data with the exact ε̂ the step's kernel is the exact
//! reverse kernel, so a handful of steps reproduce the data's variance,
//! which DDIM with λ² alone shrinks.
//!
//! # Probability-flow ODE
//!
//! With y = x/√ᾱ and σ = √((1 − ᾱ)/ᾱ), the probability-flow ODE of the
//! discrete VP process is dy/dσ = ε(x, t) (Song et al. 2021; Karras et al.
//! 2022). DDIM with η = 0 is Euler's method on it. Two second-order solvers
//! walk the grid (next grid step t', the clean level after the last):
//!
//! - `ode`: DPM-Solver++(2M) (Lu et al. 2022, Alg. 2), an exponential
//!   integrator in λ = log(√ᾱ/√(1 − ᾱ)) on the data prediction: with
//!   h = λ' − λ and r = h_prev/h,
//!   x' = (√(1 − ᾱ')/√(1 − ᾱ)) x − √ᾱ' (e^{−h} − 1) D,
//!   D = (1 + 1/(2r)) x̂₀ − x̂₀_prev/(2r) (D = x̂₀ at the first step and
//!   after ᾱ = 0); the last step returns x̂₀.
//! - `heun`: Heun's method in σ: y' = y + Δσ ε̂_a, then
//!   y ← y + Δσ (ε̂_a + ε̂(x', t'))/2, with a plain Euler step into the clean
//!   level (σ = 0) and out of ᾱ = 0. Uniform timestep grids give very uneven
//!   σ steps under the cosine schedule (σ from 2·10⁴ at t = 999), where Heun
//!   overshoots at coarse grids (+15 % variance at 50 steps for Gaussian
//!   data) while DPM-Solver++ stays within 1 %.
//!
//! # Predictor–corrector (Song et al. 2021, Alg. 5)
//!
//! At every grid step, M Langevin corrector steps on p_t with the score
//! s(x, t) = −ε̂(x, t)/√(1 − ᾱ_t),
//!
//! ```text
//! x ← x + δ s + √(2δ) z,    δ = 2 α_t (r ‖z‖ / ‖s‖)²
//! ```
//!
//! (‖·‖ averaged over the batch, r the target signal-to-noise ratio), then
//! the ancestral DDPM step as predictor.
//!
//! # DDIM inversion (the encoder x₀ → x_T)
//!
//! The DDIM η = 0 steps run backwards, from the clean level up to the first
//! grid step: from level t' to t, with ε̂ = ε̂(x_{t'}, t),
//!
//! ```text
//! x_t = √ᾱ_t (x_{t'} − √(1 − ᾱ_{t'}) ε̂)/√ᾱ_{t'} + √(1 − ᾱ_t) ε̂
//! ```
//!
//! which inverts DDIM sampling up to the change of ε̂ over one step.

use gen_core::numerics::standard_normals;
use gen_core::{GenError, Matrix, Result, Rng};
use serde::{Deserialize, Serialize};

use crate::denoiser::{Denoiser, predict_x0_eps};
use crate::param::Prediction;
use crate::schedule::NoiseSchedule;

/// How N sampling steps are spread over the T training steps (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// Multiples of ⌊T/N⌋ from 0.
    Leading,
    /// Down from T − 1 in strides of T/N.
    Trailing,
    /// N points from T − 1 to 0.
    Linspace,
    /// ⌊(i·√(0.8 T)/(N − 1))²⌋: the DDIM paper's quadratic selection.
    Quadratic,
}

impl Spacing {
    /// Names on the command line.
    pub const NAMES: [&'static str; 4] = ["trailing", "leading", "linspace", "quadratic"];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Leading => "leading",
            Self::Trailing => "trailing",
            Self::Linspace => "linspace",
            Self::Quadratic => "quadratic",
        }
    }
}

impl std::str::FromStr for Spacing {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "leading" => Ok(Self::Leading),
            "trailing" => Ok(Self::Trailing),
            "linspace" => Ok(Self::Linspace),
            "quadratic" | "quad" => Ok(Self::Quadratic),
            other => Err(GenError::config(
                "--spacing",
                other,
                "unknown timestep spacing",
                "use trailing (starts at T − 1), leading, linspace or quadratic (the DDIM paper's)",
            )),
        }
    }
}

/// The reverse-process variance of the ancestral sampler and the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceKind {
    /// σ_t² = β̃_t, the posterior variance (diffusers' `fixed_small`).
    FixedSmall,
    /// σ_t² = β_t (diffusers' `fixed_large`).
    FixedLarge,
}

impl VarianceKind {
    /// Names on the command line.
    pub const NAMES: [&'static str; 2] = ["fixed-large", "fixed-small"];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::FixedSmall => "fixed-small",
            Self::FixedLarge => "fixed-large",
        }
    }
}

impl std::str::FromStr for VarianceKind {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fixed-small" | "fixed_small" | "small" => Ok(Self::FixedSmall),
            "fixed-large" | "fixed_large" | "large" => Ok(Self::FixedLarge),
            other => Err(GenError::config(
                "--variance",
                other,
                "unknown reverse variance",
                "use fixed-large (σ² = β) or fixed-small (σ² = β̃)",
            )),
        }
    }
}

/// The timestep grid of N steps out of T (module docs), largest first.
pub fn timesteps(train_steps: usize, n: usize, spacing: Spacing) -> Result<Vec<usize>> {
    if n == 0 || n > train_steps {
        return Err(GenError::config(
            "--sample-steps",
            n,
            format!("the sampler visits between 1 and T = {train_steps} of the training steps"),
            format!("use 1 ≤ N ≤ {train_steps} (e.g. {train_steps} for DDPM, 50 for DDIM)"),
        ));
    }
    let t = train_steps as f64;
    let steps: Vec<i64> = match spacing {
        Spacing::Leading => {
            let k = (train_steps / n) as i64;
            (0..n as i64).rev().map(|i| i * k).collect()
        }
        Spacing::Trailing => {
            let ratio = t / n as f64;
            let count = ((0.0 - t) / -ratio).ceil() as usize;
            (0..count)
                .map(|i| (t - i as f64 * ratio).round_ties_even() as i64 - 1)
                .collect()
        }
        Spacing::Linspace => {
            let step = if n > 1 {
                (t - 1.0) / (n - 1) as f64
            } else {
                0.0
            };
            (0..n)
                .rev()
                .map(|i| {
                    let v = if i + 1 == n && n > 1 {
                        t - 1.0
                    } else {
                        i as f64 * step
                    };
                    v.round_ties_even() as i64
                })
                .collect()
        }
        Spacing::Quadratic => {
            // numpy: linspace(0, √(0.8 T), N)² truncated by int(), ascending.
            let top = (0.8 * t).sqrt();
            let step = if n > 1 { top / (n - 1) as f64 } else { 0.0 };
            let mut v: Vec<i64> = (0..n)
                .rev()
                .map(|i| {
                    let x = if i + 1 == n && n > 1 {
                        top
                    } else {
                        i as f64 * step
                    };
                    (x * x) as i64
                })
                .collect();
            v.dedup();
            v
        }
    };
    Ok(steps
        .into_iter()
        .filter(|s| (0..train_steps as i64).contains(s))
        .map(|s| s as usize)
        .collect())
}

/// DDIM's previous timestep t − ⌊T/N⌋ (None below 0).
pub fn ddim_prev_timestep(t: usize, train_steps: usize, n: usize) -> Option<usize> {
    t.checked_sub(train_steps / n.max(1))
}

/// DDIM's previous level after `grid[i]` (module docs): diffusers' t − ⌊T/N⌋
/// on its own three grids, the next grid step on the quadratic one (None:
/// the clean level).
fn ddim_prev_on(
    grid: &[usize],
    i: usize,
    spacing: Spacing,
    train_steps: usize,
    n: usize,
) -> Option<usize> {
    match spacing {
        Spacing::Quadratic => grid.get(i + 1).copied(),
        _ => ddim_prev_timestep(grid[i], train_steps, n),
    }
}

/// One reverse step's results.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// x at the previous level (mean plus noise, when noise was given).
    pub prev: Vec<f64>,
    /// The predicted x̂₀ (after clipping).
    pub x0: Vec<f64>,
    /// The mean of the step.
    pub mean: Vec<f64>,
    /// The standard deviation the noise was scaled by.
    pub std: f64,
}

fn x0_eps(
    prediction: Prediction,
    out: &[f64],
    x: &[f64],
    ab: f64,
    clip: Option<f64>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    prediction.check_level(ab)?;
    if out.len() != x.len() {
        return Err(GenError::shape(
            "reverse step",
            x.len(),
            out.len(),
            "pass one model output per coordinate of x",
        ));
    }
    Ok(out
        .iter()
        .zip(x)
        .map(|(o, xv)| {
            let (a, e) = prediction.to_x0_eps(*o, *xv, ab);
            (clip.map_or(a, |c| a.clamp(-c, c)), e)
        })
        .unzip())
}

/// ε̂ re-derived from the clipped x̂₀: (x_t − √ᾱ x̂₀) / √(1 − ᾱ), where
/// x̂₀ = clamp(x̂₀(out), −c, c) (GLIDE's sampler; diffusers'
/// `use_clipped_model_output`).
fn clipped_epsilon(
    prediction: Prediction,
    out: &Matrix,
    x: &Matrix,
    ab: f64,
    c: f64,
) -> Result<Matrix> {
    let (x0, _) = x0_eps(prediction, out.as_slice(), x.as_slice(), ab, Some(c))?;
    let (sa, sb) = (ab.sqrt(), (1.0 - ab).max(1e-20).sqrt());
    let eps = x
        .as_slice()
        .iter()
        .zip(&x0)
        .map(|(xv, a)| (xv - sa * a) / sb)
        .collect();
    Matrix::new(x.rows(), x.cols(), eps)
}

fn add_noise(mean: &[f64], std: f64, noise: Option<&[f64]>) -> Vec<f64> {
    match noise {
        Some(z) => mean.iter().zip(z).map(|(m, z)| m + std * z).collect(),
        None => mean.to_vec(),
    }
}

/// One ancestral DDPM step from timestep `t` to `prev` (None: the clean
/// level), as diffusers' `DDPMScheduler.step` with `clip_sample` =
/// `clip.is_some()` and the given `noise` (module docs).
#[allow(clippy::too_many_arguments)]
pub fn ddpm_step(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    out: &[f64],
    x: &[f64],
    t: usize,
    prev: Option<usize>,
    variance: VarianceKind,
    noise: Option<&[f64]>,
    clip: Option<f64>,
) -> Result<StepOutput> {
    let ab = schedule.alpha_bar(t);
    let ab_prev = schedule.alpha_bar_at(prev);
    let (x0, _) = x0_eps(prediction, out, x, ab, clip)?;
    let cur_alpha = ab / ab_prev;
    let cur_beta = 1.0 - cur_alpha;
    let c0 = ab_prev.sqrt() * cur_beta / (1.0 - ab);
    let ct = cur_alpha.sqrt() * (1.0 - ab_prev) / (1.0 - ab);
    let mean: Vec<f64> = x0.iter().zip(x).map(|(a, b)| c0 * a + ct * b).collect();
    let var = match variance {
        VarianceKind::FixedSmall => ((1.0 - ab_prev) / (1.0 - ab) * cur_beta).max(1e-20),
        VarianceKind::FixedLarge => cur_beta,
    };
    let std = var.sqrt();
    Ok(StepOutput {
        prev: add_noise(&mean, std, noise),
        x0,
        mean,
        std,
    })
}

/// One DDIM step from `t` to `prev` (None: the final level, ᾱ = `final_alpha`)
/// with η = `eta`, as diffusers' `DDIMScheduler.step` with `clip_sample` =
/// `clip.is_some()` and the given `variance_noise` (module docs).
#[allow(clippy::too_many_arguments)]
pub fn ddim_step(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    out: &[f64],
    x: &[f64],
    t: usize,
    prev: Option<usize>,
    final_alpha: f64,
    eta: f64,
    noise: Option<&[f64]>,
    clip: Option<f64>,
) -> Result<StepOutput> {
    let ab = schedule.alpha_bar(t);
    let ab_prev = prev.map_or(final_alpha, |p| schedule.alpha_bar(p));
    let (x0, eps) = x0_eps(prediction, out, x, ab, clip)?;
    let var = (1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev);
    let std = eta * var.max(0.0).sqrt();
    let dir = (1.0 - ab_prev - std * std).max(0.0).sqrt();
    let mean: Vec<f64> = x0
        .iter()
        .zip(&eps)
        .map(|(a, e)| ab_prev.sqrt() * a + dir * e)
        .collect();
    let prev = if eta > 0.0 {
        add_noise(&mean, std, noise)
    } else {
        mean.clone()
    };
    Ok(StepOutput {
        prev,
        x0,
        mean,
        std,
    })
}

/// The analytic variance σ*² of the DDIM step from `t` to `prev` (None:
/// the clean level, ᾱ = 1) with η = `eta`, given Γ_t = `gamma` (module
/// docs; `gamma` is clamped to [0, 1]).
pub fn analytic_ddim_variance(
    schedule: &NoiseSchedule,
    t: usize,
    prev: Option<usize>,
    eta: f64,
    gamma: f64,
) -> f64 {
    let ab = schedule.alpha_bar(t);
    let ab_prev = prev.map_or(1.0, |p| schedule.alpha_bar(p));
    let lambda2 = eta * eta * ((1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev)).max(0.0);
    let dir = (1.0 - ab_prev - lambda2).max(0.0).sqrt();
    let coef = ((1.0 - ab) * ab_prev / ab).sqrt() - dir;
    lambda2 + coef * coef * (1.0 - gamma.clamp(0.0, 1.0))
}

/// Γ_t = E‖ε̂(x_t, t)‖²/D at each step of a timestep grid: the second
/// moment of the network's ε̂ (the score norm times 1 − ᾱ_t) that DDIM's
/// analytic variance needs (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreMoments {
    /// The grid's timesteps, in sampling order.
    pub steps: Vec<usize>,
    /// Γ_t for each of `steps` (the Monte Carlo mean, not clamped).
    pub gamma: Vec<f64>,
    /// The data rows the means are over.
    pub rows: usize,
}

impl ScoreMoments {
    /// Γ at timestep `t`; an error with the fix if it was estimated on
    /// another grid.
    pub fn at(&self, t: usize) -> Result<f64> {
        self.steps
            .iter()
            .position(|&s| s == t)
            .map(|i| self.gamma[i])
            .ok_or_else(|| {
                GenError::config(
                    "score moments",
                    t,
                    "Γ_t was estimated on another timestep grid",
                    "estimate it with the sampler's own --steps and --spacing (score_moments)",
                )
            })
    }
}

/// Monte Carlo Γ_t (module docs) at every step of the grid of `opts` over
/// the data rows `x0` (the model's scale): x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε
/// with fresh ε ~ N(0, I) per step, and Γ_t the mean of ε̂(x_t, t)² over
/// rows and coordinates. `den` is the sampling network (for a conditional
/// model, at the rows' own classes).
pub fn score_moments(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    opts: &SamplerOptions,
    x0: &Matrix,
    rng: &mut Rng,
) -> Result<ScoreMoments> {
    let big_t = schedule.steps();
    opts.validate(big_t)?;
    x0.ensure_finite("score moments data")?;
    if x0.rows() == 0 {
        return Err(GenError::config(
            "score moments data",
            0,
            "Γ_t is a mean over data rows and there are none",
            "pass training rows (a few hundred are enough)",
        ));
    }
    let grid = timesteps(big_t, opts.grid_steps(big_t), opts.spacing)?;
    let mut gamma = Vec::with_capacity(grid.len());
    for &t in &grid {
        let ab = schedule.alpha_bar(t);
        let (a, b) = (ab.sqrt(), (1.0 - ab).sqrt());
        let z = standard_normals(x0.rows() * x0.cols(), rng);
        let xt: Vec<f64> = x0
            .as_slice()
            .iter()
            .zip(&z)
            .map(|(x, e)| a * x + b * e)
            .collect();
        let xt = Matrix::new(x0.rows(), x0.cols(), xt)?;
        let (_, eps) = predict_x0_eps(den, schedule, &xt, t)?;
        let e = eps.as_slice();
        gamma.push(e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64);
    }
    Ok(ScoreMoments {
        steps: grid,
        gamma,
        rows: x0.rows(),
    })
}

/// Which reverse-time sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Ancestral DDPM.
    Ddpm,
    /// DDIM with η.
    Ddim,
    /// The probability-flow ODE by DPM-Solver++(2M).
    Ode,
    /// The probability-flow ODE by Heun's method in σ.
    Heun,
    /// Predictor–corrector: ancestral steps with Langevin corrections.
    Langevin,
}

impl SamplerKind {
    /// Names on the command line.
    pub const NAMES: [&'static str; 5] = ["ddpm", "ddim", "ode", "heun", "langevin"];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ddpm => "ddpm",
            Self::Ddim => "ddim",
            Self::Ode => "ode",
            Self::Heun => "heun",
            Self::Langevin => "langevin",
        }
    }
}

impl std::str::FromStr for SamplerKind {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ddpm" | "ancestral" => Ok(Self::Ddpm),
            "ddim" => Ok(Self::Ddim),
            "ode" | "dpm-solver++" | "dpmpp-2m" => Ok(Self::Ode),
            "heun" => Ok(Self::Heun),
            "langevin" | "pc" => Ok(Self::Langevin),
            other => Err(GenError::config(
                "--sampler",
                other,
                "unknown sampler",
                "use ddpm, ddim, ode (probability flow, DPM-Solver++ 2M), heun (probability flow, Heun) or langevin (predictor-corrector)",
            )),
        }
    }
}

/// How to sample (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplerOptions {
    /// The sampler.
    pub kind: SamplerKind,
    /// Grid steps N (None: all T).
    pub steps: Option<usize>,
    /// DDIM's η ∈ [0, 1].
    pub eta: f64,
    /// The timestep grid.
    pub spacing: Spacing,
    /// The ancestral variance (ddpm, langevin's predictor).
    pub variance: VarianceKind,
    /// Langevin corrector steps per grid step.
    pub corrector_steps: usize,
    /// Langevin's target signal-to-noise ratio r.
    pub langevin_snr: f64,
    /// Clip x̂₀ to [−c, c] (diffusers' clip_sample; None: no clipping).
    pub clip_x0: Option<f64>,
    /// DDIM: re-derive ε̂ = (x_t − √ᾱ_t x̂₀) / √(1 − ᾱ_t) from the
    /// clipped x̂₀ (GLIDE; diffusers' `use_clipped_model_output = True`), so
    /// that the step's direction term agrees with its clipped x̂₀; the ODE
    /// (DPM-Solver++, which steps on x̂₀): clip x̂₀ too (static
    /// thresholding; diffusers' DPM-Solver leaves it off by default). Only
    /// where `clip_x0` is set. Off by default, as in diffusers; guided
    /// sampling turns it on (see `Ddpm::sample_guided`).
    pub clipped_eps: bool,
    /// Scales x_T and every injected noise draw.
    pub temperature: f64,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self {
            kind: SamplerKind::Ddpm,
            steps: None,
            eta: 0.0,
            spacing: Spacing::Trailing,
            variance: VarianceKind::FixedLarge,
            corrector_steps: 1,
            langevin_snr: 0.1,
            clip_x0: None,
            clipped_eps: false,
            temperature: 1.0,
        }
    }
}

impl SamplerOptions {
    /// `kind` with the other settings at their defaults.
    pub fn of(kind: SamplerKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// N for a schedule of T steps.
    pub fn grid_steps(&self, train_steps: usize) -> usize {
        self.steps.unwrap_or(train_steps)
    }

    /// Errors with cause and fix for N = 0 or N > T, η outside [0, 1],
    /// r ≤ 0, a clip bound ≤ 0 or a temperature ≤ 0.
    pub fn validate(&self, train_steps: usize) -> Result<()> {
        timesteps(train_steps, self.grid_steps(train_steps), self.spacing)?;
        if !(self.eta.is_finite() && (0.0..=1.0).contains(&self.eta)) {
            return Err(GenError::config(
                "--eta",
                self.eta,
                "DDIM's η interpolates between the deterministic sampler (0) and DDPM's variance (1)",
                "use η in [0, 1]",
            ));
        }
        if self.eta > 0.0 && self.kind != SamplerKind::Ddim {
            return Err(GenError::config(
                "--eta",
                self.eta,
                format!("η is DDIM's; the {} sampler has no η", self.kind.name()),
                "pass --sampler ddim, or drop --eta",
            ));
        }
        if !(self.langevin_snr.is_finite() && self.langevin_snr > 0.0) {
            return Err(GenError::config(
                "--langevin-snr",
                self.langevin_snr,
                "the corrector's signal-to-noise ratio must be > 0",
                "use 0.1 (Song et al. use 0.01 to 0.2)",
            ));
        }
        if let Some(c) = self.clip_x0
            && !(c.is_finite() && c > 0.0)
        {
            return Err(GenError::config(
                "clip_x0",
                c,
                "the clipping bound must be > 0",
                "use e.g. 1.0 for data in [−1, 1], or no clipping",
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(GenError::config(
                "temperature",
                self.temperature,
                "must be finite and > 0",
                "use 1.0 to sample the model as trained",
            ));
        }
        Ok(())
    }
}

fn normals(shape: (usize, usize), scale: f64, rng: &mut Rng) -> Vec<f64> {
    let mut z = standard_normals(shape.0 * shape.1, rng);
    if scale != 1.0 {
        z.iter_mut().for_each(|v| *v *= scale);
    }
    z
}

/// Draws of this many numbers or more are made on a second thread while the
/// network runs; smaller ones are cheaper than the thread.
const NOISE_BESIDE_AT: usize = 1 << 16;

/// `predict()` and, if `noisy`, the step's noise z ~ N(0, τ² I) of `shape`.
/// A large draw is made on another thread while the network runs (on a GPU
/// the host would otherwise wait ~20 ms per step for 784,000 normals after
/// every pass). `predict` never touches `rng`, so the draws are those of
/// drawing after it: one seed still gives one sample on every device.
fn predict_beside_noise(
    predict: impl FnOnce() -> Result<Matrix>,
    noisy: bool,
    shape: (usize, usize),
    tau: f64,
    rng: &mut Rng,
) -> (Result<Matrix>, Option<Vec<f64>>) {
    if !noisy {
        return (predict(), None);
    }
    if shape.0 * shape.1 < NOISE_BESIDE_AT {
        let out = predict();
        return (out, Some(normals(shape, tau, rng)));
    }
    std::thread::scope(|s| {
        let z = s.spawn(|| normals(shape, tau, rng));
        let out = predict();
        let z = z.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (out, Some(z))
    })
}

/// x_T ~ N(0, τ² I): `n` rows of width `dim`.
pub fn initial_noise(n: usize, dim: usize, temperature: f64, rng: &mut Rng) -> Result<Matrix> {
    Matrix::new(n, dim, normals((n, dim), temperature, rng))
}

/// Runs the sampler of `opts` from `x_t` (at the first grid step) down to
/// the clean level (module docs). Randomness comes from `rng` only.
pub fn sample(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    opts: &SamplerOptions,
    x_t: Matrix,
    rng: &mut Rng,
) -> Result<Matrix> {
    sample_observed(den, schedule, opts, x_t, rng, &mut |_, _| {})
}

/// [`sample`], showing `observe` the state before every grid step
/// (`Some(t)`, x at timestep t) and the result (`None`); the draws and the
/// result are those of [`sample`].
pub fn sample_observed(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    opts: &SamplerOptions,
    x_t: Matrix,
    rng: &mut Rng,
    observe: &mut dyn FnMut(Option<usize>, &Matrix),
) -> Result<Matrix> {
    run_sampler(den, schedule, opts, None, x_t, rng, observe)
}

/// DDIM (η, steps and spacing of `opts`) with the analytic variance of
/// Bao et al. (module docs), Γ_t from `moments` (estimated on the same
/// grid by [`score_moments`]). Randomness comes from `rng` only.
pub fn sample_analytic(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    opts: &SamplerOptions,
    moments: &ScoreMoments,
    x_t: Matrix,
    rng: &mut Rng,
) -> Result<Matrix> {
    if opts.kind != SamplerKind::Ddim {
        return Err(GenError::config(
            "--sampler",
            opts.kind.name(),
            "the analytic variance replaces DDIM's σ_t²; other samplers have their own noise",
            "use --sampler ddim with the analytic variance",
        ));
    }
    run_sampler(den, schedule, opts, Some(moments), x_t, rng, &mut |_, _| {})
}

fn run_sampler(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    opts: &SamplerOptions,
    moments: Option<&ScoreMoments>,
    x_t: Matrix,
    rng: &mut Rng,
    observe: &mut dyn FnMut(Option<usize>, &Matrix),
) -> Result<Matrix> {
    let big_t = schedule.steps();
    opts.validate(big_t)?;
    let n = opts.grid_steps(big_t);
    let grid = timesteps(big_t, n, opts.spacing)?;
    let shape = x_t.shape();
    let tau = opts.temperature;
    let pred = den.prediction();
    let mut x = x_t;
    // DPM-Solver++(2M)'s memory: the previous x̂₀ and step in λ.
    let mut history: Option<(Matrix, f64)> = None;
    for (i, &t) in grid.iter().enumerate() {
        observe(Some(t), &x);
        let next = grid.get(i + 1).copied();
        let step_out = |x: &Matrix| den.predict(x, &vec![t; shape.0]);
        match opts.kind {
            SamplerKind::Ddpm | SamplerKind::Langevin => {
                if opts.kind == SamplerKind::Langevin {
                    for _ in 0..opts.corrector_steps {
                        x = langevin_step(den, schedule, &x, t, opts.langevin_snr, tau, rng)?;
                    }
                }
                let (out, z) =
                    predict_beside_noise(|| step_out(&x), next.is_some(), shape, tau, rng);
                let out = out?;
                crate::denoiser::check_output(&out, &x)?;
                let s = ddpm_step(
                    schedule,
                    pred,
                    out.as_slice(),
                    x.as_slice(),
                    t,
                    next,
                    opts.variance,
                    z.as_deref(),
                    opts.clip_x0,
                )?;
                x = Matrix::new(shape.0, shape.1, s.prev)?;
            }
            SamplerKind::Ddim => {
                let prev = ddim_prev_on(&grid, i, opts.spacing, big_t, n);
                // The analytic variance: σ*² at this step (none at the last).
                let analytic = match (moments, prev) {
                    (Some(m), Some(_)) => Some(analytic_ddim_variance(
                        schedule,
                        t,
                        prev,
                        opts.eta,
                        m.at(t)?,
                    )),
                    _ => None,
                };
                let noisy = if moments.is_some() {
                    analytic.is_some()
                } else {
                    opts.eta > 0.0
                };
                let (out, z) = predict_beside_noise(|| step_out(&x), noisy, shape, tau, rng);
                let out = out?;
                crate::denoiser::check_output(&out, &x)?;
                // With the re-derived ε̂ as an ε-prediction, the step's x̂₀ is
                // the clipped one and its direction term follows from it.
                let (pred, out) = match (opts.clipped_eps, opts.clip_x0) {
                    (true, Some(c)) => (
                        Prediction::Epsilon,
                        clipped_epsilon(pred, &out, &x, schedule.alpha_bar(t), c)?,
                    ),
                    _ => (pred, out),
                };
                let s = ddim_step(
                    schedule,
                    pred,
                    out.as_slice(),
                    x.as_slice(),
                    t,
                    prev,
                    1.0,
                    opts.eta,
                    z.as_deref(),
                    opts.clip_x0,
                )?;
                let v = match (moments, analytic) {
                    (None, _) => s.prev,
                    (Some(_), Some(var)) => add_noise(&s.mean, var.sqrt(), z.as_deref()),
                    (Some(_), None) => s.mean,
                };
                x = Matrix::new(shape.0, shape.1, v)?;
            }
            SamplerKind::Heun => x = heun_step(den, schedule, &x, t, next)?,
            SamplerKind::Ode => {
                let (mut x0, _) = predict_x0_eps(den, schedule, &x, t)?;
                // DPM-Solver++ works on x̂₀ itself, so agreeing with the
                // clipped x̂₀ is clipping it (Lu et al.'s static thresholding).
                if let (true, Some(c)) = (opts.clipped_eps, opts.clip_x0) {
                    x0.as_mut_slice()
                        .iter_mut()
                        .for_each(|v| *v = v.clamp(-c, c));
                }
                let Some(tn) = next else {
                    x = x0;
                    continue;
                };
                let (a, an) = (schedule.alpha_bar(t), schedule.alpha_bar(tn));
                let lambda = |ab: f64| 0.5 * (ab / (1.0 - ab)).ln();
                let h = lambda(an) - lambda(a);
                let decay = (-h).exp();
                let d = match &history {
                    Some((x0_prev, h_prev)) if a > 0.0 => {
                        let r = h_prev / h;
                        let (c1, c2) = (1.0 + 0.5 / r, 0.5 / r);
                        let v = x0
                            .as_slice()
                            .iter()
                            .zip(x0_prev.as_slice())
                            .map(|(p, q)| c1 * p - c2 * q)
                            .collect();
                        Matrix::new(shape.0, shape.1, v)?
                    }
                    _ => x0.clone(),
                };
                let ratio = ((1.0 - an) / (1.0 - a)).sqrt();
                let coef = -an.sqrt() * (decay - 1.0);
                let v = x
                    .as_slice()
                    .iter()
                    .zip(d.as_slice())
                    .map(|(xv, dv)| ratio * xv + coef * dv)
                    .collect();
                x = Matrix::new(shape.0, shape.1, v)?;
                history = (a > 0.0).then_some((x0, h));
            }
        }
    }
    observe(None, &x);
    Ok(x)
}

/// x at level `b` from level `a` along DDIM's (η = 0) direction with (x̂₀, ε̂).
fn ddim_move(x0: &Matrix, eps: &Matrix, ab_b: f64) -> Result<Matrix> {
    let (a, s) = (ab_b.sqrt(), (1.0 - ab_b).sqrt());
    let v = x0
        .as_slice()
        .iter()
        .zip(eps.as_slice())
        .map(|(x, e)| a * x + s * e)
        .collect();
    Matrix::new(x0.rows(), x0.cols(), v)
}

/// One Heun step of the probability-flow ODE from grid step `t` to `next`
/// (None: the clean level).
fn heun_step(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    x: &Matrix,
    t: usize,
    next: Option<usize>,
) -> Result<Matrix> {
    let ab_a = schedule.alpha_bar(t);
    let ab_b = schedule.alpha_bar_at(next);
    let (x0, eps_a) = predict_x0_eps(den, schedule, x, t)?;
    let euler = ddim_move(&x0, &eps_a, ab_b)?;
    let Some(tb) = next.filter(|_| ab_a > 0.0) else {
        return Ok(euler);
    };
    let (_, eps_b) = predict_x0_eps(den, schedule, &euler, tb)?;
    let sigma = |ab: f64| ((1.0 - ab) / ab).sqrt();
    let ds = sigma(ab_b) - sigma(ab_a);
    let (ra, rb) = (ab_a.sqrt(), ab_b.sqrt());
    let v = x
        .as_slice()
        .iter()
        .zip(eps_a.as_slice().iter().zip(eps_b.as_slice()))
        .map(|(xv, (ea, eb))| rb * (xv / ra + ds * 0.5 * (ea + eb)))
        .collect();
    Matrix::new(x.rows(), x.cols(), v)
}

/// One Langevin corrector step at level `t` (module docs).
fn langevin_step(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    x: &Matrix,
    t: usize,
    snr: f64,
    tau: f64,
    rng: &mut Rng,
) -> Result<Matrix> {
    let ab = schedule.alpha_bar(t);
    let (_, eps) = predict_x0_eps(den, schedule, x, t)?;
    let scale = -1.0 / (1.0 - ab).sqrt();
    let score: Vec<f64> = eps.as_slice().iter().map(|e| scale * e).collect();
    let z = normals(x.shape(), tau, rng);
    let d = x.cols();
    let mean_norm = |v: &[f64]| {
        v.chunks(d)
            .map(|r| r.iter().map(|a| a * a).sum::<f64>().sqrt())
            .sum::<f64>()
            / x.rows().max(1) as f64
    };
    let (gn, zn) = (mean_norm(&score), mean_norm(&z));
    if gn.is_nan() || gn <= 0.0 {
        return Ok(x.clone());
    }
    let delta = 2.0 * (1.0 - schedule.beta(t)) * (snr * zn / gn).powi(2);
    let v = x
        .as_slice()
        .iter()
        .zip(score.iter().zip(&z))
        .map(|(xv, (s, zv))| xv + delta * s + (2.0 * delta).sqrt() * zv)
        .collect();
    Matrix::new(x.rows(), x.cols(), v)
}

/// DDIM inversion x₀ → x at the first grid step of N = `steps` under
/// `spacing` (module docs); [`sample`] with DDIM, η = 0 and the same grid
/// maps it back. With `refine` = k > 0 each step is refined by k
/// fixed-point iterations x_t ← step(x_{t'}, ε̂(x_t, t)), which converge to
/// the exact inverse of the DDIM step (the decoder then returns x₀ up to the
/// iteration's residual instead of the O(1/N) error of plain inversion).
pub fn ddim_invert(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    steps: usize,
    spacing: Spacing,
    x0: &Matrix,
    refine: usize,
) -> Result<Matrix> {
    let big_t = schedule.steps();
    let grid = timesteps(big_t, steps, spacing)?;
    let mut x = x0.clone();
    for (i, &t) in grid.iter().enumerate().rev() {
        let ab_cur = schedule.alpha_bar_at(ddim_prev_on(&grid, i, spacing, big_t, steps));
        let ab_t = schedule.alpha_bar(t);
        let (a, s) = (ab_cur.sqrt(), (1.0 - ab_cur).sqrt());
        let up = |eps: &Matrix| -> Result<Matrix> {
            let x0h: Vec<f64> = x
                .as_slice()
                .iter()
                .zip(eps.as_slice())
                .map(|(xv, e)| (xv - s * e) / a)
                .collect();
            ddim_move(&Matrix::new(x.rows(), x.cols(), x0h)?, eps, ab_t)
        };
        let (_, eps) = predict_x0_eps(den, schedule, &x, t)?;
        let mut next = up(&eps)?;
        for _ in 0..refine {
            let (_, eps) = predict_x0_eps(den, schedule, &next, t)?;
            next = up(&eps)?;
        }
        x = next;
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denoiser::{FnDenoiser, GaussianData};
    use crate::schedule::{BetaSchedule, ScheduleConfig};

    /// The linear β schedule with T = 100.
    fn linear_100() -> NoiseSchedule {
        NoiseSchedule::new(ScheduleConfig {
            beta: BetaSchedule::linear(),
            steps: 100,
            zero_terminal_snr: false,
        })
        .unwrap()
    }

    /// A denoiser whose `prediction` output is `k·x` at every timestep.
    fn scaling(
        prediction: Prediction,
        k: f64,
    ) -> FnDenoiser<impl Fn(&Matrix, &[usize]) -> Result<Matrix>> {
        FnDenoiser {
            prediction,
            f: move |x: &Matrix, _: &[usize]| {
                Matrix::new(
                    x.rows(),
                    x.cols(),
                    x.as_slice().iter().map(|v| k * v).collect(),
                )
            },
        }
    }

    /// The ODE with `clipped_eps` steps on the clipped x̂₀, so a model whose
    /// x̂₀ overshoots [−1, 1] still ends inside it (its last step returns
    /// x̂₀); without it, or without `clip_x0`, the overshoot stays.
    #[test]
    fn ode_with_clipped_eps_clips_x0() {
        let schedule = linear_100();
        let den = scaling(Prediction::Sample, 3.0);
        let run = |clipped_eps: bool, clip_x0: Option<f64>| {
            let opts = SamplerOptions {
                steps: Some(10),
                clipped_eps,
                clip_x0,
                ..SamplerOptions::of(SamplerKind::Ode)
            };
            let x_t = Matrix::new(4, 2, vec![2.0, -1.5, 0.9, -3.0, 0.1, 1.2, -0.7, 2.5]).unwrap();
            let mut rng = gen_core::rng_from_seed(0);
            let x = sample(&den, &schedule, &opts, x_t, &mut rng).unwrap();
            x.as_slice().iter().fold(0.0_f64, |m, v| m.max(v.abs()))
        };
        assert!(run(true, Some(1.0)) <= 1.0);
        assert!(run(false, Some(1.0)) > 1.5);
        assert!(run(true, None) > 1.5);
    }

    /// DDPM and DDIM (η = 1) draw z for step i after step i's network call,
    /// in grid order, whether the draw is made beside the network on another
    /// thread (large batches) or after it: `sample` equals the steps composed
    /// by hand with the draws made in sequence, bit for bit.
    #[test]
    fn stochastic_steps_draw_their_noise_in_grid_order() {
        let schedule = linear_100();
        let den = scaling(Prediction::Epsilon, 0.5);
        // Below and above the threaded draw's threshold.
        for rows in [3, NOISE_BESIDE_AT / 1000 + 1] {
            let shape = (rows, 1000);
            for kind in [SamplerKind::Ddpm, SamplerKind::Ddim] {
                let opts = SamplerOptions {
                    steps: Some(5),
                    eta: if kind == SamplerKind::Ddim { 1.0 } else { 0.0 },
                    ..SamplerOptions::of(kind)
                };
                let x_t = initial_noise(rows, 1000, 1.0, &mut gen_core::rng_from_seed(7)).unwrap();
                let mut rng = gen_core::rng_from_seed(11);
                let got = sample(&den, &schedule, &opts, x_t.clone(), &mut rng).unwrap();
                let mut rng = gen_core::rng_from_seed(11);
                let grid = timesteps(100, 5, opts.spacing).unwrap();
                let mut x = x_t;
                for (i, &t) in grid.iter().enumerate() {
                    let out = den.predict(&x, &vec![t; rows]).unwrap();
                    let next = grid.get(i + 1).copied();
                    let step = if kind == SamplerKind::Ddpm {
                        let z = next.map(|_| normals(shape, 1.0, &mut rng));
                        ddpm_step(
                            &schedule,
                            Prediction::Epsilon,
                            out.as_slice(),
                            x.as_slice(),
                            t,
                            next,
                            opts.variance,
                            z.as_deref(),
                            opts.clip_x0,
                        )
                    } else {
                        let z = normals(shape, 1.0, &mut rng);
                        let prev = ddim_prev_timestep(t, 100, 5);
                        ddim_step(
                            &schedule,
                            Prediction::Epsilon,
                            out.as_slice(),
                            x.as_slice(),
                            t,
                            prev,
                            1.0,
                            1.0,
                            Some(&z),
                            opts.clip_x0,
                        )
                    };
                    x = Matrix::new(rows, 1000, step.unwrap().prev).unwrap();
                }
                assert!(got.as_slice() == x.as_slice(), "{kind:?}, {rows} rows");
            }
        }
    }

    /// The re-derived ε̂ reproduces the clipped x̂₀ and equals the model's ε̂
    /// wherever clipping does nothing, for every parameterisation.
    #[test]
    fn clipped_epsilon_agrees_with_the_clipped_x0() {
        let ab = 0.3_f64;
        let x = Matrix::new(1, 4, vec![0.2, -2.5, 1.9, 0.0]).unwrap();
        let out = Matrix::new(1, 4, vec![0.1, 0.4, -3.0, 2.2]).unwrap();
        for pred in [Prediction::Epsilon, Prediction::Sample, Prediction::V] {
            let eps = clipped_epsilon(pred, &out, &x, ab, 1.0).unwrap();
            for i in 0..4 {
                let (x0, e) = pred.to_x0_eps(out.as_slice()[i], x.as_slice()[i], ab);
                let (x0_back, _) =
                    Prediction::Epsilon.to_x0_eps(eps.as_slice()[i], x.as_slice()[i], ab);
                assert!(
                    (x0_back - x0.clamp(-1.0, 1.0)).abs() < 1e-12,
                    "{pred:?} {i}"
                );
                if x0.abs() <= 1.0 {
                    assert!((eps.as_slice()[i] - e).abs() < 1e-12, "{pred:?} {i}");
                }
            }
        }
    }

    /// Ho et al.'s linear β schedule with T = 1000 (ᾱ_999 ≈ 4·10⁻⁵).
    fn linear_1000() -> NoiseSchedule {
        NoiseSchedule::new(ScheduleConfig {
            beta: BetaSchedule::linear(),
            steps: 1000,
            zero_terminal_snr: false,
        })
        .unwrap()
    }

    /// The analytic variance's ends (Bao et al.'s Theorem 2) on consecutive
    /// steps with η = 1: Γ = 1 (x₀ known from x_t) gives λ² = β̃_t, Γ = 0
    /// (a zero score) gives β_t/α_t; and for Gaussian data, Γ_t = (1 −
    /// ᾱ_t)/s_t² gives the variance of the exact reverse kernel, λ² plus
    /// the squared x₀ coefficient times Var(x₀ | x_t) = σ²(1 − ᾱ_t)/s_t².
    #[test]
    fn analytic_variance_ends_and_gaussian_posterior() {
        let schedule = linear_1000();
        for t in [1usize, 10, 500, 999] {
            let (ab, ab_prev) = (schedule.alpha_bar(t), schedule.alpha_bar(t - 1));
            let (alpha, beta) = (ab / ab_prev, 1.0 - ab / ab_prev);
            let tilde = (1.0 - ab_prev) / (1.0 - ab) * beta;
            let v1 = analytic_ddim_variance(&schedule, t, Some(t - 1), 1.0, 1.0);
            let v0 = analytic_ddim_variance(&schedule, t, Some(t - 1), 1.0, 0.0);
            assert!(
                (v1 - tilde).abs() < 1e-12 * tilde.max(1.0),
                "t {t}: {v1} vs β̃ {tilde}"
            );
            assert!(
                (v0 - beta / alpha).abs() < 1e-12,
                "t {t}: {v0} vs β/α {}",
                beta / alpha
            );
            // Out-of-range Γ (Monte Carlo) is clamped to the ends.
            assert_eq!(
                analytic_ddim_variance(&schedule, t, Some(t - 1), 1.0, 1.3),
                v1
            );
            assert_eq!(
                analytic_ddim_variance(&schedule, t, Some(t - 1), 1.0, -0.2),
                v0
            );
        }
        // A DDIM grid step t → t' with η = 0 on N(0, σ² = 0.3).
        let var0 = 0.3;
        for (t, prev) in [(800usize, 600usize), (200, 0)] {
            let (ab, ab_prev) = (schedule.alpha_bar(t), schedule.alpha_bar(prev));
            let s2 = ab * var0 + 1.0 - ab;
            let gamma = (1.0 - ab) / s2;
            let post_x0 = var0 * (1.0 - ab) / s2;
            let coef = ab_prev.sqrt() - (1.0 - ab_prev).sqrt() * (ab / (1.0 - ab)).sqrt();
            let v = analytic_ddim_variance(&schedule, t, Some(prev), 0.0, gamma);
            assert!(
                (v - coef * coef * post_x0).abs() < 1e-12,
                "{t} → {prev}: {v}"
            );
        }
    }

    /// Γ_t by Monte Carlo over data rows matches its closed form for
    /// Gaussian data with the exact ε̂, (1 − ᾱ_t)/s_t²; on that data DDIM with
    /// the analytic variance reproduces the data's mean and variance after 5
    /// steps (the kernel is exact), with η = 0 and η = 1, where DDIM's own
    /// variance keeps under a third of it.
    #[test]
    fn analytic_ddim_reproduces_gaussian_data_in_five_steps() {
        let schedule = linear_1000();
        let data = GaussianData::new(vec![0.3, -0.2], vec![0.5, 0.5]).unwrap();
        let oracle = data.oracle(&schedule, Prediction::Epsilon);
        let mut rng = gen_core::rng_from_seed(3);
        let draw = |n: usize, level: f64, rng: &mut Rng| {
            // n rows of the exact marginal q(x_t) at ᾱ = level.
            let z = standard_normals(n * 2, rng);
            let v = z
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let (m, s2) = data.marginal(i % 2, level);
                    m + s2.sqrt() * e
                })
                .collect();
            Matrix::new(n, 2, v).unwrap()
        };
        let x0 = draw(4000, 1.0, &mut rng);
        let base = SamplerOptions {
            steps: Some(5),
            spacing: Spacing::Leading,
            ..SamplerOptions::of(SamplerKind::Ddim)
        };
        let moments = score_moments(&oracle, &schedule, &base, &x0, &mut rng).unwrap();
        assert_eq!(moments.steps, vec![800, 600, 400, 200, 0]);
        assert_eq!(moments.rows, 4000);
        for (&t, &g) in moments.steps.iter().zip(&moments.gamma) {
            let ab = schedule.alpha_bar(t);
            let exact = (1.0 - ab) / (ab * 0.25 + 1.0 - ab);
            assert!(
                (g - exact).abs() < 0.04 * exact + 1e-6,
                "Γ at {t}: {g} vs {exact}"
            );
        }
        let n = 20_000;
        let stats = |x: &Matrix| {
            (0..2)
                .map(|d| {
                    let col: Vec<f64> = x.iter_rows().map(|r| r[d]).collect();
                    let m = col.iter().sum::<f64>() / n as f64;
                    let v = col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / n as f64;
                    (m, v)
                })
                .collect::<Vec<_>>()
        };
        // The clean level's output is x̂₀ at t = 0: Var = σ² · ᾱ_0σ²/s_0².
        let ab0 = schedule.alpha_bar(0);
        let target_var = 0.25 * ab0 * 0.25 / (ab0 * 0.25 + 1.0 - ab0);
        for eta in [0.0, 1.0] {
            let opts = SamplerOptions { eta, ..base };
            let x_t = draw(n, schedule.alpha_bar(800), &mut rng);
            let analytic =
                sample_analytic(&oracle, &schedule, &opts, &moments, x_t.clone(), &mut rng)
                    .unwrap();
            let plain = sample(&oracle, &schedule, &opts, x_t, &mut rng).unwrap();
            for (d, ((m, v), (_, v_plain))) in
                stats(&analytic).into_iter().zip(stats(&plain)).enumerate()
            {
                assert!((m - data.mean[d]).abs() < 0.02, "η {eta}, mean {d}: {m}");
                assert!(
                    (v / target_var - 1.0).abs() < 0.05,
                    "η {eta}, var {d}: {v} vs {target_var}"
                );
                assert!(
                    v_plain < target_var / 3.0,
                    "η {eta}, plain DDIM var {d}: {v_plain}"
                );
            }
        }
    }

    /// The analytic variance is DDIM's: other samplers and moments of
    /// another grid are refused with the fix.
    #[test]
    fn analytic_sampling_refuses_other_samplers_and_grids() {
        let schedule = linear_100();
        let den = scaling(Prediction::Epsilon, 0.5);
        let mut rng = gen_core::rng_from_seed(0);
        let x0 = initial_noise(8, 3, 1.0, &mut rng).unwrap();
        let ddim10 = SamplerOptions {
            steps: Some(10),
            ..SamplerOptions::of(SamplerKind::Ddim)
        };
        let m = score_moments(&den, &schedule, &ddim10, &x0, &mut rng).unwrap();
        assert_eq!(m.gamma.len(), 10);
        let x_t = initial_noise(8, 3, 1.0, &mut rng).unwrap();
        let ddpm = SamplerOptions {
            steps: Some(10),
            ..SamplerOptions::of(SamplerKind::Ddpm)
        };
        let e = sample_analytic(&den, &schedule, &ddpm, &m, x_t.clone(), &mut rng).unwrap_err();
        assert!(e.to_string().contains("--sampler ddim"), "{e}");
        let ddim20 = SamplerOptions {
            steps: Some(20),
            ..ddim10
        };
        let e = sample_analytic(&den, &schedule, &ddim20, &m, x_t.clone(), &mut rng).unwrap_err();
        assert!(e.to_string().contains("another timestep grid"), "{e}");
        let ok = sample_analytic(&den, &schedule, &ddim10, &m, x_t, &mut rng).unwrap();
        assert!(ok.as_slice().iter().all(|v| v.is_finite()));
        let empty = Matrix::new(0, 3, vec![]).unwrap();
        assert!(score_moments(&den, &schedule, &ddim10, &empty, &mut rng).is_err());
    }
}
