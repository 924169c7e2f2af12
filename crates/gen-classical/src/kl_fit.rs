//! Forward vs reverse KL: fitting one Gaussian q = N(μ, Σ) to a Gaussian
//! mixture p(x) = Σₖ πₖ N(x; μₖ, Σₖ) with an exact density — the classic
//! "mode covering vs mode seeking" experiment.
//!
//! - **Forward**, KL(p‖q) = E_p[log p − log q] ([`fit_forward_kl`]): only
//!   −E_p[log q] depends on q, and over Gaussians it is minimised by **moment
//!   matching**, in closed form. q spreads over every mode.
//! - **Reverse**, KL(q‖p) = E_q[log q − log p] = −H(q) − E_q[log p]
//!   ([`fit_reverse_kl`]): no closed form; gradient descent from a chosen
//!   start. q pays wherever p is small, so it locks onto one mode.
//!
//! [`GaussianFit`] reports both divergences of any q by Monte Carlo and how
//! many of p's modes q covers; [`eight_gaussians_target`] is the tour's target.

use gen_core::numerics::linalg::{cholesky, solve_lower};
use gen_core::numerics::{GaussianFactor, LN_2PI, log_sum_exp, mean_stderr, standard_normals};
use gen_core::{GenError, Result, Sample, SampleOptions, rng_from_seed};
use gen_data::Toy2d;

use crate::{Gaussian, Gmm};

/// Monte Carlo sample count of each KL estimate of [`GaussianFit`].
pub const KL_SAMPLES: usize = 20_000;
/// Seed of the KL estimates: all fits of a target are scored on the same
/// draws from p (and the same noise for q): common random numbers.
pub const KL_SEED: u64 = 0x4b4c;
/// A component counts as covered when its mean lies within this many
/// standard deviations (Mahalanobis distance under q) of q's mean.
pub const COVERAGE_RADIUS: f64 = 2.0;

/// A Monte Carlo estimate over [`KL_SAMPLES`] terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlEstimate {
    /// The estimate (nats).
    pub value: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// A Gaussian q fitted to (or scored against) a mixture target p.
#[derive(Debug, Clone)]
pub struct GaussianFit {
    q: Gaussian,
    kl_pq: KlEstimate,
    kl_qp: KlEstimate,
}

impl GaussianFit {
    /// Scores q = N(mean, cov) (cov row-major d × d) against `target`:
    ///
    /// ```text
    /// KL(p‖q) ≈ (1/n) Σᵢ [log p(xᵢ) − log q(xᵢ)],  xᵢ ~ p,
    /// KL(q‖p) ≈ (1/n) Σᵢ [log q(yᵢ) − log p(yᵢ)],  yᵢ ~ q,
    /// ```
    ///
    /// n = [`KL_SAMPLES`], seed [`KL_SEED`]. Errors on a dimension mismatch,
    /// non-finite values or a covariance that is not symmetric positive definite.
    pub fn evaluate(target: &Gmm, mean: Vec<f64>, cov: Vec<f64>) -> Result<Self> {
        let ctx = "GaussianFit::evaluate";
        let d = Mixture::new(target)?.dim;
        check_vec(ctx, "q's mean", d, &mean)?;
        check_vec(ctx, "q's covariance", d * d, &cov)?;
        ensure_symmetric(ctx, &cov, d)?;
        let q = Gaussian::new(mean, cov).map_err(|e| {
            let why = format!("q's covariance is not positive definite ({e})");
            GenError::input(ctx, why, "pass a symmetric positive-definite covariance")
        })?;
        let mut rng = rng_from_seed(KL_SEED);
        let xp = target.sample(KL_SAMPLES, &SampleOptions::default(), &mut rng)?;
        let xq = q.sample(KL_SAMPLES, &SampleOptions::default(), &mut rng)?;
        let mean_diff = |a: Vec<f64>, b: Vec<f64>| {
            let (value, stderr) =
                mean_stderr(&a.iter().zip(b).map(|(a, b)| a - b).collect::<Vec<_>>());
            KlEstimate { value, stderr }
        };
        let kl_pq = mean_diff(target.log_prob(&xp)?, q.log_prob(&xp)?);
        let kl_qp = mean_diff(q.log_prob(&xq)?, target.log_prob(&xq)?);
        Ok(Self { q, kl_pq, kl_qp })
    }

