//! A small U-Net denoiser for images (Ronneberger et al. 2015, as used by
//! Ho et al. 2020 and Nichol & Dhariwal 2021), built from gen-core's shared
//! blocks: convolutions drawn from the host RNG, GroupNorm, nearest
//! up-sampling and the sinusoidal time embedding.
//!
//! # Architecture
//!
//! For widths `[c₀, …, c_{L−1}]` (one per resolution level) and `B` residual
//! blocks per level, on an image `[C, H, W]` at timestep t:
//!
//! ```text
//! e   = W₂ SiLU(W₁ sin/cos(t) + b₁) + b₂                    time embedding, width 4c₀
//! h   = conv₃ₓ₃(x)                                          C → c₀
//! down, level l = 0 … L−1:  B × [h = Res(h, e); push h]     → c_l
//!                           h = conv₃ₓ₃,stride 2(h)         (l < L−1; side halves)
//! mid:                      h = Res(h, e); h = Attn(h); h = Res(h, e)
//! up, level l = L−1 … 0:    B × [h = Res([h, pop], e)]      (c + c_l) → c_l
//!                           h = conv₃ₓ₃(upsample₂(h))       (l > 0; side doubles, c_l → c_{l−1})
//! out = conv₃ₓ₃(SiLU(GN(h)))                                c₀ → C
//! ```
//!
//! with the residual block (time injected as a per-channel scale and shift
//! of the second normalisation, Nichol & Dhariwal's `use_scale_shift_norm`)
//!
//! ```text
//! Res(x, e) = skip(x) + conv₂(SiLU(GN₂(conv₁(SiLU(GN₁(x)))) ⊙ (1 + s) + b))
//! [s, b]    = W_e SiLU(e) + b_e                             (2 c_out values per example)
//! skip      = identity, or a 1 × 1 convolution when c_in ≠ c_out
//! ```
//!
//! and multi-head self-attention over the (H/2^{L−1})·(W/2^{L−1}) positions
//! of the lowest resolution, Attn(x) = x + W_o MHA(GN(x)) (no mask).
//!
//! Every down-sampling halves the side exactly, so that the up path's
//! feature maps line up with the skips: H and W must be divisible by
//! 2^{L−1} ([`UNetConfig::validate`] refuses other sizes).
//!
//! All weights are drawn from the host RNG with PyTorch's default
//! initialisation, in a fixed order, so one seed gives one network on every
//! device. GroupNorm starts at γ = 1, β = 0 and draws nothing.

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::silu;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};
use gen_core::burn;
use gen_core::nn::conv::{ConvShape, conv2d};
use gen_core::nn::{
    GroupNorm, GroupNormConfig, Init, linear, sinusoidal_time_embedding, upsample_nearest,
};
use gen_core::{GenError, Result, Rng};
use serde::{Deserialize, Serialize};

/// Shape of a [`UNet`] (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Image channels C (1 for grey images).
    pub channels: usize,
    /// Image height H.
    pub height: usize,
    /// Image width W.
    pub width: usize,
    /// Channel width of every resolution level, from the image inward; L
    /// levels halve the side L − 1 times.
    pub widths: Vec<usize>,
    /// Residual blocks per level on the way down (and up).
    pub blocks: usize,
    /// Self-attention between the two middle blocks, at the lowest resolution.
    pub attention: bool,
    /// Attention heads (divide the last width).
    pub heads: usize,
    /// GroupNorm groups (divide every width).
    pub groups: usize,
    /// Width of the sinusoidal timestep embedding (even).
    pub time_dim: usize,
}

