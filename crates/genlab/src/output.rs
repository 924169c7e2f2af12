//! Pictures written next to a run's JSON summary. Charts (scatter plots,
//! density heat maps, loss curves, the GAN decision surface) are written as
//! PNG with an SVG of the same chart beside it (`loss.png` and `loss.svg`).

use std::path::Path;

use gen_core::{Matrix, Result, rng_from_seed};
use gen_viz::chart::{Chart, Figure, HeatMap, Legend, Scale, Series, matrix_points};
use gen_viz::{Bounds, PALETTE, image_grid};

/// Points drawn per set in a scatter plot (evenly spread over the rows).
pub const SCATTER_POINTS: usize = 5000;

/// Data (left, blue) beside samples (right, orange) on the same axes (the
/// square box around the data), each panel titled with its point count; at
/// most [`SCATTER_POINTS`] of each are drawn, evenly spread over the rows.
/// 880 × 460 pixels; an SVG is written beside the PNG.
pub fn scatter_png(data: &Matrix, samples: &Matrix, path: &Path) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let panel = |what: &str, m: &Matrix, color| -> Result<Chart> {
        let n = m.rows();
        let title = if n > SCATTER_POINTS {
            format!("{what} ({SCATTER_POINTS} of {n} points)")
        } else {
            format!("{what} ({n} points)")
        };
        Ok(Chart::new(title)
            .x_label("x1")
            .y_label("x2")
            .x_range(b.x0, b.x1)
            .y_range(b.y0, b.y1)
            .series(
                Series::points(what, matrix_points(m, SCATTER_POINTS)?)
                    .color(color)
                    .opacity(0.5),
            ))
    };
    Figure::new(880, 460)
        .cols(2)
        .chart(panel("data", data, PALETTE[0])?)
        .chart(panel("samples", samples, PALETTE[1])?)
        .save_png_and_svg(path)
}

/// `n × n` points at the cell centres of a grid over `b`, row j (from the
/// bottom) after row j − 1.
fn grid_points(b: Bounds, n: usize) -> Result<Matrix> {
    let mut pts = Vec::with_capacity(n * n * 2);
    for j in 0..n {
        for i in 0..n {
            pts.push(b.x0 + (i as f64 + 0.5) / n as f64 * (b.x1 - b.x0));
            pts.push(b.y0 + (j as f64 + 0.5) / n as f64 * (b.y1 - b.y0));
        }
    }
    Matrix::new(n * n, 2, pts)
}

/// Heat map of the model density exp(log p) on a 200 × 200 grid over the
/// data's bounding box, with axes in data coordinates and a colour bar of
/// the density. 560 × 480 pixels; an SVG is written beside the PNG.
pub fn density_png(
    log_prob: &dyn Fn(&Matrix) -> Result<Vec<f64>>,
    data: &Matrix,
    path: &Path,
) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let n = 200;
    let dens: Vec<f64> = log_prob(&grid_points(b, n)?)?
        .iter()
        .map(|l| l.exp())
        .collect();
    let heat = HeatMap::new(dens, (n, n), (b.x0, b.x1), (b.y0, b.y1), "density p(x)")?;
    Chart::new("model density")
        .x_label("x1")
        .y_label("x2")
        .heatmap(heat)
        .figure(560, 480)
        .save_png_and_svg(path)
}

/// Grid of images with values scaled to [0, 1].
pub fn grid_png(images: &Matrix, h: usize, w: usize, path: &Path) -> Result<()> {
    let cols = (images.rows() as f64).sqrt().ceil() as usize;
    let scale = if h <= 8 { 6 } else { 2 };
    image_grid(images, h, w, cols, scale)?.save_png(path)
}

/// The training loss against the step, on a log y axis when every loss is
/// positive (linear otherwise, e.g. for NLLs that go negative). 600 × 300
/// pixels; an SVG is written beside the PNG.
pub fn loss_png(losses: &[f64], path: &Path) -> Result<()> {
    let s = losses.iter().enumerate().map(|(i, l)| (i as f64, *l));
    let metrics = path.with_file_name("metrics.jsonl");
    let held_out = if metrics.exists() {
        held_out_series(&metrics)?
    } else {
        Vec::new()
    };
    let title = match held_out.is_empty() {
        true => "training loss",
        false => "training loss and held-out score",
    };
    let mut chart = Chart::new(title)
        .x_label("step")
        .y_label("loss")
        .y_scale(Scale::LogIfPositive)
        .series(Series::line("training loss", s).color(PALETTE[0]));
    if !held_out.is_empty() {
        chart = chart.legend(Legend::UpperRight);
    }
    for (k, (key, points)) in held_out.into_iter().enumerate() {
        chart =
            chart.series(Series::line_points(key, points).color(PALETTE[(k + 1) % PALETTE.len()]));
    }
    chart.figure(600, 300).save_png_and_svg(path)
}

