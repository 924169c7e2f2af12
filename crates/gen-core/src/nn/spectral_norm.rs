//! Spectral normalisation (Miyato et al. 2018): a layer whose weight is
//! divided by an estimate of its largest singular value,
//!
//! `W̄ = W / σ̂(W)`,   `σ̂(W) = uᵀ W v`,   `v = Wᵀu / ‖Wᵀu‖`,
//!
//! so the layer is (about) 1-Lipschitz, the constraint a GAN critic needs
//! without gradient penalties (burn's autodiff is first-order only).
//!
//! `u` is estimated by power iteration and *persists* in the module: every
//! forward pass in training runs `n_power_iterations` steps
//! `v ← Wᵀu / ‖Wᵀu‖, u ← W v / ‖W v‖` from the stored `u` and stores the
//! result, so σ̂ converges to σ_max as training proceeds while each forward
//! pays one matrix–vector product pair. Evaluation (a [`Module::valid`] copy,
//! or a frozen layer) uses the stored `u` without changing it.
//!
//! `u` and `v` are constants of the backward pass (as in PyTorch's
//! `spectral_norm`): the gradient reaches `W` through `W` itself and through
//! `σ̂ = uᵀ W v`, with `∂σ̂/∂W = u vᵀ`.
//!
//! `u` lives in a [`RunningState`] (burn's buffer for batch-norm statistics):
//! it is saved and restored with the module's record, gets no gradient and
//! is never touched by the optimiser. Clones share it, as they share batch-norm
//! statistics; [`Module::valid`] makes an independent copy.
//!
//! The weight matrix `W` has one row per output unit: `Wᵀ` of burn's
//! `[d_in, d_out]` linear weight, and the `[c_out, c_in·k·k]` reshape of a
//! convolution kernel (as in PyTorch, so `u` has one entry per output).

use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::module::linear as linear_op;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{GenError, Result};
use crate::nn::conv::{ConvShape, conv2d};
use crate::nn::linear::{Init, linear, normal};
use crate::task::Rng;
use crate::tensor::to_vec;

/// Settings of the power iteration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectralNormConfig {
    /// Power-iteration steps per training forward pass (PyTorch: 1).
    pub n_power_iterations: usize,
    /// Power-iteration steps run on the host at construction, so the first
    /// forward already uses a good σ̂ (PyTorch's parametrization: 15).
    pub init_iterations: usize,
    /// `ε` of the normalisation `x / max(‖x‖, ε)`.
    pub eps: f64,
}

impl Default for SpectralNormConfig {
    fn default() -> Self {
        Self {
            n_power_iterations: 1,
            init_iterations: 15,
            eps: 1e-12,
        }
    }
}