impl UNetConfig {
    /// The default U-Net for `channels × height × width` images: widths
    /// `[32, 64]` (one halving, 8 → 4) up to a side of 16, `[16, 32, 64]`
    /// (two halvings, 28 → 14 → 7) above, narrower at full resolution where
    /// a 28 × 28 convolution costs most; one block per level, attention with
    /// 4 heads at the lowest resolution, 8 groups, a 32-wide time embedding.
    pub fn for_image(channels: usize, height: usize, width: usize) -> Self {
        let widths = if height.max(width) <= 16 {
            vec![32, 64]
        } else {
            vec![16, 32, 64]
        };
        Self {
            channels,
            height,
            width,
            widths,
            blocks: 1,
            attention: true,
            heads: 4,
            groups: 8,
            time_dim: 32,
        }
    }

    /// Width of the time embedding e(t), 4c₀ (a class embedding adds to it).
    pub fn time_embed_width(&self) -> usize {
        4 * self.widths.first().copied().unwrap_or(0)
    }

    /// The data width C·H·W of one flattened image.
    pub fn data_dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The total down-sampling factor 2^{L−1}.
    pub fn factor(&self) -> usize {
        1 << self.widths.len().saturating_sub(1)
    }

    /// The side (height, width) at the lowest resolution.
    pub fn lowest(&self) -> (usize, usize) {
        (self.height / self.factor(), self.width / self.factor())
    }

