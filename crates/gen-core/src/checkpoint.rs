//! Atomic checkpoints: a kill at any moment loses nothing already written.
//!
//! Files are written to a temporary sibling, flushed to disk and renamed over
//! the target (rename is atomic on POSIX file systems). A run directory keeps
//! checkpoints in numbered folders and a `LATEST` pointer that is only
//! replaced once the folder it names is complete.
//!
//! Every checkpoint folder holds a manifest ([`MANIFEST`]) with the size and
//! CRC-32 of each of its files, written last and checked whenever
//! [`CheckpointDir::latest`] hands the folder to a loader, so a corrupted
//! weight file is refused with its name instead of loading silently.

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

/// The checksum manifest inside every checkpoint folder.
pub const MANIFEST: &str = "MANIFEST.json";

/// What [`MANIFEST`] holds: each file's size and CRC-32 (IEEE), by path
/// relative to the checkpoint folder, with `/` separators.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The checksum used (`crc32`).
    pub algorithm: String,
    /// Relative path → size and checksum.
    pub files: std::collections::BTreeMap<String, FileSum>,
}

/// One file's entry in a [`Manifest`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    /// Size in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE 802.3) as 8 lower-case hex digits.
    pub crc32: String,
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| GenError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(root, &p, out)?;
        } else if p != root.join(MANIFEST) {
            out.push(p);
        }
    }
    Ok(())
}

fn file_sum(path: &Path) -> Result<FileSum> {
    let bytes = fs::read(path).map_err(|e| GenError::io(path, e))?;
    Ok(FileSum {
        bytes: bytes.len() as u64,
        crc32: format!("{:08x}", crc32fast::hash(&bytes)),
    })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes the [`MANIFEST`] of every file under `dir` (atomically, last).
pub fn write_manifest(dir: &Path) -> Result<Manifest> {
    let mut paths = Vec::new();
    files_under(dir, dir, &mut paths)?;
    let mut files = std::collections::BTreeMap::new();
    for p in &paths {
        files.insert(relative(dir, p), file_sum(p)?);
    }
    let manifest = Manifest {
        algorithm: "crc32".into(),
        files,
    };
    write_json_atomic(&dir.join(MANIFEST), &manifest)?;
    Ok(manifest)
}

/// Checks every file the [`MANIFEST`] of `dir` lists: present, same size,
/// same CRC-32. A folder without a manifest (written before manifests
/// existed) passes; a damaged or missing file is an error naming it.
pub fn verify_manifest(dir: &Path) -> Result<()> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(());
    }
    let manifest: Manifest = read_json(&path)?;
    if manifest.algorithm != "crc32" {
        return Err(GenError::Format {
            path,
            problem: format!("unknown checksum algorithm {:?}", manifest.algorithm),
            fix: "use a checkpoint written by this version of genlab".into(),
        });
    }
    let fix = "the file changed after the checkpoint was written (disk or copy damage): \
               restore it from a backup, resume from an older checkpoint, or retrain";
    for (name, want) in &manifest.files {
        let file = name.split('/').fold(dir.to_path_buf(), |p, c| p.join(c));
        if !file.is_file() {
            return Err(GenError::Format {
                path: file,
                problem: "listed in the checkpoint's MANIFEST.json but missing".into(),
                fix: fix.into(),
            });
        }
        let got = file_sum(&file)?;
        if got != *want {
            return Err(GenError::Format {
                path: file,
                problem: format!(
                    "checksum mismatch: MANIFEST.json says {} bytes with crc32 {}, \
                     the file has {} bytes with crc32 {}",
                    want.bytes, want.crc32, got.bytes, got.crc32
                ),
                fix: fix.into(),
            });
        }
    }
    Ok(())
}

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
        write_manifest(&tmp)?;
        let final_dir = self.root.join(&name);
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| GenError::io(&final_dir, e))?;
        }
        fs::rename(&tmp, &final_dir).map_err(|e| GenError::io(&final_dir, e))?;
        write_atomic(&self.root.join(LATEST), name.as_bytes())?;
        self.prune()?;
        Ok(final_dir)
    }

    /// Deletes every checkpoint (a fresh run in a directory that held one).
    pub fn clear(&self) -> Result<()> {
        if self.root.exists() {
            fs::remove_dir_all(&self.root).map_err(|e| GenError::io(&self.root, e))?;
        }
        Ok(())
    }

    /// The folder `LATEST` names, if any checkpoint was completed, after
    /// checking its files against its [`MANIFEST`].
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
        verify_manifest(&dir)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gen-core-ckpt-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn write_two_files(ckpts: &CheckpointDir, step: u64) -> PathBuf {
        ckpts
            .write(step, |dir| {
                fs::create_dir_all(dir.join("model")).unwrap();
                fs::write(dir.join("model").join("weights.bin"), vec![7u8; 4096]).unwrap();
                fs::write(dir.join("trainer.json"), b"{\"step\": 3}").unwrap();
                Ok(())
            })
            .unwrap()
    }

    #[test]
    fn manifest_lists_every_file_with_its_crc32() {
        let root = scratch("manifest");
        let dir = write_two_files(&CheckpointDir::new(&root, 2), 3);
        let m: Manifest = read_json(&dir.join(MANIFEST)).unwrap();
        let names: Vec<&str> = m.files.keys().map(String::as_str).collect();
        assert_eq!(names, ["model/weights.bin", "trainer.json"]);
        // CRC-32 (IEEE) of "123456789" is the standard check value cbf43926.
        fs::write(root.join("check"), b"123456789").unwrap();
        assert_eq!(file_sum(&root.join("check")).unwrap().crc32, "cbf43926");
        assert_eq!(m.files["model/weights.bin"].bytes, 4096);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn one_flipped_byte_is_refused_with_the_file_named() {
        let root = scratch("flip");
        let ckpts = CheckpointDir::new(&root, 2);
        let dir = write_two_files(&ckpts, 5);
        assert_eq!(ckpts.latest().unwrap(), Some(dir.clone()));
        let weights = dir.join("model").join("weights.bin");
        let mut bytes = fs::read(&weights).unwrap();
        bytes[2000] ^= 0x01;
        fs::write(&weights, &bytes).unwrap();
        let err = ckpts.latest().unwrap_err().to_string();
        assert!(err.contains("weights.bin"), "{err}");
        assert!(err.contains("checksum mismatch"), "{err}");
        fs::remove_file(&weights).unwrap();
        let err = ckpts.latest().unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn folders_without_a_manifest_still_load() {
        let root = scratch("legacy");
        let ckpts = CheckpointDir::new(&root, 2);
        let dir = write_two_files(&ckpts, 1);
        fs::remove_file(dir.join(MANIFEST)).unwrap();
        assert_eq!(ckpts.latest().unwrap(), Some(dir));
        ckpts.clear().unwrap();
        assert_eq!(ckpts.latest().unwrap(), None);
        let _ = fs::remove_dir_all(&root);
    }
}
