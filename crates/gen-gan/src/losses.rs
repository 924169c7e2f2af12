//! GAN losses as functions of discriminator logits / critic values.
//!
//! Notation: `l_r = D(x)` on a data batch x ~ p*, `l_f = D(G(z))` on a
//! generated batch; for the minimax family `D` outputs a *logit* and the
//! probability "real" is σ(l). Every loss is a batch mean and is *minimised*
//! by the player it belongs to; each returns a one-element tensor.
//!
//! | loss | critic / discriminator | generator |
//! |---|---|---|
//! | minimax (Goodfellow et al. 2014) | −E log σ(l_r) − E log(1 − σ(l_f)) | E log(1 − σ(l_f)) |
//! | non-saturating (same paper) | as minimax | −E log σ(l_f) |
//! | Wasserstein (Arjovsky et al. 2017) | E l_f − E l_r, weights clipped to [−c, c] | −E l_f |
//! | hinge (Lim & Ye 2017; Miyato et al. 2018) | E max(0, 1 − l_r) + E max(0, 1 + l_f) | −E l_f |
//! | least squares (Mao et al. 2017, a = 0, b = c = 1) | ½ E (l_r − 1)² + ½ E l_f² | ½ E (l_f − 1)² |
//! | MMD (Li et al. 2015; Dziugaite et al. 2015) | none | MMD²_k(generated, data) |
//!
//! **Lipschitz control.** burn's autodiff is first-order (no double
//! backward), so gradient penalties (WGAN-GP's E(‖∇D‖ − 1)², R1's E‖∇D‖²)
//! cannot be built: they differentiate a gradient. The Lipschitz constraint
//! of a Wasserstein critic comes from weight clipping ([`clip_weights`]) or,
//! better, spectral normalisation (gen-core's `SpectralLinear`), which also
//! stabilises the other losses.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use gen_core::burn;
use gen_core::nn::bce_with_logits;
use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// Which adversarial objective a [`crate::Gan`] trains with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GanLoss {
    /// The original minimax game: G minimises E log(1 − D(G(z))) (its
    /// gradient vanishes when D rejects the fakes confidently).
    Minimax,
    /// Non-saturating: G maximises E log D(G(z)) (the same fixed points,
    /// strong gradients early in training).
    NonSaturating,
    /// Wasserstein GAN: a critic f approximates W₁ under a Lipschitz
    /// constraint enforced by clipping every critic weight to [−clip, clip].
    Wasserstein {
        /// The clipping bound c (Arjovsky et al.: 0.01).
        clip: f64,
    },
    /// Hinge loss.
    Hinge,
    /// Least squares (LSGAN) with targets a = 0 (fake), b = 1 (real), c = 1.
    LeastSquares,
    /// Generative moment matching: G minimises the Gaussian-kernel MMD²
    /// between a generated and a data batch; there is no discriminator.
    Mmd {
        /// Kernel bandwidths σ of the mixture k = Σ_σ exp(−‖a − b‖²/(2σ²)).
        bandwidths: [f64; 3],
    },
}

impl GanLoss {
    /// The name used in tables and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::Wasserstein { .. } => "wasserstein",
            GanLoss::Hinge => "hinge",
            GanLoss::LeastSquares => "least-squares",
            GanLoss::Mmd { .. } => "mmd",
        }
    }

    /// Whether the loss trains a discriminator (every loss but MMD).
    pub fn has_discriminator(&self) -> bool {
        !matches!(self, GanLoss::Mmd { .. })
    }

    /// Every loss with its usual settings (clip 0.01; MMD bandwidths
    /// 0.1, 0.5, 2 for data of unit scale).
    pub fn all() -> [GanLoss; 6] {
        [
            GanLoss::Minimax,
            GanLoss::NonSaturating,
            GanLoss::Wasserstein { clip: 0.01 },
            GanLoss::Hinge,
            GanLoss::LeastSquares,
            GanLoss::Mmd {
                bandwidths: [0.1, 0.5, 2.0],
            },
        ]
    }

    /// Errors unless the clip bound and bandwidths are finite and > 0.
    pub fn validate(&self) -> Result<()> {
        match *self {
            GanLoss::Wasserstein { clip } if !(clip.is_finite() && clip > 0.0) => {
                Err(GenError::config(
                    "wasserstein clip",
                    clip,
                    "weight clipping needs a bound c > 0 (every critic weight is clamped to [−c, c])",
                    "use 0.01 (Arjovsky et al. 2017), or turn on spectral_norm instead",
                ))
            }
            GanLoss::Mmd { bandwidths }
                if !bandwidths.iter().all(|s| s.is_finite() && *s > 0.0) =>
            {
                Err(GenError::config(
                    "mmd bandwidths",
                    format!("{bandwidths:?}"),
                    "every kernel bandwidth must be finite and > 0",
                    "use bandwidths around the data's scale, e.g. [0.1, 0.5, 2]",
                ))
            }
            _ => Ok(()),
        }
    }
}

