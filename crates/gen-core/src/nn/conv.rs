//! 2-D convolutions initialised from the host RNG, so every backend starts from
//! the same weights (burn's `Conv2dConfig::init` draws from per-backend device
//! RNGs).
//!
//! `y[o, i, j] = b[o] + Σ_c Σ_{u,v} W[o, c, u, v] · x[c, s·i + u − p, s·j + v − p]`
//! (zero padding `p`, stride `s`), burn's [`Conv2d`] with weights of shape
//! `[c_out, c_in, k, k]`.
//!
//! The transposed convolution ([`ConvTranspose2dConfig`], burn's
//! [`ConvTranspose2d`] with weights `[c_in, c_out, k, k]`) scatters instead of
//! gathering:
//! `y[o, s·m + u − p, s·n + v − p] += W[c, o, u, v] · x[c, m, n]`, plus `b[o]`.
//! Without bias it is the adjoint of the convolution with the same weight
//! tensor: `⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩`, which is why it is used to
//! up-sample (DCGAN generators, U-Net decoders).

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{GenError, Result};
use crate::nn::linear::Init;
use crate::task::Rng;

/// Shape of a square convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side `k`.
    pub kernel: usize,
    /// Stride `s` (≥ 1).
    pub stride: usize,
    /// Symmetric zero padding `p` on every side.
    pub padding: usize,
}

impl ConvShape {
    /// A stride-1 `k × k` convolution padded to keep the spatial size (`p = ⌊k/2⌋`).
    pub fn same(c_in: usize, c_out: usize, kernel: usize) -> Self {
        Self {
            c_in,
            c_out,
            kernel,
            stride: 1,
            padding: kernel / 2,
        }
    }

    /// Output side for an input side `n`: `⌊(n + 2p − k)/s⌋ + 1` (0 if the kernel does not fit).
    pub fn out_size(&self, n: usize) -> usize {
        (n + 2 * self.padding)
            .checked_sub(self.kernel)
            .map_or(0, |d| d / self.stride.max(1) + 1)
    }
}

/// The convolution of `shape` with weights `[c_out, c_in, k, k]`.
///
/// [`Init::Default`] is PyTorch's `nn.Conv2d` default (Kaiming-uniform with
/// `a = √5`): `W, b ~ U(−1/√fan_in, 1/√fan_in)` with `fan_in = c_in · k²`;
/// [`Init::Normal`] draws `W ~ N(0, std²)` with `b = 0` (DCGAN: `std = 0.02`).
pub fn conv2d(shape: ConvShape, init: Init, rng: &mut Rng, device: &Device) -> Conv2d {
    let ConvShape {
        c_in,
        c_out,
        kernel,
        stride,
        padding,
    } = shape;
    let fan_in = c_in * kernel * kernel;
    let w = init.weights(c_out * c_in * kernel * kernel, fan_in, rng);
    let b = init.biases(c_out, fan_in, rng);
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [c_out, c_in, kernel, kernel]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [c_out]),
            device,
        ))),
        stride: [stride.max(1); 2],
        kernel_size: [kernel; 2],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(padding, padding, padding, padding),
    }
}

/// A square transposed 2-D convolution `c_in → c_out` (see the module docs).
///
/// # Shapes
/// - input `[batch, c_in, h, w]` → `[batch, c_out, h', w']` with
///   `h' = (h − 1)·s − 2p + k + output_padding` ([`Self::out_size`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvTranspose2dConfig {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side `k`.
    pub kernel: usize,
    /// Stride `s` (≥ 1): the up-sampling factor.
    pub stride: usize,
    /// Padding `p` removed from every side of the full output.
    pub padding: usize,
    /// Extra rows/columns added on the bottom/right (`< s`), to pick among the
    /// `s` input sizes a strided convolution maps to the same output size.
    pub output_padding: usize,
    /// Initialisation. [`Init::Default`] matches PyTorch's and burn's
    /// `ConvTranspose2d`: `W, b ~ U(−1/√fan_in, 1/√fan_in)` with
    /// `fan_in = c_out · k²` (the weight's second axis times the kernel area).
    pub init: Init,
}

impl ConvTranspose2dConfig {
    /// The DCGAN up-sampling layer: `k = 4, s = 2, p = 1`, doubling the side
    /// (`h' = 2h`), `W ~ N(0, 0.02²)`.
    pub fn doubling(c_in: usize, c_out: usize) -> Self {
        Self {
            c_in,
            c_out,
            kernel: 4,
            stride: 2,
            padding: 1,
            output_padding: 0,
            init: Init::GPT2,
        }
    }

