//! The tour's report: the measured task table with marks derived from the
//! numbers by written rules, the tutorial's marks beside them, the
//! experiments, and the pictures; as `report.html` (self-contained),
//! `report.md` and `summary.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gen_core::Result;
use gen_core::checkpoint::{write_atomic, write_json_atomic};
use serde::Serialize;

use super::claims::Outcome;
use super::measure::Measured;
use super::plan::Group;

/// The rules that turn numbers into marks, as printed in the report.
pub const RULES: &str = "\
- **Learning**: × when the run diverged or failed, or when the model's main figure (test NLL, \
or FID, or the share of high-quality samples) varies over the seeds trained on one data set \
(any data set of the tour) by more than 25 % of its mean; otherwise ✓✓ when the loss curve's roughness (mean step-to-step change over the \
second half of training, divided by the curve's whole range) is below 0.1, ✓ below 0.3, \
~ above.
- **Scoring**: × when the model cannot score; ✓✓ for an exact log-likelihood; for a bound, \
an estimate or an integrated likelihood, ✓ when it lies within 0.1 nats of the true \
density's NLL (toys, where the truth is known), ~ otherwise or when there is no truth to \
compare with.
- **Sampling**: from the time per sample relative to the fastest sampler on the same data \
(the classical baselines included): ✓✓ within 100× (one network pass), ✓ within 1000×, × \
beyond (a sequential sampler pays one network pass per step, pixel or character).
- **Inference**: × without an encoder; ~ when encoding a row takes more than 100× the \
fastest encoder on the same data (an iterative inversion); ✓✓ when the posterior or the \
inverse is exact, or when the encoding reconstructs the data (R² ≥ 0.5); ✓ otherwise.";

/// How sample quality is measured, as printed under the table.
pub const QUALITY_NOTE: &str = "Sample quality: on the toys, modes covered and the share of \
samples within 3σ of a mode (gen-eval); on MNIST-5k, FID, improved precision / recall and \
density / coverage (k = 5) of the samples against the 500 grey-level test images in the \
features of gen-eval's MNIST extractor (not Inception: the numbers compare only with each \
other), so a model of binarized images (MADE) is measured with its binary samples; on text, \
the share of sampled words that occur in the training split.";

/// The tutorial's marks (learning, scoring, sampling, inference) per family
/// (latent diffusion has its own, section 11.19.7).
fn tutorial(family: &str, model: &str) -> Option<[&'static str; 4]> {
    if model == "latent-ddpm" {
        return Some(["✓✓", "~", "✓✓", "✓"]);
    }
    Some(match family {
        "autoregressive" => ["✓✓", "✓✓", "×", "×"],
        "vae" => ["✓", "~", "✓✓", "✓✓"],
        "gan" => ["×", "×", "✓✓", "×"],
        "flow" => ["✓", "✓✓", "✓", "✓✓"],
        "diffusion" => ["✓✓", "✓", "×", "~"],
        _ => return None,
    })
}

/// One row of the measured table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Run name.
    pub run: String,
    /// Family.
    pub family: String,
    /// Model.
    pub model: String,
    /// Data set.
    pub data: String,
    /// Marks: learning, scoring, sampling, inference.
    pub marks: [String; 4],
    /// The numbers behind each mark, in words.
    pub why: [String; 4],
    /// The tutorial's marks, when it has them.
    pub tutorial: Option<[String; 4]>,
    /// Sample quality, in words.
    pub quality: String,
}

const TASKS: [&str; 4] = ["learning", "scoring", "sampling", "inference"];

/// The main figure of a run for the seed-spread rule.
fn main_figure(m: &Measured) -> Option<f64> {
    m.score
        .as_ref()
        .and_then(|s| s.nll_nats)
        .or_else(|| m.quality.get("fid").and_then(|v| v.as_f64()))
        .or_else(|| {
            m.quality
                .get("high_quality_fraction")
                .and_then(|v| v.as_f64())
        })
}