fn ones_like(x: &Tensor<1>) -> Tensor<1> {
    x.ones_like()
}

/// Minimax discriminator loss (Goodfellow et al. 2014), the negated value
/// function:
///
/// ```text
/// L_D = −E log σ(l_r) − E log(1 − σ(l_f)) = E softplus(−l_r) + E softplus(l_f)
/// ```
///
/// Minimised over all functions by D*(x) = σ(l*(x)) = p*(x) / (p*(x) + q(x)).
pub fn minimax_d_loss(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    let ones = ones_like(&real);
    let zeros = fake.zeros_like();
    bce_with_logits(real, ones).mean() + bce_with_logits(fake, zeros).mean()
}

/// Minimax (saturating) generator loss: the generator's half of the value
/// function,
///
/// ```text
/// L_G = E log(1 − σ(l_f)) = −E softplus(l_f)
/// ```
///
/// ∂L_G/∂l_f = −σ(l_f) → 0 when D rejects the fakes (l_f ≪ 0): it saturates.
pub fn minimax_g_loss(fake: Tensor<1>) -> Tensor<1> {
    let zeros = fake.zeros_like();
    bce_with_logits(fake, zeros).mean().neg()
}

/// Non-saturating generator loss (Goodfellow et al. 2014, §3):
///
/// ```text
/// L_G = −E log σ(l_f) = E softplus(−l_f)
/// ```
///
/// ∂L_G/∂l_f = σ(l_f) − 1 → −1 when D rejects the fakes.
pub fn non_saturating_g_loss(fake: Tensor<1>) -> Tensor<1> {
    let ones = ones_like(&fake);
    bce_with_logits(fake, ones).mean()
}

/// Wasserstein critic loss (Arjovsky et al. 2017):
///
/// ```text
/// L_f = E f(G(z)) − E f(x)
/// ```
///
/// whose negated minimum over 1-Lipschitz f is W₁(p*, q) (Kantorovich–
/// Rubinstein duality); the constraint comes from [`clip_weights`] or
/// spectral normalisation.
pub fn wgan_critic_loss(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    fake.mean() - real.mean()
}

/// Wasserstein generator loss: `L_G = −E f(G(z))`.
pub fn wgan_g_loss(fake: Tensor<1>) -> Tensor<1> {
    fake.mean().neg()
}

/// Hinge discriminator loss (Lim & Ye 2017; Miyato et al. 2018):
///
/// ```text
/// L_D = E max(0, 1 − l_r) + E max(0, 1 + l_f)
/// ```
pub fn hinge_d_loss(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    (real.neg() + 1.0).clamp_min(0.0).mean() + (fake + 1.0).clamp_min(0.0).mean()
}

/// Hinge generator loss: `L_G = −E l_f`.
pub fn hinge_g_loss(fake: Tensor<1>) -> Tensor<1> {
    fake.mean().neg()
}

/// Least-squares discriminator loss (Mao et al. 2017) with targets b = 1
/// (real) and a = 0 (fake):
///
/// ```text
/// L_D = ½ E (D(x) − 1)² + ½ E D(G(z))²
/// ```
///
/// Minimised over all functions by D*(x) = p*(x) / (p*(x) + q(x)) (Mao et
/// al., eq. 4 with a = 0, b = 1).
pub fn lsgan_d_loss(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    ((real - 1.0).powf_scalar(2.0).mean() + fake.powf_scalar(2.0).mean()) * 0.5
}

/// Least-squares generator loss with target c = 1: `L_G = ½ E (D(G(z)) − 1)²`.
pub fn lsgan_g_loss(fake: Tensor<1>) -> Tensor<1> {
    (fake - 1.0).powf_scalar(2.0).mean() * 0.5
}