    /// Output side for an input side `n ≥ 1`: `(n − 1)·s − 2p + k + output_padding`
    /// (0 when the padding removes everything).
    pub fn out_size(&self, n: usize) -> usize {
        ((n.max(1) - 1) * self.stride + self.kernel + self.output_padding)
            .saturating_sub(2 * self.padding)
    }

    /// Builds the layer with weights `[c_in, c_out, k, k]` drawn from `rng`.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<ConvTranspose2d> {
        let Self {
            c_in,
            c_out,
            kernel,
            stride,
            padding,
            output_padding,
            init,
        } = *self;
        if c_in == 0 || c_out == 0 || kernel == 0 || stride == 0 {
            return Err(GenError::config(
                "transposed convolution shape",
                format!("c_in {c_in}, c_out {c_out}, kernel {kernel}, stride {stride}"),
                "channels, kernel and stride must be at least 1",
                "give positive channels, kernel side and stride",
            ));
        }
        if output_padding >= stride {
            return Err(GenError::config(
                "transposed convolution output_padding",
                output_padding,
                format!("must be smaller than the stride {stride}"),
                "use output_padding = (n + 2p − k) mod s for the input side n to recover",
            ));
        }
        let fan_in = c_out * kernel * kernel;
        let w = init.weights(c_in * c_out * kernel * kernel, fan_in, rng);
        let b = init.biases(c_out, fan_in, rng);
        Ok(ConvTranspose2d {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [c_in, c_out, kernel, kernel]),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [c_out]),
                device,
            ))),
            stride: [stride; 2],
            kernel_size: [kernel; 2],
            dilation: [1, 1],
            groups: 1,
            padding: [padding; 2],
            padding_out: [output_padding; 2],
            channels: [c_in, c_out],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host, t4};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;

    /// The convolution `c_in → c_out` and a transposed convolution
    /// `c_out → c_in` sharing its weight tensor, both without bias.
    fn pair(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
        dev: &Device,
    ) -> (Conv2d, ConvTranspose2d) {
        let shape = ConvShape {
            c_in,
            c_out,
            kernel,
            stride,
            padding,
        };
        let mut conv = conv2d(shape, Init::Default, &mut rng_from_seed(11), dev);
        conv.bias = None;
        let mut convt = ConvTranspose2dConfig {
            c_in: c_out,
            c_out: c_in,
            kernel,
            stride,
            padding,
            output_padding,
            init: Init::Zeros,
        }
        .init(&mut rng_from_seed(0), dev)
        .unwrap();
        convt.weight = conv.weight.clone();
        convt.bias = None;
        (conv, convt)
    }

    fn dot(a: Tensor<4>, b: Tensor<4>) -> f64 {
        let a = to_vec(a).unwrap();
        let b = to_vec(b).unwrap();
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// ⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ for strides 1 and 2, with and
    /// without padding, and odd sides that need output_padding to match.
    #[test]
    fn transposed_convolution_is_the_adjoint_of_convolution() {
        // (c_in, c_out, k, s, p, side n)
        let cases = [
            (3, 5, 3, 1, 1, 7),
            (2, 4, 4, 2, 1, 8),
            (2, 3, 3, 2, 1, 9),
            (1, 2, 3, 2, 0, 10),
            (4, 2, 5, 3, 2, 11),
        ];
        for dev in cpu_devices() {
            for (i, &(c_in, c_out, k, s, p, n)) in cases.iter().enumerate() {
                let shape = ConvShape {
                    c_in,
                    c_out,
                    kernel: k,
                    stride: s,
                    padding: p,
                };
                let m = shape.out_size(n);
                let op = (n + 2 * p - k) % s;
                let (conv, convt) = pair(c_in, c_out, k, s, p, op, &dev);
                let b = 2;
                let x = t4(
                    host(b * c_in * n * n, 100 + i as u64),
                    [b, c_in, n, n],
                    &dev,
                );
                let y = t4(
                    host(b * c_out * m * m, 200 + i as u64),
                    [b, c_out, m, m],
                    &dev,
                );
                let cx = conv.forward(x.clone());
                assert_eq!(cx.dims(), [b, c_out, m, m]);
                let ty = convt.forward(y.clone());
                assert_eq!(ty.dims(), [b, c_in, n, n], "case {i}");
                let (lhs, rhs) = (dot(cx, y), dot(x, ty));
                assert!(
                    (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
                    "case {i}: <conv x, y> = {lhs}, <x, convT y> = {rhs}"
                );
            }
        }
    }

    #[test]
    fn transposed_convolution_output_shapes() {
        for dev in cpu_devices() {
            let mut rng = rng_from_seed(1);
            // DCGAN doubling: 4 → 8 → 16.
            let up = ConvTranspose2dConfig::doubling(6, 3);
            let layer = up.init(&mut rng, &dev).unwrap();
            let y = layer.forward(t4(host(2 * 6 * 4 * 4, 1), [2, 6, 4, 4], &dev));
            assert_eq!(y.dims(), [2, 3, 8, 8]);
            assert_eq!(up.out_size(4), 8);
            assert_eq!(up.out_size(8), 16);
            // k = 4, s = 1, p = 0 from a 1 × 1 latent (DCGAN's first layer): 4 × 4.
            let first = ConvTranspose2dConfig {
                c_in: 5,
                c_out: 2,
                kernel: 4,
                stride: 1,
                padding: 0,
                output_padding: 0,
                init: Init::Default,
            };
            let y =
                first
                    .init(&mut rng, &dev)
                    .unwrap()
                    .forward(t4(host(3 * 5, 2), [3, 5, 1, 1], &dev));
            assert_eq!(y.dims(), [3, 2, 4, 4]);
            assert_eq!(first.out_size(1), 4);
            // Stride 3 with output_padding 2: (5 − 1)·3 − 2 + 3 + 2 = 15.
            let odd = ConvTranspose2dConfig {
                c_in: 1,
                c_out: 1,
                kernel: 3,
                stride: 3,
                padding: 1,
                output_padding: 2,
                init: Init::Default,
            };
            let y = odd
                .init(&mut rng, &dev)
                .unwrap()
                .forward(t4(host(25, 3), [1, 1, 5, 5], &dev));
            assert_eq!(y.dims(), [1, 1, 15, 15]);
            assert_eq!(odd.out_size(5), 15);
        }
    }

    /// A 1 × 1 input scatters the kernel: y[o, u, v] = W[c, o, u, v]·x + b[o].
    #[test]
    fn transposed_convolution_of_a_single_pixel_is_the_scaled_kernel_plus_bias() {
        let dev = &cpu_devices()[0];
        let cfg = ConvTranspose2dConfig {
            c_in: 1,
            c_out: 2,
            kernel: 3,
            stride: 2,
            padding: 0,
            output_padding: 0,
            init: Init::Default,
        };
        let layer = cfg.init(&mut rng_from_seed(5), dev).unwrap();
        let w = to_vec(layer.weight.val()).unwrap();
        let b = to_vec(layer.bias.as_ref().unwrap().val()).unwrap();
        let y = to_vec(layer.forward(t4(vec![-1.5], [1, 1, 1, 1], dev))).unwrap();
        assert_eq!(y.len(), 2 * 9);
        for o in 0..2 {
            for uv in 0..9 {
                let want = -1.5 * w[o * 9 + uv] + b[o];
                assert!((y[o * 9 + uv] - want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn transposed_convolution_init_matches_burns_fan_in_and_refuses_bad_shapes() {
        let dev = &cpu_devices()[0];
        let cfg = ConvTranspose2dConfig {
            c_in: 8,
            c_out: 4,
            kernel: 3,
            stride: 2,
            padding: 1,
            output_padding: 1,
            init: Init::Default,
        };
        let layer = cfg.init(&mut rng_from_seed(2), dev).unwrap();
        assert_eq!(layer.weight.dims(), [8, 4, 3, 3]);
        let bound = 1.0 / ((4 * 9) as f32).sqrt();
        let w = to_vec(layer.weight.val()).unwrap();
        assert!(w.iter().all(|x| x.abs() <= bound));
        // Tight: the largest of 288 uniform draws is within 2 % of the bound.
        assert!(w.iter().any(|x| x.abs() > 0.98 * bound));
        let mut rng = rng_from_seed(0);
        for bad in [
            ConvTranspose2dConfig { stride: 0, ..cfg },
            ConvTranspose2dConfig { c_out: 0, ..cfg },
            ConvTranspose2dConfig {
                output_padding: 2,
                ..cfg
            },
        ] {
            assert!(bad.init(&mut rng, dev).is_err(), "{bad:?}");
        }
    }
}
