//! The variational bound on −log p_θ(x₀) (Sohl-Dickstein et al. 2015; Ho et
//! al. 2020, eq. 5), in nats per row.
//!
//! With the reverse model p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I),
//! μ_θ = μ̃_t(x_t, x̂₀(x_t, t)) and σ_t² fixed (β_t or β̃_t), for data of
//! dimension D (0-based t, see [`crate::schedule`]):
//!
//! ```text
//! −log p_θ(x₀) ≤ L_prior + Σ_{t=1}^{T−1} L_t + L_0
//! L_prior = KL(q(x_{T−1} | x₀) ‖ N(0, I))
//!         = ½ Σ_d [(1 − ᾱ) + ᾱ x₀_d² − 1 − ln(1 − ᾱ)],       ᾱ = ᾱ_{T−1}
//! L_t     = E_{x_t ~ q(x_t|x₀)} KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t))
//!         = E[ (D/2)(β̃_t/σ_t² − 1 − ln(β̃_t/σ_t²)) + c_t² ‖x₀ − x̂₀‖² / (2σ_t²) ]
//! L_0     = E_{x_0' ~ q(x_0'|x₀)} −log N(x₀; x̂₀(x_0', 0), β_0 I)
//!         = E[ (D/2) ln(2π β_0) + ‖x₀ − x̂₀‖² / (2β_0) ]
//! ```
//!
//! with c_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) (μ̃_t − μ_θ = c_t (x₀ − x̂₀)). The
//! decoder L_0 is a Gaussian of variance β_0 (β̃_0 = 0 would make it
//! degenerate), for continuous data. Each expectation is estimated with one
//! draw of x_t per row and timestep, so the bound of one row is a
//! Monte-Carlo estimate whose mean is the bound.
//!
//! # Discrete data (images)
//!
//! For data on the grid of L levels in [−1, 1] (x = 2k/(L − 1) − 1, bin
//! half-width δ = 1/(L − 1)), [`Decoder::Discretized`] replaces L_0 by Ho
//! et al.'s (2020, eq. 13) discretised decoder, the Gaussian's mass on the
//! pixel's bin, with the outer bins open to ±∞:
//!
//! ```text
//! L_0 = E −Σ_d ln ∫_{δ₋(x₀_d)}^{δ₊(x₀_d)} N(u; x̂₀_d(x_0', 0), β_0) du
//! δ₊(x) = +∞ if x = 1 else x + δ,   δ₋(x) = −∞ if x = −1 else x − δ
//! ```
//!
//! The L bins tile the real line, so the decoder is a distribution over the
//! L^D images and the bound is one on −log P_θ(x₀) of the discrete data
//! (in bits per dimension: divide by D ln 2; no log L correction).
//!
//! With σ_t² = β̃_t the first term of L_t vanishes, but the bound is loose
//! at small t (β̃ underestimates the true reverse variance there; ≈ 0.45
//! nats for a 1-D Gaussian at T = 1000); σ_t² = β_t is within 0.01 nats of
//! the exact NLL for Gaussian data with the optimal denoiser.

use gen_core::numerics::standard_normals;
use gen_core::{GenError, Matrix, Result, Rng};

use crate::denoiser::{Denoiser, check_output};
use crate::sampler::VarianceKind;
use crate::schedule::NoiseSchedule;

/// The three parts of the bound, one value per row, in nats.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundTerms {
    /// L_prior.
    pub prior: Vec<f64>,
    /// Σ_{t ≥ 1} L_t.
    pub diffusion: Vec<f64>,
    /// L_0.
    pub decoder: Vec<f64>,
}

impl BoundTerms {
    /// The upper bound on −log p_θ(x₀) of every row.
    pub fn nll(&self) -> Vec<f64> {
        self.prior
            .iter()
            .zip(&self.diffusion)
            .zip(&self.decoder)
            .map(|((a, b), c)| a + b + c)
            .collect()
    }
}

/// Rows per denoiser call (rows × timesteps are batched together).
const ROWS_PER_CALL: usize = 8192;

/// The decoder term L_0 of the bound (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoder {
    /// N(x₀; x̂₀, β_0 I): a density, for continuous data.
    #[default]
    Gaussian,
    /// The N(x̂₀, β_0) mass of each pixel's bin, for data on the grid of
    /// `levels` values 2k/(levels − 1) − 1 in [−1, 1].
    Discretized {
        /// Grey levels L ≥ 2.
        levels: u32,
    },
}