impl SpectralNormConfig {
    /// Errors unless at least one iteration runs per step and `ε` is finite and > 0.
    pub fn validate(&self) -> Result<()> {
        if self.n_power_iterations == 0 {
            return Err(GenError::config(
                "n_power_iterations",
                0,
                "spectral normalisation needs at least one power-iteration step per forward",
                "use 1 (the usual choice)",
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(GenError::config(
                "spectral norm eps",
                self.eps,
                "must be finite and > 0",
                "use 1e-12",
            ));
        }
        Ok(())
    }

    /// The power-iteration state for a weight matrix of `rows × cols`
    /// (row-major host values), with the first `u` drawn from `rng`.
    ///
    /// `u₀ ~ N(0, I)` is refined by [`Self::init_iterations`] steps in f64 on
    /// the host, so one seed gives the same `u` on every device.
    pub fn init(
        &self,
        w: &[f32],
        rows: usize,
        cols: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<SpectralNorm> {
        self.validate()?;
        if rows == 0 || cols == 0 || w.len() != rows * cols {
            return Err(GenError::config(
                "spectral norm weight",
                format!("{} values for {rows} × {cols}", w.len()),
                "the weight matrix must be non-empty and hold rows · cols values",
                "pass the layer's weight as a row-major matrix with one row per output",
            ));
        }
        let w: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
        let mut u: Vec<f64> = normal(rows, 1.0, rng).into_iter().map(f64::from).collect();
        normalize_host(&mut u, self.eps);
        for _ in 0..self.init_iterations {
            let (next, _) = power_step_host(&w, rows, cols, &u, self.eps);
            u = next;
        }
        let u: Vec<f32> = u.into_iter().map(|x| x as f32).collect();
        Ok(SpectralNorm {
            u: RunningState::new(Tensor::from_data(TensorData::new(u, [rows]), device)),
            training: Param::from_bool(true),
            n_power_iterations: self.n_power_iterations,
            eps: self.eps,
        })
    }
}

/// `x ← x / max(‖x‖, ε)` on host values.
fn normalize_host(x: &mut [f64], eps: f64) {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(eps);
    x.iter_mut().for_each(|v| *v /= norm);
}

/// One power-iteration step on a row-major `rows × cols` matrix:
/// `v = Wᵀu/‖Wᵀu‖`, `u' = W v/‖W v‖`; returns `(u', v)`.
fn power_step_host(
    w: &[f64],
    rows: usize,
    cols: usize,
    u: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; cols];
    for (r, ur) in u.iter().enumerate() {
        for (c, vc) in v.iter_mut().enumerate() {
            *vc += w[r * cols + c] * ur;
        }
    }
    normalize_host(&mut v, eps);
    let mut next: Vec<f64> = (0..rows)
        .map(|r| (0..cols).map(|c| w[r * cols + c] * v[c]).sum())
        .collect();
    normalize_host(&mut next, eps);
    (next, v)
}

/// `x / max(‖x‖, ε)` for a row vector `[1, n]`.
fn normalize_row(x: Tensor<2>, eps: f64) -> Tensor<2> {
    let norm = x.clone().powf_scalar(2.0).sum().sqrt().clamp_min(eps);
    x / norm.reshape([1, 1])
}

/// The power-iteration state of one spectrally normalised weight: the
/// persistent left singular vector estimate `u` (see the module docs).
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// Left singular vector estimate, one entry per row of `W` (no gradient;
    /// saved with the record).
    pub u: RunningState<Tensor<1>>,
    /// Whether training forwards update `u` ([`Module::valid`] and
    /// [`Module::freeze`] turn it off).
    pub training: Param<Flag>,
    /// Power-iteration steps per training forward.
    #[module(skip)]
    pub n_power_iterations: usize,
    /// `ε` of the normalisation.
    #[module(skip)]
    pub eps: f64,
}

impl SpectralNorm {
    /// `σ̂(W) = uᵀ W v` with `v = Wᵀu/‖Wᵀu‖`, as a `[1, 1]` tensor.
    ///
    /// On an autodiff device with training enabled, `u` first takes
    /// `n_power_iterations` steps and the result is stored; otherwise the
    /// stored `u` is used unchanged. Only `W` carries gradient.
    ///
    /// # Shapes
    /// - `w`: `[rows, cols]` with `rows = u.len()` → `[1, 1]`
    pub fn sigma(&self, w: Tensor<2>) -> Tensor<2> {
        let [rows, _] = w.dims();
        let update = w.device().is_autodiff() && self.training.is_enabled();
        let u = if update {
            self.u.value_sync()
        } else {
            self.u.value()
        };
        let w_const = w.clone().detach();
        let mut u = u.detach().reshape([1, rows]);
        if update {
            for _ in 0..self.n_power_iterations {
                let v = normalize_row(u.matmul(w_const.clone()), self.eps);
                u = normalize_row(v.matmul(w_const.clone().transpose()), self.eps);
            }
            self.u.update(u.clone().reshape([rows]).detach());
            // Fold the update in now, so a record taken before the next
            // forward already holds it (exact resume).
            let _ = self.u.value_sync();
        }
        let v = normalize_row(u.clone().matmul(w_const), self.eps);
        u.matmul(w).matmul(v.transpose())
    }

    /// The current estimate σ̂ as a host number, without updating `u`.
    pub fn estimate(&self, w: Tensor<2>) -> Result<f64> {
        let w = w.detach();
        let sigma = if w.device().is_autodiff() {
            // Evaluate on the plain device so no state changes.
            let w = w.without_autodiff();
            let u = self.u.value().without_autodiff();
            self.sigma_with(w, u)
        } else {
            self.sigma_with(w, self.u.value())
        };
        crate::tensor::scalar(sigma)
    }

