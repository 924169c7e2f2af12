//! Builders: the layers of every flow family from a [`FlowConfig`], flat
//! ([`build_flow`]) or multi-scale for images ([`build_multiscale`], see
//! [`crate::multiscale`] for the architecture).

use gen_core::burn::tensor::Device;
use gen_core::nn::masked_linear::random_order;
use gen_core::{GenError, Result, Rng};

use crate::base::LearnedBase;
use crate::config::{FlowConfig, FlowKind};
use crate::flow::{Flow, FlowLayer};
use crate::masks::{MaskKind, Split, coupling_mask};
use crate::multiscale::{ImageLayout, squeeze_indices};
use crate::transforms::{
    ActNorm, Conv1x1, Coupling, CouplingKind, Logit, LuLinear, MaskedAutoregressive, Permutation,
    PermutationKind, SplineAutoregressive, SplineCoupling,
};

impl FlowConfig {
    /// A coupling layer of this configuration on `split`: conditioner widths,
    /// activation and context from the config, zero last layer (identity
    /// start), and the config's scale map (clamp or Glow's sigmoid).
    pub fn coupling(
        &self,
        kind: CouplingKind,
        split: &Split,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<FlowLayer> {
        Ok(FlowLayer::Coupling(
            Coupling::with_split(
                kind,
                split,
                &self.hidden,
                self.activation,
                self.context_dim,
                true,
                rng,
                device,
            )?
            .with_scale_clamp(self.scale_clamp)
            .with_sigmoid_scale(self.sigmoid_scale),
        ))
    }
}

/// Builds the flow of `config` on `device` with weights from `rng`.
pub fn build_flow(config: &FlowConfig, rng: &mut Rng, device: &Device) -> Result<Flow> {
    config.validate()?;
    let d = config.dim;
    let c = config.context_dim;
    let mut layers = Vec::new();
    let perm = |rng: &mut Rng| -> Result<Option<FlowLayer>> {
        Ok(match config.permutation {
            PermutationKind::Reverse => {
                Some(FlowLayer::Permutation(Permutation::reverse(d, device)?))
            }
            PermutationKind::Random => {
                Some(FlowLayer::Permutation(Permutation::random(d, rng, device)?))
            }
            PermutationKind::None => None,
        })
    };
    // Multi-scale image flows build their own stack; `layers` counts per stage there.
    let flat_layers = if config.image.is_some() {
        0
    } else {
        config.layers
    };
    if let Some(layout) = &config.image {
        layers = build_multiscale(config, layout, rng, device)?;
    }
    for k in 0..flat_layers {
        match config.kind {
            FlowKind::RealNvp | FlowKind::Nice => {
                let kind = if config.kind == FlowKind::Nice {
                    CouplingKind::Additive
                } else {
                    CouplingKind::Affine
                };
                let split = Split::from_mask(&coupling_mask(config.mask, d, k)?)?;
                layers.push(config.coupling(kind, &split, rng, device)?);
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                layers.extend(perm(rng)?);
            }
            FlowKind::Glow => {
                // Generative order of one Glow step: coupling, then LU linear, then ActNorm
                // (so the normalizing direction is ActNorm → 1x1 → coupling, as in Glow).
                let split = Split::from_mask(&coupling_mask(config.mask, d, k)?)?;
                layers.push(config.coupling(CouplingKind::Affine, &split, rng, device)?);
                layers.push(FlowLayer::LuLinear(LuLinear::new(d, 0.0, rng, device)));
                layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
            }
            FlowKind::Maf | FlowKind::Iaf => {
                let order: Vec<usize> = match config.permutation {
                    PermutationKind::Random => random_order(d, rng),
                    _ => (1..=d).collect(),
                };
                let l = MaskedAutoregressive::new(
                    order,
                    &config.hidden,
                    config.activation,
                    c,
                    true,
                    rng,
                    device,
                )?
                .with_scale_clamp(config.scale_clamp);
                let l = if config.kind == FlowKind::Iaf {
                    l.inverted()
                } else {
                    l
                };
                layers.push(FlowLayer::Autoregressive(l));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                if config.permutation == PermutationKind::Reverse {
                    layers.push(FlowLayer::Permutation(Permutation::reverse(d, device)?));
                }
            }
            FlowKind::Nsf => {
                let mask = coupling_mask(config.mask, d, k)?;
                layers.push(FlowLayer::Spline(SplineCoupling::new(
                    &mask,
                    &config.hidden,
                    config.activation,
                    c,
                    config.spline_bins,
                    config.spline_bound,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                layers.extend(perm(rng)?);
            }
            FlowKind::NsfAr => {
                let order: Vec<usize> = match config.permutation {
                    PermutationKind::Random => random_order(d, rng),
                    _ => (1..=d).collect(),
                };
                layers.push(FlowLayer::SplineAutoregressive(SplineAutoregressive::new(
                    order,
                    &config.hidden,
                    config.activation,
                    c,
                    config.spline_bins,
                    config.spline_bound,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
                if config.permutation == PermutationKind::Reverse {
                    layers.push(FlowLayer::Permutation(Permutation::reverse(d, device)?));
                }
            }
            FlowKind::Cnf => {
                layers.push(FlowLayer::Cnf(crate::transforms::Cnf::new(
                    d,
                    c,
                    &config.hidden,
                    config.activation,
                    &config.cnf,
                    true,
                    rng,
                    device,
                )?));
                if config.actnorm {
                    layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
                }
            }
        }
    }
    if config.kind == FlowKind::Nice {
        layers.push(FlowLayer::ActNorm(ActNorm::new(d, device)));
    }
    if let Some(alpha) = config.logit {
        layers.push(FlowLayer::Logit(Logit { alpha, dim: d }));
    }
    let base = LearnedBase::build(
        config.base,
        d,
        &config.hidden,
        config.activation,
        c,
        rng,
        device,
    )?;
    Ok(Flow {
        layers,
        base,
        dim: d,
        context_dim: c,
    })
}

/// The layers of a multi-scale RealNVP or Glow, in generative order.
pub fn build_multiscale(
    config: &FlowConfig,
    layout: &ImageLayout,
    rng: &mut Rng,
    device: &Device,
) -> Result<Vec<FlowLayer>> {
    layout.validate(config.dim)?;
    let d = config.dim;
    let k = config.layers;
    let glow = config.kind == FlowKind::Glow;
    let (mut c, mut h, mut w) = (layout.channels, layout.height, layout.width);
    // Built in the normalizing order (data → base), reversed at the end.
    let mut norm: Vec<FlowLayer> = Vec::new();
    let coupling = |mask: Vec<f32>, rng: &mut Rng| -> Result<FlowLayer> {
        let split = Split::from_prefix_mask(&mask, d)?;
        config.coupling(CouplingKind::Affine, &split, rng, device)
    };
    let squeeze = |c: usize, h: usize, w: usize| -> Result<FlowLayer> {
        // The Permutation's generative direction un-squeezes, so its
        // normalizing direction (used data → base) squeezes.
        let sq = squeeze_indices(c, h, w);
        let mut unsqueeze: Vec<usize> = (0..d).collect();
        for (k, &j) in sq.iter().enumerate() {
            unsqueeze[j] = k;
        }
        Ok(FlowLayer::Permutation(Permutation::new(unsqueeze, device)?))
    };
    // Per-channel ActNorm, as Glow: one scale and shift per channel of the active part.
    let actnorm = |norm: &mut Vec<FlowLayer>, c: usize, h: usize, w: usize| -> Result<()> {
        if config.actnorm || glow {
            norm.push(FlowLayer::ActNorm(ActNorm::per_channel(
                c,
                h * w,
                d,
                device,
            )?));
        }
        Ok(())
    };
    let glow_steps = |norm: &mut Vec<FlowLayer>, c: usize, h: usize, w: usize, rng: &mut Rng| {
        let active = c * h * w;
        for step in 0..k {
            actnorm(norm, c, h, w)?;
            norm.push(FlowLayer::Conv1x1(Conv1x1::new(c, h * w, d, rng, device)?));
            let mask = coupling_mask(MaskKind::Channel { channels: c }, active, step)?;
            norm.push(coupling(mask, rng)?);
        }
        Ok::<(), GenError>(())
    };
    for _ in 0..layout.scales {
        if glow {
            norm.push(squeeze(c, h, w)?);
            (c, h, w) = (4 * c, h / 2, w / 2);
            glow_steps(&mut norm, c, h, w, rng)?;
        } else {
            for step in 0..k {
                let mask = coupling_mask(MaskKind::Checkerboard { h, w }, c * h * w, step)?;
                norm.push(coupling(mask, rng)?);
                actnorm(&mut norm, c, h, w)?;
            }
            norm.push(squeeze(c, h, w)?);
            (c, h, w) = (4 * c, h / 2, w / 2);
            for step in 0..k {
                let mask = coupling_mask(MaskKind::Channel { channels: c }, c * h * w, step)?;
                norm.push(coupling(mask, rng)?);
                actnorm(&mut norm, c, h, w)?;
            }
        }
        // Split: the second half of the channels is factored out.
        c /= 2;
    }
    if glow {
        if c >= 2 {
            glow_steps(&mut norm, c, h, w, rng)?;
        }
    } else {
        for step in 0..k + 1 {
            let mask = coupling_mask(MaskKind::Checkerboard { h, w }, c * h * w, step)?;
            norm.push(coupling(mask, rng)?);
            actnorm(&mut norm, c, h, w)?;
        }
    }
    norm.reverse();
    Ok(norm)
}
