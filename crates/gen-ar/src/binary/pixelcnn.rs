//! PixelCNN (van den Oord et al. 2016) for binary images.
//!
//! Pixels are generated in raster order (row by row, left to right). Masked
//! convolutions keep that order causal: a k × k kernel centred on pixel
//! (r, c) keeps only the taps above the centre row and those left of the
//! centre in its row,
//!
//! ```text
//! type A (first layer):  mask(u, v) = 1[u < k/2] + 1[u = k/2, v < k/2]
//! type B (later layers): mask(u, v) = 1[u < k/2] + 1[u = k/2, v ≤ k/2]
//! ```
//!
//! Type A excludes the centre, so the first feature map at (r, c) sees only
//! pixels before (r, c); type B may then include the centre, because after
//! layer A the centre feature already depends only on earlier pixels. Stacks
//! of these have the known "blind spot" (some earlier pixels above-right are
//! never seen), which loses context but never breaks causality.
//!
//! Network: masked conv A (1 → C, k × k) → R residual blocks
//! h ← h + 1×1(ReLU(B 3×3(ReLU(h)))) → ReLU → 1×1 (C → C) → ReLU → 1×1
//! (C → 1): one logit per pixel.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData, activation};
use gen_core::burn;
use gen_core::nn::Init;
use gen_core::nn::conv::{ConvShape, conv2d as conv_layer};
use gen_core::optim::OptimConfig;
use gen_core::{GenError, Result, Rng};

use super::{ArNet, BinaryAr, positive, raster_order};

/// Which taps of the centre row a masked convolution keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskType {
    /// Excludes the centre tap (the first layer: a pixel never sees itself).
    A,
    /// Includes the centre tap (every later layer).
    B,
}

/// The `k × k` mask, row-major.
pub fn conv_mask(kernel: usize, kind: MaskType) -> Vec<f32> {
    let c = kernel / 2;
    let mut m = vec![0.0; kernel * kernel];
    for u in 0..kernel {
        for v in 0..kernel {
            let keep = u < c || (u == c && (v < c || (v == c && kind == MaskType::B)));
            if keep {
                m[u * kernel + v] = 1.0;
            }
        }
    }
    m
}

/// A stride-1, same-padded convolution whose `k × k` kernel is multiplied
/// by a fixed causal mask.
#[derive(Module, Debug)]
pub struct MaskedConv2d {
    /// The underlying convolution (weights `[c_out, c_in, k, k]`).
    pub conv: Conv2d,
    /// The mask `[k, k]`, row-major, broadcast over channels.
    #[module(skip)]
    pub mask: Vec<f32>,
    /// Kernel side k (odd).
    #[module(skip)]
    pub kernel: usize,
}

impl MaskedConv2d {
    /// A masked `kernel × kernel` convolution `c_in → c_out` with weights
    /// drawn from `rng` (PyTorch's default initialisation).
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        kind: MaskType,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        Self {
            conv: conv_layer(
                ConvShape::same(c_in, c_out, kernel),
                Init::Default,
                rng,
                device,
            ),
            mask: conv_mask(kernel, kind),
            kernel,
        }
    }

    /// # Shapes
    /// - `x`: `[n, c_in, h, w]` → `[n, c_out, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.kernel;
        let w = self.conv.weight.val();
        let mask = Tensor::<4>::from_data(
            TensorData::new(self.mask.clone(), [1, 1, k, k]),
            &w.device(),
        );
        let p = k / 2;
        conv2d(
            x,
            w * mask,
            self.conv.bias.as_ref().map(|b| b.val()),
            ConvOptions::new([1, 1], [p, p], [1, 1], 1),
        )
    }
}

/// A residual block h ← h + 1×1(ReLU(B 3×3(ReLU(h)))).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// The masked 3 × 3 type-B convolution.
    pub masked: MaskedConv2d,
    /// The 1 × 1 convolution back to the residual stream.
    pub project: Conv2d,
}

impl ResidualBlock {
    /// # Shapes
    /// - `h`: `[n, C, h, w]` → `[n, C, h, w]`
    pub fn forward(&self, h: Tensor<4>) -> Tensor<4> {
        let y = self.masked.forward(activation::relu(h.clone()));
        h + self.project.forward(activation::relu(y))
    }
}

/// Configuration of a [`PixelCnn`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PixelCnnConfig {
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Feature channels C.
    pub channels: usize,
    /// Side of the first (type A) kernel: odd, at least 3.
    pub kernel: usize,
    /// Number R of residual blocks (type B, 3 × 3).
    pub residual_blocks: usize,
    /// Optimiser settings (Adam by default).
    pub optim: OptimConfig,
}

