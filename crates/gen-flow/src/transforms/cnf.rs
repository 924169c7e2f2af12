//! Continuous normalizing flow (Chen et al. 2018, "Neural Ordinary
//! Differential Equations"; Grathwohl et al. 2019, "FFJORD: Free-form
//! Continuous Dynamics for Scalable Reversible Generative Models").
//!
//! The data is the end point of an ODE started at a base sample:
//!
//! ```text
//! dz/dt = g(z(t), t),     z(0) ~ N(0, I),     x = z(1)
//! d log p(z(t))/dt = −tr(∂g/∂z (z(t), t))            (instantaneous change of variables)
//! log p(x) = log N(z(0); 0, I) − ∫₀¹ tr(∂g/∂z (z(t), t)) dt
//! ```
//!
//! g is a free-form MLP of ConcatSquash layers (FFJORD):
//! `h ↦ (h W + b) ⊙ σ(t a + c) + (t d + e)`, with a smooth non-linearity
//! (tanh by default) between layers; its weights come from the host RNG.
//!
//! # Solver (discretize-then-optimize)
//! Both directions integrate the state *augmented* with the log-determinant,
//! (z, ℓ) with dℓ/dt = tr(∂g/∂z), by fixed-step classical Runge–Kutta (RK4)
//! with `steps` steps, so ℓ uses the same four stages as z; burn's autodiff
//! back-propagates through every stage. [`Bijection::forward`] integrates
//! t: 0 → 1 and returns ℓ = ∫₀¹ tr dt = log|det ∂x/∂z(0)| (Liouville);
//! [`Bijection::inverse`] integrates t: 1 → 0 and returns ℓ = −∫₀¹ tr dt.
//!
//! A fixed-step solver makes the two directions inverse to each other, and ℓ
//! the log-determinant of the discrete solver map, only up to the RK4
//! discretisation error (O(h⁴) globally, h = 1/steps); the tests in this module
//! measure both (round trip and log-determinant against a finite-difference
//! Jacobian of the solver map).
//!
//! # Trace of the Jacobian
//! burn's autodiff is first-order only (no Jacobian–vector product), so
//! J v = (∂g/∂z) v is computed by a hand-written forward-mode pass carried
//! alongside the activations: for a ConcatSquash layer the tangent becomes
//! T ↦ (T W_z) ⊙ σ(t a + c) (W_z: the rows of W that multiply z, no bias),
//! and for an element-wise activation T ↦ T ⊙ σ'(pre). These are plain
//! tensor ops, so training differentiates through them.
//!
//! - Exact trace: tr J = Σᵢ (J eᵢ)ᵢ with the D basis directions propagated
//!   together (`[D·B, width]` tangents, in blocks of at most 16 directions).
//! - Hutchinson (1989) estimator: tr J = E[εᵀ J ε] for E[ε εᵀ] = I; ε is
//!   Rademacher, drawn on the host once per ODE solve (so results are equal on
//!   every backend) from the layer's noise seed, which the model sets on every
//!   learning step (see [`crate::Flow::set_noise_seed`]). Without a noise
//!   seed (scoring, sampling, encoding) the exact trace is always used.

use gen_core::burn::module::Module;
use gen_core::burn::nn::Linear;
use gen_core::burn::tensor::activation::sigmoid;
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::nn::{Activation, Init, linear};
use gen_core::{GenError, Result, Rng, rng_from_seed};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::bijection::{Bijection, zero_logdet};

/// How the trace tr(∂g/∂z) is computed while training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TraceEstimator {
    /// Σᵢ (J eᵢ)ᵢ: D forward-mode directions (exact; O(D) cost).
    #[default]
    Exact,
    /// εᵀ J ε with Rademacher ε: one direction (unbiased; O(1) cost).
    Hutchinson,
}

impl std::str::FromStr for TraceEstimator {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "hutchinson" => Ok(Self::Hutchinson),
            _ => Err(GenError::config(
                "trace",
                s,
                "unknown trace estimator",
                "use exact or hutchinson",
            )),
        }
    }
}

/// Solver and trace settings of a continuous normalizing flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CnfConfig {
    /// RK4 steps per ODE solve (h = 1/steps).
    pub steps: usize,
    /// Trace estimator while training.
    pub trace: TraceEstimator,
    /// Training uses Hutchinson's estimator whenever D exceeds this, whatever `trace` says.
    pub hutchinson_above: usize,
}

