//! Helpers for the unit tests of the neural blocks: the CPU devices every
//! mathematical check runs on, and host-built inputs (device RNG streams
//! differ between backends, so inputs never come from them).

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng as _;

use crate::device::Backend;
use crate::rng_from_seed;

/// The enabled CPU devices (ndarray, flex). wgpu is compared through
/// [`crate::parity`] in `tests/nn_blocks.rs`.
pub fn cpu_devices() -> Vec<Device> {
    let devices: Vec<Device> = Backend::enabled()
        .into_iter()
        .filter(|b| *b != Backend::Wgpu)
        .map(|b| b.device().expect("CPU backends always start"))
        .collect();
    assert!(!devices.is_empty(), "no CPU backend enabled");
    devices
}

/// `n` values uniform in [−1, 1) from `seed`.
pub fn host(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rng_from_seed(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A rank-3 tensor from host values.
pub fn t3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// A rank-4 tensor from host values.
pub fn t4(v: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
