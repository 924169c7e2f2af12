//! Base densities p_Z of a flow: N(0, I), or a learned Gaussian mixture.
//!
//! ```text
//! standard normal:  log p(z) = −½‖z‖² − (D/2) log 2π
//! Gaussian mixture: log p(z) = log Σ_k π_k Π_d N(z_d; μ_kd, σ_kd²),        π = softmax(w)
//! MADE MoG:         log p(z) = Σ_i log Σ_k π_ik N(z_i; μ_ik, σ_ik²),       (w, μ, log σ)_i = MADE(z_{<i})
//! ```
//!
//! The mixture (normflows' `GaussianMixture`) gives the flow K movable,
//! learnable modes to start from. The MADE MoG is the autoregressive mixture
//! of Papamakarios et al. (2017), section 3.4: with it as the base, a MAF
//! becomes their "MAF MoG", whose every conditional p(z_i | z_{<i}) is a
//! K-component mixture instead of one Gaussian. It also works alone (zero
//! flow layers: "MADE MoG"). Both are exact densities, so the flow's
//! likelihood stays exact.
//!
//! Log-scales are bounded below by [`LOG_SCALE_MIN`], so no component can
//! collapse onto a training point (an unbounded likelihood). Sampling with
//! temperature τ draws the component from π unchanged and scales its σ by τ
//! (for N(0, I): z = τ ε). Component choices use host uniforms, the same on
//! every backend; the MADE MoG samples in D sequential passes, like MAF.

use gen_core::burn::module::{Module, Param};
use gen_core::burn::tensor::activation::log_softmax;
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::nn::ops::{logsumexp, standard_normal_log_prob};
use gen_core::nn::{Activation, Made};
use gen_core::numerics::LN_2PI;
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::{GenError, Matrix, Result, Rng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Lower bound of every component's log σ (σ ≥ 9.1e-4).
pub const LOG_SCALE_MIN: f64 = -7.0;

/// Which base density a flow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseKind {
    /// N(0, I), fixed.
    #[default]
    StandardNormal,
    /// A learned mixture of `components` diagonal Gaussians.
    Gmm {
        /// Mixture components K (≥ 1).
        components: usize,
    },
    /// A learned MADE mixture of Gaussians (autoregressive, `components` per coordinate).
    MadeMog {
        /// Mixture components K per conditional (≥ 1).
        components: usize,
    },
}