    /// Mean μ of q.
    pub fn mean(&self) -> &[f64] {
        self.q.mean()
    }
    /// Covariance Σ of q (row-major d × d).
    pub fn cov(&self) -> &[f64] {
        self.q.cov()
    }
    /// q as a model of this crate (to sample or score).
    pub fn q(&self) -> &Gaussian {
        &self.q
    }
    /// KL(p‖q), the forward (mass-covering) divergence, from draws of p.
    pub fn kl_pq(&self) -> KlEstimate {
        self.kl_pq
    }
    /// KL(q‖p), the reverse (mode-seeking) divergence, from draws of q.
    pub fn kl_qp(&self) -> KlEstimate {
        self.kl_qp
    }

    /// Modes covered: the number of components with πₖ > 0 whose mean lies at
    /// Mahalanobis distance √((μₖ − μ)ᵀ Σ⁻¹ (μₖ − μ)) ≤ [`COVERAGE_RADIUS`] under q.
    pub fn modes_covered(&self, target: &Gmm) -> Result<usize> {
        let d = self.q.dim();
        if target.dim() != d {
            let ctx = "GaussianFit::modes_covered";
            return Err(dim_mismatch(ctx, "the target", d, target.dim()));
        }
        let l = cholesky(self.cov(), d)?;
        let (mut diff, mut y) = (vec![0.0; d], vec![0.0; d]);
        let mut covered = 0;
        for (w, m) in target.weights().iter().zip(target.means()) {
            (0..d).for_each(|i| diff[i] = m[i] - self.mean()[i]);
            solve_lower(&l, d, &diff, &mut y);
            let dist2: f64 = y.iter().map(|v| v * v).sum();
            covered += usize::from(*w > 0.0 && dist2 <= COVERAGE_RADIUS * COVERAGE_RADIUS);
        }
        Ok(covered)
    }
}

/// The minimiser of KL(p‖q) over Gaussians q, by moment matching. The only
/// term that depends on q, −E_p[log q], involves p only through its first two
/// moments, so the optimum is p's mean and (law of total covariance: within-
/// plus between-component spread) its covariance:
///
/// ```text
/// −E_p[log q] = ½ [log det(2πΣ) + tr(Σ⁻¹ E_p[(x − μ)(x − μ)ᵀ])]
/// μ = E_p[x]   = Σₖ πₖ μₖ
/// Σ = Cov_p[x] = Σₖ πₖ Σₖ + Σₖ πₖ (μₖ − μ)(μₖ − μ)ᵀ
/// ```
pub fn fit_forward_kl(target: &Gmm) -> Result<GaussianFit> {
    let d = Mixture::new(target)?.dim;
    let total: f64 = target.weights().iter().sum();
    let mut mean = vec![0.0; d];
    for (w, m) in target.weights().iter().zip(target.means()) {
        (0..d).for_each(|i| mean[i] += w / total * m[i]);
    }
    let mut cov = vec![0.0; d * d];
    for ((w, m), c) in target
        .weights()
        .iter()
        .zip(target.means())
        .zip(target.covs())
    {
        for i in 0..d {
            for j in 0..d {
                let between = (m[i] - mean[i]) * (m[j] - mean[j]);
                cov[i * d + j] += w / total * (c[i * d + j] + between);
            }
        }
    }
    GaussianFit::evaluate(target, mean, cov)
}

/// Settings of [`fit_reverse_kl`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReverseKlConfig {
    /// Starting mean μ₀: different starts lock onto different modes.
    pub init_mean: Vec<f64>,
    /// Starting L₀ = init_scale · I. Reverse KL is not convex: a start much
    /// wider than the spacing of p's modes can settle on a Gaussian straddling
    /// two of them (a local optimum); start about as narrow as one mode.
    pub init_scale: f64,
    /// Adam steps.
    pub steps: usize,
    /// Peak Adam learning rate, cosine-decayed to 0 over `steps`.
    pub lr: f64,
    /// Number S of fixed draws ε; must exceed the dimension.
    pub draws: usize,
    /// Seed of the draws ε.
    pub seed: u64,
}