/// The Gram matrix K_ij = Σ_σ exp(−‖a_i − b_j‖² / (2σ²)) of two batches,
/// from explicit differences (so ‖a_i − a_i‖² is exactly 0).
///
/// # Shapes
/// - `a`: `[n, d]`, `b`: `[m, d]` → `[n, m]`
pub fn gaussian_kernel(a: Tensor<2>, b: Tensor<2>, bandwidths: &[f64]) -> Tensor<2> {
    let [n, d] = a.dims();
    let [m, _] = b.dims();
    let diff =
        a.unsqueeze_dim::<3>(1).expand([n, m, d]) - b.unsqueeze_dim::<3>(0).expand([n, m, d]);
    let sq: Tensor<2> = diff.powf_scalar(2.0).sum_dim(2).squeeze_dim(2);
    let mut k: Option<Tensor<2>> = None;
    for &s in bandwidths {
        let term = (sq.clone() * (-0.5 / (s * s))).exp();
        k = Some(match k {
            None => term,
            Some(acc) => acc + term,
        });
    }
    k.unwrap_or_else(|| sq.zeros_like())
}

/// Squared maximum mean discrepancy (Gretton et al. 2012) between the rows
/// of `x` (n × d, e.g. generated) and `y` (m × d, e.g. data) under the
/// mixture kernel k = Σ_σ exp(−‖a − b‖²/(2σ²)):
///
/// ```text
/// biased:   MMD²_b = (1/n²) Σ_ij k(x_i, x_j) + (1/m²) Σ_ij k(y_i, y_j) − (2/nm) Σ_ij k(x_i, y_j)
/// unbiased: MMD²_u = (1/n(n−1)) Σ_{i≠j} k(x_i, x_j) + (1/m(m−1)) Σ_{i≠j} k(y_i, y_j) − (2/nm) Σ_ij k(x_i, y_j)
/// ```
///
/// The generative moment-matching network (Li, Swersky & Zemel 2015;
/// Dziugaite, Roy & Ghahramani 2015) minimises it over the generator; it is
/// built from tensor operations, so it back-propagates into `x` (and `y`).
/// The unbiased form needs n, m ≥ 2 and can be negative.
///
/// # Shapes
/// - `x`: `[n, d]`, `y`: `[m, d]` → `[1]`
pub fn mmd2(x: Tensor<2>, y: Tensor<2>, bandwidths: &[f64], unbiased: bool) -> Result<Tensor<1>> {
    let [n, d] = x.dims();
    let [m, dy] = y.dims();
    if d != dy || n == 0 || m == 0 || bandwidths.is_empty() {
        return Err(GenError::shape(
            "mmd2",
            "two non-empty batches with the same number of columns and at least one bandwidth",
            format!("{n} × {d} and {m} × {dy}, {} bandwidths", bandwidths.len()),
            "pass generated and data batches of the same dimension",
        ));
    }
    if unbiased && (n < 2 || m < 2) {
        return Err(GenError::shape(
            "mmd2 (unbiased)",
            "at least two rows per batch",
            format!("{n} and {m} rows"),
            "use larger batches or the biased estimate",
        ));
    }
    let kxx = gaussian_kernel(x.clone(), x.clone(), bandwidths).sum();
    let kyy = gaussian_kernel(y.clone(), y.clone(), bandwidths).sum();
    let kxy = gaussian_kernel(x, y, bandwidths).sum();
    let (n, m) = (n as f64, m as f64);
    let k0 = bandwidths.len() as f64; // k(a, a): every term is exp(0) = 1
    let out = if unbiased {
        (kxx - n * k0) / (n * (n - 1.0)) + (kyy - m * k0) / (m * (m - 1.0)) - kxy * (2.0 / (n * m))
    } else {
        kxx / (n * n) + kyy / (m * m) - kxy * (2.0 / (n * m))
    };
    Ok(out)
}

/// Weight clipping of a Wasserstein critic (Arjovsky et al. 2017, Alg. 1):
/// every trainable float parameter w ← clamp(w, −c, c), applied after each
/// critic update. The power-iteration vectors of spectrally normalised
/// layers (buffers, not weights) are left alone. Gradient tracking of each
/// parameter is kept as it was.
pub fn clip_weights<M: Module>(module: M, c: f64) -> M {
    let mut clip = Clip {
        containers: Vec::new(),
        c,
    };
    module.map(&mut clip)
}

struct Clip {
    containers: Vec<String>,
    c: f64,
}