/// A named (x, y) series.
pub type NamedSeries = (String, Vec<(f64, f64)>);

/// The held-out scores of a run's `metrics.jsonl` (its `kind: "eval"`
/// lines, keys starting with `test_nll`), one (step, value) series per key.
pub fn held_out_series(metrics: &Path) -> Result<Vec<NamedSeries>> {
    let text = std::fs::read_to_string(metrics).map_err(|e| gen_core::GenError::io(metrics, e))?;
    let mut out: Vec<NamedSeries> = Vec::new();
    for line in text.lines() {
        let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(line)
        else {
            continue;
        };
        let (Some("eval"), Some(step)) = (
            v.get("kind").and_then(|k| k.as_str()),
            v.get("step").and_then(|s| s.as_f64()),
        ) else {
            continue;
        };
        for (key, y) in &v {
            let Some(y) = y.as_f64().filter(|_| key.starts_with("test_nll")) else {
                continue;
            };
            match out.iter_mut().find(|(k, _)| k == key) {
                Some((_, points)) => points.push((step, y)),
                None => out.push((key.clone(), vec![(step, y)])),
            }
        }
    }
    Ok(out)
}

/// A single (x, y) curve with a marker at each point, titled and with axis
/// labels `(title, x_label, y_label)`. 600 × 300 pixels; an SVG is written
/// beside the PNG.
pub fn curve_png(
    points: &[(f64, f64)],
    (title, x_label, y_label): (&str, &str, &str),
    path: &Path,
) -> Result<()> {
    Chart::new(title)
        .x_label(x_label)
        .y_label(y_label)
        .series(Series::line_points("", points.iter().copied()))
        .figure(600, 300)
        .save_png_and_svg(path)
}

/// True when `path` names an `.npz` archive (by its extension).
pub fn is_npz(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("npz")
}

/// Writes rows to `out`: `.png` as an image grid (values clipped to [0, 1],
/// square images assumed), `.npz` as an archive holding the array `key`,
/// any other path as `.npy`; without `out`, prints `{key: rows}` as JSON.
pub fn write_rows(m: &Matrix, key: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(p) if p.extension().and_then(|e| e.to_str()) == Some("png") => {
            let (h, w) = side(m.cols());
            grid_png(&clip_unit(m)?, h, w, p)?;
            eprintln!("wrote {} images to {}", m.rows(), p.display());
            Ok(())
        }
        Some(p) if is_npz(p) => {
            let stored = gen_data::io::npz::NpzCompression::Stored;
            gen_data::io::npz::write_npz_matrix(p, key, m, stored)?;
            eprintln!("wrote {} rows to {} (array '{key}')", m.rows(), p.display());
            Ok(())
        }
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, m)?;
            eprintln!("wrote {} rows to {}", m.rows(), p.display());
            Ok(())
        }
        None => crate::print_json(
            &serde_json::json!({key: m.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>()}),
        ),
    }
}

/// Values clipped to [0, 1] (model samples of pixel intensities).
pub fn clip_unit(m: &Matrix) -> Result<Matrix> {
    Matrix::new(
        m.rows(),
        m.cols(),
        m.as_slice().iter().map(|v| v.clamp(0.0, 1.0)).collect(),
    )
}

/// The side lengths of a square image with `d` pixels (else one row of `d`).
pub fn side(d: usize) -> (usize, usize) {
    let s = (d as f64).sqrt().round() as usize;
    if s * s == d { (s, s) } else { (1, d) }
}

/// Blocks of `per` originals followed by their reconstructions.
pub fn interleave(x: &Matrix, r: &Matrix, per: usize) -> Result<Matrix> {
    let mut rows = Vec::new();
    for start in (0..x.rows()).step_by(per) {
        let end = (start + per).min(x.rows());
        rows.extend((start..end).map(|i| x.row(i).to_vec()));
        rows.extend((start..end).map(|i| r.row(i).to_vec()));
    }
    Matrix::from_rows(&rows)
}

/// `n` rows evenly spread over `x` (canonical test splits are sorted by
/// label, so the first rows would all show the same digit).
pub fn spread_rows(x: &Matrix, n: usize) -> Result<Matrix> {
    let n = x.rows().min(n);
    let idx: Vec<usize> = (0..n).map(|i| i * x.rows() / n.max(1)).collect();
    x.select_rows(&idx)
}