impl ReverseKlConfig {
    /// The defaults from a start: scale 0.5, 500 steps, lr 0.1, 256 draws, seed 0.
    pub fn new(init_mean: Vec<f64>) -> Self {
        let (init_scale, steps, lr, draws, seed) = (0.5, 500, 0.1, 256, 0);
        Self {
            init_mean,
            init_scale,
            steps,
            lr,
            draws,
            seed,
        }
    }
}

/// Minimises KL(q‖p) over q = N(μ, LLᵀ), L lower-triangular with diagonal
/// Lᵢᵢ = exp(ρᵢ) > 0, by Adam (β = (0.9, 0.999)) through the
/// reparameterisation x = μ + Lε on S FIXED draws ε ~ N(0, I) (common random
/// numbers: a deterministic objective, reproducible from `seed`). The draws
/// are standardised to sample mean exactly 0 and sample covariance exactly I,
/// so averages of quadratics in x are exact: for a Gaussian p the sample
/// objective is the exact KL and its minimiser is p itself.
///
/// With the closed-form entropy H(q), the objective F and its gradient, where
/// gₛ = ∇ log p(xₛ) (see [`log_prob_grad`]) and rₖ are the responsibilities:
///
/// ```text
/// H(q)     = ½ d (1 + log 2π) + Σᵢ log Lᵢᵢ = ½ d (1 + log 2π) + Σᵢ ρᵢ
/// F(μ, L)  = −H(q) − (1/S) Σₛ log p(xₛ),   xₛ = μ + Lεₛ
/// gₛ       = Σₖ rₖ(xₛ) Σₖ⁻¹ (μₖ − xₛ)
/// ∂F/∂μ    = −(1/S) Σₛ gₛ
/// ∂F/∂Lᵢⱼ  = −(1/S) Σₛ gₛᵢ εₛⱼ            (j < i)
/// ∂F/∂ρᵢ   = −1 − (1/S) Σₛ gₛᵢ εₛᵢ Lᵢᵢ
/// ```
pub fn fit_reverse_kl(target: &Gmm, config: &ReverseKlConfig) -> Result<GaussianFit> {
    let mut mix = Mixture::new(target)?;
    let (c, d) = (config, mix.dim);
    check_vec("fit_reverse_kl", "init_mean", d, &c.init_mean)?;
    for (field, v) in [("init_scale", c.init_scale), ("lr", c.lr)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(GenError::config(
                field,
                v,
                "must be finite and > 0",
                "use the default",
            ));
        }
    }
    for (field, v, min) in [("steps", c.steps, 1), ("draws", c.draws, d + 1)] {
        if v < min {
            return Err(GenError::config(
                field,
                v,
                format!("must be >= {min}"),
                "use the default",
            ));
        }
    }
    let eps = standardised_draws(c.draws, d, c.seed)?;
    // θ = [μ | A] with A d × d row-major: Lᵢⱼ = Aᵢⱼ below the diagonal,
    // Lᵢᵢ = exp(Aᵢᵢ); the upper triangle of A gets no gradient and stays 0.
    let mut theta = c.init_mean.clone();
    theta.extend((0..d * d).map(|ij| {
        if ij % (d + 1) == 0 {
            c.init_scale.ln()
        } else {
            0.0
        }
    }));
    let n = theta.len();
    let (mut m, mut v, mut grad) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (mut x, mut g) = (vec![0.0; d], vec![0.0; d]);
    for step in 0..c.steps {
        let l = factor(&theta, d);
        grad.fill(0.0);
        let mut mean_log_p = 0.0;
        for e in eps.chunks_exact(d) {
            for i in 0..d {
                x[i] = theta[i] + (0..=i).map(|j| l[i * d + j] * e[j]).sum::<f64>();
            }
            mean_log_p += mix.log_prob_grad(&x, &mut g) / c.draws as f64;
            for i in 0..d {
                grad[i] -= g[i] / c.draws as f64;
                for j in 0..i {
                    grad[d + i * d + j] -= g[i] * e[j] / c.draws as f64;
                }
                grad[d + i * d + i] -= g[i] * e[i] * l[i * d + i] / c.draws as f64;
            }
        }
        (0..d).for_each(|i| grad[d + i * d + i] -= 1.0);
        let log_det_l: f64 = (0..d).map(|i| theta[d + i * d + i]).sum();
        let objective = -0.5 * d as f64 * (1.0 + LN_2PI) - log_det_l - mean_log_p;
        if !objective.is_finite() || !grad.iter().all(|v| v.is_finite()) {
            let checkpoint = "none (fit_reverse_kl keeps none)".into();
            return Err(GenError::Diverged {
                step: step as u64,
                loss: objective,
                checkpoint,
            });
        }
        let (t, progress) = ((step + 1) as f64, step as f64 / c.steps as f64);
        let lr = c.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        let (c1, c2) = (1.0 - 0.9f64.powf(t), 1.0 - 0.999f64.powf(t));
        for k in 0..n {
            m[k] = 0.9 * m[k] + 0.1 * grad[k];
            v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
            theta[k] -= lr * (m[k] / c1) / ((v[k] / c2).sqrt() + 1e-8);
        }
    }
    if !theta.iter().all(|v| v.is_finite()) {
        let checkpoint = "none (fit_reverse_kl keeps none)".into();
        return Err(GenError::Diverged {
            step: c.steps as u64,
            loss: f64::NAN,
            checkpoint,
        });
    }
    let l = factor(&theta, d);
    let cov = (0..d * d)
        .map(|ij| (0..d).map(|k| l[ij / d * d + k] * l[ij % d * d + k]).sum())
        .collect();
    GaussianFit::evaluate(target, theta[..d].to_vec(), cov)
}