    fn sigma_with(&self, w: Tensor<2>, u: Tensor<1>) -> Tensor<2> {
        let [rows, _] = w.dims();
        let u = u.reshape([1, rows]);
        let v = normalize_row(u.clone().matmul(w.clone()), self.eps);
        u.matmul(w).matmul(v.transpose())
    }

    /// The stored `u` on the host.
    pub fn u_values(&self) -> Result<Vec<f32>> {
        to_vec(self.u.value())
    }
}

/// Shape and initialisation of a [`SpectralLinear`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectralLinearConfig {
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Initialisation of the raw weight `W` and bias.
    pub init: Init,
    /// Power-iteration settings.
    pub sn: SpectralNormConfig,
}

impl SpectralLinearConfig {
    /// A `d_in → d_out` layer with PyTorch's default initialisation and
    /// default power-iteration settings.
    pub fn new(d_in: usize, d_out: usize) -> Self {
        Self {
            d_in,
            d_out,
            init: Init::Default,
            sn: SpectralNormConfig::default(),
        }
    }

    /// Builds the layer with `W`, `b` and `u₀` drawn from `rng` (in that order).
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<SpectralLinear> {
        if self.d_in == 0 || self.d_out == 0 {
            return Err(GenError::config(
                "spectral linear widths",
                format!("{} -> {}", self.d_in, self.d_out),
                "a layer needs at least one input and one output",
                "give positive widths",
            ));
        }
        SpectralLinear::new(
            linear(self.d_in, self.d_out, self.init, rng, device),
            &self.sn,
            rng,
        )
    }
}

/// A spectrally normalised linear layer: `y = x W̄ + b`, `W̄ = W / σ̂(W)`.
#[derive(Module, Debug)]
pub struct SpectralLinear {
    /// The raw layer (`W: [d_in, d_out]`, trained by the optimiser).
    pub inner: Linear,
    /// Power-iteration state (`u: [d_out]`).
    pub sn: SpectralNorm,
}

impl SpectralLinear {
    /// Wraps an existing layer; `u₀` is drawn from `rng`.
    pub fn new(inner: Linear, config: &SpectralNormConfig, rng: &mut Rng) -> Result<Self> {
        let w = inner.weight.val();
        let [d_in, d_out] = w.dims();
        let device = w.device();
        // Host matrix with one row per output: Wᵀ.
        let wt = to_vec(w.transpose())?;
        let sn = config.init(&wt, d_out, d_in, rng, &device)?;
        Ok(Self { inner, sn })
    }

    /// The normalised weight `W̄ = W / σ̂(W)` (`[d_in, d_out]`); updates `u`
    /// when training (see [`SpectralNorm::sigma`]).
    pub fn normalized_weight(&self) -> Tensor<2> {
        let w = self.inner.weight.val();
        let sigma = self.sn.sigma(w.clone().transpose());
        w / sigma
    }

    /// The current σ̂ of the raw weight, without updating `u`.
    pub fn sigma(&self) -> Result<f64> {
        self.sn.estimate(self.inner.weight.val().transpose())
    }

    /// `y = x W̄ + b`.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_in]` → `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear_op(
            x,
            self.normalized_weight(),
            self.inner.bias.as_ref().map(|b| b.val()),
        )
    }
}

/// Shape and initialisation of a [`SpectralConv2d`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectralConv2dConfig {
    /// Channels, kernel, stride and padding.
    pub shape: ConvShape,
    /// Initialisation of the raw kernel and bias.
    pub init: Init,
    /// Power-iteration settings.
    pub sn: SpectralNormConfig,
}

impl SpectralConv2dConfig {
    /// Builds the layer with `W`, `b` and `u₀` drawn from `rng` (in that order).
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<SpectralConv2d> {
        let s = self.shape;
        if s.c_in == 0 || s.c_out == 0 || s.kernel == 0 {
            return Err(GenError::config(
                "spectral conv shape",
                format!("c_in {}, c_out {}, kernel {}", s.c_in, s.c_out, s.kernel),
                "channels and kernel must be at least 1",
                "give positive channels and kernel side",
            ));
        }
        SpectralConv2d::new(conv2d(s, self.init, rng, device), &self.sn, rng)
    }
}

