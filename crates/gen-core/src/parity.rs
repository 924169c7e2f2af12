//! Backend parity: run one body on every enabled device and compare.
//!
//! Inputs must be built on the host (see [`crate::tensor`]); the body returns
//! host values, and every device's values must match the first device's
//! within `|a − b| ≤ atol + rtol·|a|`.

use burn::tensor::Device;

use crate::device::Backend;
use crate::error::{GenError, Result};

/// The devices a parity test runs on: every enabled backend.
///
/// A wgpu device that cannot start is an error when `CI` or
/// `GENLAB_REQUIRE_WGPU` is set (CI installs lavapipe, so a missing adapter
/// there is a bug); on a developer machine without Vulkan it is skipped with a
/// warning on stderr.
pub fn parity_devices() -> Result<Vec<(Backend, Device)>> {
    let strict =
        std::env::var_os("CI").is_some() || std::env::var_os("GENLAB_REQUIRE_WGPU").is_some();
    let mut out = Vec::new();
    for b in Backend::enabled() {
        match b.device() {
            Ok(d) => out.push((b, d)),
            Err(e) if b == Backend::Wgpu && !strict => {
                eprintln!("warning: skipping wgpu in parity tests: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Largest violation found by [`check_parity`].
#[derive(Debug, Clone)]
pub struct ParityReport {
    /// Backends compared, reference first.
    pub backends: Vec<Backend>,
    /// Largest absolute difference to the reference.
    pub max_abs_diff: f64,
}

/// Runs `body` on every enabled device (`autodiff` adds gradient tracking)
/// and checks all results agree with the first within tolerance.
pub fn check_parity<F>(
    name: &str,
    autodiff: bool,
    atol: f64,
    rtol: f64,
    body: F,
) -> Result<ParityReport>
where
    F: Fn(&Device) -> Result<Vec<f32>>,
{
    let mut reference: Option<(Backend, Vec<f32>)> = None;
    let mut backends = Vec::new();
    let mut max_abs_diff: f64 = 0.0;
    for (backend, device) in parity_devices()? {
        let device = if autodiff { device.autodiff() } else { device };
        let values = body(&device)?;
        backends.push(backend);
        match &reference {
            None => reference = Some((backend, values)),
            Some((rb, rv)) => {
                if rv.len() != values.len() {
                    return Err(GenError::Other(format!(
                        "parity '{name}': {rb} gave {} values, {backend} gave {}",
                        rv.len(),
                        values.len()
                    )));
                }
                for (i, (a, b)) in rv.iter().zip(&values).enumerate() {
                    let (a, b) = (*a as f64, *b as f64);
                    let diff = (a - b).abs();
                    // NaN on either side fails too (the comparison is false).
                    let within = diff <= atol + rtol * a.abs();
                    if !within {
                        return Err(GenError::Other(format!(
                            "parity '{name}': value {i} differs: {rb} {a} vs {backend} {b} (|diff| {diff:e} > atol {atol:e} + rtol {rtol:e})"
                        )));
                    }
                    max_abs_diff = max_abs_diff.max(diff);
                }
            }
        }
    }
    Ok(ParityReport {
        backends,
        max_abs_diff,
    })
}