/// log p(x) and its gradient ∇ log p(x) = Σₖ rₖ(x) Σₖ⁻¹(μₖ − x) for a mixture,
/// rₖ(x) = p(z = k | x) the responsibilities.
pub fn log_prob_grad(target: &Gmm, x: &[f64]) -> Result<(f64, Vec<f64>)> {
    let mut mix = Mixture::new(target)?;
    check_vec("log_prob_grad", "x", mix.dim, x)?;
    let mut g = vec![0.0; mix.dim];
    Ok((mix.log_prob_grad(x, &mut g), g))
}

/// The eight-gaussians toy (gen-data's [`Toy2d::EightGaussians`]) as an exact
/// mixture: 8 equal weights, the centres of `Toy2d::mode_centres` (radius
/// 4/1.414 ≈ 2.83) and covariances σ² I with σ = 0.5/1.414 ≈ 0.354.
pub fn eight_gaussians_target() -> Result<Gmm> {
    let (centres, std) = Toy2d::EightGaussians.mode_centres().ok_or_else(|| {
        GenError::input(
            "eight_gaussians_target",
            "gen-data lists no centres",
            "report a bug",
        )
    })?;
    let k = centres.rows();
    let means = centres.iter_rows().map(<[f64]>::to_vec).collect();
    Gmm::new(
        vec![1.0 / k as f64; k],
        means,
        vec![vec![std * std, 0.0, 0.0, std * std]; k],
    )
}

/// L from θ = [μ | A] (see [`fit_reverse_kl`]).
fn factor(theta: &[f64], d: usize) -> Vec<f64> {
    let a = &theta[d..];
    (0..d * d)
        .map(|ij| match (ij / d, ij % d) {
            (i, j) if i == j => a[ij].exp(),
            (i, j) if j < i => a[ij],
            _ => 0.0,
        })
        .collect()
}

/// The target, validated (one dimension d ≥ 1, finite means, symmetric
/// covariances) and factorised, with buffers for [`Mixture::log_prob_grad`].
struct Mixture {
    dim: usize,
    log_w: Vec<f64>,
    factors: Vec<GaussianFactor>,
    /// Per component: log πₖ N(x; μₖ, Σₖ), and Σₖ⁻¹(x − μₖ) (K × d).
    joint: Vec<f64>,
    z: Vec<f64>,
    diff: Vec<f64>,
    y: Vec<f64>,
}