impl Decoder {
    /// Errors unless every value of `x` lies on the decoder's grid (within
    /// 1e-6): the discretised decoder scores bins, and a value between bin
    /// centres would get a number that is no probability of the data.
    pub fn check(&self, x: &Matrix) -> Result<()> {
        let Decoder::Discretized { levels } = *self else {
            return Ok(());
        };
        if levels < 2 {
            return Err(GenError::config(
                "grey levels",
                levels,
                "the discretised decoder needs at least 2 levels",
                "pass the data's number of grey levels",
            ));
        }
        let top = (levels - 1) as f64;
        let on_grid = |v: f64| {
            let k = (v + 1.0) * top / 2.0;
            let r = k.round();
            k.is_finite() && (k - r).abs() <= 1e-6 && (0.0..=top).contains(&r)
        };
        if let Some(pos) = x.as_slice().iter().position(|v| !on_grid(*v)) {
            return Err(GenError::input(
                "discretised DDPM bound",
                format!(
                    "value {} at row {}, column {} is not one of the {levels} grid values 2k/{} − 1 in [−1, 1]",
                    x.as_slice()[pos],
                    pos / x.cols().max(1),
                    pos % x.cols().max(1),
                    levels - 1
                ),
                format!(
                    "map raw grey levels k ∈ 0..={} to 2k/{} − 1 before scoring",
                    levels - 1,
                    levels - 1
                ),
            ));
        }
        Ok(())
    }
}

/// ln Q(z) = ln P(Z > z) for Z ~ N(0, 1), accurate in both tails (relative
/// error of Q below 2e-7: Numerical Recipes' `erfcc`, evaluated in log
/// space so that Q(40) ≈ 4e-350 is still ln Q = −804.6).
pub fn log_normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z == f64::INFINITY {
        return f64::NEG_INFINITY;
    }
    if z < 0.0 {
        return (-log_normal_sf(-z).exp()).ln_1p();
    }
    // erfc(x) = t·exp(−x² + P(t)), t = 1/(1 + x/2), x = z/√2.
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let p = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    -std::f64::consts::LN_2 + t.ln() - x * x + p
}

/// ln Φ(z) = ln P(Z ≤ z) for Z ~ N(0, 1) (see [`log_normal_sf`]).
pub fn log_normal_cdf(z: f64) -> f64 {
    log_normal_sf(-z)
}

/// ln P(a < Z ≤ b) for Z ~ N(0, 1) and a < b (either may be infinite),
/// without cancellation in the tails.
pub fn log_normal_interval(a: f64, b: f64) -> f64 {
    let ln_diff = |hi: f64, lo: f64| hi + (-(lo - hi).exp()).ln_1p();
    if a == f64::NEG_INFINITY {
        log_normal_cdf(b)
    } else if b == f64::INFINITY {
        log_normal_sf(a)
    } else if a >= 0.0 {
        ln_diff(log_normal_sf(a), log_normal_sf(b))
    } else if b <= 0.0 {
        ln_diff(log_normal_cdf(b), log_normal_cdf(a))
    } else {
        (-(log_normal_cdf(a).exp() + log_normal_sf(b).exp())).ln_1p()
    }
}

/// −ln of the N(μ, σ²) mass of the bin of grid value `x` among `levels`
/// values in [−1, 1] (module docs; the outer bins extend to ±∞).
pub fn discretized_gaussian_nll(x: f64, mean: f64, std: f64, levels: u32) -> f64 {
    let delta = 1.0 / (levels.max(2) - 1) as f64;
    let lo = if x <= -1.0 + 0.5 * delta {
        f64::NEG_INFINITY
    } else {
        (x - delta - mean) / std
    };
    let hi = if x >= 1.0 - 0.5 * delta {
        f64::INFINITY
    } else {
        (x + delta - mean) / std
    };
    -log_normal_interval(lo, hi)
}

/// The bound's terms for every row of `x0` under `den` with reverse
/// variance `variance` and the Gaussian decoder (module docs); x_t draws
/// come from `rng`.
pub fn variational_bound(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    variance: VarianceKind,
    x0: &Matrix,
    rng: &mut Rng,
) -> Result<BoundTerms> {
    variational_bound_with(den, schedule, variance, Decoder::Gaussian, x0, rng)
}

