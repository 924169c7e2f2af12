//! `genlab` end to end for the diffusion family: train a tiny ddpm on a toy,
//! sample with every sampler, the clear errors of the sampler options,
//! score (a bound), encode / reconstruct (DDIM inversion round trip); and a
//! tiny U-Net ddpm on digits: pictures, bits/dim, FID, DDIM sampling of
//! the run, scoring, and the refused image sizes.

mod common;
use common::genlab;

use serde_json::Value;

/// The `sampler` names of a `genlab samplers` answer's rows, in order.
fn sampler_names(v: &Value) -> Vec<&str> {
    v["samplers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sampler"].as_str().unwrap())
        .collect()
}

#[test]
fn ddpm_trains_samples_scores_and_encodes() {
    let dir = std::env::temp_dir().join(format!("genlab-ddpm-cli-{}", std::process::id()));
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "eight-gaussians",
        "--steps",
        "30",
        "--batch",
        "64",
        "--diffusion-steps",
        "20",
        "--diffusion-hidden",
        "16,16",
        "--prediction",
        "v",
        "--schedule",
        "cosine",
        "--loss-weighting",
        "min-snr",
        "--bound-rows",
        "50",
        "--diffusion-cosine",
        "--lr",
        "3e-3",
        "--out",
        run_s,
    ]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["sample_ddpm"]["modes"], 8, "{out}");
    assert_eq!(summary["lr_schedule"]["kind"], "cosine", "{out}");
    assert_eq!(common::assert_cosine_lrs(&run, 3e-3, 30), 3);
    assert!(
        summary["test_bound_nll"].as_f64().unwrap().is_finite(),
        "{out}"
    );
    assert!(summary["test_true_nll"].as_f64().is_some(), "{out}");
    assert!(
        summary["test_ode_nll"].as_f64().unwrap().is_finite(),
        "{out}"
    );
    assert!(run.join("samples.png").exists());

    for sampler in [
        &["--sampler", "ddpm"][..],
        &["--sampler", "ddim", "--sample-steps", "5", "--eta", "0.5"],
        &[
            "--sampler",
            "ode",
            "--sample-steps",
            "10",
            "--spacing",
            "leading",
        ],
        &["--sampler", "heun", "--sample-steps", "10"],
        &[
            "--sampler",
            "langevin",
            "--corrector-steps",
            "2",
            "--langevin-snr",
            "0.05",
        ],
    ] {
        let mut args = vec!["sample", "--checkpoint", run_s, "--n", "5"];
        args.extend_from_slice(sampler);
        let (ok, out, err) = genlab(&args);
        assert!(ok, "{sampler:?}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["samples"].as_array().unwrap().len(), 5, "{sampler:?}");
    }

    // `--steps` is `--sample-steps` under the name: the same draw,
    // and the count takes effect (3 grid steps draw other samples than 7).
    let draw = |steps_flag: &str, steps: &str| {
        let (ok, out, err) = genlab(&[
            "sample",
            "--checkpoint",
            run_s,
            "--n",
            "4",
            "--seed",
            "3",
            "--sampler",
            "ddim",
            "--eta",
            "1",
            steps_flag,
            steps,
        ]);
        assert!(ok, "{steps_flag} {steps}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["samples"].clone()
    };
    let aliased = draw("--steps", "7");
    assert_eq!(aliased.as_array().unwrap().len(), 4);
    assert_eq!(aliased, draw("--sample-steps", "7"));
    assert_ne!(aliased, draw("--steps", "3"));

    for (bad, says) in [
        (&["--sample-steps", "0"][..], "between 1 and T = 20"),
        (&["--sample-steps", "21"], "between 1 and T = 20"),
        (&["--steps", "0"], "between 1 and T = 20"),
        (&["--sampler", "ddim", "--eta", "1.5"], "use η in [0, 1]"),
        (&["--sampler", "ddim", "--eta", "-0.5"], "use η in [0, 1]"),
        (&["--eta", "0.3"], "pass --sampler ddim"),
    ] {
        let mut args = vec!["sample", "--checkpoint", run_s];
        args.extend_from_slice(bad);
        let (ok, _, err) = genlab(&args);
        assert!(!ok && err.contains(says), "{bad:?}: {err}");
    }

    let (ok, out, err) = genlab(&["score", "--checkpoint", run_s, "--data", "eight-gaussians"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "bound", "{out}");
    assert_eq!(v["values"].as_array().unwrap().len(), 5000);
    // The probability-flow ODE's likelihood, labelled as integrated.
    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--data",
        "eight-gaussians",
        "--estimator",
        "ode",
        "--k",
        "20",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "integrated", "{out}");
    let ode = v["values"].as_array().unwrap();
    assert_eq!(ode.len(), 5000);
    assert!(ode.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)));

    let enc = dir.join("z.npy");
    let (ok, _, err) = genlab(&[
        "encode",
        "--checkpoint",
        run_s,
        "--data",
        "eight-gaussians",
        "--rows",
        "8",
        "--out",
        enc.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(enc.exists());
    let (ok, out, err) = genlab(&[
        "reconstruct",
        "--checkpoint",
        run_s,
        "--data",
        "eight-gaussians",
        "--rows",
        "3",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);

    // genlab samplers: the grid without step counts above T = 20, each
    // entry scored on the toy's modes and timed; then the errors.
    let study = dir.join("samplers");
    let (ok, out, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        study.to_str().unwrap(),
        "--n",
        "50",
        "--steps",
        "5,10,100",
        "--etas",
        "0,1",
        "--ode-steps",
        "5",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names = sampler_names(&v);
    assert_eq!(
        names,
        [
            "DDPM-20",
            "DDIM-5 η=0",
            "DDIM-10 η=0",
            "DDIM-5 η=1",
            "DDIM-10 η=1",
            "ODE-5 (DPM-Solver++ 2M)"
        ]
    );
    for r in v["samplers"].as_array().unwrap() {
        assert_eq!(r["modes"], 8, "{r}");
        assert!(r["ms_per_sample"].as_f64().unwrap() > 0.0, "{r}");
    }
    for f in ["samplers.json", "samplers.md", "samplers.png"] {
        assert!(study.join(f).exists(), "{f}");
    }
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        study.to_str().unwrap(),
        "--etas",
        "1.5",
    ]);
    assert!(!ok && err.contains("[0, 1]"), "{err}");
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        study.to_str().unwrap(),
        "--steps",
        "50",
        "--no-ode",
        "--no-ddpm",
    ]);
    assert!(!ok && err.contains("T = 20"), "{err}");
    // DDIM's rows with both variances: σ_t(η)² and the analytic one, whose
    // Γ_t (one per grid step) the row records.
    let analytic = dir.join("samplers-analytic");
    let analytic_call = |rows: &str| {
        genlab(&[
            "samplers",
            "--checkpoint",
            run_s,
            "--out",
            analytic.to_str().unwrap(),
            "--n",
            "50",
            "--steps",
            "5",
            "--etas",
            "0",
            "--no-ode",
            "--no-ddpm",
            "--ddim-variance",
            "both",
            "--analytic-rows",
            rows,
        ])
    };
    let (ok, out, err) = analytic_call("200");
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    let names = sampler_names(&v);
    assert_eq!(names, ["DDIM-5 η=0", "DDIM-5 η=0, analytic σ"], "{out}");
    assert_eq!(rows[1]["ddim_variance"], "analytic", "{out}");
    let gamma = rows[1]["analytic_gamma"].as_array().unwrap();
    assert_eq!(gamma.len(), 5, "{out}");
    assert!(
        gamma
            .iter()
            .all(|g| g.as_f64().is_some_and(|g| g.is_finite() && g > 0.0)),
        "{out}"
    );
    assert_eq!(rows[1]["modes"], 8, "{out}");
    let (ok, _, err) = analytic_call("0");
    assert!(!ok && err.contains("--analytic-rows"), "{err}");
    // A grid split over two processes: DDPM alone, then DDIM with the first
    // call's rows merged in; a merge of another sample count is refused.
    let ddpm_only = dir.join("samplers-ddpm");
    let split = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "samplers",
            "--checkpoint",
            run_s,
            "--out",
            out.to_str().unwrap(),
            "--n",
            "50",
        ];
        args.extend_from_slice(extra);
        genlab(&args)
    };
    let (ok, _, err) = split(&ddpm_only, &["--no-ddim", "--no-ode"]);
    assert!(ok, "{err}");
    let merged = ddpm_only.join("samplers.json");
    let merged_s = merged.to_str().unwrap();
    let both = dir.join("samplers-both");
    let (ok, out, err) = split(
        &both,
        &[
            "--no-ddpm",
            "--no-ode",
            "--steps",
            "5",
            "--etas",
            "0",
            "--merge",
            merged_s,
        ],
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names = sampler_names(&v);
    assert_eq!(names, ["DDPM-20", "DDIM-5 η=0"], "{out}");
    let table = std::fs::read_to_string(both.join("samplers.md")).unwrap();
    assert!(
        table.contains("DDPM-20") && table.contains("DDIM-5"),
        "{table}"
    );
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        both.to_str().unwrap(),
        "--n",
        "40",
        "--merge",
        merged_s,
    ]);
    assert!(!ok && err.contains("50 samples"), "{err}");
    let (ok, _, err) = split(&both, &["--no-ddpm", "--no-ddim", "--no-ode"]);
    assert!(!ok && err.contains("no sampler is left"), "{err}");
    let (ok, _, err) = split(&both, &["--no-ddpm", "--no-ode", "--steps", "5", "--floor"]);
    assert!(!ok && err.contains("--floor"), "{err}");
    // Merging alone combines finished tables.
    let combined = dir.join("samplers-combined");
    let both_json = both.join("samplers.json");
    let (ok, out, err) = split(
        &combined,
        &[
            "--no-ddpm",
            "--no-ddim",
            "--no-ode",
            "--merge",
            both_json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samplers"].as_array().unwrap().len(), 2, "{out}");
    assert!(combined.join("samplers.png").exists());
    // The DDIM paper's quadratic grid: its rows say so in name, field and
    // chunk key, beside merged rows of the default trailing grid.
    let quad = dir.join("samplers-quadratic");
    let (ok, out, err) = split(
        &quad,
        &[
            "--no-ddpm",
            "--steps",
            "5",
            "--etas",
            "1",
            "--ode-steps",
            "5",
            "--spacing",
            "quadratic",
            "--merge",
            both_json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names = sampler_names(&v);
    assert_eq!(
        names,
        [
            "DDPM-20",
            "DDIM-5 η=0",
            "DDIM-5 η=1, quadratic",
            "ODE-5 (DPM-Solver++ 2M), quadratic"
        ],
        "{out}"
    );
    let rows = v["samplers"].as_array().unwrap();
    assert_eq!(rows[1]["spacing"], "trailing", "{out}");
    assert_eq!(
        rows[0].get("spacing"),
        None,
        "DDPM visits every step: {out}"
    );
    for r in &rows[2..] {
        assert_eq!(r["spacing"], "quadratic", "{r}");
        assert!(r["high_quality_fraction"].as_f64().is_some(), "{r}");
    }
    assert!(quad.join("samplers.png").exists());
    let (ok, _, err) = split(&quad, &["--no-ddpm", "--spacing", "cubic"]);
    assert!(!ok && err.contains("quadratic"), "{err}");
    // A grid in chunks shared by two shards (each draws its chunks and
    // scores nothing), then scored by a call that draws nothing: the same
    // rows as one chunked call in one process.
    let chunked = dir.join("samplers-chunked");
    let grid = [
        "--no-ddpm",
        "--steps",
        "5",
        "--etas",
        "0,1",
        "--ode-steps",
        "5",
    ];
    let mut args: Vec<&str> = grid.to_vec();
    args.extend(["--chunk", "20"]);
    for (shard, done) in [("0/2", 2), ("1/2", 3)] {
        let mut a = args.clone();
        a.extend(["--shard", shard]);
        let (ok, out, err) = split(&chunked, &a);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let rows = v["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{out}");
        for r in rows {
            assert_eq!(
                (r["chunks_done"].as_u64(), r["chunks"].as_u64()),
                (Some(done), Some(3))
            );
        }
        assert!(!chunked.join("samplers.json").exists());
    }
    let (ok, out, err) = split(&chunked, &args);
    assert!(ok, "{err}");
    assert!(
        !err.contains("chunk 1/3"),
        "a scoring call redrew a chunk: {err}"
    );
    let sharded: Value = serde_json::from_str(&out).unwrap();
    // Another --out scores the same chunks with --chunk-dir (a subset here).
    let chunk_dir = chunked.join("chunks");
    let mut subset = vec![
        "--no-ddpm",
        "--steps",
        "5",
        "--etas",
        "1",
        "--no-ode",
        "--chunk",
        "20",
    ];
    subset.extend(["--chunk-dir", chunk_dir.to_str().unwrap()]);
    let (ok, out, err) = split(&dir.join("samplers-subset"), &subset);
    assert!(ok && !err.contains("chunk 1/3"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samplers"][0]["sampler"], "DDIM-5 η=1", "{out}");
    assert_eq!(
        v["samplers"][0]["high_quality_fraction"],
        sharded["samplers"][1]["high_quality_fraction"]
    );
    let (ok, out, err) = split(&dir.join("samplers-one-process"), &args);
    assert!(ok, "{err}");
    assert!(err.contains("chunk 3/3"), "{err}");
    let single: Value = serde_json::from_str(&out).unwrap();
    let sans_time = |v: &Value| -> Vec<Value> {
        let mut rows = v["samplers"].as_array().unwrap().clone();
        for r in &mut rows {
            assert_eq!(r["chunks"], 3, "{r}");
            if cfg!(target_os = "linux") {
                assert!(r["cpu_ms_per_sample"].as_f64().unwrap() >= 0.0, "{r}");
            }
            let o = r.as_object_mut().unwrap();
            for timing in [
                "seconds",
                "ms_per_sample",
                "cpu_seconds",
                "cpu_ms_per_sample",
            ] {
                o.remove(timing);
            }
        }
        rows
    };
    assert_eq!(sans_time(&sharded), sans_time(&single));
    if cfg!(target_os = "linux") {
        let md = std::fs::read_to_string(chunked.join("samplers.md")).unwrap();
        assert!(md.contains("| CPU ms / sample |"), "{md}");
    }
    // The flex-trained run drawn on ndarray (--backend): the rows say so,
    // and the draws (same seeds, same weights) land on the same points.
    let mut moved = args.clone();
    moved.extend(["--backend", "ndarray"]);
    let (ok, out, err) = split(&dir.join("samplers-ndarray"), &moved);
    assert!(ok, "{err}");
    let on_ndarray: Value = serde_json::from_str(&out).unwrap();
    for (a, b) in on_ndarray["samplers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(single["samplers"].as_array().unwrap())
    {
        assert_eq!(
            (&a["backend"], &b["backend"]),
            (&"ndarray".into(), &"flex".into())
        );
        assert_eq!(a["sampler"], b["sampler"]);
        assert_eq!(a["modes_covered"], b["modes_covered"], "{a} {b}");
        let (qa, qb) = (
            a["high_quality_fraction"].as_f64(),
            b["high_quality_fraction"].as_f64(),
        );
        assert!((qa.unwrap() - qb.unwrap()).abs() <= 0.02, "{a} {b}");
    }
    let md = std::fs::read_to_string(dir.join("samplers-ndarray/samplers.md")).unwrap();
    assert!(md.contains("Drawn on ndarray"), "{md}");
    for (bad, says) in [
        (vec!["--shard", "0/2"], "needs --chunk"),
        (vec!["--chunk", "0"], "at least one sample"),
        (vec!["--chunk", "20", "--shard", "2/2"], "i/k"),
        (
            vec!["--chunk", "20", "--shard", "0/2", "--floor"],
            "--shard",
        ),
    ] {
        let mut a = grid.to_vec();
        a.extend(bad);
        let (ok, _, err) = split(&dir.join("samplers-bad"), &a);
        assert!(!ok && err.contains(says), "{says}: {err}");
    }
    // Another family's run: one row, its own sampler, scored the same way;
    // text runs are refused.
    let gmm = dir.join("gmm");
    let (ok, _, err) = genlab(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--steps",
        "5",
        "--out",
        gmm.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let gmm_samplers = |more: &[&str]| {
        let mut a = vec![
            "samplers",
            "--checkpoint",
            gmm.to_str().unwrap(),
            "--out",
            study.to_str().unwrap(),
        ];
        a.extend(more);
        genlab(&a)
    };
    let (ok, out, err) = gmm_samplers(&["--n", "40"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["kind"], "model");
    assert_eq!(rows[0]["modes"], 8);
    // A model that is not a burn model has no device to move to.
    let (ok, _, err) = gmm_samplers(&["--backend", "ndarray"]);
    assert!(!ok && err.contains("not a burn model"), "{err}");
    let ngram = dir.join("ngram");
    let (ok, _, err) = genlab(&[
        "train",
        "ngram",
        "--data",
        "shakespeare",
        "--out",
        ngram.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        ngram.to_str().unwrap(),
        "--out",
        study.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("2-D toys with known modes"), "{err}");
    // Runs on different data cannot share one table.
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        gmm.to_str().unwrap(),
        "--against",
        ngram.to_str().unwrap(),
        "--out",
        study.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("share their test images"), "{err}");

    // Text and ε-prediction under zero terminal SNR are refused with the reason.
    let bad = run.with_file_name("refused");
    let bad_s = bad.to_str().unwrap();
    let (ok, _, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "shakespeare",
        "--steps",
        "1",
        "--out",
        bad_s,
    ]);
    assert!(
        !ok && err.contains("2-D points") && err.contains("images"),
        "{err}"
    );
    let (ok, _, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "two-moons",
        "--steps",
        "1",
        "--zero-snr",
        "--out",
        bad_s,
    ]);
    assert!(!ok && err.contains("--prediction v"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tiny U-Net on digits for a few steps: the summary's bound in bits/dim
/// and FID of DDIM-50 samples, samples.png and trajectory.png; the run
/// samples with DDIM (50 steps) as pixels in [0, 1] and scores the test
/// split with the discretised bound; sizes the U-Net cannot halve are refused.
#[test]
fn image_ddpm_trains_on_digits_and_samples_with_ddim() {
    let dir = std::env::temp_dir().join(format!("genlab-ddpm-unet-{}", std::process::id()));
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "digits",
        "--steps",
        "3",
        "--batch",
        "8",
        "--diffusion-steps",
        "60",
        "--unet-channels",
        "8,16",
        "--bound-rows",
        "2",
        "--fid-samples",
        "8",
        "--out",
        run_s,
    ]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["denoiser"], "unet", "{out}");
    assert_eq!(
        summary["config"]["arch"]["widths"],
        serde_json::json!([8, 16])
    );
    let bpd = summary["test_bound_bpd"].as_f64().unwrap();
    assert!(bpd.is_finite() && bpd > 0.0, "{out}");
    assert!(
        summary["vs_test_ddim50"]["fid"]
            .as_f64()
            .unwrap()
            .is_finite(),
        "{out}"
    );
    assert_eq!(
        summary["trajectory_timesteps"].as_array().unwrap().len(),
        11
    );
    for f in ["samples.png", "trajectory.png", "loss.png"] {
        assert!(run.join(f).exists(), "{f}");
    }

    let (ok, out, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--sampler",
        "ddim",
        "--sample-steps",
        "50",
        "--n",
        "3",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samples"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        let r = r.as_array().unwrap();
        assert_eq!(r.len(), 64);
        assert!(r.iter().all(|p| (0.0..=1.0).contains(&p.as_f64().unwrap())));
    }
    let png = dir.join("s.png");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--sampler",
        "ddim",
        "--sample-steps",
        "10",
        "--n",
        "4",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(ok && png.exists(), "{err}");

    // genlab samplers on images: FID of each sampler against the test split.
    let study = dir.join("samplers");
    let (ok, out, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        study.to_str().unwrap(),
        "--n",
        "8",
        "--steps",
        "5",
        "--etas",
        "0",
        "--ode-steps",
        "5",
        "--no-ddpm",
        "--clipped-eps",
        "--floor",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(v["ddim_clipped_eps"], true, "{out}");
    assert!(rows.iter().all(|r| r["fid"].as_f64().unwrap().is_finite()));
    // The floor: 8 training digits, far closer to the test digits than a
    // U-Net after 3 steps.
    let floor = rows.iter().find(|r| r["kind"] == "data").unwrap();
    assert_eq!(floor["sampler"], "training images (floor)");
    let ddim = rows.iter().find(|r| r["kind"] == "ddim").unwrap();
    assert!(
        floor["fid"].as_f64().unwrap() < ddim["fid"].as_f64().unwrap(),
        "{out}"
    );
    let table = std::fs::read_to_string(study.join("samplers.md")).unwrap();
    assert!(
        table.contains("| training images (floor) |") && !table.contains("NaN"),
        "{table}"
    );
    assert!(table.contains("| DDIM-5 η=0, clipped x̂₀ |"), "{table}");
    // A flow's image samples overshoot [0, 1] slightly (inverse logit):
    // clipped before scoring, as the tour does, not refused.
    let flow = dir.join("flow");
    let (ok, _, err) = genlab(&[
        "train",
        "realnvp",
        "--data",
        "digits",
        "--steps",
        "2",
        "--out",
        flow.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = genlab(&[
        "samplers",
        "--checkpoint",
        flow.to_str().unwrap(),
        "--out",
        dir.join("flow-samplers").to_str().unwrap(),
        "--n",
        "8",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0]["fid"].as_f64().unwrap().is_finite(), "{out}");
    // Runs in one call (the latent-against-pixel measurement): the same
    // test images and seed, one table, and each run's best row against the
    // first run's — the ratio and speed-up computed from the rows. The
    // first run again, labelled apart, draws the same samples: ratio 1.
    let duel = dir.join("duel");
    let against = format!("{},{run_s}", flow.display());
    let (ok, out, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--against",
        &against,
        "--out",
        duel.to_str().unwrap(),
        "--n",
        "8",
        "--steps",
        "2,5",
        "--etas",
        "0",
        "--no-ode",
        "--no-ddpm",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{out}");
    let ddpm_rows: Vec<&Value> = rows.iter().filter(|r| r["run"] == "ddpm (run)").collect();
    assert_eq!(ddpm_rows.len(), 2, "{out}");
    assert!(ddpm_rows.iter().all(|r| r["kind"] == "ddim"), "{out}");
    let flow_row = rows.iter().find(|r| r["kind"] == "model").unwrap();
    assert_eq!(flow_row["run"], "realnvp (flow)", "{out}");
    let again: Vec<&Value> = rows
        .iter()
        .filter(|r| r["run"] == "ddpm (run, run 3)")
        .collect();
    assert_eq!(again.len(), 2, "{out}");
    for (a, b) in ddpm_rows.iter().zip(&again) {
        assert_eq!(a["fid"], b["fid"], "{out}");
    }
    let cmp = v["comparison"].as_array().unwrap();
    assert_eq!(cmp.len(), 3, "{out}");
    assert_eq!(cmp[2]["ratio_to_first"], 1.0, "{out}");
    let fid = |r: &Value| r["fid"].as_f64().unwrap();
    let best = ddpm_rows
        .iter()
        .min_by(|a, b| fid(a).total_cmp(&fid(b)))
        .unwrap();
    assert_eq!(cmp[0]["sampler"], best["sampler"], "{out}");
    assert!((cmp[0]["ratio_to_first"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    let ratio = fid(flow_row) / fid(best);
    assert!(
        (cmp[1]["ratio_to_first"].as_f64().unwrap() - ratio).abs() < 1e-9,
        "{out}"
    );
    let ms = |r: &Value| r["ms_per_sample"].as_f64().unwrap();
    let speedup = ms(best) / ms(flow_row);
    assert!((cmp[1]["speedup_over_first"].as_f64().unwrap() - speedup).abs() < 1e-9 * speedup);
    let table = std::fs::read_to_string(duel.join("samplers.md")).unwrap();
    assert!(
        table.contains("| ddpm (run): DDIM-5 η=0 |")
            && table.contains("| realnvp (flow): realnvp (its own sampler) |")
            && table.contains("against the first run's"),
        "{table}"
    );
    assert!(duel.join("samplers.png").exists());

    let (ok, out, err) = genlab(&["score", "--checkpoint", run_s, "--data", "digits"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "bound", "{out}");
    assert!(
        v["bound"].as_str().unwrap().contains("discretised"),
        "{out}"
    );
    assert_eq!(v["values"].as_array().unwrap().len(), 297);
    // The ODE likelihood and another image set are refused with the reason.
    let (ok, _, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--data",
        "digits",
        "--estimator",
        "ode",
        "--k",
        "20",
    ]);
    assert!(!ok && err.contains("variational bound"), "{err}");
    let (ok, _, err) = genlab(&["score", "--checkpoint", run_s, "--data", "mnist5k"]);
    assert!(!ok && err.contains("8x8 images"), "{err}");

    // 28 × 28 with four levels would halve 28 three times: refused with a fix.
    let bad = dir.join("bad");
    let (ok, _, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "mnist5k",
        "--unet-channels",
        "8,8,16,16",
        "--steps",
        "1",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("divisible by 8") && err.contains("--unet-channels 8,8,16"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--conditional` on digits: the summary's guidance sweep (FID, class
/// accuracy per w), guidance.png and guidance_samples.png; `sample
/// --guidance w --class c`; and the errors: a class out of range, a
/// negative w, guidance on an unconditional run, --conditional on points.
#[test]
fn conditional_ddpm_sweeps_guidance_and_samples_a_class() {
    let dir = std::env::temp_dir().join(format!("genlab-ddpm-cfg-{}", std::process::id()));
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "digits",
        "--conditional",
        "--steps",
        "3",
        "--batch",
        "8",
        "--diffusion-steps",
        "20",
        "--unet-channels",
        "8,16",
        "--bound-rows",
        "2",
        "--fid-samples",
        "20",
        "--guidance-grid",
        "0,2",
        "--out",
        run_s,
    ]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["config"]["classes"], 10, "{out}");
    let sweep = summary["guidance"]["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 2, "{out}");
    for (e, w) in sweep.iter().zip([0.0, 2.0]) {
        assert_eq!(e["w"].as_f64(), Some(w));
        assert!(e["fid"].as_f64().unwrap().is_finite(), "{out}");
        let acc = e["class_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{out}");
        assert_eq!(e["class_accuracy_per_class"].as_array().unwrap().len(), 10);
    }
    for f in [
        "samples.png",
        "trajectory.png",
        "guidance.png",
        "guidance_samples.png",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    let (ok, out, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--sampler",
        "ddim",
        "--sample-steps",
        "5",
        "--guidance",
        "1.5",
        "--class",
        "3",
        "--n",
        "2",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 2);
    // Without sampler flags a conditional run draws its classes in turn,
    // as with them (the default sampler is ancestral DDPM over all T).
    let draw = |extra: &[&str]| {
        let mut args = vec!["sample", "--checkpoint", run_s, "--n", "12"];
        args.extend_from_slice(extra);
        let (ok, out, err) = genlab(&args);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["samples"].clone()
    };
    assert_eq!(draw(&[]), draw(&["--sampler", "ddpm"]));
    assert_ne!(draw(&[]), draw(&["--class", "3"]));
    assert_eq!(
        draw(&["--class", "3"]),
        draw(&["--class", "3", "--sampler", "ddpm"])
    );
    let (ok, _, err) = genlab(&["sample", "--checkpoint", run_s, "--class", "10"]);
    assert!(!ok && err.contains("10 classes"), "{err}");
    let (ok, _, err) = genlab(&["sample", "--checkpoint", run_s, "--guidance", "-1"]);
    assert!(!ok && err.contains("≥ 0"), "{err}");

    // `samplers --guidance`: a row per sampler and w, the classes in turn;
    // w = 0 draws what a call without --guidance draws, w = 2 other samples.
    let samplers = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "samplers",
            "--checkpoint",
            run_s,
            "--out",
            out,
            "--n",
            "20",
            "--steps",
            "5",
            "--etas",
            "0",
            "--no-ode",
            "--no-ddpm",
        ];
        args.extend_from_slice(extra);
        genlab(&args)
    };
    let (ok, out, err) = samplers(dir.join("sw").to_str().unwrap(), &["--guidance", "0,2"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samplers"].as_array().unwrap();
    let names = sampler_names(&v);
    assert_eq!(names, ["DDIM-5 η=0 w=0", "DDIM-5 η=0 w=2"], "{out}");
    assert_eq!(rows[1]["guidance"], 2.0, "{out}");
    // Guided DDIM steps on the clipped x̂₀ (as `sample --guidance` does).
    assert_eq!(rows[0]["clipped_eps"], false, "{out}");
    assert_eq!(rows[1]["clipped_eps"], true, "{out}");
    assert_ne!(rows[0]["fid"], rows[1]["fid"], "{out}");
    let (ok, out, err) = samplers(dir.join("s0").to_str().unwrap(), &[]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samplers"][0]["sampler"], "DDIM-5 η=0", "{out}");
    assert_eq!(v["samplers"][0]["fid"], rows[0]["fid"], "{out}");
    let md = std::fs::read_to_string(dir.join("sw/samplers.md")).unwrap();
    assert!(md.contains("| DDIM-5 η=0 w=2, clipped x̂₀ |"), "{md}");
    let (ok, _, err) = samplers(dir.join("bad-w").to_str().unwrap(), &["--guidance", "-1"]);
    assert!(!ok && err.contains("w ≥ 0"), "{err}");
    // DDIM with the analytic variance: Γ_t of the conditional model at its
    // training rows' classes; refused with guidance (a guided ε̃ is not the
    // model's ε̂).
    let analytic = ["--ddim-variance", "analytic", "--analytic-rows", "30"];
    let (ok, out, err) = samplers(dir.join("an").to_str().unwrap(), &analytic);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let row = &v["samplers"][0];
    assert_eq!(row["sampler"], "DDIM-5 η=0, analytic σ", "{out}");
    assert_eq!(row["analytic_rows"], 30, "{out}");
    assert_eq!(row["analytic_gamma"].as_array().unwrap().len(), 5, "{out}");
    assert!(row["fid"].as_f64().is_some_and(f64::is_finite), "{out}");
    let guided = [&analytic[..], &["--guidance", "0,2"]].concat();
    let (ok, _, err) = samplers(dir.join("an-w").to_str().unwrap(), &guided);
    assert!(!ok && err.contains("--guidance 0"), "{err}");
    // Chunks of a conditional run start at class 0: a multiple of the classes.
    let (ok, _, err) = samplers(dir.join("bad-chunk").to_str().unwrap(), &["--chunk", "15"]);
    assert!(!ok && err.contains("multiple of 10"), "{err}");
    let (ok, out, err) = samplers(dir.join("chunked").to_str().unwrap(), &["--chunk", "10"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samplers"][0]["chunks"], 2, "{out}");

    let plain = dir.join("plain");
    let (ok, _, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "eight-gaussians",
        "--steps",
        "2",
        "--diffusion-steps",
        "10",
        "--diffusion-hidden",
        "8",
        "--bound-rows",
        "2",
        "--ode-nll-steps",
        "0",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        plain.to_str().unwrap(),
        "--guidance",
        "1",
    ]);
    assert!(!ok && err.contains("unconditional"), "{err}");
    let (ok, _, err) = genlab(&[
        "samplers",
        "--checkpoint",
        plain.to_str().unwrap(),
        "--out",
        dir.join("plain-sw").to_str().unwrap(),
        "--guidance",
        "0,1",
    ]);
    assert!(!ok && err.contains("class-conditional"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "ddpm",
        "--data",
        "eight-gaussians",
        "--conditional",
        "--steps",
        "1",
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("labelled images"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Toys whose modes are curves are judged like the mixtures: a ddpm on two
/// moons reports its two arcs (gen-eval's `arc_coverage`) in the summary
/// and in `genlab samplers`, and a resume of the finished run recomputes
/// the summary without claiming a training speed.
#[test]
fn two_moons_runs_report_arc_coverage() {
    let dir = std::env::temp_dir().join(format!("genlab-ddpm-moons-{}", std::process::id()));
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "ddpm",
            "--data",
            "two-moons",
            "--steps",
            "20",
            "--diffusion-steps",
            "20",
            "--diffusion-hidden",
            "16,16",
            "--bound-rows",
            "20",
        ];
        args.extend_from_slice(extra);
        genlab(&args)
    };
    let (ok, out, err) = train(&["--out", run_s]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let ddpm = &summary["sample_ddpm"];
    assert_eq!(ddpm["modes"], 2, "{out}");
    let hq = ddpm["high_quality_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&hq), "{out}");
    assert!(summary["ms_per_step"].as_f64().unwrap() > 0.0, "{out}");

    let (ok, out, err) = train(&["--resume", run_s]);
    assert!(ok, "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["sample_ddpm"]["modes"], 2, "{out}");
    assert!(again["ms_per_step"].is_null(), "{out}");

    let study = dir.join("study");
    let (ok, out, err) = genlab(&[
        "samplers",
        "--checkpoint",
        run_s,
        "--out",
        study.to_str().unwrap(),
        "--n",
        "40",
        "--steps",
        "5",
        "--etas",
        "0",
        "--no-ode",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for r in v["samplers"].as_array().unwrap() {
        assert_eq!(r["modes"], 2, "{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
