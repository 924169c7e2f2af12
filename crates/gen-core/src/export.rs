//! Weights out to Python: checkpoints of neural models as safetensors files.
//!
//! A neural checkpoint's `model/` folder holds burn's *burnpack* records
//! (`<name>.model.bpk` from [`Optimized::save`](crate::optim::Optimized::save),
//! `<name>.ema.bpk` from [`Ema::save`](crate::train::ema::Ema::save)) next to
//! optimiser state (`<name>.optim.bpk`) and JSON settings. A burnpack file is
//! self-describing: a 10-byte header (magic `NRUB`, version, metadata length),
//! CBOR metadata naming every tensor by its module path with its dtype, shape
//! and byte range, then the raw little-endian elements. So the converter here
//! reads the tensors without knowing the model's Rust type (through burn's own
//! `burn-pack` reader, the crate that writes them) and writes them to a
//! [safetensors](https://huggingface.co/docs/safetensors) file, which
//! `safetensors.numpy.load_file` and `safetensors.torch.load_file` read.
//!
//! Tensor names are burn module paths (`encoder.fc1.weight`). When a
//! checkpoint holds several weight files (a GAN's two players, an EMA copy),
//! every name is prefixed with the file's name: `gan_g.` for
//! `gan_g.model.bpk`, `gan_g_ema.` for `gan_g.ema.bpk`. Layouts are burn's:
//! a `Linear` weight is `[d_in, d_out]` (PyTorch's `nn.Linear` stores the
//! transpose), convolution kernels are `[c_out, c_in, k_h, k_w]` as in PyTorch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{BoolStore, DType};
use burn_pack::Reader;
use safetensors::{Dtype, SafeTensors};

use crate::checkpoint::write_atomic;
use crate::error::{GenError, Result};