/// [`variational_bound`] with the decoder term `decoder`: for
/// [`Decoder::Discretized`] every value of `x0` must lie on its grid
/// ([`Decoder::check`]) and the result bounds −ln P of the discrete data.
pub fn variational_bound_with(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    variance: VarianceKind,
    decoder: Decoder,
    x0: &Matrix,
    rng: &mut Rng,
) -> Result<BoundTerms> {
    x0.ensure_finite("diffusion bound input")?;
    decoder.check(x0)?;
    let (n, d) = x0.shape();
    let big_t = schedule.steps();
    let pred = den.prediction();
    let ab_last = schedule.alpha_bar(big_t - 1);
    let prior = x0
        .iter_rows()
        .map(|r| {
            0.5 * r
                .iter()
                .map(|v| (1.0 - ab_last) + ab_last * v * v - 1.0 - (1.0 - ab_last).ln())
                .sum::<f64>()
        })
        .collect();
    let mut diffusion = vec![0.0; n];
    let mut decoder_terms = vec![0.0; n];
    if n == 0 {
        return Ok(BoundTerms {
            prior,
            diffusion,
            decoder: decoder_terms,
        });
    }
    let per_call = (ROWS_PER_CALL / n).max(1);
    let ts: Vec<usize> = (0..big_t).collect();
    for group in ts.chunks(per_call) {
        for &t in group {
            pred.check_level(schedule.alpha_bar(t))?;
        }
        let rows = group.len() * n;
        let eps = standard_normals(rows * d, rng);
        let mut xt = Vec::with_capacity(rows * d);
        let mut tt = Vec::with_capacity(rows);
        for (g, &t) in group.iter().enumerate() {
            let (m, v) = schedule.q_moments(t);
            let s = v.sqrt();
            for (i, r) in x0.iter_rows().enumerate() {
                let e = &eps[(g * n + i) * d..(g * n + i + 1) * d];
                xt.extend(r.iter().zip(e).map(|(x, e)| m * x + s * e));
                tt.push(t);
            }
        }
        let xt = Matrix::new(rows, d, xt)?;
        let out = den.predict(&xt, &tt)?;
        check_output(&out, &xt)?;
        for (g, &t) in group.iter().enumerate() {
            let ab = schedule.alpha_bar(t);
            let post = schedule.posterior(t);
            let (sigma2, constant) = if t == 0 {
                let b0 = schedule.beta(0);
                (b0, 0.5 * d as f64 * (2.0 * std::f64::consts::PI * b0).ln())
            } else {
                let s2 = match variance {
                    VarianceKind::FixedSmall => post.variance,
                    VarianceKind::FixedLarge => schedule.beta(t),
                };
                let r = post.variance / s2;
                (s2, 0.5 * d as f64 * (r - 1.0 - r.ln()))
            };
            let c2 = if t == 0 { 1.0 } else { post.coef_x0.powi(2) };
            if let (0, Decoder::Discretized { levels }) = (t, decoder) {
                let std = schedule.beta(0).sqrt();
                for (i, dec) in decoder_terms.iter_mut().enumerate() {
                    let k = (g * n + i) * d;
                    *dec += (0..d)
                        .map(|j| {
                            let (x0h, _) =
                                pred.to_x0_eps(out.as_slice()[k + j], xt.as_slice()[k + j], ab);
                            discretized_gaussian_nll(x0.get(i, j), x0h, std, levels)
                        })
                        .sum::<f64>();
                }
                continue;
            }
            for i in 0..n {
                let k = (g * n + i) * d;
                let err: f64 = (0..d)
                    .map(|j| {
                        let (x0h, _) =
                            pred.to_x0_eps(out.as_slice()[k + j], xt.as_slice()[k + j], ab);
                        (x0.get(i, j) - x0h).powi(2)
                    })
                    .sum();
                let term = constant + c2 * err / (2.0 * sigma2);
                if t == 0 {
                    decoder_terms[i] += term;
                } else {
                    diffusion[i] += term;
                }
            }
        }
    }
    Ok(BoundTerms {
        prior,
        diffusion,
        decoder: decoder_terms,
    })
}
