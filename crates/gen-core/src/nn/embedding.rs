//! Sinusoidal embedding of a continuous scalar (diffusion time, ODE time).
//!
//! e(t)_{2i} = sin(t · ω_i), e(t)_{2i+1} = cos(t · ω_i), ω_i = max_period^(−i/(dim/2))
//! (Vaswani et al. 2017; DDPM's timestep embedding), for float t.

use burn::tensor::{Device, Tensor, TensorData};

/// Embeds `t` (`[batch]`) into `[batch, dim]` (`dim` even).
pub fn sinusoidal_embedding(t: Tensor<1>, dim: usize, max_period: f64) -> Tensor<2> {
    let half = (dim / 2).max(1);
    let device: Device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|i| (max_period.powf(-(i as f64) / half as f64)) as f32)
        .collect();
    let freqs = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device);
    let args = t.unsqueeze_dim::<2>(1) * freqs.unsqueeze_dim(0);
    Tensor::cat(vec![args.clone().sin(), args.cos()], 1)
}
