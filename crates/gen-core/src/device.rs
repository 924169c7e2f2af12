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
        v
    }

    /// The lower-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
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
            other => Err(GenError::config(
                "backend",
                other,
                "unknown backend",
                "use one of: ndarray, flex, wgpu",
            )),
        }
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