/// The largest relative spread (max − min over |mean|) of `model`'s main
/// figure over the seeds trained on one data set, and where it was found.
fn seed_spread(measured: &[Measured], model: &str) -> (Option<f64>, String) {
    let mut data: Vec<&str> = measured
        .iter()
        .filter(|o| o.model == model)
        .map(|o| o.data.as_str())
        .collect();
    data.sort_unstable();
    data.dedup();
    let mut worst: (Option<f64>, String) = (None, String::new());
    for d in data {
        let v: Vec<f64> = measured
            .iter()
            .filter(|o| o.model == model && o.data == d)
            .filter_map(main_figure)
            .collect();
        if v.len() < 2 {
            continue;
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let s = (hi - lo) / mean.abs().max(1e-12);
        if worst.0.is_none_or(|w| s > w) {
            worst = (Some(s), format!("{} seeds on {d}", v.len()));
        }
    }
    worst
}

/// The representative runs (first seed) with their marks.
pub fn rows(measured: &[Measured]) -> Vec<Row> {
    let reps: Vec<&Measured> = measured
        .iter()
        .filter(|m| !m.name.contains("-seed"))
        .collect();
    // The fastest run of a group by `f`: (its time, its model).
    let fastest = |g: Group, f: &dyn Fn(&Measured) -> Option<f64>| {
        measured
            .iter()
            .filter(|m| m.group == g)
            .filter_map(|m| Some((f(m)?, m.model.clone())))
            .fold((f64::INFINITY, String::new()), |a, b| {
                if b.0 < a.0 { b } else { a }
            })
    };
    reps.iter()
        .map(|m| {
            // Learning.
            let (spread, seeds) = seed_spread(measured, &m.model);
            let rough = m.learn.roughness;
            let learn = if m.status != "ok" || spread.is_some_and(|s| s > 0.25) {
                "×"
            } else {
                match rough {
                    Some(r) if r < 0.1 => "✓✓",
                    Some(r) if r < 0.3 => "✓",
                    Some(_) => "~",
                    None => "✓✓",
                }
            };
            let mut learn_why = match (m.learn.seconds, m.learn.steps) {
                (Some(s), Some(n)) => format!("{n:.0} steps in {s:.1} s"),
                _ => m.status.clone(),
            };
            if let Some(r) = rough {
                let _ = write!(learn_why, ", roughness {r:.2}");
            }
            if let Some(s) = spread {
                let _ = write!(learn_why, ", seed spread {:.0} % ({seeds})", 100.0 * s);
            }
            if m.status != "ok" {
                learn_why = format!("{}; {learn_why}", m.status);
            }

            // Scoring.
            let truth = m.quality.get("true_nll").and_then(|v| v.as_f64());
            let (score, score_why) = match &m.score {
                None => ("×", "not measured".to_string()),
                Some(s) if s.kind == "none" => ("×", "none: no density".to_string()),
                Some(s) => {
                    let nll = s.nll_nats.unwrap_or(f64::NAN);
                    let bits = s.bits_per_dim.unwrap_or(f64::NAN);
                    let mark = match (s.kind.as_str(), truth) {
                        ("exact", _) => "✓✓",
                        (_, Some(t)) if (nll - t).abs() <= 0.1 => "✓",
                        _ => "~",
                    };
                    let mut why = format!("{}: NLL {nll:.3} nats ({bits:.3} bits/dim)", s.kind);
                    if let Some(t) = truth {
                        let _ = write!(why, ", true {t:.3}");
                    }
                    (mark, why)
                }
            };

            // Sampling.
            let (fast, fast_model) =
                fastest(m.group, &|o| o.sample.as_ref().map(|s| s.ms_per_sample));
            let (sample, sample_why) = match &m.sample {
                None => ("×", "not measured".to_string()),
                Some(s) => {
                    let ratio = s.ms_per_sample / fast.max(1e-9);
                    let mark = if ratio <= 100.0 {
                        "✓✓"
                    } else if ratio <= 1000.0 {
                        "✓"
                    } else {
                        "×"
                    };
                    (
                        mark,
                        format!(
                            "{:.4} ms/sample ({ratio:.0}× {fast_model}, the fastest)",
                            s.ms_per_sample
                        ),
                    )
                }
            };

            // Inference.
            let (fast_enc, enc_model) =
                fastest(m.group, &|o| o.infer.as_ref().and_then(|i| i.ms_per_row));
            let (infer, infer_why) = match &m.infer {
                Some(i) if i.supported => {
                    let ms = i.ms_per_row.unwrap_or(f64::NAN);
                    let ratio = ms / fast_enc.max(1e-9);
                    let mark = if ratio > 100.0 {
                        "~"
                    } else if i.exact || i.recon_r2.is_some_and(|r| r >= 0.5) {
                        "✓✓"
                    } else {
                        "✓"
                    };
                    let mut why = format!("{ms:.4} ms/row ({ratio:.0}× {enc_model}, the fastest)");
                    if let Some(r) = i.recon_r2 {
                        let _ = write!(why, ", reconstruction R² {r:.3}");
                    }
                    (mark, why)
                }
                Some(_) => ("×", "no encoder".to_string()),
                None => ("×", "not measured".to_string()),
            };

            Row {
                run: m.name.clone(),
                family: m.family.clone(),
                model: m.model.clone(),
                data: m.data.clone(),
                marks: [learn, score, sample, infer].map(String::from),
                why: [learn_why, score_why, sample_why, infer_why],
                tutorial: tutorial(&m.family, &m.model).map(|t| t.map(String::from)),
                quality: quality_words(m),
            }
        })
        .collect()
}

fn quality_words(m: &Measured) -> String {
    let q = |k: &str| m.quality.get(k).and_then(|v| v.as_f64());
    match m.group {
        Group::Toy => match (q("modes_covered"), q("modes"), q("high_quality_fraction")) {
            (Some(c), Some(n), Some(h)) => {
                format!("{c:.0}/{n:.0} modes, {:.1} % high quality", 100.0 * h)
            }
            _ => "—".into(),
        },
        Group::Images => match (q("fid"), q("precision"), q("recall")) {
            (Some(f), Some(p), Some(r)) => format!(
                "FID {f:.1}, precision {p:.2}, recall {r:.2}, density {:.2}, coverage {:.2}",
                q("density").unwrap_or(f64::NAN),
                q("coverage").unwrap_or(f64::NAN)
            ),
            _ => "—".into(),
        },
        Group::Text => q("word_validity")
            .map(|v| format!("{:.1} % of sampled words are Shakespeare's", 100.0 * v))
            .unwrap_or_else(|| "—".into()),
    }
}

/// Where the measured marks agree with the tutorial's, and where not.
fn agreement(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        let Some(t) = &r.tutorial else { continue };
        for k in 0..4 {
            let (ours, theirs) = (r.marks[k].as_str(), t[k].as_str());
            if ours != theirs {
                out.push(format!(
                    "{} ({}), {}: measured {ours}, the tutorial says {theirs} — {}.",
                    r.model, r.family, TASKS[k], r.why[k]
                ));
            }
        }
    }
    out
}