    /// Errors with cause and fix for: an empty image, no or zero widths,
    /// widths the groups do not divide, a last width the heads do not
    /// divide, an odd time embedding, no blocks, and image sides not
    /// divisible by 2^{L−1} (the skips would not line up).
    pub fn validate(&self) -> Result<()> {
        if self.channels == 0 || self.height == 0 || self.width == 0 {
            return Err(GenError::config(
                "U-Net image shape",
                format!("{}x{}x{}", self.channels, self.height, self.width),
                "an image needs at least one channel and one pixel",
                "pass the data's channels, height and width (1x8x8 for digits, 1x28x28 for MNIST)",
            ));
        }
        if self.widths.is_empty() || self.widths.contains(&0) || self.blocks == 0 {
            return Err(GenError::config(
                "U-Net widths (--unet-channels)",
                format!("{:?}, {} blocks per level", self.widths, self.blocks),
                "every level needs a positive width and at least one residual block",
                "use e.g. --unet-channels 32,64 with 1 block per level",
            ));
        }
        if self.groups == 0 || self.widths.iter().any(|w| !w.is_multiple_of(self.groups)) {
            return Err(GenError::config(
                "U-Net widths (--unet-channels)",
                format!("{:?} with {} GroupNorm groups", self.widths, self.groups),
                "GroupNorm splits every width into equal groups",
                format!(
                    "use widths that are multiples of {}, e.g. 32,64",
                    self.groups.max(1)
                ),
            ));
        }
        let last = *self.widths.last().unwrap_or(&0);
        if self.attention && (self.heads == 0 || !last.is_multiple_of(self.heads)) {
            return Err(GenError::config(
                "U-Net attention heads",
                format!("{} heads over width {last}", self.heads),
                "the heads split the lowest level's channels equally",
                format!("use a number of heads that divides {last}, e.g. 1 or 4"),
            ));
        }
        if self.time_dim < 2 || !self.time_dim.is_multiple_of(2) {
            return Err(GenError::config(
                "U-Net time_dim",
                self.time_dim,
                "the sinusoidal embedding has a sine and a cosine per frequency",
                "use an even width ≥ 2, e.g. 32",
            ));
        }
        let f = self.factor();
        if !self.height.is_multiple_of(f) || !self.width.is_multiple_of(f) {
            let levels = self.widths.len();
            let fits = (1..=levels)
                .rev()
                .find(|l| {
                    let g = 1 << (l - 1);
                    self.height.is_multiple_of(g) && self.width.is_multiple_of(g)
                })
                .unwrap_or(1);
            return Err(GenError::config(
                "image size for the U-Net",
                format!("{}x{}", self.height, self.width),
                format!(
                    "{levels} levels (--unet-channels {:?}) halve the side {} times, so height and width must be divisible by {f} for the up-sampled maps to line up with the skip connections",
                    self.widths,
                    levels - 1
                ),
                format!(
                    "use at most {fits} level(s) for {}x{} images (e.g. --unet-channels {}), or pad the images to a multiple of {f}",
                    self.height,
                    self.width,
                    self.widths[..fits]
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ));
        }
        Ok(())
    }

    /// Builds the network with weights drawn from `rng` (module docs).
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<UNet> {
        self.validate()?;
        let w = &self.widths;
        let (levels, b) = (w.len(), self.blocks);
        let temb = self.time_embed_width();
        let def = Init::Default;
        let time1 = linear(self.time_dim, temb, def, rng, device);
        let time2 = linear(temb, temb, def, rng, device);
        let stem = conv2d(ConvShape::same(self.channels, w[0], 3), def, rng, device);
        let mut down = Vec::with_capacity(levels * b);
        let mut downsample = Vec::with_capacity(levels - 1);
        let mut skips = Vec::with_capacity(levels * b);
        let mut c = w[0];
        for (l, &width) in w.iter().enumerate() {
            for _ in 0..b {
                down.push(ResBlock::init(c, width, temb, self.groups, rng, device)?);
                c = width;
                skips.push(c);
            }
            if l + 1 < levels {
                let shape = ConvShape {
                    stride: 2,
                    ..ConvShape::same(c, c, 3)
                };
                downsample.push(conv2d(shape, def, rng, device));
            }
        }
        let mid1 = ResBlock::init(c, c, temb, self.groups, rng, device)?;
        let mid_attn = if self.attention {
            Some(SpatialAttention::init(
                c,
                self.heads,
                self.groups,
                rng,
                device,
            )?)
        } else {
            None
        };
        let mid2 = ResBlock::init(c, c, temb, self.groups, rng, device)?;
        let mut up = Vec::with_capacity(levels * b);
        let mut upsample = Vec::with_capacity(levels - 1);
        for l in (0..levels).rev() {
            for _ in 0..b {
                let skip = skips.pop().unwrap_or(0);
                up.push(ResBlock::init(
                    c + skip,
                    w[l],
                    temb,
                    self.groups,
                    rng,
                    device,
                )?);
                c = w[l];
            }
            if l > 0 {
                upsample.push(conv2d(ConvShape::same(c, w[l - 1], 3), def, rng, device));
                c = w[l - 1];
            }
        }
        let out_norm = GroupNormConfig::new(self.groups, c).init(device)?;
        let out_conv = conv2d(ConvShape::same(c, self.channels, 3), def, rng, device);
        Ok(UNet {
            time1,
            time2,
            stem,
            down,
            downsample,
            mid1,
            mid_attn,
            mid2,
            up,
            upsample,
            out_norm,
            out_conv,
            config: self.clone(),
        })
    }
}

/// A residual block with time injection by scale and shift (module docs).
#[derive(Module, Debug)]
pub struct ResBlock {
    /// GN₁ over the input channels.
    pub norm1: GroupNorm,
    /// conv₁, c_in → c_out.
    pub conv1: Conv2d,
    /// SiLU(e) → [scale, shift], 2·c_out values.
    pub time: Linear,
    /// GN₂ over the output channels.
    pub norm2: GroupNorm,
    /// conv₂, c_out → c_out.
    pub conv2: Conv2d,
    /// 1 × 1 convolution of the residual path when c_in ≠ c_out.
    pub skip: Option<Conv2d>,
}

impl ResBlock {
    /// The block `c_in → c_out` for a time embedding of width `temb`;
    /// weights drawn in the order conv₁, time, conv₂, skip.
    pub fn init(
        c_in: usize,
        c_out: usize,
        temb: usize,
        groups: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let def = Init::Default;
        let norm1 = GroupNormConfig::new(groups, c_in).init(device)?;
        let conv1 = conv2d(ConvShape::same(c_in, c_out, 3), def, rng, device);
        let time = linear(temb, 2 * c_out, def, rng, device);
        let norm2 = GroupNormConfig::new(groups, c_out).init(device)?;
        let conv2 = conv2d(ConvShape::same(c_out, c_out, 3), def, rng, device);
        let skip =
            (c_in != c_out).then(|| conv2d(ConvShape::same(c_in, c_out, 1), def, rng, device));
        Ok(Self {
            norm1,
            conv1,
            time,
            norm2,
            conv2,
            skip,
        })
    }