impl ModuleMapper for Clip {
    fn enter_module(&mut self, _name: &str, container_type: &str) {
        self.containers.push(container_type.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.containers.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self
            .containers
            .last()
            .is_some_and(|c| c == "Struct:SpectralNorm")
        {
            return param;
        }
        let c = self.c;
        param.map(|w| {
            let grad = w.is_require_grad();
            w.clamp(-c, c).detach().set_require_grad(grad)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use gen_core::tensor::{scalar, to_vec, vec_to_tensor};

    #[allow(deprecated)]
    fn devices() -> Vec<Device> {
        vec![Device::ndarray(), Device::flex()]
    }

    const REAL: [f32; 5] = [2.0, -0.5, 0.0, 3.5, -4.0];
    const FAKE: [f32; 4] = [-1.5, 0.25, -3.0, 5.0];

    fn sig(l: f64) -> f64 {
        1.0 / (1.0 + (-l).exp())
    }

    fn mean(v: &[f32], f: impl Fn(f64) -> f64) -> f64 {
        v.iter().map(|&x| f(x as f64)).sum::<f64>() / v.len() as f64
    }

    fn close(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() < 1e-6, "{what}: {got} vs {want}");
    }

    #[test]
    fn every_loss_equals_its_equation_on_fixed_logits() {
        for dev in devices() {
            let r = || vec_to_tensor(&REAL, &dev);
            let f = || vec_to_tensor(&FAKE, &dev);
            let v = |t: Tensor<1>| scalar(t).unwrap();
            let minimax_d = -mean(&REAL, |l| sig(l).ln()) - mean(&FAKE, |l| (1.0 - sig(l)).ln());
            close(v(minimax_d_loss(r(), f())), minimax_d, "minimax D");
            close(
                v(minimax_g_loss(f())),
                mean(&FAKE, |l| (1.0 - sig(l)).ln()),
                "minimax G",
            );
            close(
                v(non_saturating_g_loss(f())),
                -mean(&FAKE, |l| sig(l).ln()),
                "non-saturating G",
            );
            close(
                v(wgan_critic_loss(r(), f())),
                mean(&FAKE, |l| l) - mean(&REAL, |l| l),
                "WGAN critic",
            );
            close(v(wgan_g_loss(f())), -mean(&FAKE, |l| l), "WGAN G");
            close(
                v(hinge_d_loss(r(), f())),
                mean(&REAL, |l| (1.0 - l).max(0.0)) + mean(&FAKE, |l| (1.0 + l).max(0.0)),
                "hinge D",
            );
            close(v(hinge_g_loss(f())), -mean(&FAKE, |l| l), "hinge G");
            close(
                v(lsgan_d_loss(r(), f())),
                0.5 * mean(&REAL, |l| (l - 1.0).powi(2)) + 0.5 * mean(&FAKE, |l| l * l),
                "LSGAN D",
            );
            close(
                v(lsgan_g_loss(f())),
                0.5 * mean(&FAKE, |l| (l - 1.0).powi(2)),
                "LSGAN G",
            );
        }
    }

    /// The saturation the non-saturating loss fixes: at l_f = −6 the minimax
    /// gradient is −σ(−6)/n, the non-saturating one (σ(−6) − 1)/n.
    #[test]
    fn minimax_gradient_saturates_and_non_saturating_does_not() {
        let dev = devices()[0].clone().autodiff();
        let grad = |f: fn(Tensor<1>) -> Tensor<1>| {
            let l = vec_to_tensor(&[-6.0, -6.0], &dev).require_grad();
            let g = f(l.clone()).backward();
            to_vec(l.grad(&g).unwrap()).unwrap()[0] as f64
        };
        close(grad(minimax_g_loss), -sig(-6.0) / 2.0, "minimax ∂");
        close(grad(non_saturating_g_loss), (sig(-6.0) - 1.0) / 2.0, "NS ∂");
    }

    /// MMD² by hand in f64 (biased and unbiased) on fixed batches, and for
    /// identical batches: biased 0, unbiased 2[(S − nK)/(n(n−1)) − S/n²].
    #[test]
    fn mmd2_equals_the_hand_computation() {
        let x = [[0.0, 0.0], [1.0, 0.5], [-0.5, 2.0]];
        let y = [[0.2, -0.1], [1.5, 1.0]];
        let bw = [0.5, 1.0, 2.0];
        let k = |a: &[f64; 2], b: &[f64; 2]| {
            let d2 = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
            bw.iter().map(|s| (-d2 / (2.0 * s * s)).exp()).sum::<f64>()
        };
        let sum = |a: &[[f64; 2]], b: &[[f64; 2]], off_diag: bool| {
            let mut s = 0.0;
            for (i, p) in a.iter().enumerate() {
                for (j, q) in b.iter().enumerate() {
                    if !(off_diag && i == j) {
                        s += k(p, q);
                    }
                }
            }
            s
        };
        let (n, m) = (3.0, 2.0);
        let biased = sum(&x, &x, false) / (n * n) + sum(&y, &y, false) / (m * m)
            - 2.0 * sum(&x, &y, false) / (n * m);
        let unbiased = sum(&x, &x, true) / (n * (n - 1.0)) + sum(&y, &y, true) / (m * (m - 1.0))
            - 2.0 * sum(&x, &y, false) / (n * m);
        let same_unbiased =
            2.0 * (sum(&x, &x, true) / (n * (n - 1.0)) - sum(&x, &x, false) / (n * n));
        for dev in devices() {
            let t = |rows: &[[f64; 2]]| {
                let v: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
                Tensor::<2>::from_data(TensorData::new(v, [rows.len(), 2]), &dev)
            };
            let got = |a: &[[f64; 2]], b: &[[f64; 2]], u: bool| {
                scalar(mmd2(t(a), t(b), &bw, u).unwrap()).unwrap()
            };
            close(got(&x, &y, false), biased, "biased MMD²");
            close(got(&x, &y, true), unbiased, "unbiased MMD²");
            close(got(&x, &x, false), 0.0, "biased MMD² of identical batches");
            close(
                got(&x, &x, true),
                same_unbiased,
                "unbiased MMD² of identical batches",
            );
            assert!(same_unbiased < 0.0);
            assert!(mmd2(t(&x), t(&x[..1]), &bw, true).is_err());
        }
    }

    /// ∂MMD²_b/∂x reaches the generated batch: moving x towards y lowers it.
    #[test]
    fn mmd2_back_propagates_into_the_generated_batch() {
        let dev = devices()[1].clone().autodiff();
        let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 1.2, 0.8], [2, 2]), &dev);
        let mut xv = vec![-1.0f32, 0.0, 0.0, -1.0];
        let first = {
            let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [2, 2]), &dev);
            scalar(mmd2(x, y.clone(), &[1.0], false).unwrap()).unwrap()
        };
        let mut last = first;
        for _ in 0..50 {
            let x =
                Tensor::<2>::from_data(TensorData::new(xv.clone(), [2, 2]), &dev).require_grad();
            let loss = mmd2(x.clone(), y.clone(), &[1.0], false).unwrap();
            last = scalar(loss.clone()).unwrap();
            let g = to_vec(x.grad(&loss.backward()).unwrap()).unwrap();
            assert!(g.iter().all(|v| v.is_finite()));
            xv.iter_mut().zip(&g).for_each(|(a, b)| *a -= 0.5 * b);
        }
        assert!(last < 0.05 * first, "MMD² {first} -> {last}");
    }

    #[test]
    fn weight_clipping_keeps_every_critic_weight_in_range() {
        use crate::mlp::DiscriminatorConfig;
        use gen_core::rng_from_seed;
        for spectral in [false, true] {
            let dev = devices()[0].clone().autodiff();
            let cfg = DiscriminatorConfig {
                d_in: 2,
                hidden: vec![16, 16],
                spectral_norm: spectral,
            };
            let d = cfg.init(&mut rng_from_seed(3), &dev).unwrap();
            let before = d.weights().unwrap();
            assert!(before.iter().any(|w| w.abs() > 0.05));
            let clipped = clip_weights(d.clone(), 0.05);
            let after = clipped.weights().unwrap();
            assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                assert!(a.abs() <= 0.05 + 1e-9, "{a}");
                assert_eq!(*a, b.clamp(-0.05, 0.05));
            }
            // Still trainable: the clipped weights are leaves that get gradients.
            let x = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -0.2], [1, 2]), &dev);
            let g = clipped.forward(x).sum().backward();
            assert!(clipped.first_weight().grad(&g).is_some());
            if spectral {
                // The power-iteration vectors are untouched.
                assert_eq!(d.spectral_u().unwrap(), clipped.spectral_u().unwrap());
            }
        }
        assert!(GanLoss::Wasserstein { clip: 0.0 }.validate().is_err());
        assert!(GanLoss::Wasserstein { clip: -1.0 }.validate().is_err());
    }
}
