//! Rational-quadratic neural spline coupling (Durkan et al. 2019, "Neural
//! Spline Flows", §3.1, eqs. 4–8), with linear (identity) tails.
//!
//! With mask b (1 = conditioning coordinate), a conditioner NN sees b⊙x [and a
//! context] and outputs, for every coordinate d, 3K − 1 numbers: unnormalised
//! bin widths θʷ, heights θʰ (K each) and interior derivatives θᵟ (K − 1).
//! On [−B, B] the transformed coordinates are mapped by a monotone
//! rational-quadratic spline with K bins:
//!
//! ```text
//! w = 2B·(m + (1 − mK)·softmax(θʷ)),  h = 2B·(m + (1 − mK)·softmax(θʰ)),  m = 1e-3
//! knots x_0 = −B < x_1 < … < x_K = B (cumulative w), likewise y_k (cumulative h)
//! δ_0 = δ_K = 1,  δ_k = softplus(θᵟ_k + c₀) + 1e-3,  c₀ = ln(e^{1−1e-3} − 1)
//! in bin k, ξ = (x − x_k)/w_k ∈ [0, 1], s_k = h_k/w_k:
//!   y      = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]      (eq. 4)
//!   dy/dx  = s_k² [δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²]
//!            / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]²                                     (eq. 5)
//! outside [−B, B]: y = x, dy/dx = 1.
//! ```
//!
//! The boundary derivatives are 1, so the map is C¹ across ±B. The shift c₀
//! makes θᵟ = 0 give δ = 1: with the conditioner's last layer at zero every
//! bin has s_k = 1 and δ = 1, and the layer starts as the identity map.
//!
//! The inverse (eqs. 6–8) solves, in the bin k with y_k ≤ y < y_{k+1},
//! a ξ² + b ξ + c = 0 with
//!
//! ```text
//! a = h_k (s_k − δ_k) + (y − y_k)(δ_{k+1} + δ_k − 2 s_k)
//! b = h_k δ_k − (y − y_k)(δ_{k+1} + δ_k − 2 s_k)
//! c = −s_k (y − y_k)
//! ξ = 2c / (−b − √(b² − 4ac))        (the numerically stable root, as nflows)
//! ```
//!
//! Bins are found with tensor comparisons (the number of interior knots ≤ x)
//! and their parameters read with `gather` along the bin axis; everything
//! stays on the device and is batch-parallel. The elementwise spline itself
//! is [`rq_spline`] (values + raw parameters → values + per-element
//! log-derivatives), shared by [`SplineCoupling`] and the autoregressive
//! spline flow ([`crate::transforms::SplineAutoregressive`]).

use gen_core::burn::module::Module;
use gen_core::burn::tensor::activation::{softmax, softplus};
use gen_core::burn::tensor::{Device, Int, Tensor};
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::{GenError, Result, Rng};

use crate::bijection::{Bijection, const_row, row_sum};

/// Smallest bin width and height, as a fraction of 2B.
pub const MIN_BIN: f64 = 1e-3;
/// Smallest interior knot derivative.
pub const MIN_DERIVATIVE: f64 = 1e-3;
/// Default number of bins K.
pub const DEFAULT_BINS: usize = 8;
/// Default half-width B of the spline's interval [−B, B] (toy data).
pub const DEFAULT_BOUND: f64 = 3.0;

/// A rational-quadratic spline coupling layer with a fixed mask and an MLP conditioner.
#[derive(Module, Debug)]
pub struct SplineCoupling {
    /// Conditioner: `[b⊙x, context] → D·(3K − 1)` spline parameters.
    pub net: Mlp,
    /// The mask b as a `[1, D]` row (1 = conditioning).
    pub mask: Tensor<2>,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Context width C (0 for an unconditional layer).
    #[module(skip)]
    pub context_dim: usize,
    /// Number of bins K.
    #[module(skip)]
    pub bins: usize,
    /// Half-width B of the interval [−B, B] the spline covers.
    #[module(skip)]
    pub bound: f64,
}

/// Per-element spline parameters, `[n, D, ·]`.
struct Knots {
    /// x_0..x_K, `[n, D, K + 1]`.
    xs: Tensor<3>,
    /// y_0..y_K, `[n, D, K + 1]`.
    ys: Tensor<3>,
    /// δ_0..δ_K, `[n, D, K + 1]`.
    ds: Tensor<3>,
}

