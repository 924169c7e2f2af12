//! The way out to Python: `genlab export` (safetensors), `.npz` inputs and
//! outputs, FID statistics files. The exported file is read back with the
//! safetensors crate and compared with the checkpoint's burnpack files read
//! by burn's own reader (gen-core's unit tests compare those with the
//! module's parameters).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::genlab;
use gen_core::Matrix;
use gen_data::io::npy::{NpyArray, write_npy_f64};
use gen_data::io::npz::{NpzCompression, read_npz, write_npz};
use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genlab-pyio-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Name → (shape, f32 values).
type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The newest checkpoint's model folder, found through `LATEST`.
fn latest_model_dir(run: &Path) -> PathBuf {
    let name = std::fs::read_to_string(run.join("checkpoints/LATEST")).unwrap();
    run.join("checkpoints").join(name.trim()).join("model")
}

/// Every tensor of a burnpack file, through burn's reader, names prefixed.
fn burnpack(path: &Path, prefix: &str, into: &mut Tensors) {
    let reader = burn_pack::Reader::from_file_exact(path).unwrap();
    for t in reader.into_tensors().unwrap() {
        let (name, dtype, shape, _, bytes) = t.into_parts().unwrap();
        assert_eq!(dtype, burn_pack::DType::F32, "{name}");
        into.insert(
            format!("{prefix}{name}"),
            (shape.iter().copied().collect(), f32s(&bytes)),
        );
    }
}