/// Writes the report; returns the files written.
pub fn write(
    out: &Path,
    meta: &serde_json::Value,
    measured: &[Measured],
    claims: &[Outcome],
    started: Instant,
) -> Result<Vec<PathBuf>> {
    let rows = rows(measured);
    let disagreements = agreement(&rows);
    let seconds = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "tour": meta,
        "report_seconds": seconds,
        "rules": RULES,
        "table": rows,
        "disagreements": disagreements,
        "runs": measured,
        "claims": claims,
    });
    let summary_path = out.join("summary.json");
    write_json_atomic(&summary_path, &summary)?;

    let md = markdown(meta, &rows, &disagreements, measured, claims);
    let md_path = out.join("report.md");
    write_atomic(&md_path, md.as_bytes())?;
    let html = html(out, meta, &rows, &disagreements, measured, claims);
    let html_path = out.join("report.html");
    write_atomic(&html_path, html.as_bytes())?;
    Ok(vec![html_path, md_path, summary_path])
}

fn cell(mark: &str, why: &str) -> String {
    format!("{mark} {why}")
}

fn markdown(
    meta: &serde_json::Value,
    rows: &[Row],
    disagreements: &[String],
    measured: &[Measured],
    claims: &[Outcome],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# genlab tour ({} budget, {} backend, seed {})\n",
        meta["budget"].as_str().unwrap_or_default(),
        meta["backend"].as_str().unwrap_or_default(),
        meta["seed"]
    );
    let _ = writeln!(s, "## The measured task table\n");
    let _ = writeln!(
        s,
        "| run | family | data | learning | scoring | sampling | inference | sample quality | tutorial (L/Sc/Sa/I) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.model,
            r.family,
            r.data,
            cell(&r.marks[0], &r.why[0]),
            cell(&r.marks[1], &r.why[1]),
            cell(&r.marks[2], &r.why[2]),
            cell(&r.marks[3], &r.why[3]),
            r.quality,
            r.tutorial
                .as_ref()
                .map(|t| t.join(" / "))
                .unwrap_or_else(|| "—".into())
        );
    }
    let _ = writeln!(s, "\n{QUALITY_NOTE}\n");
    let _ = writeln!(s, "\n### How the marks are derived\n\n{RULES}\n");
    let _ = writeln!(s, "### Where the measurements disagree with the tutorial\n");
    if disagreements.is_empty() {
        let _ = writeln!(s, "Nowhere: every measured mark equals the tutorial's.\n");
    }
    for d in disagreements {
        let _ = writeln!(s, "- {d}");
    }
    let _ = writeln!(s, "\n## The claims as experiments\n");
    for c in claims {
        let _ = writeln!(s, "### {} — {}\n", c.title, c.verdict);
        let _ = writeln!(
            s,
            "**Claim.** {}\n\n**Measured.** {}\n",
            c.claim, c.measured
        );
        for (t, p) in &c.pictures {
            let _ = writeln!(s, "![{t}]({p})\n");
        }
    }
    let _ = writeln!(s, "## Samples\n");
    for m in measured.iter().filter(|m| !m.name.contains("-seed")) {
        for (t, p) in &m.pictures {
            let _ = writeln!(s, "**{}** ({}): {t}\n\n![{t}]({p})\n", m.name, m.model);
        }
        if !m.text_samples.is_empty() {
            let _ = writeln!(s, "**{}** ({}):\n\n```text", m.name, m.model);
            for t in &m.text_samples {
                let _ = writeln!(s, "{}\n---", t.trim_end());
            }
            let _ = writeln!(s, "```\n");
        }
    }
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown's `**bold**` as HTML, on already escaped text.
fn bold(t: &str) -> String {
    let mut out = String::new();
    for (i, part) in t.split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<b>{part}</b>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// An `<img>` with the picture embedded, or a note when it is missing.
fn img(out: &Path, rel: &str, title: &str) -> String {
    match std::fs::read(out.join(rel)) {
        Ok(bytes) => format!(
            "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>",
            esc(title),
            base64(&bytes)
        ),
        Err(_) => format!("<p><i>missing picture: {}</i></p>", esc(rel)),
    }
}

fn html(
    out: &Path,
    meta: &serde_json::Value,
    rows: &[Row],
    disagreements: &[String],
    measured: &[Measured],
    claims: &[Outcome],
) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>genlab tour</title><style>\
         body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}\
         th{background:#f3f3f3}.mark{font-size:16px;font-weight:bold}figure{display:inline-block;margin:8px}\
         img{max-width:560px;border:1px solid #ddd}pre{background:#f7f7f7;padding:8px;white-space:pre-wrap}\
         .verdict{color:#555;font-weight:normal}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>genlab tour</h1><p>{} budget, {} backend, seed {}.</p>",
        esc(meta["budget"].as_str().unwrap_or_default()),
        esc(meta["backend"].as_str().unwrap_or_default()),
        meta["seed"]
    );
    s.push_str(
        "<h2>The measured task table</h2><table><tr><th>run</th><th>family</th><th>data</th>",
    );
    for t in TASKS {
        let _ = write!(s, "<th>{t}</th>");
    }
    s.push_str("<th>sample quality</th><th>tutorial (L / Sc / Sa / I)</th></tr>");
    for r in rows {
        let _ = write!(
            s,
            "<tr><td>{} ({})</td><td>{}</td><td>{}</td>",
            esc(&r.run),
            esc(&r.model),
            esc(&r.family),
            esc(&r.data)
        );
        for k in 0..4 {
            let _ = write!(
                s,
                "<td><span class=\"mark\">{}</span><br>{}</td>",
                esc(&r.marks[k]),
                esc(&r.why[k])
            );
        }
        let _ = write!(
            s,
            "<td>{}</td><td>{}</td></tr>",
            esc(&r.quality),
            esc(&r
                .tutorial
                .as_ref()
                .map(|t| t.join(" / "))
                .unwrap_or_else(|| "—".into()))
        );
    }
    let _ = write!(s, "</table><p>{}</p>", esc(QUALITY_NOTE));
    s.push_str("<h3>How the marks are derived</h3><ul>");
    for line in RULES.split("\n- ") {
        let _ = write!(s, "<li>{}</li>", bold(&esc(line.trim_start_matches("- "))));
    }
    s.push_str("</ul><h3>Where the measurements disagree with the tutorial</h3><ul>");
    if disagreements.is_empty() {
        s.push_str("<li>Nowhere: every measured mark equals the tutorial's.</li>");
    }
    for d in disagreements {
        let _ = write!(s, "<li>{}</li>", esc(d));
    }
    s.push_str("</ul><h2>The claims as experiments</h2>");
    for c in claims {
        let _ = write!(
            s,
            "<h3>{} <span class=\"verdict\">— {}</span></h3><p><b>Claim.</b> {}</p><p><b>Measured.</b> {}</p>",
            esc(&c.title),
            esc(&c.verdict),
            esc(&c.claim),
            esc(&c.measured)
        );
        for (t, p) in &c.pictures {
            s.push_str(&img(out, p, t));
        }
    }
    s.push_str("<h2>Samples</h2>");
    for m in measured.iter().filter(|m| !m.name.contains("-seed")) {
        for (t, p) in &m.pictures {
            s.push_str(&img(out, p, &format!("{} ({}): {t}", m.name, m.model)));
        }
        if !m.text_samples.is_empty() {
            let _ = write!(s, "<h4>{} ({})</h4><pre>", esc(&m.name), esc(&m.model));
            for t in &m.text_samples {
                let _ = write!(s, "{}\n―――\n", esc(t.trim_end()));
            }
            s.push_str("</pre>");
        }
    }
    s.push_str("</body></html>\n");
    s
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }
}
