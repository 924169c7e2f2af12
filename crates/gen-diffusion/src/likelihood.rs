//! The exact likelihood of the probability-flow ODE (Song et al. 2021),
//! by the instantaneous change of variables with the exact trace.
//!
//! # The ODE
//!
//! In the variables of DDIM (Song, Meng & Ermon 2021, eq. 14),
//! y = x/√ᾱ and σ̃ = √((1 − ᾱ)/ᾱ), the deterministic sampler is the Euler
//! discretisation of
//!
//! ```text
//! dy/dσ̃ = ε̂(√ᾱ · y, t(σ̃)),
//! ```
//!
//! whose marginals are those of the diffusion when ε̂ is the optimal
//! denoiser. It is integrated here in s = ln σ̃ (RK4, `steps` uniform
//! steps), with continuous timesteps t ∈ [0, T − 1]: ᾱ(t) interpolates
//! ln ᾱ linearly between the schedule's integer steps and t(σ̃) inverts
//! σ̃(t) by bisection; the network takes the fractional t in its sinusoidal
//! embedding.
//!
//! # The log-density
//!
//! Along a solution of dy/ds = f(y, s), d ln p_s(y(s))/ds = −tr ∂f/∂y
//! (the instantaneous change of variables of FFJORD), so
//!
//! ```text
//! ln p_x(x) = ln N(y_T; 0, I/ᾱ_{T−1}) + ∫_{s_0}^{s_T} σ̃ √ᾱ tr(∂ε̂/∂x) ds − (D/2) ln ᾱ_0,
//! ```
//!
//! with f = σ̃ ε̂(√ᾱ y, t) (so tr ∂f/∂y = σ̃ √ᾱ tr ∂ε̂/∂x), the prior
//! x_{T−1} ~ N(0, I) written for y, and the last term the Jacobian of
//! x = √ᾱ_0 y at t = 0. This is the density of x as a sample at t = 0
//! (the data blurred by √(1 − ᾱ_0), 0.01 for the linear schedule), exact up
//! to the solver's error and the prior's mismatch at ᾱ_{T−1} > 0, and it is
//! the likelihood of the model the ODE defines, which is not the one
//! ancestral sampling defines: it is labelled `integrated`, never `exact`.
//!
//! The trace is exact (no Hutchinson estimator): forward-mode tangents
//! along every coordinate, D directions per row, which suits low D.

use gen_core::{GenError, Matrix, Result};

use crate::denoiser::GaussianOracle;
use crate::param::Prediction;
use crate::schedule::NoiseSchedule;

/// A denoiser that also gives the trace of its Jacobian, at continuous
/// timesteps.
pub trait TraceDenoiser {
    /// What the output is.
    fn prediction(&self) -> Prediction;

    /// The output for rows `x`, all at continuous timestep `t` with noise
    /// level `alpha_bar` = ᾱ(t), and per row tr(∂output/∂x).
    fn predict_with_trace(&self, x: &Matrix, t: f64, alpha_bar: f64) -> Result<(Matrix, Vec<f64>)>;
}

/// ᾱ at a continuous timestep t ∈ [0, T − 1]: ln ᾱ interpolated linearly
/// between the integer steps.
pub fn alpha_bar_continuous(schedule: &NoiseSchedule, t: f64) -> f64 {
    let last = schedule.steps() - 1;
    let t = t.clamp(0.0, last as f64);
    let lo = t.floor() as usize;
    let hi = (lo + 1).min(last);
    let w = t - lo as f64;
    let (a, b) = (schedule.alpha_bar(lo), schedule.alpha_bar(hi));
    if a <= 0.0 || b <= 0.0 {
        return a * (1.0 - w) + b * w;
    }
    ((1.0 - w) * a.ln() + w * b.ln()).exp()
}

/// σ̃(t) = √((1 − ᾱ(t))/ᾱ(t)).
fn sigma_tilde(schedule: &NoiseSchedule, t: f64) -> f64 {
    let ab = alpha_bar_continuous(schedule, t);
    ((1.0 - ab) / ab).sqrt()
}