impl Default for CnfConfig {
    fn default() -> Self {
        Self {
            steps: 10,
            trace: TraceEstimator::Exact,
            hutchinson_above: 16,
        }
    }
}

impl CnfConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(GenError::config(
                "cnf steps",
                0,
                "the RK4 solver needs at least one step",
                "use e.g. 10 (more steps: smaller solver error, slower)",
            ));
        }
        Ok(())
    }

    /// Whether training on D-dimensional data uses Hutchinson's estimator.
    pub fn hutchinson(&self, dim: usize) -> bool {
        self.trace == TraceEstimator::Hutchinson || dim > self.hutchinson_above
    }
}

/// Exact-trace directions are propagated in blocks of at most this many.
const EXACT_BLOCK: usize = 16;

/// FFJORD's ConcatSquash layer: `h ↦ (h W + b) ⊙ σ(t a + c) + (t d + e)`.
#[derive(Module, Debug)]
pub struct ConcatSquash {
    /// W, b.
    pub linear: Linear,
    /// a, c (time gate).
    pub gate: Linear,
    /// d, e (time bias).
    pub hyper_bias: Linear,
}

impl ConcatSquash {
    fn new(d_in: usize, d_out: usize, zero: bool, rng: &mut Rng, device: &Device) -> Self {
        let init = if zero { Init::Zeros } else { Init::Default };
        Self {
            linear: linear(d_in, d_out, init, rng, device),
            gate: linear(1, d_out, Init::Default, rng, device),
            hyper_bias: linear(1, d_out, init, rng, device),
        }
    }
}

/// The directions v_j of one ODE solve, in blocks `[k, B, D]`: the D basis
/// vectors (exact trace) or one Rademacher vector per row (Hutchinson, k = 1).
type Probe = Vec<Tensor<3>>;

/// What the forward-mode pass needs from one evaluation of g.
struct Tangents {
    rows: usize,
    dim: usize,
    /// Time gates σ(t a + c), `[1, width]` per layer.
    gates: Vec<Tensor<2>>,
    /// σ'(pre), `[B, width]` per hidden layer.
    derivs: Vec<Tensor<2>>,
}

/// A continuous normalizing flow block: one ODE solve per direction.
#[derive(Module, Debug)]
pub struct Cnf {
    /// The layers of the dynamics g(z, t) (the first also sees the context).
    pub layers: Vec<ConcatSquash>,
    /// Hidden non-linearity (smooth).
    #[module(skip)]
    pub activation: Activation,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Context width C (0: unconditional).
    #[module(skip)]
    pub context_dim: usize,
    /// RK4 steps per solve.
    #[module(skip)]
    pub steps: usize,
    /// Use Hutchinson's estimator when a noise seed is set.
    #[module(skip)]
    pub hutchinson: bool,
    /// Seed of the Hutchinson noise of the next solves (None: exact trace).
    #[module(skip)]
    pub noise_seed: Option<u64>,
}