/// One named tensor as raw little-endian bytes, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTensor {
    /// The parameter's name (a burn module path such as `encoder.fc1.weight`).
    pub name: String,
    /// Its element type, in safetensors' vocabulary.
    pub dtype: Dtype,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.product() × dtype size` bytes, little-endian, row-major.
    pub data: Vec<u8>,
}

impl WeightTensor {
    /// The elements as `f64` for the float and integer types safetensors shares
    /// with burn (F64, F32, F16, BF16, signed and unsigned integers, BOOL);
    /// `None` for the others.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        let d = &self.data;
        let le2 = |c: &[u8]| [c[0], c[1]];
        let le4 = |c: &[u8]| [c[0], c[1], c[2], c[3]];
        let le8 = |c: &[u8]| [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
        Some(match self.dtype {
            Dtype::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(le8(c)))
                .collect(),
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes(le4(c))))
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| f16_to_f64(u16::from_le_bytes(le2(c))))
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| {
                    let bits = u32::from(u16::from_le_bytes(le2(c))) << 16;
                    f64::from(f32::from_bits(bits))
                })
                .collect(),
            Dtype::I64 => d
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(le8(c)) as f64)
                .collect(),
            Dtype::I32 => d
                .chunks_exact(4)
                .map(|c| f64::from(i32::from_le_bytes(le4(c))))
                .collect(),
            Dtype::I16 => d
                .chunks_exact(2)
                .map(|c| f64::from(i16::from_le_bytes(le2(c))))
                .collect(),
            Dtype::I8 => d.iter().map(|&b| f64::from(b as i8)).collect(),
            Dtype::U64 => d
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(le8(c)) as f64)
                .collect(),
            Dtype::U32 => d
                .chunks_exact(4)
                .map(|c| f64::from(u32::from_le_bytes(le4(c))))
                .collect(),
            Dtype::U16 => d
                .chunks_exact(2)
                .map(|c| f64::from(u16::from_le_bytes(le2(c))))
                .collect(),
            Dtype::U8 | Dtype::BOOL => d.iter().map(|&b| f64::from(b)).collect(),
            _ => return None,
        })
    }
}

/// IEEE half precision bits to `f64` (subnormals, infinities and NaN included).
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn burnpack_err(path: &Path, problem: impl std::fmt::Display) -> GenError {
    GenError::Format {
        path: path.to_path_buf(),
        problem: format!("not a readable burnpack weight file: {problem}"),
        fix: "point to a checkpoint written by genlab (model/<name>.model.bpk); retrain if the file is damaged".into(),
    }
}

/// Reads every tensor of a burnpack file (what burn's `ModuleRecord::save`
/// and gen-core's [`save_module`](crate::optim::save_module) write), in the
/// file's (name-sorted) order. Burn's `flex32` is exported as F32, booleans
/// as BOOL (one byte per element); quantised tensors are refused.
pub fn read_burnpack(path: &Path) -> Result<Vec<WeightTensor>> {
    let reader = Reader::from_file_exact(path).map_err(|e| burnpack_err(path, e))?;
    let tensors = reader.into_tensors().map_err(|e| burnpack_err(path, e))?;
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        let (name, dtype, shape, _, bytes) = t.into_parts().map_err(|e| burnpack_err(path, e))?;
        let shape: Vec<usize> = shape.iter().copied().collect();
        let raw: &[u8] = &bytes;
        let (dtype, data) = match dtype {
            DType::F64 => (Dtype::F64, raw.to_vec()),
            DType::F32 | DType::Flex32 => (Dtype::F32, raw.to_vec()),
            DType::F16 => (Dtype::F16, raw.to_vec()),
            DType::BF16 => (Dtype::BF16, raw.to_vec()),
            DType::I64 => (Dtype::I64, raw.to_vec()),
            DType::I32 => (Dtype::I32, raw.to_vec()),
            DType::I16 => (Dtype::I16, raw.to_vec()),
            DType::I8 => (Dtype::I8, raw.to_vec()),
            DType::U64 => (Dtype::U64, raw.to_vec()),
            DType::U32 => (Dtype::U32, raw.to_vec()),
            DType::U16 => (Dtype::U16, raw.to_vec()),
            DType::U8 => (Dtype::U8, raw.to_vec()),
            DType::Bool(BoolStore::Native | BoolStore::U8) => {
                (Dtype::BOOL, raw.iter().map(|&b| u8::from(b != 0)).collect())
            }
            DType::Bool(BoolStore::U32) => (
                Dtype::BOOL,
                raw.chunks_exact(4)
                    .map(|c| u8::from(c.iter().any(|&b| b != 0)))
                    .collect(),
            ),
            other => {
                return Err(burnpack_err(
                    path,
                    format!(
                        "tensor '{name}' has dtype {other:?}, which safetensors cannot hold (quantised weights are not exported)"
                    ),
                ));
            }
        };
        let expected = shape.iter().product::<usize>() * dtype.bitsize() / 8;
        if data.len() != expected {
            return Err(burnpack_err(
                path,
                format!(
                    "tensor '{name}' has {} bytes but shape {shape:?} of {dtype} needs {expected}",
                    data.len()
                ),
            ));
        }
        out.push(WeightTensor {
            name,
            dtype,
            shape,
            data,
        });
    }
    Ok(out)
}

/// A view of a [`WeightTensor`] for `safetensors::serialize`.
struct View<'a>(&'a WeightTensor);

impl safetensors::View for View<'_> {
    fn dtype(&self) -> Dtype {
        self.0.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.0.data)
    }
    fn data_len(&self) -> usize {
        self.0.data.len()
    }
}

/// Serialises `tensors` (names must be unique) and string `metadata` (the
/// safetensors header's `__metadata__`) as a safetensors file in memory.
pub fn to_safetensors_bytes(
    tensors: &[WeightTensor],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    for t in tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(GenError::input(
                "safetensors export",
                format!("two tensors are named '{}'", t.name),
                "give every tensor a distinct name (prefix the tensors of each weight file)",
            ));
        }
    }
    let info = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    safetensors::serialize(tensors.iter().map(|t| (t.name.as_str(), View(t))), info).map_err(|e| {
        GenError::input(
            "safetensors export",
            format!("the tensors do not form a valid safetensors file: {e}"),
            "check each tensor's byte length against its shape and dtype",
        )
    })
}

/// Writes `tensors` and `metadata` to `path` as a safetensors file, atomically.
pub fn write_safetensors(
    path: &Path,
    tensors: &[WeightTensor],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = to_safetensors_bytes(tensors, metadata)?;
    write_atomic(path, &bytes)
}

/// Parses a safetensors file held in memory: its tensors in the file's data
/// order, and its `__metadata__` (empty if none). `path` names the file in
/// errors.
pub fn from_safetensors_bytes(
    bytes: &[u8],
    path: &Path,
) -> Result<(Vec<WeightTensor>, BTreeMap<String, String>)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("not a valid safetensors file: {e}"),
        fix: "re-export it with `genlab export`, or pass a file written by the safetensors library"
            .into(),
    })?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("not a valid safetensors header: {e}"),
        fix: "re-export it with `genlab export`".into(),
    })?;
    let metadata: BTreeMap<String, String> = meta
        .metadata()
        .iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    let mut tensors: Vec<WeightTensor> = st
        .iter()
        .map(|(name, view)| WeightTensor {
            name: name.to_string(),
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    // The crate's iteration order is a hash order; the file's is by offset.
    let offset = |name: &str| {
        meta.info(name)
            .map(|i| i.data_offsets.0)
            .unwrap_or(usize::MAX)
    };
    tensors.sort_by_key(|t| offset(&t.name));
    Ok((tensors, metadata))
}

/// Reads a safetensors file: its tensors in data order and its `__metadata__`.
pub fn read_safetensors(path: &Path) -> Result<(Vec<WeightTensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| GenError::io(path, e))?;
    from_safetensors_bytes(&bytes, path)
}

/// One burnpack weight file of a checkpoint and the prefix its tensors get.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightFile {
    /// `gan_g` for `gan_g.model.bpk`, `gan_g_ema` for `gan_g.ema.bpk`.
    pub prefix: String,
    /// The file.
    pub path: PathBuf,
}

/// The model weights of a checkpoint's `model/` folder: every
/// `<name>.model.bpk` and `<name>.ema.bpk`, sorted by prefix; optimiser state
/// (`*.optim.bpk`) and JSON files are left out. Empty when the checkpoint
/// holds no burn weights (a classical model's JSON).
pub fn weight_files(model_dir: &Path) -> Result<Vec<WeightFile>> {
    let entries = std::fs::read_dir(model_dir).map_err(|e| GenError::io(model_dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| GenError::io(model_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let prefix = if let Some(stem) = name.strip_suffix(".model.bpk") {
            stem.to_string()
        } else if let Some(stem) = name.strip_suffix(".ema.bpk") {
            format!("{stem}_ema")
        } else {
            continue;
        };
        files.push(WeightFile {
            prefix,
            path: entry.path(),
        });
    }
    files.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    Ok(files)
}

/// The tensors of a checkpoint's `model/` folder, named for export: module
/// paths as they are when the folder holds one weight file, prefixed with
/// `<prefix>.` when it holds several (see [`weight_files`]). Errors when the
/// folder holds no burn weights.
pub fn checkpoint_tensors(model_dir: &Path) -> Result<Vec<WeightTensor>> {
    let files = weight_files(model_dir)?;
    if files.is_empty() {
        return Err(GenError::Format {
            path: model_dir.to_path_buf(),
            problem: "the checkpoint holds no burn weights (*.model.bpk); export covers the checkpoints of neural models".into(),
            fix: "export a run of a neural model (vae, realnvp, made, ddpm, gan, char-gpt, ...); a classical model's parameters are the files in this folder".into(),
        });
    }
    let single = files.len() == 1;
    let mut out = Vec::new();
    for f in &files {
        for mut t in read_burnpack(&f.path)? {
            if !single {
                t.name = format!("{}.{}", f.prefix, t.name);
            }
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::save_module;
    use burn::module::{Module, Param};
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, Tensor, TensorData};

    #[derive(Module, Debug)]
    struct Net {
        fc1: Linear,
        fc2: Linear,
        scale: Param<Tensor<1>>,
    }

    #[allow(deprecated)]
    fn net() -> Net {
        let d = Device::ndarray();
        Net {
            fc1: LinearConfig::new(3, 4).init(&d),
            fc2: LinearConfig::new(4, 2).with_bias(false).init(&d),
            scale: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.5f32, -1.25], [2]),
                &d,
            )),
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gen-core-export-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn values(t: &Tensor<2>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn burnpack_to_safetensors_keeps_names_shapes_values() {
        let d = dir("roundtrip");
        let n = net();
        save_module(&n, &d.join("net.model.bpk")).unwrap();
        std::fs::write(d.join("net.optim.bpk"), b"optimiser state").unwrap();
        let tensors = checkpoint_tensors(&d).unwrap();
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["fc1.bias", "fc1.weight", "fc2.weight", "scale"],
            "module paths, no prefix for a single file, no optimiser state"
        );
        let meta = BTreeMap::from([("model".to_string(), "net".to_string())]);
        let out = d.join("net.safetensors");
        write_safetensors(&out, &tensors, &meta).unwrap();
        let (back, back_meta) = read_safetensors(&out).unwrap();
        assert_eq!(back_meta, meta);
        let by_name = |n: &str| back.iter().find(|t| t.name == n).unwrap().clone();
        let w1 = by_name("fc1.weight");
        assert_eq!((w1.dtype, w1.shape.clone()), (Dtype::F32, vec![3, 4]));
        let want: Vec<f64> = values(&n.fc1.weight.val())
            .into_iter()
            .map(f64::from)
            .collect();
        assert_eq!(w1.to_f64().unwrap(), want);
        let w2 = by_name("fc2.weight");
        assert_eq!(w2.shape, vec![4, 2]);
        let want: Vec<f64> = values(&n.fc2.weight.val())
            .into_iter()
            .map(f64::from)
            .collect();
        assert_eq!(w2.to_f64().unwrap(), want);
        assert_eq!(by_name("scale").to_f64().unwrap(), vec![0.5, -1.25]);
        assert_eq!(by_name("fc1.bias").shape, vec![4]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn several_files_are_prefixed() {
        let d = dir("prefix");
        save_module(&net(), &d.join("gan_d.model.bpk")).unwrap();
        save_module(&net(), &d.join("gan_g.model.bpk")).unwrap();
        save_module(&net(), &d.join("gan_g.ema.bpk")).unwrap();
        let names: Vec<String> = checkpoint_tensors(&d)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.contains(&"gan_d.fc1.weight".to_string()), "{names:?}");
        assert!(names.contains(&"gan_g_ema.scale".to_string()), "{names:?}");
        assert_eq!(names.len(), 12);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn clear_errors_never_panics() {
        let d = dir("errors");
        // No weights at all (a classical checkpoint).
        std::fs::write(d.join("gmm.json"), b"{}").unwrap();
        let e = checkpoint_tensors(&d).unwrap_err().to_string();
        assert!(e.contains("no burn weights") && e.contains("neural"), "{e}");
        // A damaged burnpack file.
        std::fs::write(d.join("bad.model.bpk"), b"NRUB not really").unwrap();
        let e = checkpoint_tensors(&d).unwrap_err().to_string();
        assert!(e.contains("bad.model.bpk") && e.contains("burnpack"), "{e}");
        // A corrupt safetensors file, and truncations of a good one.
        let p = d.join("x.safetensors");
        std::fs::write(&p, b"\xff\xff\xff\xff\xff\xff\xff\x7f{").unwrap();
        let e = read_safetensors(&p).unwrap_err().to_string();
        assert!(
            e.contains("x.safetensors") && e.contains("safetensors"),
            "{e}"
        );
        let t = WeightTensor {
            name: "w".into(),
            dtype: Dtype::F32,
            shape: vec![2],
            data: [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        let good = to_safetensors_bytes(std::slice::from_ref(&t), &BTreeMap::new()).unwrap();
        for cut in 0..good.len() {
            assert!(
                from_safetensors_bytes(&good[..cut], &p).is_err(),
                "cut {cut}"
            );
        }
        // Duplicate names and a wrong byte length are refused.
        assert!(to_safetensors_bytes(&[t.clone(), t.clone()], &BTreeMap::new()).is_err());
        let short = WeightTensor {
            data: vec![0; 3],
            ..t
        };
        assert!(to_safetensors_bytes(&[short], &BTreeMap::new()).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }
}