    /// # Shapes
    /// - `x`: `[batch, c_in, h, w]`, `e`: SiLU of the time embedding
    ///   `[batch, temb]` → `[batch, c_out, h, w]`
    pub fn forward(&self, x: Tensor<4>, e: Tensor<2>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let [n, c, _, _] = h.dims();
        let ss = self.time.forward(e);
        let scale = ss.clone().slice([0..n, 0..c]).reshape([n, c, 1, 1]);
        let shift = ss.slice([0..n, c..2 * c]).reshape([n, c, 1, 1]);
        let h = self.norm2.forward(h) * (scale + 1.0) + shift;
        let h = self.conv2.forward(silu(h));
        let res = match &self.skip {
            Some(s) => s.forward(x),
            None => x,
        };
        res + h
    }
}

/// Multi-head self-attention over the positions of a feature map, with a
/// residual connection: x + W_o MHA(GN(x)) (no mask; every position sees
/// every other).
#[derive(Module, Debug)]
pub struct SpatialAttention {
    /// GN before the projections.
    pub norm: GroupNorm,
    /// Query projection over channels.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// Output projection.
    pub output: Linear,
    /// Heads H.
    #[module(skip)]
    pub heads: usize,
}

impl SpatialAttention {
    /// `heads` heads over `c` channels; projections drawn in the order
    /// query, key, value, output.
    pub fn init(
        c: usize,
        heads: usize,
        groups: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        if heads == 0 || !c.is_multiple_of(heads) {
            return Err(GenError::config(
                "attention heads",
                format!("{heads} heads over {c} channels"),
                "the heads split the channels equally",
                "use a number of heads that divides the channels",
            ));
        }
        let def = Init::Default;
        Ok(Self {
            norm: GroupNormConfig::new(groups, c).init(device)?,
            query: linear(c, c, def, rng, device),
            key: linear(c, c, def, rng, device),
            value: linear(c, c, def, rng, device),
            output: linear(c, c, def, rng, device),
            heads,
        })
    }

    /// # Shapes
    /// - `x`: `[batch, c, h, w]` → same shape
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let (p, heads) = (h * w, self.heads);
        // [n, c, h, w] → [n, positions, c]
        let tokens = self
            .norm
            .forward(x.clone())
            .reshape([n, c, p])
            .swap_dims(1, 2);
        let split = |y: Tensor<3>| y.reshape([n, p, heads, c / heads]).swap_dims(1, 2);
        let q = split(self.query.forward(tokens.clone()));
        let k = split(self.key.forward(tokens.clone()));
        let v = split(self.value.forward(tokens));
        let a =
            burn::tensor::module::attention(q, k, v, None, None, AttentionModuleOptions::default());
        let y = self.output.forward(a.swap_dims(1, 2).reshape([n, p, c]));
        x + y.swap_dims(1, 2).reshape([n, c, h, w])
    }
}