impl BaseKind {
    /// From a CLI name (`gaussian`, `gmm`, `made-mog`) and K.
    pub fn parse(name: &str, components: usize) -> Result<Self> {
        let kind = match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "gaussian" | "normal" | "standard-normal" => BaseKind::StandardNormal,
            "gmm" | "mixture" => BaseKind::Gmm { components },
            "made-mog" | "mog" => BaseKind::MadeMog { components },
            other => {
                return Err(GenError::config(
                    "base",
                    other,
                    "unknown base density",
                    "use gaussian, gmm or made-mog",
                ));
            }
        };
        kind.validate()?;
        Ok(kind)
    }

    /// Checks K ≥ 1.
    pub fn validate(&self) -> Result<()> {
        match *self {
            BaseKind::Gmm { components: 0 } | BaseKind::MadeMog { components: 0 } => {
                Err(GenError::config(
                    "base components",
                    0,
                    "a mixture needs at least one component",
                    "pass --components 1 or more (e.g. 10)",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Short name for summaries.
    pub fn name(&self) -> String {
        match *self {
            BaseKind::StandardNormal => "gaussian".into(),
            BaseKind::Gmm { components } => format!("gmm({components})"),
            BaseKind::MadeMog { components } => format!("made-mog({components})"),
        }
    }
}

/// Per-coordinate or per-component log N(z; μ, σ²) with log σ bounded below.
fn normal_log_density<const D: usize>(
    z: Tensor<D>,
    mu: Tensor<D>,
    log_scale: Tensor<D>,
) -> Tensor<D> {
    let ls = log_scale.clamp_min(LOG_SCALE_MIN);
    ((z - mu) * ls.clone().neg().exp()).powf_scalar(2.0) * (-0.5) - ls - 0.5 * LN_2PI
}

/// The component index of uniform `u` under weights `w` (Σ w = 1).
fn pick(w: &[f32], u: f64) -> usize {
    let mut acc = 0.0;
    for (k, &wk) in w.iter().enumerate() {
        acc += wk as f64;
        if u < acc {
            return k;
        }
    }
    w.len() - 1
}

fn softmax_host(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// A learned mixture of K diagonal Gaussians in D dimensions.
#[derive(Module, Debug)]
pub struct GaussianMixture {
    /// Unnormalised weights w: `[K]`.
    pub logits: Param<Tensor<1>>,
    /// Means μ: `[K, D]`.
    pub means: Param<Tensor<2>>,
    /// Log-scales log σ: `[K, D]`.
    pub log_scales: Param<Tensor<2>>,
}

impl GaussianMixture {
    /// Equal weights, unit scales, means drawn from N(0, I) (so the modes start apart).
    pub fn new(components: usize, dim: usize, rng: &mut Rng, device: &Device) -> Self {
        let means: Vec<f32> = (0..components * dim)
            .map(|_| {
                let e: f64 = StandardNormal.sample(rng);
                e as f32
            })
            .collect();
        Self {
            logits: Param::from_tensor(Tensor::zeros([components], device)),
            means: Param::from_tensor(Tensor::from_data(
                TensorData::new(means, [components, dim]),
                device,
            )),
            log_scales: Param::from_tensor(Tensor::zeros([components, dim], device)),
        }
    }

    /// Data-dependent initialisation from base variables `z` (`[n, D]`, the
    /// first batch pushed through the flow): the means are K of the rows
    /// (evenly spaced through the batch, which is a random draw), every σ_d is
    /// the batch's standard deviation of coordinate d times K^(−1/D) (so the
    /// K components tile the data's spread), and the weights are equal.
    pub fn initialize(&mut self, z: &Matrix) -> Result<()> {
        let [k, d] = self.means.val().dims();
        if z.cols() != d || z.rows() == 0 {
            return Err(GenError::shape(
                "Gaussian-mixture initialisation",
                format!("[n ≥ 1, {d}]"),
                format!("[{}, {}]", z.rows(), z.cols()),
                "initialise on a non-empty batch of the flow's dimension",
            ));
        }
        z.ensure_finite("Gaussian-mixture initialisation")?;
        let n = z.rows();
        let means: Vec<f32> = (0..k)
            .flat_map(|c| {
                z.row(c * n / k)
                    .iter()
                    .map(|v| *v as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let shrink = (k as f64).powf(-1.0 / d as f64);
        let log_scales: Vec<f32> = (0..d)
            .map(|j| {
                let m = z.iter_rows().map(|r| r[j]).sum::<f64>() / n as f64;
                let var = z.iter_rows().map(|r| (r[j] - m).powi(2)).sum::<f64>() / n as f64;
                (var.sqrt() * shrink).max(LOG_SCALE_MIN.exp()).ln() as f32
            })
            .collect();
        let dev = self.means.val().device();
        self.means = Param::from_tensor(Tensor::from_data(TensorData::new(means, [k, d]), &dev));
        self.log_scales = Param::from_tensor(Tensor::from_data(
            TensorData::new(log_scales.repeat(k), [k, d]),
            &dev,
        ));
        self.logits = Param::from_tensor(Tensor::zeros([k], &dev));
        Ok(())
    }

    /// log p(z) per row: `[n, D]` → `[n]`.
    pub fn log_prob(&self, z: Tensor<2>) -> Tensor<1> {
        let [n, _] = z.dims();
        let per = normal_log_density(
            z.unsqueeze_dim::<3>(1),
            self.means.val().unsqueeze_dim(0),
            self.log_scales.val().unsqueeze_dim(0),
        );
        let k = self.logits.val().dims()[0];
        let lp =
            per.sum_dim(2).reshape([n, k]) + log_softmax(self.logits.val(), 0).unsqueeze_dim(0);
        logsumexp(lp, 1).squeeze_dim(1)
    }

    /// z = μ_k + τ σ_k ε with k drawn from π by `u[:, 0]`.
    pub fn sample(&self, eps: &Matrix, u: &Matrix, temperature: f64) -> Result<Matrix> {
        let w = softmax_host(&to_vec(self.logits.val())?);
        let mu = to_matrix(self.means.val())?;
        let ls = to_matrix(self.log_scales.val())?;
        let d = eps.cols();
        let mut z = Matrix::zeros(eps.rows(), d);
        for r in 0..eps.rows() {
            let k = pick(&w, u.get(r, 0));
            for j in 0..d {
                let s = ls.get(k, j).max(LOG_SCALE_MIN).exp();
                z.as_mut_slice()[r * d + j] = mu.get(k, j) + temperature * s * eps.get(r, j);
            }
        }
        Ok(z)
    }
}

/// MADE mixture of Gaussians: every conditional p(z_i | z_{<i}, context) is
/// a K-component Gaussian mixture whose parameters come from one MADE.
#[derive(Module, Debug)]
pub struct MadeMog {
    /// MADE with 3K outputs per coordinate: weights, means, log-scales.
    pub made: Made,
    /// K.
    #[module(skip)]
    pub components: usize,
}

impl MadeMog {
    /// A MADE MoG over `dim` coordinates (degrees 1..=D in order) with MADE
    /// hidden widths `hidden` and an optional context of width `context_dim`.
    /// The output layer is randomly initialised so the K components differ.
    pub fn new(
        components: usize,
        dim: usize,
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let made = Made::new(
            (1..=dim).collect(),
            hidden,
            3 * components,
            activation,
            context_dim,
            false,
            rng,
            device,
        )?;
        Ok(Self { made, components })
    }

    /// (log π, μ, log σ) per coordinate and component: `[n, D, K]` each.
    fn params(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let k = self.components;
        let p = self.made.forward(z, context);
        (
            log_softmax(p.clone().narrow(2, 0, k), 2),
            p.clone().narrow(2, k, k),
            p.narrow(2, 2 * k, k),
        )
    }

    /// log p(z | context) per row: `[n, D]` → `[n]`.
    pub fn log_prob(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<1> {
        let (logw, mu, ls) = self.params(z.clone(), context);
        let per = normal_log_density(z.unsqueeze_dim::<3>(2), mu, ls) + logw;
        logsumexp(per, 2).sum_dim(1).flatten(0, 2)
    }

    /// D sequential passes: pass m draws every coordinate of degree m from
    /// its mixture given the coordinates already drawn.
    pub fn sample(
        &self,
        eps: &Matrix,
        u: &Matrix,
        temperature: f64,
        context: Option<&Tensor<2>>,
        device: &Device,
    ) -> Result<Matrix> {
        let (n, d, k) = (eps.rows(), eps.cols(), self.components);
        let mut z = Matrix::zeros(n, d);
        for degree in 1..=d {
            let i = self
                .made
                .order
                .iter()
                .position(|&o| o == degree)
                .unwrap_or(degree - 1);
            let p = to_vec(self.made.forward(to_tensor(&z, device), context))?;
            for r in 0..n {
                let at = |j: usize| p[(r * d + i) * 3 * k + j];
                let logits: Vec<f32> = (0..k).map(at).collect();
                let c = pick(&softmax_host(&logits), u.get(r, i));
                let s = (at(2 * k + c) as f64).max(LOG_SCALE_MIN).exp();
                z.as_mut_slice()[r * d + i] = at(k + c) as f64 + temperature * s * eps.get(r, i);
            }
        }
        Ok(z)
    }
}

/// A learned base density.
#[derive(Module, Debug)]
pub enum LearnedBase {
    /// Mixture of diagonal Gaussians.
    Gmm(GaussianMixture),
    /// MADE mixture of Gaussians.
    MadeMog(MadeMog),
}

impl LearnedBase {
    /// The base of `kind` (None for N(0, I)).
    pub fn build(
        kind: BaseKind,
        dim: usize,
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Option<Self>> {
        kind.validate()?;
        Ok(match kind {
            BaseKind::StandardNormal => None,
            BaseKind::Gmm { components } => Some(LearnedBase::Gmm(GaussianMixture::new(
                components, dim, rng, device,
            ))),
            BaseKind::MadeMog { components } => Some(LearnedBase::MadeMog(MadeMog::new(
                components,
                dim,
                hidden,
                activation,
                context_dim,
                rng,
                device,
            )?)),
        })
    }

    /// log p(z | context) per row.
    pub fn log_prob(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<1> {
        match self {
            LearnedBase::Gmm(g) => g.log_prob(z),
            LearnedBase::MadeMog(m) => m.log_prob(z, context),
        }
    }

    /// z ~ p_Z at temperature τ from standard normals `eps` and uniforms `u` (both `[n, D]`).
    pub fn sample(
        &self,
        eps: &Matrix,
        u: &Matrix,
        temperature: f64,
        context: Option<&Tensor<2>>,
        device: &Device,
    ) -> Result<Matrix> {
        match self {
            LearnedBase::Gmm(g) => g.sample(eps, u, temperature),
            LearnedBase::MadeMog(m) => m.sample(eps, u, temperature, context, device),
        }
    }
}

/// log p(z) under `base`, N(0, I) when None.
pub fn base_log_prob(
    base: Option<&LearnedBase>,
    z: Tensor<2>,
    context: Option<&Tensor<2>>,
) -> Tensor<1> {
    match base {
        Some(b) => b.log_prob(z, context),
        None => standard_normal_log_prob(z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::{Backend, rng_from_seed};

    /// Random (untrained but non-trivial) bases of both kinds.
    fn bases(dev: &Device) -> Vec<LearnedBase> {
        let mut rng = rng_from_seed(4);
        let mut gmm = GaussianMixture::new(3, 2, &mut rng, dev);
        gmm.logits = Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![0.5f32, -1.0, 0.2], [3]),
            dev,
        ));
        gmm.log_scales = Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![-0.5f32, 0.1, 0.3, -0.2, 0.0, -0.8], [3, 2]),
            dev,
        ));
        let mog = MadeMog::new(4, 2, &[16, 16], Activation::Tanh, 0, &mut rng, dev).unwrap();
        vec![LearnedBase::Gmm(gmm), LearnedBase::MadeMog(mog)]
    }

    #[test]
    fn mixture_bases_integrate_to_one_and_sample_their_own_density() {
        let dev = Backend::Ndarray.device().unwrap();
        let (g, cell) = gen_data::toy2d::midpoint_grid(300, -6.0, 6.0);
        for base in bases(&dev) {
            let lp = to_vec(base.log_prob(to_tensor(&g, &dev), None)).unwrap();
            let p: Vec<f64> = lp.iter().map(|l| (*l as f64).exp() * cell).collect();
            let mass: f64 = p.iter().sum();
            assert!((mass - 1.0).abs() < 2e-3, "{base:?} integrates to {mass}");
            // E[z] and E[z²] on the grid against 40,000 samples.
            let moment = |f: &dyn Fn(&[f64]) -> f64| -> f64 {
                g.iter_rows().zip(&p).map(|(r, w)| f(r) * w).sum::<f64>() / mass
            };
            let mut rng = rng_from_seed(8);
            let n = 40_000;
            let eps: Vec<f64> = (0..2 * n)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            let u: Vec<f64> = (0..2 * n)
                .map(|_| rand::Rng::random::<f64>(&mut rng))
                .collect();
            let z = base
                .sample(
                    &Matrix::new(n, 2, eps).unwrap(),
                    &Matrix::new(n, 2, u).unwrap(),
                    1.0,
                    None,
                    &dev,
                )
                .unwrap();
            for j in 0..2 {
                let want = moment(&|r| r[j]);
                let want2 = moment(&|r| r[j] * r[j]);
                let got = z.iter_rows().map(|r| r[j]).sum::<f64>() / n as f64;
                let got2 = z.iter_rows().map(|r| r[j] * r[j]).sum::<f64>() / n as f64;
                let se = ((want2 - want * want) / n as f64).sqrt();
                assert!(
                    (got - want).abs() < 5.0 * se,
                    "E[z_{j}]: {got} vs {want} (se {se})"
                );
                assert!(
                    (got2 - want2).abs() < 0.05 * want2.max(0.1),
                    "E[z_{j}²]: {got2} vs {want2}"
                );
            }
        }
    }

    #[test]
    fn gaussian_mixture_data_initialisation_places_means_on_rows_and_tiles_the_spread() {
        let dev = Backend::Ndarray.device().unwrap();
        let mut g = GaussianMixture::new(4, 2, &mut rng_from_seed(1), &dev);
        // 8 rows: coordinate 0 has std 2, coordinate 1 has std 0.5.
        let rows: Vec<[f64; 2]> = (0..8)
            .map(|i| if i % 2 == 0 { [2.0, 0.5] } else { [-2.0, -0.5] })
            .collect();
        let z = Matrix::from_rows(&rows).unwrap();
        g.initialize(&z).unwrap();
        let mu = to_matrix(g.means.val()).unwrap();
        for c in 0..4 {
            assert_eq!(mu.row(c), z.row(c * 2), "mean {c}");
        }
        // σ_d = std_d · K^(−1/D) = std_d / 2.
        let ls = to_matrix(g.log_scales.val()).unwrap();
        for c in 0..4 {
            assert!((ls.get(c, 0) - 1f64.ln()).abs() < 1e-6);
            assert!((ls.get(c, 1) - 0.25f64.ln()).abs() < 1e-6);
        }
        let e = g.initialize(&Matrix::zeros(3, 5)).unwrap_err().to_string();
        assert!(e.contains("[3, 5]"), "{e}");
    }

    #[test]
    fn base_kinds_parse_and_refuse_bad_input() {
        assert_eq!(
            BaseKind::parse("gaussian", 5).unwrap(),
            BaseKind::StandardNormal
        );
        assert_eq!(
            BaseKind::parse("GMM", 5).unwrap(),
            BaseKind::Gmm { components: 5 }
        );
        assert_eq!(
            BaseKind::parse("made_mog", 3).unwrap(),
            BaseKind::MadeMog { components: 3 }
        );
        let e = BaseKind::parse("made-mog", 0).unwrap_err().to_string();
        assert!(e.contains("at least one component"), "{e}");
        let e = BaseKind::parse("laplace", 3).unwrap_err().to_string();
        assert!(e.contains("gaussian, gmm or made-mog"), "{e}");
    }
}