impl Mixture {
    fn new(target: &Gmm) -> Result<Self> {
        let (d, k) = (target.dim(), target.weights().len());
        if d == 0 {
            return Err(GenError::input(
                "KL fit target",
                "dimension 0",
                "give p at least one dimension",
            ));
        }
        let mut factors = Vec::with_capacity(k);
        for (m, c) in target.means().iter().zip(target.covs()) {
            check_vec("KL fit target", "a component mean", d, m)?;
            check_vec("KL fit target", "a component covariance", d * d, c)?;
            ensure_symmetric("KL fit target", c, d)?;
            factors.push(GaussianFactor::new(m.clone(), c)?);
        }
        let log_w = target.weights().iter().map(|w| w.ln()).collect();
        let (joint, z, diff, y) = (vec![0.0; k], vec![0.0; k * d], vec![0.0; d], vec![0.0; d]);
        Ok(Self {
            dim: d,
            log_w,
            factors,
            joint,
            z,
            diff,
            y,
        })
    }

    /// Returns log p(x) and writes ∇ log p(x) into `grad`. With yₖ = Lₖ⁻¹(x − μₖ):
    /// log πₖ N(x; μₖ, Σₖ) = log πₖ + log_normₖ − ½|yₖ|² and Σₖ⁻¹(x − μₖ) = Lₖ⁻ᵀ yₖ.
    fn log_prob_grad(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.dim;
        for (k, (f, lw)) in self.factors.iter().zip(&self.log_w).enumerate() {
            (0..d).for_each(|i| self.diff[i] = x[i] - f.mean[i]);
            solve_lower(&f.chol, d, &self.diff, &mut self.y);
            self.joint[k] = lw + f.log_norm - 0.5 * self.y.iter().map(|v| v * v).sum::<f64>();
            let z = &mut self.z[k * d..(k + 1) * d];
            for i in (0..d).rev() {
                let done: f64 = (i + 1..d).map(|j| f.chol[j * d + i] * z[j]).sum();
                z[i] = (self.y[i] - done) / f.chol[i * d + i];
            }
        }
        let lse = log_sum_exp(&self.joint);
        grad.fill(0.0);
        for (joint, z) in self.joint.iter().zip(self.z.chunks_exact(d)) {
            let r = (joint - lse).exp();
            (0..d).for_each(|i| grad[i] -= r * z[i]);
        }
        lse
    }
}

/// S × d standard-normal draws, centred and whitened (by the Cholesky factor
/// of their sample covariance) to sample mean 0 and sample covariance I.
fn standardised_draws(s: usize, d: usize, seed: u64) -> Result<Vec<f64>> {
    let mut e = standard_normals(s * d, &mut rng_from_seed(seed));
    let mut mean = vec![0.0; d];
    e.chunks_exact(d)
        .for_each(|r| (0..d).for_each(|i| mean[i] += r[i] / s as f64));
    e.chunks_exact_mut(d)
        .for_each(|r| (0..d).for_each(|i| r[i] -= mean[i]));
    let mut cov = vec![0.0; d * d];
    for r in e.chunks_exact(d) {
        (0..d * d).for_each(|ij| cov[ij] += r[ij / d] * r[ij % d] / s as f64);
    }
    let (l, mut y) = (cholesky(&cov, d)?, vec![0.0; d]);
    for r in e.chunks_exact_mut(d) {
        solve_lower(&l, d, r, &mut y);
        r.copy_from_slice(&y);
    }
    Ok(e)
}

/// Errors unless `v` has length `want` and finite entries.
fn check_vec(context: &str, what: &str, want: usize, v: &[f64]) -> Result<()> {
    if v.len() != want {
        return Err(dim_mismatch(context, what, want, v.len()));
    }
    match v.iter().find(|x| !x.is_finite()) {
        None => Ok(()),
        Some(bad) => {
            let why = format!("{what} holds the non-finite value {bad}");
            Err(GenError::input(context, why, "pass finite values"))
        }
    }
}

fn dim_mismatch(context: &str, what: &str, want: usize, got: usize) -> GenError {
    let fix = "give q, its start and its points the target's dimension d (d × d for a covariance)";
    GenError::shape(
        context,
        format!("{what} of size {want}"),
        format!("size {got}"),
        fix,
    )
}