/// The U-Net (module docs).
#[derive(Module, Debug)]
pub struct UNet {
    /// First layer of the time MLP.
    pub time1: Linear,
    /// Second layer of the time MLP.
    pub time2: Linear,
    /// Image → c₀ channels.
    pub stem: Conv2d,
    /// Residual blocks of the down path, level by level.
    pub down: Vec<ResBlock>,
    /// Stride-2 convolutions between levels.
    pub downsample: Vec<Conv2d>,
    /// First middle block.
    pub mid1: ResBlock,
    /// Self-attention at the lowest resolution.
    pub mid_attn: Option<SpatialAttention>,
    /// Second middle block.
    pub mid2: ResBlock,
    /// Residual blocks of the up path (each takes a skip), lowest level first.
    pub up: Vec<ResBlock>,
    /// Convolutions after each nearest up-sampling.
    pub upsample: Vec<Conv2d>,
    /// GN before the output convolution.
    pub out_norm: GroupNorm,
    /// c₀ → image channels.
    pub out_conv: Conv2d,
    /// The shape.
    #[module(skip)]
    pub config: UNetConfig,
}

impl UNet {
    /// The time embedding e(t) (module docs).
    ///
    /// # Shapes
    /// - `t`: `[batch]` → `[batch, 4c₀]`
    pub fn time_embedding(&self, t: Tensor<1>) -> Tensor<2> {
        let s = sinusoidal_time_embedding(t, self.config.time_dim, 10_000.0);
        self.time2.forward(silu(self.time1.forward(s)))
    }

    /// # Shapes
    /// - `x`: `[batch, C, H, W]`, `t`: `[batch]` → `[batch, C, H, W]`
    pub fn forward_images(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self.forward_images_conditioned(x, t, None)
    }

    /// [`UNet::forward_images`] with a class embedding `class` added to the
    /// time embedding before its SiLU (diffusers' `class_embedding`).
    ///
    /// # Shapes
    /// - `x`: `[batch, C, H, W]`, `t`: `[batch]`, `class`: `[batch, 4c₀]` →
    ///   `[batch, C, H, W]`
    pub fn forward_images_conditioned(
        &self,
        x: Tensor<4>,
        t: Tensor<1>,
        class: Option<Tensor<2>>,
    ) -> Tensor<4> {
        let e = match class {
            Some(c) => silu(self.time_embedding(t) + c),
            None => silu(self.time_embedding(t)),
        };
        let b = self.config.blocks;
        let mut h = self.stem.forward(x);
        let mut skips = Vec::with_capacity(self.down.len());
        for (i, block) in self.down.iter().enumerate() {
            h = block.forward(h, e.clone());
            skips.push(h.clone());
            if (i + 1) % b == 0
                && let Some(d) = self.downsample.get(i / b)
            {
                h = d.forward(h);
            }
        }
        h = self.mid1.forward(h, e.clone());
        if let Some(a) = &self.mid_attn {
            h = a.forward(h);
        }
        h = self.mid2.forward(h, e.clone());
        for (i, block) in self.up.iter().enumerate() {
            let skip = skips.pop().expect("one skip per up block");
            h = block.forward(Tensor::cat(vec![h, skip], 1), e.clone());
            if (i + 1) % b == 0
                && let Some(u) = self.upsample.get(i / b)
            {
                h = u.forward(upsample_nearest(h, 2));
            }
        }
        self.out_conv.forward(silu(self.out_norm.forward(h)))
    }

    /// The network on flattened images (one C·H·W row per image, channel
    /// major), as the samplers and the bound hold them.
    ///
    /// # Shapes
    /// - `x`: `[batch, C·H·W]`, `t`: `[batch]` → `[batch, C·H·W]`
    pub fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.forward_conditioned(x, t, None)
    }

    /// [`UNet::forward`] with an optional class embedding
    /// ([`UNet::forward_images_conditioned`]).
    ///
    /// # Shapes
    /// - `x`: `[batch, C·H·W]`, `t`: `[batch]`, `class`: `[batch, 4c₀]` →
    ///   `[batch, C·H·W]`
    pub fn forward_conditioned(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        class: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let [n, d] = x.dims();
        let c = &self.config;
        let img = x.reshape([n, c.channels, c.height, c.width]);
        self.forward_images_conditioned(img, t, class)
            .reshape([n, d])
    }
}
