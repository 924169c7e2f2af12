//! NADE, the neural autoregressive distribution estimator (Larochelle &
//! Murray 2011).
//!
//! One hidden layer whose input weights W are shared by all conditionals:
//!
//! ```text
//! a_i = c + Σ_{j<i} x_j W_j          (W_j ∈ R^H is row j of W ∈ R^{D×H})
//! h_i = σ(a_i)
//! p(x_i = 1 | x_<i) = σ(b_i + V_i · h_i)
//! ```
//!
//! The pre-activations obey a_{i+1} = a_i + x_i W_i, so all D of them come
//! from one cumulative sum over i of x_i W_i, shifted by one position
//! (exclusive: a_1 = c). That is the O(DH) parallel pass; the shift (rather
//! than subtracting x_i W_i from the inclusive sum) keeps a_i exactly
//! independent of x_i, bit for bit.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData, activation};
use gen_core::burn;
use gen_core::nn::Init;
use gen_core::optim::OptimConfig;
use gen_core::{Result, Rng};

use super::{ArNet, BinaryAr, Stepwise, positive, raster_order};

/// Configuration of a [`Nade`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NadeConfig {
    /// The data dimension D (pixels per image).
    pub d: usize,
    /// Hidden units H.
    pub hidden: usize,
    /// Optimiser settings (Adam by default).
    pub optim: OptimConfig,
}

impl NadeConfig {
    /// A NADE on `d` binary pixels with `hidden` hidden units and Adam.
    pub fn new(d: usize, hidden: usize) -> Self {
        Self {
            d,
            hidden,
            optim: OptimConfig::default(),
        }
    }

    /// Errors unless D ≥ 1 and H ≥ 1.
    pub fn validate(&self) -> Result<()> {
        positive(
            "nade",
            "d",
            self.d,
            "give the number of pixels per image, e.g. 64 for 8x8 digits",
        )?;
        positive(
            "nade",
            "hidden",
            self.hidden,
            "use e.g. 500 hidden units for 28x28 images, 64 for 8x8",
        )
    }
}

/// The NADE parameters.
#[derive(burn::module::Module, Debug)]
pub struct NadeNet {
    /// Input-to-hidden weights W `[D, H]`, shared by all conditionals.
    pub w: Param<Tensor<2>>,
    /// Hidden bias c `[H]`.
    pub c: Param<Tensor<1>>,
    /// Hidden-to-output weights V `[D, H]` (row i for conditional i).
    pub v: Param<Tensor<2>>,
    /// Output biases b `[D]`.
    pub b: Param<Tensor<1>>,
}

fn param2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

fn param1(v: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = v.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), device))
}

impl NadeNet {
    /// The hidden pre-activations a_i = c + Σ_{j<i} x_j W_j for every i.
    ///
    /// # Shapes
    /// - `x`: `[n, D]` → `[n, D, H]`
    pub fn pre_activations(&self, x: Tensor<2>) -> Tensor<3> {
        let [n, d] = x.dims();
        let w = self.w.val();
        let h = w.dims()[1];
        let contrib = x.unsqueeze_dim::<3>(2) * w.unsqueeze_dim::<3>(0); // [n, D, H]
        let c = self.c.val().reshape([1, 1, h]);
        if d == 1 {
            return c.repeat_dim(0, n);
        }
        let inclusive = contrib.slice([0..n, 0..d - 1, 0..h]).cumsum(1);
        let zeros = Tensor::<3>::zeros([n, 1, h], &inclusive.device());
        Tensor::cat(vec![zeros, inclusive], 1) + c
    }
}

impl ArNet for NadeNet {
    type Config = NadeConfig;
    const NAME: &'static str = "nade";
    const LEARN_HOW: &'static str = "exact maximum likelihood, all D conditionals in one pass by a cumulative sum of shared hidden weights (Adam)";
    const SCORE_HOW: &'static str = "exact, chain rule sum_i log p(x_i | x_<i)";

