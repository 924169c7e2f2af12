//! Atomic checkpoints: a kill at any moment loses nothing already written.
//!
//! Files are written to a temporary sibling, flushed to disk and renamed over
//! the target (rename is atomic on POSIX file systems). A run directory keeps
//! checkpoints in numbered folders and a `LATEST` pointer that is only
//! replaced once the folder it names is complete.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{GenError, Result};

/// A model (or trainer component) whose full state can be saved and restored.
pub trait Checkpoint {
    /// Writes the state into the existing, empty directory `dir`.
    fn save_checkpoint(&self, dir: &Path) -> Result<()>;
    /// Restores the state from a directory written by [`Checkpoint::save_checkpoint`].
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()>;
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        fs::create_dir_all(parent).map_err(|e| GenError::io(parent, e))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp).map_err(|e| GenError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| GenError::io(&tmp, e))?;
        f.sync_all().map_err(|e| GenError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| GenError::io(path, e))?;
    Ok(())
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| GenError::Other(format!("cannot serialize {}: {e}", path.display())))?;
    write_atomic(path, &bytes)
}

/// Reads and deserializes a JSON file, with an error that names the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| GenError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("invalid JSON: {e}"),
        fix: "point to a directory written by genlab, or delete the corrupt file and retrain"
            .into(),
    })
}

const LATEST: &str = "LATEST";

/// The checkpoints of one run: `<run>/checkpoints/step-NNNNNNNN/` plus a `LATEST` pointer.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
    keep: usize,
}

impl CheckpointDir {
    /// Checkpoints under `<run_dir>/checkpoints`, keeping the newest `keep` (at least 1).
    pub fn new(run_dir: &Path, keep: usize) -> Self {
        Self {
            root: run_dir.join("checkpoints"),
            keep: keep.max(1),
        }
    }

    /// Writes a new checkpoint for `step`: `fill` populates a fresh folder,
    /// then `LATEST` is switched to it atomically and old folders are pruned.
    pub fn write(&self, step: u64, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let name = format!("step-{step:010}");
        let tmp = self.root.join(format!(".{name}.partial"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| GenError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| GenError::io(&tmp, e))?;
        fill(&tmp)?;
        let final_dir = self.root.join(&name);
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| GenError::io(&final_dir, e))?;
        }
        fs::rename(&tmp, &final_dir).map_err(|e| GenError::io(&final_dir, e))?;
        write_atomic(&self.root.join(LATEST), name.as_bytes())?;
        self.prune()?;
        Ok(final_dir)
    }

    /// The folder `LATEST` names, if any checkpoint was completed.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let pointer = self.root.join(LATEST);
        if !pointer.exists() {
            return Ok(None);
        }
        let name = fs::read_to_string(&pointer).map_err(|e| GenError::io(&pointer, e))?;
        let dir = self.root.join(name.trim());
        if !dir.is_dir() {
            return Err(GenError::Format {
                path: pointer,
                problem: format!("names {} which does not exist", dir.display()),
                fix: "restore the checkpoint folder or delete LATEST to start afresh".into(),
            });
        }
        Ok(Some(dir))
    }

    fn prune(&self) -> Result<()> {
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .map_err(|e| GenError::io(&self.root, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-"))
            .collect();
        names.sort();
        while names.len() > self.keep {
            let old = self.root.join(names.remove(0));
            fs::remove_dir_all(&old).map_err(|e| GenError::io(&old, e))?;
        }
        Ok(())
    }
}