/// Every tensor of a safetensors file, through the safetensors crate, and
/// its `__metadata__`.
fn safetensors_file(path: &Path) -> (Tensors, BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = Tensors::new();
    for (name, view) in st.tensors() {
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        out.insert(name, (view.shape().to_vec(), f32s(view.data())));
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta
        .metadata()
        .iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    (out, meta)
}

fn train(args: &[&str]) {
    let (ok, _, err) = genlab(args);
    assert!(ok, "train failed: {err}");
}

#[test]
fn vae_export_holds_every_weight_of_the_checkpoint_and_no_optimiser_state() {
    let d = workdir("vae");
    let run = d.join("run");
    let run_s = run.to_str().unwrap();
    train(&[
        "train",
        "vae",
        "--data",
        "digits",
        "--steps",
        "5",
        "--vae-hidden",
        "16",
        "--vae-latent",
        "2",
        "--eval-k",
        "5",
        "--out",
        run_s,
    ]);
    let (ok, out, err) = genlab(&["export", "--checkpoint", run_s]);
    assert!(ok, "export failed: {err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let file = run.join("model.safetensors");
    assert_eq!(summary["out"], file.to_str().unwrap());
    let (exported, meta) = safetensors_file(&file);
    assert_eq!(meta["model"], "vae");
    assert_eq!(meta["data"], "digits");
    assert!(meta["options"].contains("\"latent\":2"), "{meta:?}");

    let model = latest_model_dir(&run);
    let mut expected = Tensors::new();
    burnpack(&model.join("vae.model.bpk"), "", &mut expected);
    assert!(
        model.join("vae.optim.bpk").exists(),
        "the checkpoint has optimiser state"
    );
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same names: module paths, no optimiser state"
    );
    assert_eq!(exported, expected, "same shapes and values");
    // Module paths: the encoder's first layer reads the 64 pixels of an
    // 8 × 8 digit (burn's Linear weight is [d_in, d_out]).
    assert_eq!(
        exported["encoder.layers.0.weight"].0,
        [64, 16],
        "{:?}",
        exported.keys()
    );
    assert_eq!(exported["encoder.layers.0.bias"].0, [16]);
    assert!(exported.keys().any(|k| k.starts_with("decoder.")));
    let n: usize = exported
        .values()
        .map(|(s, _)| s.iter().product::<usize>())
        .sum();
    assert_eq!(summary["parameters"], n);
    assert_eq!(summary["tensors"].as_array().unwrap().len(), exported.len());

    // --out elsewhere; a damaged safetensors file is an error, not a panic.
    let other = d.join("elsewhere.safetensors");
    let (ok, _, err) = genlab(&[
        "export",
        "--checkpoint",
        run_s,
        "--format",
        "safetensors",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(safetensors_file(&other).0, expected);
    let bytes = std::fs::read(&other).unwrap();
    let err = gen_core::export::from_safetensors_bytes(&bytes[..bytes.len() - 3], &other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("elsewhere.safetensors") && err.contains("Fix:"),
        "{err}"
    );
    let (ok, _, err) = genlab(&["export", "--checkpoint", run_s, "--format", "onnx"]);
    assert!(!ok && err.contains("safetensors"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn gan_export_prefixes_each_players_weights() {
    let d = workdir("gan");
    let run = d.join("run");
    let run_s = run.to_str().unwrap();
    train(&[
        "train",
        "ns-gan",
        "--data",
        "eight-gaussians",
        "--steps",
        "4",
        "--gan-hidden",
        "8",
        "--out",
        run_s,
    ]);
    let out = d.join("gan.safetensors");
    let (ok, _, err) = genlab(&[
        "export",
        "--checkpoint",
        run_s,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "export failed: {err}");
    let (exported, meta) = safetensors_file(&out);
    assert_eq!(meta["model"], "ns-gan");
    let model = latest_model_dir(&run);
    let mut expected = Tensors::new();
    for entry in std::fs::read_dir(&model).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".model.bpk") {
            burnpack(&model.join(&name), &format!("{stem}."), &mut expected);
        } else if let Some(stem) = name.strip_suffix(".ema.bpk") {
            burnpack(&model.join(&name), &format!("{stem}_ema."), &mut expected);
        }
    }
    assert!(
        expected.keys().any(|k| k.starts_with("gan_d.")),
        "{expected:?}"
    );
    assert!(
        expected.keys().any(|k| k.starts_with("gan_g.")),
        "{expected:?}"
    );
    assert_eq!(exported, expected);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_refuses_classical_and_missing_checkpoints_clearly() {
    let d = workdir("errors");
    let run = d.join("gmm");
    let run_s = run.to_str().unwrap();
    train(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--components",
        "2",
        "--steps",
        "3",
        "--out",
        run_s,
    ]);
    let (ok, _, err) = genlab(&["export", "--checkpoint", run_s]);
    assert!(
        !ok && err.contains("neural") && err.contains("gmm"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // A directory that is no run, and a run without a completed checkpoint.
    let (ok, _, err) = genlab(&[
        "export",
        "--checkpoint",
        d.join("nothing").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("run.json"), "{err}");
    let bare = d.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(run.join("run.json"), bare.join("run.json")).unwrap();
    let (ok, _, err) = genlab(&["export", "--checkpoint", bare.to_str().unwrap()]);
    assert!(!ok && err.contains("no completed checkpoint"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

fn rows(n: usize, d: usize, shift: f64) -> Matrix {
    // Deterministic, full-rank rows.
    let data = (0..n * d)
        .map(|i| ((i * 37 % 101) as f64 / 101.0 - 0.5) * (1.0 + (i % d) as f64) + shift)
        .collect();
    Matrix::new(n, d, data).unwrap()
}

fn fid(args: &[&str]) -> Value {
    let mut all = vec!["eval", "fid"];
    all.extend_from_slice(args);
    let (ok, out, err) = genlab(&all);
    assert!(ok, "fid failed: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn fid_statistics_files_give_the_fid_of_their_rows() {
    let d = workdir("fid");
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let (real, fake) = (rows(60, 3, 0.0), rows(50, 3, 0.3));
    write_npy_f64(p("real.npy"), &real).unwrap();
    write_npy_f64(p("fake.npy"), &fake).unwrap();
    let by_rows = fid(&["--real", &p("real.npy"), "--fake", &p("fake.npy")]);
    let value = by_rows["value"].as_f64().unwrap();
    assert!(value > 0.0, "{by_rows}");

    for (input, out) in [
        ("real.npy", "real_stats.npz"),
        ("fake.npy", "fake_stats.npz"),
    ] {
        let (ok, o, err) = genlab(&["eval", "fid-stats", "--input", &p(input), "--out", &p(out)]);
        assert!(ok, "fid-stats failed: {err}");
        let v: Value = serde_json::from_str(&o).unwrap();
        assert_eq!(v["dim"], 3);
    }
    // pytorch-fid's layout: mu (d,), sigma (d, d).
    let stats = read_npz(p("real_stats.npz")).unwrap();
    assert_eq!(stats.get("mu").unwrap().shape, vec![3]);
    assert_eq!(stats.get("sigma").unwrap().shape, vec![3, 3]);
    assert_eq!(stats.get("n").unwrap().data, vec![60.0]);

    let by_stats = fid(&[
        "--real",
        &p("real_stats.npz"),
        "--fake",
        &p("fake_stats.npz"),
    ]);
    assert_eq!(by_stats["inputs"]["real"], "statistics");
    assert_eq!(
        by_stats["value"].as_f64().unwrap(),
        value,
        "{by_stats} vs {by_rows}"
    );
    let mixed = fid(&["--real", &p("real_stats.npz"), "--fake", &p("fake.npy")]);
    assert_eq!(mixed["inputs"]["fake"], "rows");
    assert_eq!(mixed["value"].as_f64().unwrap(), value);
    assert_eq!(mixed["samples_2"], 50);

    // Statistics written by hand as pytorch-fid writes them (mu, sigma only, f64).
    let sigma = NpyArray::new(vec![2, 2], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let a = NpyArray::new(vec![2], vec![0.0, 0.0]).unwrap();
    let b = NpyArray::new(vec![2], vec![3.0, 4.0]).unwrap();
    write_npz(
        p("a.npz"),
        &[("mu", &a), ("sigma", &sigma)],
        NpzCompression::Deflated,
    )
    .unwrap();
    write_npz(
        p("b.npz"),
        &[("mu", &b), ("sigma", &sigma)],
        NpzCompression::Stored,
    )
    .unwrap();
    let v = fid(&["--real", &p("a.npz"), "--fake", &p("b.npz")]);
    assert!((v["value"].as_f64().unwrap() - 25.0).abs() < 1e-9, "{v}");

    // Broken statistics: sigma of the wrong shape, and an asymmetric sigma.
    let bad = NpyArray::new(vec![3], vec![1.0, 0.0, 1.0]).unwrap();
    write_npz(
        p("bad.npz"),
        &[("mu", &a), ("sigma", &bad)],
        NpzCompression::Stored,
    )
    .unwrap();
    let (ok, _, err) = genlab(&[
        "eval",
        "fid",
        "--real",
        &p("bad.npz"),
        "--fake",
        &p("b.npz"),
    ]);
    assert!(
        !ok && err.contains("sigma of shape (2, 2)") && err.contains("bad.npz"),
        "{err}"
    );
    let skew = NpyArray::new(vec![2, 2], vec![1.0, 0.5, 0.0, 1.0]).unwrap();
    write_npz(
        p("skew.npz"),
        &[("mu", &a), ("sigma", &skew)],
        NpzCompression::Stored,
    )
    .unwrap();
    let (ok, _, err) = genlab(&[
        "eval",
        "fid",
        "--real",
        &p("skew.npz"),
        "--fake",
        &p("b.npz"),
    ]);
    assert!(!ok && err.contains("symmetric"), "{err}");
    let (ok, _, err) = genlab(&["eval", "fid-stats", "--input", &p("real.npy")]);
    assert!(!ok && err.contains("--out"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn npz_rows_in_and_out_with_keys_and_clear_errors() {
    let d = workdir("npz");
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let (real, fake) = (rows(40, 2, 0.0), rows(40, 2, 0.5));
    write_npy_f64(p("real.npy"), &real).unwrap();
    write_npy_f64(p("fake.npy"), &fake).unwrap();
    let both = [
        ("a", &NpyArray::from_matrix(&real)),
        ("b", &NpyArray::from_matrix(&fake)),
    ];
    write_npz(p("both.npz"), &both, NpzCompression::Deflated).unwrap();
    let want = fid(&["--real", &p("real.npy"), "--fake", &p("fake.npy")])["value"].clone();

    // No key: the first array, named on stderr.
    let (ok, out, err) = genlab(&[
        "eval",
        "fid",
        "--real",
        &p("both.npz"),
        "--fake",
        &p("fake.npy"),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("using 'a'") && err.contains("--key"), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["value"], want);
    // --key picks an array (and leaves .npy inputs alone).
    let v = fid(&[
        "--real",
        &p("real.npy"),
        "--fake",
        &p("both.npz"),
        "--key",
        "b",
    ]);
    assert_eq!(v["value"], want);
    let (ok, _, err) = genlab(&[
        "eval",
        "energy",
        "--real",
        &p("both.npz"),
        "--fake",
        &p("fake.npy"),
        "--key",
        "nope",
    ]);
    assert!(
        !ok && err.contains("no array named 'nope'") && err.contains("a, b"),
        "{err}"
    );
    // A corrupt archive.
    let whole = std::fs::read(p("both.npz")).unwrap();
    std::fs::write(p("broken.npz"), &whole[..whole.len() - 10]).unwrap();
    std::fs::write(p("junk.npz"), b"PK\x03\x04 this is no archive").unwrap();
    for f in ["broken.npz", "junk.npz"] {
        let (ok, _, err) = genlab(&["eval", "fid", "--real", &p(f), "--fake", &p("fake.npy")]);
        assert!(!ok && err.contains(f) && err.contains("Fix:"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // Samples out as .npz, scored back in as .npz.
    let run = d.join("gmm");
    train(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--components",
        "2",
        "--steps",
        "3",
        "--out",
        run.to_str().unwrap(),
    ]);
    let run_s = run.to_str().unwrap();
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--n",
        "7",
        "--out",
        &p("s.npz"),
    ]);
    assert!(ok, "{err}");
    let s = read_npz(p("s.npz")).unwrap();
    assert_eq!(s.names(), ["samples"]);
    assert_eq!(s.get("samples").unwrap().shape, vec![7, 2]);
    let (ok, from_npz, err) = genlab(&["score", "--checkpoint", run_s, "--input", &p("s.npz")]);
    assert!(ok, "{err}");
    let m = s.get("samples").unwrap().to_matrix().unwrap();
    write_npy_f64(p("s.npy"), &m).unwrap();
    let (ok, from_npy, err) = genlab(&["score", "--checkpoint", run_s, "--input", &p("s.npy")]);
    assert!(ok, "{err}");
    assert_eq!(from_npz, from_npy);
    let (ok, _, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--input",
        &p("s.npz"),
        "--key",
        "x",
    ]);
    assert!(
        !ok && err.contains("no array named 'x'") && err.contains("samples"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