impl Cnf {
    /// A CNF block on D = `dim` coordinates with dynamics widths `hidden`.
    /// With `zero_last` the last layer starts at zero, so g = 0 and the block
    /// starts as the identity map.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dim: usize,
        context_dim: usize,
        hidden: &[usize],
        activation: Activation,
        config: &CnfConfig,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        if dim == 0 || hidden.contains(&0) {
            return Err(GenError::config(
                "cnf widths",
                format!("D = {dim}, hidden {hidden:?}"),
                "every layer of the dynamics needs at least one unit",
                "give D ≥ 1 and positive hidden widths",
            ));
        }
        let mut widths = vec![dim + context_dim];
        widths.extend(hidden);
        widths.push(dim);
        let n = widths.len() - 1;
        let layers = (0..n)
            .map(|i| {
                ConcatSquash::new(
                    widths[i],
                    widths[i + 1],
                    zero_last && i + 1 == n,
                    rng,
                    device,
                )
            })
            .collect();
        Ok(Self {
            layers,
            activation,
            dim,
            context_dim,
            steps: config.steps,
            hutchinson: config.hutchinson(dim),
            noise_seed: None,
        })
    }

    /// Evaluates g(z, t), keeping what the forward-mode pass needs.
    ///
    /// # Shapes
    /// - `z`: `[B, D]`, `context`: `[B, C]` → `[B, D]`
    fn eval(&self, z: Tensor<2>, t: f64, context: Option<&Tensor<2>>) -> (Tensor<2>, Tangents) {
        let [b, d] = z.dims();
        let tt = Tensor::<2>::full([1, 1], t as f32, &z.device());
        let mut h = match context {
            Some(c) if self.context_dim > 0 => Tensor::cat(vec![z, c.clone()], 1),
            _ => z,
        };
        let n = self.layers.len();
        let mut gates = Vec::with_capacity(n);
        let mut derivs = Vec::with_capacity(n);
        for (i, layer) in self.layers.iter().enumerate() {
            let gate = sigmoid(layer.gate.forward(tt.clone()));
            let pre = layer.linear.forward(h) * gate.clone() + layer.hyper_bias.forward(tt.clone());
            gates.push(gate);
            if i + 1 < n {
                let post = self.activation.forward(pre.clone());
                derivs.push(self.activation.derivative(pre, post.clone()));
                h = post;
            } else {
                h = pre;
            }
        }
        (
            h,
            Tangents {
                rows: b,
                dim: d,
                gates,
                derivs,
            },
        )
    }

    /// Jacobian–vector products J v for `k` directions per row, by forward
    /// mode through the layers: T ↦ (T W_z) ⊙ gate, then T ↦ T ⊙ σ'(pre).
    ///
    /// # Shapes
    /// - `v`: `[k, B, D]` → `[k, B, D]` (`out[j, r] = J(z_r) v[j, r]`)
    fn jvp(&self, tg: &Tangents, v: Tensor<3>) -> Tensor<3> {
        let (b, d) = (tg.rows, tg.dim);
        let [k, _, _] = v.dims();
        let n = self.layers.len();
        let mut tan = v.reshape([k * b, d]);
        for (i, layer) in self.layers.iter().enumerate() {
            let w = layer.linear.weight.val();
            let w = if i == 0 { w.narrow(0, 0, d) } else { w };
            let tp = tan.matmul(w) * tg.gates[i].clone();
            let width = tp.dims()[1];
            tan = if i + 1 < n {
                (tp.reshape([k, b, width]) * tg.derivs[i].clone().unsqueeze_dim::<3>(0))
                    .reshape([k * b, width])
            } else {
                tp
            };
        }
        tan.reshape([k, b, d])
    }

    /// g(z, t) and the trace of ∂g/∂z per row by the probe: Σ_j Σ_d v_jd (J v_j)_d,
    /// which is tr J for the basis directions and εᵀ J ε for Hutchinson noise.
    ///
    /// # Shapes
    /// - `z`: `[B, D]`, `context`: `[B, C]` → (`[B, D]`, `[B]`)
    fn dynamics(
        &self,
        z: Tensor<2>,
        t: f64,
        context: Option<&Tensor<2>>,
        probe: &[Tensor<3>],
    ) -> (Tensor<2>, Tensor<1>) {
        let device = z.device();
        let (g, tg) = self.eval(z, t, context);
        let b = tg.rows;
        let quad = |v: &Tensor<3>| -> Tensor<1> {
            (self.jvp(&tg, v.clone()) * v.clone())
                .sum_dim(2)
                .sum_dim(0)
                .reshape([b])
        };
        let trace = probe
            .iter()
            .map(quad)
            .reduce(|a, c| a + c)
            .unwrap_or_else(|| zero_logdet(b, &device));
        (g, trace)
    }

    /// The probe of one solve on `b` rows: Hutchinson noise when training
    /// with a noise seed, otherwise the basis directions.
    fn probe(&self, b: usize, device: &Device) -> Probe {
        let d = self.dim;
        match self.noise_seed {
            Some(seed) if self.hutchinson => {
                let mut rng = rng_from_seed(seed);
                let eps: Vec<f32> = (0..b * d)
                    .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                    .collect();
                vec![Tensor::from_data(TensorData::new(eps, [1, b, d]), device)]
            }
            _ => (0..d)
                .step_by(EXACT_BLOCK)
                .map(|lo| {
                    let k = EXACT_BLOCK.min(d - lo);
                    let mut v = vec![0.0f32; k * b * d];
                    for j in 0..k {
                        for r in 0..b {
                            v[(j * b + r) * d + lo + j] = 1.0;
                        }
                    }
                    Tensor::from_data(TensorData::new(v, [k, b, d]), device)
                })
                .collect(),
        }
    }

    /// Integrates the augmented ODE (dz/dt = g, dℓ/dt = tr ∂g/∂z) from `t0`
    /// to `t1` by RK4 with `self.steps` steps; returns (z(t1), ℓ = ∫_{t0}^{t1} tr dt).
    fn integrate(
        &self,
        z: Tensor<2>,
        t0: f64,
        t1: f64,
        context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [b, d] = z.dims();
        if d != self.dim {
            return Err(GenError::shape(
                "cnf input",
                format!("{} columns", self.dim),
                format!("{d} columns"),
                "pass rows of the dimension the flow was built for",
            ));
        }
        let device = z.device();
        let probe = self.probe(b, &device);
        let h = (t1 - t0) / self.steps as f64;
        let f = |z: Tensor<2>, t: f64| self.dynamics(z, t, context, &probe);
        let mut z = z;
        let mut ld = zero_logdet(b, &device);
        for s in 0..self.steps {
            let t = t0 + s as f64 * h;
            let (k1, l1) = f(z.clone(), t);
            let (k2, l2) = f(z.clone() + k1.clone() * (h / 2.0), t + h / 2.0);
            let (k3, l3) = f(z.clone() + k2.clone() * (h / 2.0), t + h / 2.0);
            let (k4, l4) = f(z.clone() + k3.clone() * h, t + h);
            z = z + (k1 + (k2 + k3) * 2.0 + k4) * (h / 6.0);
            ld = ld + (l1 + (l2 + l3) * 2.0 + l4) * (h / 6.0);
        }
        Ok((z, ld))
    }
}

