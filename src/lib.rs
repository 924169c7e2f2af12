//! # genlab-examples
//!
//! The helpers that the top-level examples (`examples/`, run with
//! `cargo run --example NAME` from the repository root) and the
//! cross-family benchmark (`benches/families.rs`) share. Each example is a
//! self-contained program built on the family crates' public APIs; what it
//! takes from here is only:
//!
//! - [`backend`]: the compute backend named by the `GENLAB_BACKEND`
//!   environment variable (`ndarray`, `flex` or `wgpu`; `flex` when unset),
//!   so that `GENLAB_BACKEND=ndarray cargo run --example vae_mnist` runs
//!   the same program on another device;
//! - [`output_dir`]: a fresh folder for an example's files (checkpoints,
//!   pictures) under the cargo target directory, never inside the sources.
//!
//! In your own code you would pick the device with
//! [`gen_core::Backend::device`] and write wherever you like.
//!
//! ```
//! // GENLAB_BACKEND unset or "flex": burn's pure-Rust CPU backend.
//! let backend = genlab_examples::backend_from(None)?;
//! assert_eq!(backend, gen_core::Backend::Flex);
//! let device = backend.device()?; // the inference device; models add autodiff to train
//! # let _ = device;
//! # Ok::<(), gen_core::GenError>(())
//! ```
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use gen_core::{Backend, GenError, Result};

/// The environment variable that picks the examples' backend.
pub const BACKEND_VAR: &str = "GENLAB_BACKEND";

/// The backend named by `GENLAB_BACKEND` (`ndarray`, `flex` or `wgpu`,
/// any case), or [`Backend::Flex`] when the variable is unset or empty.
///
/// Errors on any other value, or on a value that is not valid Unicode.
/// A backend that exists but cannot start (wgpu without an adapter) is
/// reported later, by [`Backend::device`], with how to fix it.
pub fn backend() -> Result<Backend> {
    match std::env::var(BACKEND_VAR) {
        Ok(v) => backend_from(Some(&v)),
        Err(std::env::VarError::NotPresent) => backend_from(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(GenError::config(
            BACKEND_VAR,
            v.to_string_lossy(),
            "not valid Unicode",
            "set it to ndarray, flex or wgpu, or unset it for flex",
        )),
    }
}

/// [`backend`] for a given value of the variable (`None`: unset).
pub fn backend_from(value: Option<&str>) -> Result<Backend> {
    match value.map(str::trim) {
        None | Some("") => Ok(Backend::Flex),
        Some(v) => v.parse().map_err(|_| {
            GenError::config(
                BACKEND_VAR,
                v,
                "unknown backend",
                "set it to ndarray, flex or wgpu, or unset it for flex",
            )
        }),
    }
}

/// The cargo target directory the running program was built into: the
/// nearest folder above the executable that holds cargo's `CACHEDIR.TAG`
/// (examples live in `<target>/debug/examples/`, benchmarks in
/// `<target>/<profile>/deps/`, whatever `CARGO_TARGET_DIR` says), or the
/// system's temporary folder when there is none (a copied binary).
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh, empty folder `<target>/genlab-examples/<name>` (see
/// [`target_dir`]) for an example's files; whatever an earlier run left
/// there is removed first.
///
/// `name` must be a plain folder name (letters, digits, `-`, `_`): the
/// helper deletes what it returns, so it refuses anything that could
/// point elsewhere.
pub fn output_dir(name: &str) -> Result<PathBuf> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(GenError::config(
            "output folder name",
            name,
            "must be a plain folder name",
            "use letters, digits, '-' and '_' only, e.g. the example's name",
        ));
    }
    let dir = target_dir().join("genlab-examples").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| GenError::io(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| GenError::io(&dir, e))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_variable_defaults_to_flex_and_names_every_backend() {
        assert_eq!(backend_from(None).unwrap(), Backend::Flex);
        assert_eq!(backend_from(Some("  ")).unwrap(), Backend::Flex);
        assert_eq!(backend_from(Some("ndarray")).unwrap(), Backend::Ndarray);
        assert_eq!(backend_from(Some("WGPU")).unwrap(), Backend::Wgpu);
        let err = backend_from(Some("tpu")).unwrap_err().to_string();
        assert!(err.contains(BACKEND_VAR) && err.contains("tpu"), "{err}");
    }

    #[test]
    fn output_folders_are_fresh_and_stay_under_the_target_directory() {
        let dir = output_dir("lib-test").unwrap();
        assert!(dir.starts_with(target_dir()), "{}", dir.display());
        std::fs::write(dir.join("left-over"), b"x").unwrap();
        let again = output_dir("lib-test").unwrap();
        assert_eq!(again, dir);
        assert!(!dir.join("left-over").exists());
        for bad in ["", "..", "a/b", "../x", "/tmp"] {
            assert!(output_dir(bad).is_err(), "{bad:?} accepted");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