/// Checks a spline's number of bins K and half-width B.
///
/// K ≥ 2 (one bin is a fixed linear map) and K·[`MIN_BIN`] < 1 (the minimum
/// bin sizes must leave room in [−B, B]); B finite and > 0.
pub fn check_bins_and_bound(bins: usize, bound: f64) -> Result<()> {
    if bins < 2 {
        return Err(GenError::config(
            "spline bins",
            bins,
            "a rational-quadratic spline needs K ≥ 2 bins",
            "use e.g. 8",
        ));
    }
    if MIN_BIN * bins as f64 >= 1.0 {
        return Err(GenError::config(
            "spline bins",
            bins,
            format!("K·{MIN_BIN} must stay below 1 (minimum bin size)"),
            "use fewer than 1000 bins",
        ));
    }
    if !(bound.is_finite() && bound > 0.0) {
        return Err(GenError::config(
            "spline bound",
            bound,
            "the spline interval [−B, B] needs a finite B > 0",
            "use e.g. 3.0 for standardised data",
        ));
    }
    Ok(())
}

/// Number of unnormalised parameters per transformed coordinate: 3K − 1
/// (K widths, K heights, K − 1 interior derivatives).
pub fn params_per_dim(bins: usize) -> usize {
    3 * bins - 1
}

/// Knots and derivatives of every element's spline from the unnormalised
/// parameters θ `[n, D, 3K − 1]` laid out as [θʷ (K), θʰ (K), θᵟ (K − 1)].
fn knots(theta: Tensor<3>, bins: usize, bound: f64) -> Knots {
    let [n, d, _] = theta.dims();
    let k = bins;
    let b = bound;
    let device = theta.device();
    let edges = |un: Tensor<3>| -> Tensor<3> {
        let p = softmax(un, 2) * (1.0 - MIN_BIN * k as f64) + MIN_BIN;
        let inner = p.narrow(2, 0, k - 1).cumsum(2) * (2.0 * b) - b;
        Tensor::cat(
            vec![
                Tensor::full([n, d, 1], -b, &device),
                inner,
                Tensor::full([n, d, 1], b, &device),
            ],
            2,
        )
    };
    let xs = edges(theta.clone().narrow(2, 0, k));
    let ys = edges(theta.clone().narrow(2, k, k));
    // c₀ = ln(e^{1−m} − 1) so that θᵟ = 0 gives δ = 1 (identity start).
    let c0 = ((1.0 - MIN_DERIVATIVE).exp() - 1.0).ln();
    let inner = softplus(theta.narrow(2, 2 * k, k - 1) + c0, 1.0) + MIN_DERIVATIVE;
    let ds = Tensor::cat(
        vec![
            Tensor::ones([n, d, 1], &device),
            inner,
            Tensor::ones([n, d, 1], &device),
        ],
        2,
    );
    Knots { xs, ys, ds }
}

/// Bin index of each element of `v` (already clamped to [−B, B]) among
/// `knots` `[n, D, K + 1]`: the number of interior knots ≤ v, `[n, D, 1]`.
fn bin_index(v: &Tensor<3>, knots: &Tensor<3>, bins: usize) -> Tensor<3, Int> {
    let interior = knots.clone().narrow(2, 1, bins - 1);
    v.clone()
        .repeat_dim(2, bins - 1)
        .greater_equal(interior)
        .int()
        .sum_dim(2)
}