/// A spectrally normalised 2-D convolution: the kernel `W: [c_out, c_in, k, k]`
/// is divided by σ̂ of its `[c_out, c_in·k·k]` reshape (Miyato et al.'s
/// choice; it bounds the reshaped matrix, not the convolution operator).
#[derive(Module, Debug)]
pub struct SpectralConv2d {
    /// The raw convolution (trained by the optimiser).
    pub inner: Conv2d,
    /// Power-iteration state (`u: [c_out]`).
    pub sn: SpectralNorm,
}

impl SpectralConv2d {
    /// Wraps an existing convolution; `u₀` is drawn from `rng`.
    pub fn new(inner: Conv2d, config: &SpectralNormConfig, rng: &mut Rng) -> Result<Self> {
        let w = inner.weight.val();
        let [c_out, c_in, kh, kw] = w.dims();
        let device = w.device();
        let host = to_vec(w)?;
        let sn = config.init(&host, c_out, c_in * kh * kw, rng, &device)?;
        Ok(Self { inner, sn })
    }

    fn matrix(w: Tensor<4>) -> Tensor<2> {
        let [c_out, c_in, kh, kw] = w.dims();
        w.reshape([c_out, c_in * kh * kw])
    }

    /// The normalised kernel `W̄ = W / σ̂(W)`; updates `u` when training.
    pub fn normalized_weight(&self) -> Tensor<4> {
        let w = self.inner.weight.val();
        let sigma = self.sn.sigma(Self::matrix(w.clone()));
        w / sigma.reshape([1, 1, 1, 1])
    }

    /// The current σ̂ of the raw kernel's matrix, without updating `u`.
    pub fn sigma(&self) -> Result<f64> {
        self.sn.estimate(Self::matrix(self.inner.weight.val()))
    }

    /// The convolution with the normalised kernel.
    ///
    /// # Shapes
    /// - `x`: `[batch, c_in, h, w]` → `[batch, c_out, h', w']` (see [`ConvShape::out_size`])
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // burn's own convolution (padding rules included) with the kernel
        // replaced by W̄, which stays in the autodiff graph of W.
        let conv = Conv2d {
            weight: Param::initialized(self.inner.weight.id, self.normalized_weight()),
            ..self.inner.clone()
        };
        conv.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{OptimConfig, Optimized, load_module, save_module};
    use crate::rng_from_seed;

    #[allow(deprecated)]
    fn plain() -> Device {
        Device::ndarray()
    }

    /// The largest singular value of a row-major matrix by nalgebra's SVD.
    fn sigma_max(w: &[f32], rows: usize, cols: usize) -> f64 {
        let m = nalgebra::DMatrix::from_row_iterator(rows, cols, w.iter().map(|&x| f64::from(x)));
        m.singular_values().max()
    }

    fn host_input(n: usize, seed: u64) -> Vec<f32> {
        normal(n, 1.0, &mut rng_from_seed(seed))
    }

    #[test]
    fn power_iteration_converges_to_the_largest_singular_value() {
        let dev = plain().autodiff();
        // No iterations at construction: convergence comes from the forwards.
        let sn = SpectralNormConfig {
            init_iterations: 0,
            ..SpectralNormConfig::default()
        };
        let layer = SpectralLinearConfig {
            d_in: 12,
            d_out: 9,
            init: Init::Default,
            sn,
        }
        .init(&mut rng_from_seed(1), &dev)
        .unwrap();
        let w = to_vec(layer.inner.weight.val().transpose()).unwrap();
        let exact = sigma_max(&w, 9, 12);
        let x = Tensor::<2>::from_data(TensorData::new(host_input(4 * 12, 2), [4, 12]), &dev);
        let first = layer.sigma().unwrap();
        for _ in 0..200 {
            let _ = layer.forward(x.clone());
        }
        let est = layer.sigma().unwrap();
        assert!(
            (est / exact - 1.0).abs() < 0.01,
            "σ̂ {est} vs SVD σ_max {exact} (after construction: {first})"
        );
        // σ̂ = uᵀWv ≤ σ_max always (u, v unit vectors).
        assert!(first <= exact * (1.0 + 1e-5) && est <= exact * (1.0 + 1e-5));

        // The normalised weight then has spectral norm 1.
        let wn = to_vec(layer.normalized_weight().transpose()).unwrap();
        let s = sigma_max(&wn, 9, 12);
        assert!((s - 1.0).abs() < 0.01, "‖W̄‖₂ = {s}");
    }