impl PixelCnnConfig {
    /// A PixelCNN on `height × width` binary images with `channels` channels,
    /// a 5 × 5 first kernel (7 × 7 from 16 pixels on a side), `residual_blocks`
    /// blocks and Adam.
    pub fn new(height: usize, width: usize, channels: usize, residual_blocks: usize) -> Self {
        Self {
            height,
            width,
            channels,
            kernel: if height.min(width) >= 16 { 7 } else { 5 },
            residual_blocks,
            optim: OptimConfig::default(),
        }
    }

    /// D = height · width.
    pub fn dim(&self) -> usize {
        self.height * self.width
    }

    /// Errors unless the image, the channels and the kernel are usable.
    pub fn validate(&self) -> Result<()> {
        positive(
            "pixelcnn",
            "height",
            self.height,
            "give the image height in pixels",
        )?;
        positive(
            "pixelcnn",
            "width",
            self.width,
            "give the image width in pixels",
        )?;
        positive(
            "pixelcnn",
            "channels",
            self.channels,
            "use e.g. 64 feature channels",
        )?;
        if self.kernel < 3 || self.kernel.is_multiple_of(2) {
            return Err(GenError::config(
                "pixelcnn kernel",
                self.kernel,
                "the first masked kernel must be odd and at least 3 (a 1 x 1 type-A kernel sees nothing)",
                "use 5 for small images, 7 for 28x28",
            ));
        }
        Ok(())
    }
}

/// The PixelCNN network.
#[derive(Module, Debug)]
pub struct PixelCnnNet {
    /// Masked type-A convolution 1 → C.
    pub first: MaskedConv2d,
    /// Residual blocks of type-B convolutions.
    pub blocks: Vec<ResidualBlock>,
    /// 1 × 1 convolution C → C.
    pub head: Conv2d,
    /// 1 × 1 convolution C → 1 (the logits).
    pub out: Conv2d,
    /// Image height.
    #[module(skip)]
    pub height: usize,
    /// Image width.
    #[module(skip)]
    pub width: usize,
}

impl ArNet for PixelCnnNet {
    type Config = PixelCnnConfig;
    const NAME: &'static str = "pixelcnn";
    const LEARN_HOW: &'static str =
        "exact maximum likelihood, all pixels in one pass of masked convolutions (Adam)";
    const SCORE_HOW: &'static str = "exact, chain rule in raster order";

    fn dim(config: &PixelCnnConfig) -> usize {
        config.dim()
    }
    fn optim(config: &PixelCnnConfig) -> &OptimConfig {
        &config.optim
    }
    fn validate(config: &PixelCnnConfig) -> Result<()> {
        config.validate()
    }
    fn init(config: &PixelCnnConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let c = config.channels;
        let first = MaskedConv2d::new(1, c, config.kernel, MaskType::A, rng, device);
        let blocks = (0..config.residual_blocks)
            .map(|_| ResidualBlock {
                masked: MaskedConv2d::new(c, c, 3, MaskType::B, rng, device),
                project: conv_layer(ConvShape::same(c, c, 1), Init::Default, rng, device),
            })
            .collect();
        let head = conv_layer(ConvShape::same(c, c, 1), Init::Default, rng, device);
        let out = conv_layer(ConvShape::same(c, 1, 1), Init::Default, rng, device);
        Ok(Self {
            first,
            blocks,
            head,
            out,
            height: config.height,
            width: config.width,
        })
    }
    fn orders(&self) -> Vec<Vec<usize>> {
        vec![raster_order(self.height * self.width)]
    }
    fn logits(&self, x: Tensor<2>, _k: usize) -> Tensor<2> {
        let [n, d] = x.dims();
        let mut h = self
            .first
            .forward(x.reshape([n, 1, self.height, self.width]));
        for block in &self.blocks {
            h = block.forward(h);
        }
        let h = self.head.forward(activation::relu(h));
        self.out.forward(activation::relu(h)).reshape([n, d])
    }
    fn chunk_rows(config: &PixelCnnConfig) -> usize {
        // Keep one feature map near 4M floats.
        (4_000_000 / (config.dim() * config.channels).max(1)).clamp(1, 4096)
    }
}

/// PixelCNN on binary images.
pub type PixelCnn = BinaryAr<PixelCnnNet>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_rows_above_and_the_taps_to_the_left() {
        #[rustfmt::skip]
        let a = [
            1.0, 1.0, 1.0,
            1.0, 0.0, 0.0,
            0.0, 0.0, 0.0,
        ];
        assert_eq!(conv_mask(3, MaskType::A), a);
        let mut b = a;
        b[4] = 1.0;
        assert_eq!(conv_mask(3, MaskType::B), b);
        // k × k type A keeps ⌊k²/2⌋ taps, type B one more.
        for k in [3, 5, 7] {
            let sa: f32 = conv_mask(k, MaskType::A).iter().sum();
            let sb: f32 = conv_mask(k, MaskType::B).iter().sum();
            assert_eq!(sa as usize, k * k / 2);
            assert_eq!(sb as usize, k * k / 2 + 1);
        }
    }
}
