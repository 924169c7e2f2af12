//! `genlab tour` end to end at the smoke budget: the report's structure,
//! finite numbers, pictures that exist, a kill mid-run that the next run
//! completes without retraining finished families, and bad input.

mod common;
use common::genlab;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genlab-tour-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn modified(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// Every number in `v` is finite and no measured figure is missing (JSON
/// has no NaN: serde writes a non-finite f64 as null, so nulls under the
/// numeric sections are what a NaN would look like).
fn check_numbers(v: &Value, path: &str) {
    match v {
        Value::Number(n) => assert!(
            n.as_f64().is_some_and(f64::is_finite),
            "{path} = {n} is not finite"
        ),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| check_numbers(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| check_numbers(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

#[test]
fn smoke_tour_reports_every_family_and_resumes_after_a_kill() {
    let out = workdir("smoke");
    let out_s = out.display().to_string();

    // Start the tour in its own process group and kill the whole group
    // (the tour and its `genlab train` child) once two families are done.
    let mut child = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .args(["tour", "--budget", "smoke", "--out", &out_s])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let done_early = out.join("runs/realnvp-toy/summary.json");
    let start = Instant::now();
    while !done_early.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the tour did not finish its second run in 5 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the tour ended before its second run finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    assert!(!out.join("report.html").exists());
    let first: Vec<(PathBuf, SystemTime)> = ["gmm-toy", "realnvp-toy"]
        .iter()
        .map(|r| {
            let p = out.join("runs").join(r).join("summary.json");
            let t = modified(&p);
            (p, t)
        })
        .collect();

    // Run it again: it completes, and the finished families are reused.
    let (ok, _, err) = genlab(&["tour", "--budget", "smoke", "--out", &out_s]);
    assert!(ok, "{err}");
    for (p, t) in &first {
        assert_eq!(modified(p), *t, "{} was retrained", p.display());
    }
    assert!(!err.contains("gmm on eight-gaussians: training"), "{err}");

    // The report.
    for f in ["report.html", "report.md", "summary.json"] {
        assert!(out.join(f).exists(), "no {f}");
    }
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: Value = serde_json::from_str(&text).unwrap();
    check_numbers(&summary, "summary");
    let table = summary["table"].as_array().unwrap();
    let mut families: Vec<&str> = table
        .iter()
        .map(|r| r["family"].as_str().unwrap())
        .collect();
    families.sort_unstable();
    families.dedup();
    assert_eq!(
        families,
        [
            "autoregressive",
            "classical",
            "diffusion",
            "flow",
            "gan",
            "vae"
        ]
    );
    for r in table {
        for m in r["marks"].as_array().unwrap() {
            assert!(["✓✓", "✓", "~", "×"].contains(&m.as_str().unwrap()), "{r}");
        }
    }
    for run in summary["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        assert_eq!(run["status"], "ok", "{name}: {}", run["status"]);
        assert!(
            run["sample"]["ms_per_sample"].as_f64().unwrap() > 0.0,
            "{name}"
        );
        let score = &run["score"];
        if score["kind"] != "none" {
            assert!(score["nll_nats"].is_number(), "{name}: {score}");
            assert!(score["bits_per_dim"].is_number(), "{name}: {score}");
        }
        for (k, v) in run["quality"].as_object().unwrap() {
            assert!(v.is_number(), "{name}: quality {k} = {v}");
        }
        for p in run["pictures"].as_array().unwrap() {
            let rel = p[1].as_str().unwrap();
            assert!(is_png(&out.join(rel)), "{name}: {rel} is not a PNG");
        }
    }
    // The GAN cannot score, the exact models score exactly, the VAE gives a bound.
    let kind = |name: &str| {
        summary["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["score"]["kind"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(kind("gan-toy"), "none");
    assert_eq!(kind("realnvp-toy"), "exact");
    assert_eq!(kind("made-mnist"), "exact");
    assert_eq!(kind("vae-mnist"), "bound");
    assert_eq!(kind("latent-ddpm-mnist"), "bound");
    let claims = summary["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 8);
    for c in claims {
        let v = c["verdict"].as_str().unwrap();
        assert!(!c["measured"].as_str().unwrap().is_empty(), "{c}");
        assert!(
            !c["measured"].as_str().unwrap().contains("could not run"),
            "{c}"
        );
        assert!(
            [
                "supported",
                "not supported",
                "not measured",
                "not observed at this budget"
            ]
            .contains(&v),
            "{c}"
        );
        // Every experiment shows at least one picture, and each exists.
        assert!(!c["pictures"].as_array().unwrap().is_empty(), "{c}");
        for p in c["pictures"].as_array().unwrap() {
            let rel = p[1].as_str().unwrap();
            assert!(is_png(&out.join(rel)), "{rel} is not a PNG");
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("missing picture"));
    assert!(html.contains("data:image/png;base64,"));
    assert!(html.contains("The measured task table"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| gan-toy (ns-gan) | gan |"), "{md}");

    // Once finished, running it again only rewrites the report.
    let report_time = modified(&out.join("summary.json"));
    let (ok, _, err) = genlab(&["tour", "--budget", "smoke", "--out", &out_s]);
    assert!(ok, "{err}");
    assert!(!err.contains("training"), "{err}");
    assert!(modified(&out.join("summary.json")) >= report_time);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn tour_refuses_bad_input_with_clear_errors() {
    let (ok, _, err) = genlab(&["tour", "--budget", "huge"]);
    assert!(!ok);
    assert!(err.contains("unknown budget 'huge'"), "{err}");
    assert!(err.contains("quick"), "{err}");

    let (ok, _, err) = genlab(&["tour", "--backend", "cuda"]);
    assert!(!ok);
    assert!(err.contains("cuda"), "{err}");

    // wgpu with no adapter (no Vulkan ICD, no EGL vendor): the reason and
    // the fix, before anything is trained, instead of a panic.
    let d = workdir("no-adapter");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_genlab"))
        .args(["tour", "--budget", "smoke", "--backend", "wgpu", "--out"])
        .arg(&d)
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("no wgpu adapter") && err.contains("mesa-vulkan-drivers"),
        "{err}"
    );
    assert!(!d.join("runs").exists(), "nothing is trained");

    // A directory with something else in it.
    let d = workdir("other");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("notes.txt"), "mine").unwrap();
    let (ok, _, err) = genlab(&[
        "tour",
        "--budget",
        "smoke",
        "--out",
        &d.display().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("holds something other than a tour"), "{err}");

    // A tour with other options.
    let t = workdir("other-tour");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        t.join("tour.json"),
        r#"{"tour":1,"budget":"quick","backend":"flex","seed":0}"#,
    )
    .unwrap();
    let (ok, _, err) = genlab(&[
        "tour",
        "--budget",
        "smoke",
        "--out",
        &t.display().to_string(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("holds a quick tour on flex with seed 0"),
        "{err}"
    );
    assert!(err.contains("--budget quick"), "{err}");

    // Too little disk (the requirement raised past any disk).
    let e = workdir("disk");
    let out = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .args([
            "tour",
            "--budget",
            "smoke",
            "--out",
            &e.display().to_string(),
        ])
        .env("GENLAB_TOUR_MIN_FREE_MIB", "1000000000000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("MiB free"), "{err}");
    assert!(err.contains("needs about 1000000000000 MiB"), "{err}");
    for p in [d, t, e] {
        let _ = std::fs::remove_dir_all(p);
    }
}