    #[test]
    fn conv_kernel_is_normalised_by_its_reshaped_matrix() {
        let dev = plain().autodiff();
        let shape = ConvShape::same(3, 5, 3);
        let layer = SpectralConv2dConfig {
            shape,
            init: Init::Default,
            sn: SpectralNormConfig::default(),
        }
        .init(&mut rng_from_seed(3), &dev)
        .unwrap();
        let w = to_vec(layer.inner.weight.val()).unwrap();
        let exact = sigma_max(&w, 5, 27);
        let x = Tensor::<4>::from_data(
            TensorData::new(host_input(2 * 3 * 6 * 6, 4), [2, 3, 6, 6]),
            &dev,
        );
        for _ in 0..100 {
            let _ = layer.forward(x.clone());
        }
        let est = layer.sigma().unwrap();
        assert!((est / exact - 1.0).abs() < 0.01, "σ̂ {est} vs {exact}");
        // The output is burn's convolution with the kernel divided by σ̂.
        let y = to_vec(layer.valid().forward(x.clone().without_autodiff())).unwrap();
        let mut reference = layer.inner.valid();
        reference.weight = Param::from_tensor(reference.weight.val() / est as f32);
        let y_ref = to_vec(reference.forward(x.without_autodiff())).unwrap();
        assert_eq!(y.len(), 2 * 5 * 6 * 6);
        for (a, b) in y.iter().zip(&y_ref) {
            assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn each_training_forward_takes_one_power_step_and_evaluation_takes_none() {
        let dev = plain().autodiff();
        let layer = SpectralLinearConfig::new(6, 4)
            .init(&mut rng_from_seed(5), &dev)
            .unwrap();
        let w: Vec<f64> = to_vec(layer.inner.weight.val().transpose())
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let u0: Vec<f64> = layer
            .sn
            .u_values()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(host_input(3 * 6, 6), [3, 6]), &dev);

        // Evaluation copy: u is read, never written (neither copy's).
        let eval = layer.valid();
        let _ = eval.forward(x.clone().without_autodiff());
        assert_eq!(eval.sn.u_values().unwrap(), layer.sn.u_values().unwrap());

        // One training forward = one host power step from the stored u.
        let _ = layer.forward(x);
        let (expect, _) = power_step_host(&w, 4, 6, &u0, 1e-12);
        let got = layer.sn.u_values().unwrap();
        for (g, e) in got.iter().zip(&expect) {
            assert!((f64::from(*g) - e).abs() < 1e-5, "{got:?} vs {expect:?}");
        }
        // σ̂ = ‖Wᵀu‖ for unit u (since v = Wᵀu/‖Wᵀu‖).
        let wtu: f64 = (0..6)
            .map(|c| {
                (0..4)
                    .map(|r| w[r * 6 + c] * expect[r])
                    .sum::<f64>()
                    .powi(2)
            })
            .sum::<f64>()
            .sqrt();
        let est = layer.sigma().unwrap();
        assert!((est - wtu).abs() < 1e-5 * wtu, "{est} vs {wtu}");
    }

    #[test]
    fn u_gets_no_gradient_and_the_optimiser_leaves_it_alone() {
        let dev = plain().autodiff();
        let layer = SpectralLinearConfig::new(5, 3)
            .init(&mut rng_from_seed(7), &dev)
            .unwrap();
        let mut opt = Optimized::new(layer, &OptimConfig::default());
        let x = Tensor::<2>::from_data(TensorData::new(host_input(8 * 5, 8), [8, 5]), &dev);
        let w0 = to_vec(opt.model.inner.weight.val()).unwrap();
        let loss = opt.model.forward(x).powf_scalar(2.0).mean();
        // The forward took its power step; remember u after it.
        let u_after_forward = opt.model.sn.u_values().unwrap();
        assert!(!opt.model.sn.u.value().is_require_grad());
        opt.step(loss, 1e-2).unwrap();
        assert_eq!(opt.model.sn.u_values().unwrap(), u_after_forward);
        assert_ne!(to_vec(opt.model.inner.weight.val()).unwrap(), w0);
    }

    #[test]
    fn gradient_of_sigma_is_u_v_transposed() {
        // d σ̂ / dW = u vᵀ with u, v held constant.
        let dev = plain().autodiff();
        let layer = SpectralLinearConfig::new(4, 3)
            .init(&mut rng_from_seed(9), &dev)
            .unwrap();
        let frozen = SpectralNorm {
            training: Param::from_bool(false),
            ..layer.sn.clone()
        };
        let wt = layer.inner.weight.val().transpose(); // [3, 4], requires grad via W
        let sigma = frozen.sigma(wt.clone()).reshape([1]);
        let grads = sigma.backward();
        let g = to_vec(layer.inner.weight.val().grad(&grads).unwrap()).unwrap(); // [4, 3]
        let u: Vec<f64> = frozen
            .u_values()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let w: Vec<f64> = to_vec(wt).unwrap().into_iter().map(f64::from).collect();
        let mut v: Vec<f64> = (0..4)
            .map(|c| (0..3).map(|r| w[r * 4 + c] * u[r]).sum())
            .collect();
        normalize_host(&mut v, 1e-12);
        // Burn's weight is Wᵀ, so its gradient is (u vᵀ)ᵀ = v uᵀ: g[c, r] = v[c] u[r].
        for c in 0..4 {
            for r in 0..3 {
                let e = v[c] * u[r];
                assert!((f64::from(g[c * 3 + r]) - e).abs() < 1e-5, "{c},{r}");
            }
        }
    }

    #[test]
    fn u_survives_a_record_round_trip() {
        let dev = plain().autodiff();
        let layer = SpectralLinearConfig::new(7, 5)
            .init(&mut rng_from_seed(11), &dev)
            .unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(host_input(2 * 7, 12), [2, 7]), &dev);
        for _ in 0..3 {
            let _ = layer.forward(x.clone());
        }
        let u = layer.sn.u_values().unwrap();
        let dir = std::env::temp_dir().join(format!("genlab-sn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sn.bpk");
        save_module(&layer, &path).unwrap();
        // A layer from another seed has another u; loading restores ours.
        let other = SpectralLinearConfig::new(7, 5)
            .init(&mut rng_from_seed(99), &dev)
            .unwrap();
        assert_ne!(other.sn.u_values().unwrap(), u);
        let loaded = load_module(other, &path).unwrap();
        assert_eq!(loaded.sn.u_values().unwrap(), u);
        assert_eq!(
            to_vec(loaded.inner.weight.val()).unwrap(),
            to_vec(layer.inner.weight.val()).unwrap()
        );
        // And the loaded layer continues the iteration exactly as the original.
        let _ = layer.forward(x.clone());
        let _ = loaded.forward(x);
        assert_eq!(loaded.sn.u_values().unwrap(), layer.sn.u_values().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_same_seed_gives_the_same_u_on_every_cpu_backend() {
        let a = SpectralLinearConfig::new(6, 6)
            .init(&mut rng_from_seed(13), &plain())
            .unwrap();
        let b = SpectralLinearConfig::new(6, 6)
            .init(&mut rng_from_seed(13), &Device::flex())
            .unwrap();
        assert_eq!(a.sn.u_values().unwrap(), b.sn.u_values().unwrap());
    }

    #[test]
    fn invalid_settings_are_refused() {
        let bad = SpectralNormConfig {
            n_power_iterations: 0,
            ..SpectralNormConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(
            SpectralLinearConfig::new(0, 3)
                .init(&mut rng_from_seed(0), &plain())
                .is_err()
        );
    }
}