/// The continuous timestep with σ̃(t) = `sigma` (σ̃ increases with t).
fn timestep_of(schedule: &NoiseSchedule, sigma: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, (schedule.steps() - 1) as f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if sigma_tilde(schedule, mid) < sigma {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Per row, −ln p(x) in nats under the probability-flow ODE of `den`
/// (module docs), with `steps` RK4 steps in ln σ̃ from t = 0 to T − 1.
pub fn ode_nll(
    den: &dyn TraceDenoiser,
    schedule: &NoiseSchedule,
    x: &Matrix,
    steps: usize,
) -> Result<Vec<f64>> {
    if steps == 0 {
        return Err(GenError::config(
            "ODE steps",
            0,
            "the solver needs at least one step",
            "pass 50 to 200",
        ));
    }
    let last = schedule.steps() - 1;
    let (ab0, ab_end) = (schedule.alpha_bar(0), schedule.alpha_bar(last));
    if ab_end <= 0.0 {
        return Err(GenError::config(
            "schedule",
            "zero terminal SNR",
            "the ODE likelihood needs ᾱ > 0 at the last step (σ̃ is infinite there)",
            "score a model trained without --zero-snr, or use its variational bound",
        ));
    }
    let prediction = den.prediction();
    prediction.check_level(ab0)?;
    let (n, d) = x.shape();
    let (s0, s1) = (
        sigma_tilde(schedule, 0.0).ln(),
        sigma_tilde(schedule, last as f64).ln(),
    );
    let h = (s1 - s0) / steps as f64;
    // y = x/√ᾱ_0; the accumulated ∫ tr.
    let inv = 1.0 / ab0.sqrt();
    let mut y: Vec<f64> = x.as_slice().iter().map(|v| v * inv).collect();
    let mut integral = vec![0.0; n];

    // f(y, s) and the trace term at log-sigma s.
    let field = |y: &[f64], s: f64| -> Result<(Vec<f64>, Vec<f64>)> {
        let sigma = s.exp();
        let t = timestep_of(schedule, sigma);
        let ab = alpha_bar_continuous(schedule, t);
        let a = ab.sqrt();
        let xs = Matrix::new(n, d, y.iter().map(|v| v * a).collect())?;
        let (out, tr_out) = den.predict_with_trace(&xs, t, ab)?;
        if out.shape() != (n, d) || tr_out.len() != n {
            return Err(GenError::shape(
                "trace denoiser output",
                format!("{n} × {d} and {n} traces"),
                format!("{:?} and {} traces", out.shape(), tr_out.len()),
                "return one prediction per coordinate and one trace per row",
            ));
        }
        // ε̂ = c_o · out + c_x · x, affine per parameterisation and level.
        let eps_of = |o: f64, xv: f64| prediction.to_x0_eps(o, xv, ab).1;
        let c0 = eps_of(0.0, 0.0);
        let (c_o, c_x) = (eps_of(1.0, 0.0) - c0, eps_of(0.0, 1.0) - c0);
        let f: Vec<f64> = out
            .as_slice()
            .iter()
            .zip(xs.as_slice())
            .map(|(o, xv)| sigma * eps_of(*o, *xv))
            .collect();
        let g: Vec<f64> = tr_out
            .iter()
            .map(|tr| sigma * a * (c_o * tr + c_x * d as f64))
            .collect();
        Ok((f, g))
    };
    let axpy = |y: &[f64], k: &[f64], c: f64| -> Vec<f64> {
        y.iter().zip(k).map(|(a, b)| a + c * b).collect()
    };
    for i in 0..steps {
        let s = s0 + i as f64 * h;
        let (k1, g1) = field(&y, s)?;
        let (k2, g2) = field(&axpy(&y, &k1, 0.5 * h), s + 0.5 * h)?;
        let (k3, g3) = field(&axpy(&y, &k2, 0.5 * h), s + 0.5 * h)?;
        let (k4, g4) = field(&axpy(&y, &k3, h), s + h)?;
        for j in 0..y.len() {
            y[j] += h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
        for (r, acc) in integral.iter_mut().enumerate() {
            *acc += h / 6.0 * (g1[r] + 2.0 * g2[r] + 2.0 * g3[r] + g4[r]);
        }
    }
    // ln N(y; 0, I/ᾱ_end) per row.
    let var = 1.0 / ab_end;
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let nll = (0..n)
        .map(|r| {
            let sq: f64 = y[r * d..(r + 1) * d].iter().map(|v| v * v).sum();
            let prior = -0.5 * (sq / var + d as f64 * (ln2pi + var.ln()));
            -(prior + integral[r] - 0.5 * d as f64 * ab0.ln())
        })
        .collect::<Vec<_>>();
    if nll.iter().any(|v| !v.is_finite()) {
        return Err(GenError::Other(
            "the ODE likelihood is not finite for some rows (a diverging solve); \
             try more --ode-steps"
                .into(),
        ));
    }
    Ok(nll)
}

impl TraceDenoiser for GaussianOracle<'_> {
    fn prediction(&self) -> Prediction {
        crate::denoiser::Denoiser::prediction(self)
    }

    /// The optimum is affine in x, so the trace is the sum of its exact
    /// unit differences.
    fn predict_with_trace(
        &self,
        x: &Matrix,
        _t: f64,
        alpha_bar: f64,
    ) -> Result<(Matrix, Vec<f64>)> {
        let (n, d) = x.shape();
        let out = self.predict_at_level(x, alpha_bar)?;
        let mut trace = vec![0.0; n];
        for j in 0..d {
            let mut shifted = x.as_slice().to_vec();
            for r in 0..n {
                shifted[r * d + j] += 1.0;
            }
            let moved = self.predict_at_level(&Matrix::new(n, d, shifted)?, alpha_bar)?;
            for (r, tr) in trace.iter_mut().enumerate() {
                *tr += moved.get(r, j) - out.get(r, j);
            }
        }
        Ok((out, trace))
    }
}
