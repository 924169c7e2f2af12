//! Run-time backend choice: one model code, any burn device.
//!
//! burn 0.22 puts the backend in the [`Device`]: a model is written once
//! against `Tensor<D>` and runs wherever its tensors were created. This module
//! maps the CLI's `--backend ndarray|flex|wgpu` to a device and turns a
//! missing wgpu adapter into a clear error instead of a panic.

use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{GenError, Result};

/// A compute backend, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn-ndarray on the CPU (deprecated upstream, kept because users ask for it).
    Ndarray,
    /// burn-flex, burn's recommended pure-Rust CPU backend.
    Flex,
    /// wgpu (Vulkan/Metal/DX12; Mesa's lavapipe gives a software Vulkan device).
    Wgpu,
    /// CUDA (NVIDIA GPUs; the `cuda` feature). The device index is 0, or the
    /// one [`set_cuda_index`] gave this thread (burn's DDP runs one thread
    /// per GPU).
    Cuda,
}

#[cfg(feature = "cuda")]
thread_local! {
    static CUDA_INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Makes `Backend::Cuda` mean GPU `index` on this thread (one thread per
/// device under burn's DDP, see `distributed::burn_ddp`).
#[cfg(feature = "cuda")]
pub fn set_cuda_index(index: usize) {
    CUDA_INDEX.with(|c| c.set(index));
}

impl Backend {
    /// Every backend compiled into this build.
    pub fn enabled() -> Vec<Backend> {
        let mut v = Vec::new();
        if cfg!(feature = "ndarray") {
            v.push(Backend::Ndarray);
        }
        if cfg!(feature = "flex") {
            v.push(Backend::Flex);
        }
        if cfg!(feature = "wgpu") {
            v.push(Backend::Wgpu);
        }
        if cfg!(feature = "cuda") {
            v.push(Backend::Cuda);
        }
        v
    }

    /// The lower-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// The inference device of this backend (no autodiff graph).
    pub fn device(self) -> Result<Device> {
        match self {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_device(),
            #[cfg(feature = "cuda")]
            Backend::Cuda => cuda_device(CUDA_INDEX.with(|c| c.get())),
            #[allow(unreachable_patterns)]
            other => Err(GenError::Backend {
                backend: other.name().into(),
                why: "this build was compiled without it".into(),
                fix: format!(
                    "rebuild with the `{0}` feature: `cargo install --path crates/genlab \
                     --features {0}` for the command line (its default features include \
                     every backend), gen-core's `{0}` feature for a library",
                    other.name()
                ),
            }),
        }
    }

    /// The training device of this backend: the same device with autodiff.
    pub fn train_device(self) -> Result<Device> {
        Ok(self.device()?.autodiff())
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ndarray" => Ok(Backend::Ndarray),
            "flex" => Ok(Backend::Flex),
            "wgpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            other => Err(GenError::config(
                "backend",
                other,
                "unknown backend",
                "use one of: ndarray, flex, wgpu, cuda",
            )),
        }
    }
}

/// CUDA device `index`, checked by creating one small tensor on it: burn
/// panics when there is no driver or no such GPU, which becomes an error
/// that says so.
#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device> {
    let device = Device::cuda(index);
    let probe = device.clone();
    // burn panics on a missing driver or GPU; the probe turns that into an error.
    let ok = std::panic::catch_unwind(move || {
        let t = crate::tensor::vec_to_tensor(&[1.0], &probe);
        crate::tensor::to_vec(t).map(|v| v.len()).unwrap_or(0)
    });
    match ok {
        Ok(1) => Ok(device),
        _ => Err(GenError::Backend {
            backend: "cuda".into(),
            why: format!(
                "CUDA device {index} could not be initialised (no NVIDIA driver, or no GPU with that index)"
            ),
            fix: "check `nvidia-smi` lists the GPU, or use --backend flex".into(),
        }),
    }
}

/// Initialises wgpu once per process and remembers the outcome.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    use burn::tensor::DeviceKind;
    use std::sync::OnceLock;
    static WGPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    let outcome = WGPU.get_or_init(|| {
        // Prefer the best adapter; fall back to a CPU (software) adapter such as lavapipe.
        let first = Device::wgpu_options()
            .device_kind(DeviceKind::DefaultDevice)
            .init();
        match first {
            Ok(d) => Ok(d),
            Err(e1) => Device::wgpu_options()
                .device_kind(DeviceKind::Cpu)
                .init()
                .map_err(|e2| format!("default adapter: {e1}; CPU adapter: {e2}")),
        }
    });
    outcome.clone().map_err(|why| GenError::Backend {
        backend: "wgpu".into(),
        why: format!("no wgpu adapter could be initialised ({why})"),
        fix: "install a Vulkan driver (on Debian/Ubuntu: `apt-get install mesa-vulkan-drivers` \
              gives the software lavapipe device), or use --backend flex"
            .into(),
    })
}