/// The pictures of an image model a run writes, as its capabilities allow:
/// `samples.png` (64 samples at seed `seed`), `reconstructions.png`
/// (originals above their reconstructions) and `interpolation.png` (8 latent
/// segments between test images from different parts of the split).
/// Returns the file names written.
pub fn image_pictures(
    run: &dyn crate::registry::LoadedRun,
    xt: &Matrix,
    (h, w): (usize, usize),
    seed: u64,
    out: &Path,
) -> Result<Vec<&'static str>> {
    let mut written = Vec::new();
    let opts = gen_core::SampleOptions::default();
    if let crate::registry::Samples::Rows(s) = run.sample(64, &opts, &mut rng_from_seed(seed))? {
        grid_png(&s, h, w, &out.join("samples.png"))?;
        written.push("samples.png");
    }
    let x = spread_rows(xt, 32)?;
    if let Ok(r) = run.reconstruct(&x) {
        let path = out.join("reconstructions.png");
        grid_png(&interleave(&x, &r, 8)?, h, w, &path)?;
        written.push("reconstructions.png");
    }
    let pairs = (xt.rows() / 2).min(8);
    let mut rows = Vec::new();
    for p in 0..pairs {
        let a = p * xt.rows() / (2 * pairs);
        let b = xt.rows() - 1 - a;
        match run.interpolate(xt.row(a), xt.row(b), 8) {
            Ok(m) => rows.extend(m.iter_rows().map(<[f64]>::to_vec)),
            Err(_) => break,
        }
    }
    if !rows.is_empty() {
        grid_png(
            &Matrix::from_rows(&rows)?,
            h,
            w,
            &out.join("interpolation.png"),
        )?;
        written.push("interpolation.png");
    }
    Ok(written)
}

/// Adds the fields of JSON object `more` to JSON object `summary`.
pub fn extend(summary: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(s), serde_json::Value::Object(m)) = (summary.as_object_mut(), more) {
        s.extend(m);
    }
}

/// Width and height of the decision-surface picture, in pixels.
pub const DECISION_SIZE: (u32, u32) = (560, 480);

/// A two-player model's decision surface: `values(grid)` (D(x), σ(D(x)) or a
/// critic value, one per row of a 100 × 100 grid over the data's bounding
/// box) as a heat map (dark: low, yellow: high) with axes in data
/// coordinates, up to 1,000 data points (white) and 1,000 samples (red)
/// scattered over it with a legend, and a colour bar labelled `label` with
/// its numbers on the right. [`DECISION_SIZE`] pixels; an SVG is written
/// beside the PNG.
pub fn decision_png(
    values: &dyn Fn(&Matrix) -> Result<Vec<f64>>,
    label: &str,
    data: &Matrix,
    samples: &Matrix,
    path: &Path,
) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let n = 100;
    let v = values(&grid_points(b, n)?)?;
    let heat = HeatMap::new(v, (n, n), (b.x0, b.x1), (b.y0, b.y1), label)?;
    let first = |m: &Matrix| -> Result<Vec<(f64, f64)>> {
        let mut p = matrix_points(m, 0)?;
        p.truncate(1000);
        Ok(p)
    };
    Chart::new("decision surface")
        .x_label("x1")
        .y_label("x2")
        .heatmap(heat)
        .series(
            Series::points("data", first(data)?)
                .color([255, 255, 255])
                .size(1.5),
        )
        .series(
            Series::points("samples", first(samples)?)
                .color([230, 30, 30])
                .size(1.5),
        )
        .legend(Legend::UpperRight)
        .figure(DECISION_SIZE.0, DECISION_SIZE.1)
        .save_png_and_svg(path)
}

/// The named per-step metrics of a run's `metrics.jsonl` (the trainer's
/// logged lines, every `log_every` steps) as one (step, value) series per
/// name; lines without a name are skipped.
pub fn metric_series(metrics: &Path, names: &[&str]) -> Result<Vec<Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(metrics).map_err(|e| gen_core::GenError::io(metrics, e))?;
    let mut out = vec![Vec::new(); names.len()];
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(step) = v["step"].as_f64() else {
            continue;
        };
        for (k, name) in names.iter().enumerate() {
            // Flat lines (one key per metric); runs from before nested them.
            if let Some(y) = v[*name].as_f64().or_else(|| v["metrics"][*name].as_f64()) {
                out[k].push((step, y));
            }
        }
    }
    Ok(out)
}

/// The losses of both players from a run's `metrics.jsonl` against the
/// step on shared axes, D loss (blue) and G loss (orange) with a legend
/// naming the logged keys (also when only one player has values); a log y axis when every value is positive. A
/// player without logged values (MMD has no critic) is left out. 600 × 300
/// pixels; an SVG is written beside the PNG.
pub fn players_loss_png(metrics: &Path, d_key: &str, g_key: &str, path: &Path) -> Result<()> {
    let series = metric_series(metrics, &[d_key, g_key])?;
    let mut chart = Chart::new("both players' losses")
        .x_label("step")
        .y_label("loss")
        .y_scale(Scale::LogIfPositive)
        .legend(Legend::UpperRight);
    for (k, (s, (name, key))) in series
        .into_iter()
        .zip([("D loss", d_key), ("G loss", g_key)])
        .enumerate()
    {
        if !s.is_empty() {
            chart = chart.series(Series::line(format!("{name} ({key})"), s).color(PALETTE[k]));
        }
    }
    chart.figure(600, 300).save_png_and_svg(path)
}