    fn dim(config: &NadeConfig) -> usize {
        config.d
    }
    fn optim(config: &NadeConfig) -> &OptimConfig {
        &config.optim
    }
    fn validate(config: &NadeConfig) -> Result<()> {
        config.validate()
    }
    fn init(config: &NadeConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let (d, h) = (config.d, config.hidden);
        // PyTorch-style U(±1/√fan_in): W and c see D inputs, V and b see H.
        let w = Init::Default.weights(d * h, d, rng);
        let c = Init::Default.biases(h, d, rng);
        let v = Init::Default.weights(d * h, h, rng);
        let b = Init::Default.biases(d, h, rng);
        Ok(Self {
            w: param2(w, [d, h], device),
            c: param1(c, device),
            v: param2(v, [d, h], device),
            b: param1(b, device),
        })
    }
    fn orders(&self) -> Vec<Vec<usize>> {
        vec![raster_order(self.b.val().dims()[0])]
    }
    fn logits(&self, x: Tensor<2>, _k: usize) -> Tensor<2> {
        let [n, d] = x.dims();
        let hidden = activation::sigmoid(self.pre_activations(x)); // [n, D, H]
        let out = (hidden * self.v.val().unsqueeze_dim::<3>(0))
            .sum_dim(2)
            .reshape([n, d]);
        out + self.b.val().unsqueeze_dim(0)
    }
    fn chunk_rows(config: &NadeConfig) -> usize {
        // Keep the [n, D, H] activations near 4M floats.
        (4_000_000 / (config.d * config.hidden).max(1)).clamp(1, 4096)
    }
    fn stepwise(&self) -> Option<&dyn Stepwise> {
        Some(self)
    }
}

/// NADE's own recurrence, O(H) per coordinate: the state is a_i, starting
/// at a_1 = c, with ℓ_i = b_i + V_i·σ(a_i) and a_{i+1} = a_i + x_i W_i.
impl Stepwise for NadeNet {
    fn start(&self, n: usize, _device: &Device) -> Tensor<2> {
        let h = self.c.val().dims()[0];
        self.c.val().reshape([1, h]).repeat_dim(0, n)
    }
    fn logit(&self, state: &Tensor<2>, i: usize) -> Tensor<2> {
        let h = state.dims()[1];
        let v_i = self.v.val().slice([i..i + 1, 0..h]); // [1, H]
        let b_i = self.b.val().narrow(0, i, 1).reshape([1, 1]);
        (activation::sigmoid(state.clone()) * v_i).sum_dim(1) + b_i
    }
    fn feed(&self, state: Tensor<2>, i: usize, x_i: Tensor<2>) -> Tensor<2> {
        let h = state.dims()[1];
        state + x_i * self.w.val().slice([i..i + 1, 0..h])
    }
}

/// The neural autoregressive distribution estimator.
pub type Nade = BinaryAr<NadeNet>;

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::Backend;
    use gen_core::rng_from_seed;
    use gen_core::tensor::to_vec;

    /// The stepwise recurrence used for sampling, fed the true x_i, gives
    /// the parallel pass's logits at every coordinate.
    #[test]
    fn stepwise_recurrence_matches_the_parallel_pass() {
        let dev = Backend::Flex.device().unwrap();
        let (n, d, h) = (3, 7, 5);
        let net = NadeNet::init(&NadeConfig::new(d, h), &mut rng_from_seed(4), &dev).unwrap();
        let x: Vec<f32> = (0..n * d)
            .map(|k| ((k * 7 + 3) % 5 < 2) as u8 as f32)
            .collect();
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), &dev);
        let full = to_vec(net.logits(xt, 0)).unwrap();
        let mut state = net.start(n, &dev);
        for i in 0..d {
            let got = to_vec(net.logit(&state, i)).unwrap();
            for r in 0..n {
                let want = full[r * d + i];
                assert!(
                    (got[r] - want).abs() < 1e-5,
                    "row {r}, ℓ_{i}: {} vs {want}",
                    got[r]
                );
            }
            let xi: Vec<f32> = (0..n).map(|r| x[r * d + i]).collect();
            let xi = Tensor::<2>::from_data(TensorData::new(xi, [n, 1]), &dev);
            state = net.feed(state, i, xi);
        }
    }

    /// The cumulative-sum pass equals the definition a_i = c + Σ_{j<i} x_j W_j
    /// and ℓ_i = b_i + V_i·σ(a_i), computed in f64 loops.
    #[test]
    fn parallel_pass_matches_the_per_conditional_definition() {
        let dev = Backend::Flex.device().unwrap();
        let (d, h) = (6, 4);
        let net = NadeNet::init(&NadeConfig::new(d, h), &mut rng_from_seed(2), &dev).unwrap();
        let x = [1.0f32, 0.0, 1.0, 1.0, 0.0, 1.0];
        let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, d]), &dev);
        let got = to_vec(net.logits(xt, 0)).unwrap();
        let w = to_vec(net.w.val()).unwrap();
        let c = to_vec(net.c.val()).unwrap();
        let v = to_vec(net.v.val()).unwrap();
        let b = to_vec(net.b.val()).unwrap();
        for i in 0..d {
            let mut l = b[i] as f64;
            for k in 0..h {
                let mut a = c[k] as f64;
                for j in 0..i {
                    a += x[j] as f64 * w[j * h + k] as f64;
                }
                l += v[i * h + k] as f64 / (1.0 + (-a).exp());
            }
            assert!((got[i] as f64 - l).abs() < 1e-5, "ℓ_{i}: {} vs {l}", got[i]);
        }
    }
}