impl Bijection for Cnf {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.integrate(x, 0.0, 1.0, context)
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.integrate(y, 1.0, 0.0, context)
    }
}

#[cfg(test)]
mod tests {
    //! Mathematical checks: forward-mode Jacobian against finite differences,
    //! unbiased Hutchinson estimates, the change of variables for the solver
    //! map, the round trip, and a trained density that integrates to one.

    use super::*;
    use crate::test_util::{fd_jacobian, normal_rows};
    use gen_core::tensor::{to_tensor, to_vec};
    use gen_core::{Backend, Matrix};

    fn device() -> Device {
        Backend::Flex.device().expect("flex is compiled in")
    }

    fn random_cnf(dim: usize, context_dim: usize, steps: usize, seed: u64) -> Cnf {
        let mut rng = rng_from_seed(seed);
        let config = CnfConfig {
            steps,
            ..CnfConfig::default()
        };
        Cnf::new(
            dim,
            context_dim,
            &[16, 16],
            Activation::Tanh,
            &config,
            false,
            &mut rng,
            &device(),
        )
        .unwrap()
    }

    #[test]
    fn cnf_forward_mode_jacobian_and_exact_trace_match_finite_differences() {
        for (d, c, seed) in [(2usize, 0usize, 1u64), (5, 0, 2), (5, 2, 3)] {
            let cnf = random_cnf(d, c, 4, seed);
            let dev = device();
            let z = normal_rows(1, d, 1.0, seed + 10);
            let ctx = (c > 0).then(|| to_tensor(&normal_rows(1, c, 1.0, seed + 20), &dev));
            let t = 0.37;
            // J e_i for all i, from the hand-written forward mode.
            let (_, tg) = cnf.eval(to_tensor(&z, &dev), t, ctx.as_ref());
            let blocks = cnf.probe(1, &dev);
            assert_eq!(
                blocks[0].dims(),
                [d, 1, d],
                "no noise seed: basis directions"
            );
            let cols = to_vec(cnf.jvp(&tg, blocks[0].clone())).unwrap(); // [D, 1, D]: cols[j*d + i] = (J e_j)_i
            // Finite differences of g(·, t) (context repeated for every probe row).
            let ctx_rows = ctx.as_ref().map(|_| {
                to_tensor(
                    &Matrix::new(
                        2 * d,
                        c,
                        normal_rows(1, c, 1.0, seed + 20).row(0).repeat(2 * d),
                    )
                    .unwrap(),
                    &dev,
                )
            });
            let g = |x: Tensor<2>| cnf.eval(x, t, ctx_rows.as_ref()).0;
            let jac = fd_jacobian(&g, z.row(0), 1e-2, &device());
            for i in 0..d {
                for j in 0..d {
                    let (fm, fd) = (cols[j * d + i] as f64, jac[i * d + j]);
                    assert!(
                        (fm - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                        "D={d} ∂g_{i}/∂z_{j}: forward mode {fm} vs finite differences {fd}"
                    );
                }
            }
            let (_, tr) = cnf.dynamics(to_tensor(&z, &dev), t, ctx.as_ref(), &cnf.probe(1, &dev));
            let tr = to_vec(tr).unwrap()[0] as f64;
            let want: f64 = (0..d).map(|i| jac[i * d + i]).sum();
            assert!(
                (tr - want).abs() < 1e-3 * (1.0 + want.abs()),
                "D={d}: exact trace {tr} vs tr(J_fd) {want}"
            );
        }
    }

    #[test]
    fn cnf_hutchinson_estimate_is_unbiased() {
        // The same point repeated n times: each row draws its own Rademacher ε,
        // so the rows are n independent estimates εᵀJε of one trace.
        let (d, n) = (5usize, 4000usize);
        let mut cnf = random_cnf(d, 0, 4, 7);
        cnf.hutchinson = true;
        let dev = device();
        let z = normal_rows(1, d, 1.0, 8);
        let zs = Matrix::new(n, d, z.row(0).repeat(n)).unwrap();
        let (_, exact) = cnf.dynamics(to_tensor(&z, &dev), 0.5, None, &cnf.probe(1, &dev));
        let exact = to_vec(exact).unwrap()[0] as f64;
        cnf.noise_seed = Some(42);
        let probe = cnf.probe(n, &dev);
        assert!(
            probe.len() == 1 && probe[0].dims() == [1, n, d],
            "a noise seed selects Hutchinson"
        );
        let est: Vec<f64> = to_vec(cnf.dynamics(to_tensor(&zs, &dev), 0.5, None, &probe).1)
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let mean = est.iter().sum::<f64>() / n as f64;
        let var = est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        eprintln!("Hutchinson: mean {mean:.5} ± {se:.5} (n = {n}) vs exact {exact:.5}");
        assert!(var > 0.0, "estimates vary with ε");
        assert!(
            (mean - exact).abs() < 4.0 * se,
            "Hutchinson mean {mean} ± {se} vs exact trace {exact}"
        );
    }

    #[test]
    fn cnf_logdet_is_the_change_of_variables_of_the_solver_map() {
        // ℓ from the augmented RK4 solve vs log|det| of the finite-difference
        // Jacobian of the discrete map z ↦ x (D = 2, 20 steps).
        // Last layer scaled ×15 so the map changes volume visibly (|ℓ| ≫ tolerance).
        let mut cnf = random_cnf(2, 0, 20, 11);
        let last = cnf.layers.last_mut().unwrap();
        last.linear.weight =
            gen_core::burn::module::Param::from_tensor(last.linear.weight.val() * 15.0);
        let dev = device();
        let z = normal_rows(3, 2, 1.0, 12);
        let (_, ld) = cnf.forward(to_tensor(&z, &dev), None).unwrap();
        let ld = to_vec(ld).unwrap();
        let f = |x: Tensor<2>| cnf.forward(x, None).unwrap().0;
        for (r, &l) in ld.iter().enumerate() {
            let j = fd_jacobian(&f, z.row(r), 1e-2, &device());
            let num = (j[0] * j[3] - j[1] * j[2]).abs().ln();
            eprintln!("row {r}: ℓ = {l}, log|det J_fd| = {num}");
            assert!(
                (num - l as f64).abs() < 1e-3,
                "row {r}: ℓ = {l} vs log|det J_fd| = {num}"
            );
            assert!(
                l.abs() > 0.1,
                "the test needs a non-trivial volume change, got {l}"
            );
        }
    }

    #[test]
    fn cnf_round_trip_is_exact_up_to_solver_error() {
        let dev = device();
        for (d, seed) in [(2usize, 21u64), (5, 22)] {
            let cnf = random_cnf(d, 0, 20, seed);
            let z = normal_rows(64, d, 1.0, seed + 1);
            let (x, ld_f) = cnf.forward(to_tensor(&z, &dev), None).unwrap();
            let (z2, ld_i) = cnf.inverse(x, None).unwrap();
            let err = z
                .as_slice()
                .iter()
                .zip(to_vec(z2).unwrap())
                .map(|(a, b)| (a - b as f64).abs())
                .fold(0.0, f64::max);
            eprintln!("round trip D={d}, 20 RK4 steps: max |f⁻¹(f(z)) − z| = {err:e}");
            assert!(err < 1e-3, "D={d}: max |f⁻¹(f(z)) − z| = {err}");
            let lerr = to_vec(ld_f)
                .unwrap()
                .iter()
                .zip(to_vec(ld_i).unwrap())
                .map(|(a, b)| (a + b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                lerr < 1e-3,
                "D={d}: forward and inverse log-dets differ in sign by {lerr}"
            );
        }
    }
}