/// The elementwise rational-quadratic spline with identity tails.
///
/// Every element `v[r, d]` is mapped by its own monotone spline on
/// [−`bound`, `bound`] with `bins` bins, built from the unnormalised
/// parameters `raw[r, d, ·]` = [θʷ (K), θʰ (K), θᵟ (K − 1)] as in the module
/// documentation (eqs. 4–5); `inverse = true` applies the inverse spline
/// (eqs. 6–8). Outside [−B, B] the map is the identity.
///
/// Returns the mapped values `[n, D]` and, per element, log|d out / d in|
/// `[n, D]` (0 in the tails). The caller checks `bins`/`bound` with
/// [`check_bins_and_bound`] when it is built.
///
/// # Shapes
/// - `v`: `[n, D]`, `raw`: `[n, D, 3K − 1]` → (`[n, D]`, `[n, D]`)
pub fn rq_spline(
    v: Tensor<2>,
    raw: Tensor<3>,
    bins: usize,
    bound: f64,
    inverse: bool,
) -> (Tensor<2>, Tensor<2>) {
    let [n, d] = v.dims();
    let k = bins;
    let b = bound;
    let kn = knots(raw, k, b);
    let inside = v
        .clone()
        .greater_equal_elem(-b)
        .bool_and(v.clone().lower_equal_elem(b));
    let vc: Tensor<3> = v.clone().clamp(-b, b).reshape([n, d, 1]);
    let idx = if inverse {
        bin_index(&vc, &kn.ys, k)
    } else {
        bin_index(&vc, &kn.xs, k)
    };
    let pick = |t: &Tensor<3>, offset: usize| -> Tensor<3> {
        t.clone().narrow(2, offset, k).gather(2, idx.clone())
    };
    let (x_k, x_k1) = (pick(&kn.xs, 0), pick(&kn.xs, 1));
    let (y_k, y_k1) = (pick(&kn.ys, 0), pick(&kn.ys, 1));
    let (d_k, d_k1) = (pick(&kn.ds, 0), pick(&kn.ds, 1));
    let w = x_k1 - x_k.clone();
    let h = y_k1 - y_k.clone();
    let s = h.clone() / w.clone();
    let sum_d = d_k1.clone() + d_k.clone() - s.clone() * 2.0;
    let (out, xi) = if inverse {
        let dy = vc - y_k;
        let a = h.clone() * (s.clone() - d_k.clone()) + dy.clone() * sum_d.clone();
        let bq = h * d_k.clone() - dy.clone() * sum_d.clone();
        let c = dy.neg() * s.clone();
        let disc = (bq.clone() * bq.clone() - a * c.clone() * 4.0).clamp_min(0.0);
        let xi = (c * 2.0) / (bq.neg() - disc.sqrt());
        (xi.clone() * w + x_k, xi)
    } else {
        let xi = (vc - x_k) / w;
        let t = xi.clone() * (xi.clone().neg() + 1.0);
        let num = h * (s.clone() * xi.clone() * xi.clone() + d_k.clone() * t.clone());
        let den = s.clone() + sum_d.clone() * t;
        (y_k + num / den, xi)
    };
    // log dy/dx at ξ (eq. 5).
    let one_m = xi.clone().neg() + 1.0;
    let t = xi.clone() * one_m.clone();
    let num = d_k1 * xi.clone() * xi + s.clone() * t.clone() * 2.0 + d_k * one_m.clone() * one_m;
    let den = s.clone() + sum_d * t;
    let log_dydx = (s.clone() * s).log() + num.log() - den.log() * 2.0;
    let log_dydx: Tensor<2> = log_dydx.reshape([n, d]);
    let log_det = if inverse { log_dydx.neg() } else { log_dydx };
    let out: Tensor<2> = out.reshape([n, d]);
    let out = v.mask_where(inside.clone(), out);
    let log_det = Tensor::zeros([n, d], &log_det.device()).mask_where(inside, log_det);
    (out, log_det)
}

impl SplineCoupling {
    /// A spline coupling layer on `mask.len()` coordinates with `bins` bins on
    /// [−bound, bound]; the conditioner has the given hidden widths and, with
    /// `zero_last`, a zero-initialised last layer (identity start).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mask: &[f32],
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        bins: usize,
        bound: f64,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        check_bins_and_bound(bins, bound)?;
        let dim = mask.len();
        let net = MlpConfig {
            d_in: dim + context_dim,
            hidden: hidden.to_vec(),
            d_out: dim * params_per_dim(bins),
            activation,
            zero_last,
        }
        .init(rng, device)?;
        Ok(Self {
            net,
            mask: const_row(mask, device),
            dim,
            context_dim,
            bins,
            bound,
        })
    }

    /// Unnormalised spline parameters `[n, D, 3K − 1]` of every coordinate,
    /// from b⊙x [and context].
    fn params(&self, x: &Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<3> {
        let [n, d] = x.dims();
        let xb = x.clone() * self.mask.clone();
        let input = match context {
            Some(c) if self.context_dim > 0 => Tensor::cat(vec![xb, c.clone()], 1),
            _ => xb,
        };
        self.net
            .forward(input)
            .reshape([n, d, params_per_dim(self.bins)])
    }

    fn apply(
        &self,
        v: Tensor<2>,
        context: Option<&Tensor<2>>,
        inverse: bool,
    ) -> (Tensor<2>, Tensor<1>) {
        let keep = self.mask.clone();
        let free = keep.clone().neg() + 1.0;
        let raw = self.params(&v, context);
        let (out, ld) = rq_spline(v.clone(), raw, self.bins, self.bound, inverse);
        (v * keep + out * free.clone(), row_sum(ld * free))
    }
}

impl Bijection for SplineCoupling {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        Ok(self.apply(x, context, false))
    }

    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        Ok(self.apply(y, context, true))
    }
}