fn ensure_symmetric(context: &str, cov: &[f64], d: usize) -> Result<()> {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
    if (0..d * d).all(|ij| close(cov[ij], cov[ij % d * d + ij / d])) {
        return Ok(());
    }
    let fix = "pass a row-major symmetric positive-definite covariance";
    Err(GenError::input(
        context,
        "a covariance is not symmetric",
        fix,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::Matrix;
    use gen_core::numerics::linalg::{mean_and_cov, symmetric_eigen};
    use proptest::prelude::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    /// Two well-separated, equally weighted 2-D components with correlations.
    fn two_modes() -> Gmm {
        let covs = vec![vec![0.5, 0.2, 0.2, 0.3], vec![0.3, -0.1, -0.1, 0.6]];
        Gmm::new(vec![0.5, 0.5], vec![vec![-4.0, 0.0], vec![4.0, 1.0]], covs).unwrap()
    }

    #[test]
    fn forward_fit_is_the_mixtures_mean_and_covariance() {
        // 1-D by hand: μ = ¼(−2) + ¾(2) = 1, σ² = E[x²] − μ² = ¼(1 + 4) + ¾(0.5 + 4) − 1.
        let (w, m, c) = (
            vec![0.25, 0.75],
            vec![vec![-2.0], vec![2.0]],
            vec![vec![1.0], vec![0.5]],
        );
        let f = fit_forward_kl(&Gmm::new(w, m, c).unwrap()).unwrap();
        assert!(
            close(f.mean(), &[1.0], 1e-12) && close(f.cov(), &[3.625], 1e-12),
            "{f:?}"
        );
        // 2-D against the moments of 400k draws of p (an independent route).
        let p = two_modes();
        let f = fit_forward_kl(&p).unwrap();
        let x = p
            .sample(400_000, &SampleOptions::default(), &mut rng_from_seed(1))
            .unwrap();
        let (m, c) = mean_and_cov(&x);
        assert!(
            close(f.mean(), &m, 0.02) && close(f.cov(), c.as_slice(), 0.06),
            "{f:?} {c}"
        );
        // −E_p[log q] depends on p only through its moments, so for any other
        // Gaussian q', KL(p‖q') − KL(p‖q) = KL(q‖q') > 0; here q' = N(μ + δ, sΣ):
        // KL(q‖q') = ½ [d/s − d + d log s + δᵀΣ⁻¹δ / s].
        let c = f.cov();
        for (dm, s) in [
            ([1.0, 0.0], 1.0),
            ([0.0, -0.3], 1.0),
            ([0.0, 0.0], 1.2),
            ([0.0, 0.0], 0.8),
        ] {
            let mean = f.mean().iter().zip(dm).map(|(a, b)| a + b).collect();
            let other = GaussianFit::evaluate(&p, mean, c.iter().map(|v| v * s).collect()).unwrap();
            let maha = (c[3] * dm[0] * dm[0] - 2.0 * c[1] * dm[0] * dm[1] + c[0] * dm[1] * dm[1])
                / (c[0] * c[3] - c[1] * c[2]);
            let want = 0.5 * (2.0 / s - 2.0 + 2.0 * s.ln() + maha / s);
            let got = other.kl_pq().value - f.kl_pq().value;
            assert!(
                (got - want).abs() < 0.1 * want,
                "{dm:?} {s}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn a_gaussian_target_is_recovered_by_both_fits() {
        let (mu, sigma) = (vec![1.0, -2.0], vec![2.0, 0.6, 0.6, 0.5]);
        let p = Gmm::new(vec![1.0], vec![mu.clone()], vec![sigma.clone()]).unwrap();
        let fwd = fit_forward_kl(&p).unwrap();
        assert!(close(fwd.mean(), &mu, 1e-12) && close(fwd.cov(), &sigma, 1e-12));
        let rev = fit_reverse_kl(&p, &ReverseKlConfig::new(vec![0.0, 0.0])).unwrap();
        assert!(
            close(rev.mean(), &mu, 1e-6) && close(rev.cov(), &sigma, 1e-6),
            "{rev:?}"
        );
        for fit in [&fwd, &rev] {
            assert!(
                fit.kl_qp().value.abs() < 1e-3 && fit.kl_pq().value.abs() < 1e-3,
                "{fit:?}"
            );
            assert_eq!(fit.modes_covered(&p).unwrap(), 1);
        }
    }

    #[test]
    fn reverse_kl_seeks_the_nearest_mode_and_forward_kl_covers_both() {
        let p = two_modes();
        let fwd = fit_forward_kl(&p).unwrap();
        assert_eq!(fwd.modes_covered(&p).unwrap(), 2);
        for (start, k) in [([3.0, 0.0], 1), ([-3.0, 0.5], 0)] {
            let rev = fit_reverse_kl(&p, &ReverseKlConfig::new(start.to_vec())).unwrap();
            let (m, c) = (&p.means()[k], &p.covs()[k]);
            assert!(
                close(rev.mean(), m, 0.01) && close(rev.cov(), c, 0.01),
                "{start:?}: {rev:?}"
            );
            assert_eq!(rev.modes_covered(&p).unwrap(), 1);
            // On one of two equal, disjoint modes p ≈ q/2, so KL(q‖p) ≈ log 2.
            assert!((rev.kl_qp().value - 2f64.ln()).abs() < 0.01, "{rev:?}");
            // Each optimum wins its own objective, far beyond the Monte Carlo error.
            let (r, f) = (rev.kl_qp(), fwd.kl_qp());
            assert!(
                r.value + 5.0 * (r.stderr + f.stderr) < f.value,
                "{r:?} vs {f:?}"
            );
            let (r, f) = (rev.kl_pq(), fwd.kl_pq());
            assert!(
                f.value + 5.0 * (r.stderr + f.stderr) < r.value,
                "{r:?} vs {f:?}"
            );
        }
    }

    #[test]
    fn log_prob_gradient_matches_central_differences() {
        let covs = vec![
            vec![1.0, 0.4, 0.4, 0.5],
            vec![0.3, -0.2, -0.2, 0.9],
            vec![2.0, 0.0, 0.0, 0.2],
        ];
        let means = vec![vec![0.0, 0.0], vec![1.5, -1.0], vec![-1.0, 2.0]];
        let p = Gmm::new(vec![0.2, 0.5, 0.3], means, covs).unwrap();
        let lp = |x: [f64; 2]| p.log_prob(&Matrix::from_rows(&[x]).unwrap()).unwrap()[0];
        let h = 1e-5;
        for x in [[0.0, 0.0], [0.7, -0.4], [-2.0, 3.0], [4.0, 1.0], [0.5, 0.9]] {
            let (v, g) = log_prob_grad(&p, &x).unwrap();
            assert!((v - lp(x)).abs() < 1e-12);
            for i in 0..2 {
                let (mut a, mut b) = (x, x);
                (a[i], b[i]) = (x[i] + h, x[i] - h);
                let fd = (lp(a) - lp(b)) / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{x:?} {i}: {g:?} vs {fd}"
                );
            }
        }
    }

    #[test]
    fn eight_gaussians_is_gen_datas_density_and_shows_both_behaviours() {
        let p = eight_gaussians_target().unwrap();
        let x = Toy2d::EightGaussians.sample(200, 3);
        let want = Toy2d::EightGaussians.log_prob(&x).unwrap().unwrap();
        assert!(close(&p.log_prob(&x).unwrap(), &want, 1e-12));
        // Forward: μ = 0, Σ = (R²/2 + σ²) I, every centre at R/√(R²/2 + σ²) ≈ 1.39 std.
        use gen_data::toy2d::{EIGHT_GAUSSIANS_RADIUS as R, EIGHT_GAUSSIANS_STD as S};
        let (fwd, v) = (fit_forward_kl(&p).unwrap(), R * R / 2.0 + S * S);
        assert!(close(fwd.mean(), &[0.0; 2], 1e-12) && close(fwd.cov(), &[v, 0.0, 0.0, v], 1e-12));
        assert_eq!(fwd.modes_covered(&p).unwrap(), 8);
        // Reverse from near centre 0: that mode alone, and KL(q‖p) ≈ log 8.
        let rev = fit_reverse_kl(&p, &ReverseKlConfig::new(vec![2.5, 0.5])).unwrap();
        let cov = [S * S, 0.0, 0.0, S * S];
        assert!(
            close(rev.mean(), &p.means()[0], 0.01) && close(rev.cov(), &cov, 0.01),
            "{rev:?}"
        );
        assert_eq!(rev.modes_covered(&p).unwrap(), 1);
        assert!((rev.kl_qp().value - 8f64.ln()).abs() < 0.02, "{rev:?}");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let p = two_modes();
        let cfg = ReverseKlConfig::new(vec![0.0, 0.0]);
        let edits: [fn(&mut ReverseKlConfig); 7] = [
            |c| c.init_mean = vec![0.0],
            |c| c.init_mean[1] = f64::NAN,
            |c| c.steps = 0,
            |c| c.draws = 2,
            |c| c.init_scale = 0.0,
            |c| c.lr = f64::INFINITY,
            |c| c.lr = 1e6, // diverges
        ];
        for edit in edits {
            let mut c = cfg.clone();
            edit(&mut c);
            assert!(fit_reverse_kl(&p, &c).is_err(), "{c:?}");
        }
        let eye = vec![1.0, 0.0, 0.0, 1.0];
        let bad_q = [
            (vec![0.0], eye.clone()),
            (vec![0.0, f64::NAN], eye.clone()),
            (vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]), // not positive definite
            (vec![0.0, 0.0], vec![1.0, 0.5, 0.0, 1.0]), // not symmetric
            (vec![0.0, 0.0], vec![1.0; 3]),
        ];
        for (m, c) in bad_q {
            assert!(
                GaussianFit::evaluate(&p, m.clone(), c.clone()).is_err(),
                "{m:?} {c:?}"
            );
        }
        assert!(log_prob_grad(&p, &[0.0]).is_err() && log_prob_grad(&p, &[0.0, f64::NAN]).is_err());
        let one_d = Gmm::new(vec![1.0], vec![vec![0.0]], vec![vec![1.0]]).unwrap();
        assert!(fit_forward_kl(&p).unwrap().modes_covered(&one_d).is_err());
        // Gmm::new accepts components of different dimensions; the fits do not.
        let means = vec![vec![0.0, 0.0], vec![1.0]];
        let ragged = Gmm::new(vec![0.5, 0.5], means, vec![eye, vec![1.0]]).unwrap();
        assert!(fit_forward_kl(&ragged).is_err() && fit_reverse_kl(&ragged, &cfg).is_err());
    }

    /// A random mixture of k components in d dimensions: Σₖ = AAᵀ + 0.1 I.
    fn random_mixture(k: usize, d: usize, seed: u64) -> Gmm {
        let z = standard_normals(k * (1 + d + d * d), &mut rng_from_seed(seed));
        let (w, rest) = z.split_at(k);
        let (means, a) = rest.split_at(k * d);
        let total: f64 = w.iter().map(|v| v.exp()).sum();
        let sq = |a: &[f64], ij: usize| {
            (0..d)
                .map(|t| a[ij / d * d + t] * a[ij % d * d + t])
                .sum::<f64>()
        };
        let covs = a.chunks_exact(d * d).map(|a| {
            (0..d * d)
                .map(|ij| sq(a, ij) + 0.1 * f64::from(ij % (d + 1) == 0))
                .collect()
        });
        let means = means
            .chunks_exact(d)
            .map(|m| m.iter().map(|v| 3.0 * v).collect());
        Gmm::new(
            w.iter().map(|v| v.exp() / total).collect(),
            means.collect(),
            covs.collect(),
        )
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The forward fit's Σ is symmetric positive definite, and Σ − Σₖ πₖ Σₖ
        /// (the between-component covariance) is positive semi-definite.
        #[test]
        fn forward_covariance_is_spd_and_dominates_the_mean_within_covariance(k in 1usize..5, d in 1usize..4, seed in any::<u64>()) {
            let p = random_mixture(k, d, seed);
            let f = fit_forward_kl(&p).unwrap();
            let c = f.cov();
            prop_assert!((0..d * d).all(|ij| c[ij] == c[ij % d * d + ij / d]));
            prop_assert!(symmetric_eigen(c, d).0.iter().all(|l| *l > 0.0));
            let within = |ij: usize| p.weights().iter().zip(p.covs()).map(|(w, s)| w * s[ij]).sum::<f64>();
            let between: Vec<f64> = (0..d * d).map(|ij| c[ij] - within(ij)).collect();
            let (lambda, _) = symmetric_eigen(&between, d);
            prop_assert!(lambda.iter().all(|l| *l > -1e-9), "{:?}", lambda);
            prop_assert!(f.modes_covered(&p).unwrap() <= k);
        }
    }
}
