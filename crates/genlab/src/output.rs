//! Pictures written next to a run's JSON summary.

use std::path::Path;

use gen_core::{Matrix, Result, rng_from_seed};
use gen_viz::{Bounds, heatmap, image_grid, line_plot, scatter};

/// Data (left, blue) beside samples (right, orange), same axes.
pub fn scatter_png(data: &Matrix, samples: &Matrix, path: &Path) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let left = scatter(&[data], b, 400)?;
    let mut right = scatter(&[&Matrix::zeros(0, 2), samples], b, 400)?;
    right = left.beside(&right, 10);
    right.save_png(path)
}

/// Heat map of exp(log p) over the data's bounding box (200 × 200 cells).
pub fn density_png(
    log_prob: &dyn Fn(&Matrix) -> Result<Vec<f64>>,
    data: &Matrix,
    path: &Path,
) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let n = 200;
    let mut pts = Vec::with_capacity(n * n * 2);
    for j in 0..n {
        for i in 0..n {
            pts.push(b.x0 + (i as f64 + 0.5) / n as f64 * (b.x1 - b.x0));
            pts.push(b.y0 + (j as f64 + 0.5) / n as f64 * (b.y1 - b.y0));
        }
    }
    let grid = Matrix::new(n * n, 2, pts)?;
    let dens: Vec<f64> = log_prob(&grid)?.iter().map(|l| l.exp()).collect();
    heatmap(&dens, n, n, 2)?.save_png(path)
}

/// Grid of images with values scaled to [0, 1].
pub fn grid_png(images: &Matrix, h: usize, w: usize, path: &Path) -> Result<()> {
    let cols = (images.rows() as f64).sqrt().ceil() as usize;
    let scale = if h <= 8 { 6 } else { 2 };
    image_grid(images, h, w, cols, scale)?.save_png(path)
}

/// Loss curve over steps.
pub fn loss_png(losses: &[f64], path: &Path) -> Result<()> {
    let s: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, *l))
        .collect();
    line_plot(&[s], 600, 300).save_png(path)
}

/// A single (x, y) curve.
pub fn curve_png(points: &[(f64, f64)], path: &Path) -> Result<()> {
    line_plot(&[points.to_vec()], 600, 300).save_png(path)
}

/// Writes rows to `out`: `.png` as an image grid (values clipped to [0, 1],
/// square images assumed), any other path as `.npy`; without `out`, prints
/// `{key: rows}` as JSON.
pub fn write_rows(m: &Matrix, key: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(p) if p.extension().and_then(|e| e.to_str()) == Some("png") => {
            let (h, w) = side(m.cols());
            grid_png(&clip_unit(m)?, h, w, p)?;
            eprintln!("wrote {} images to {}", m.rows(), p.display());
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

/// Side of the decision-surface picture's square plot, in pixels.
pub const DECISION_SIDE: usize = 400;
/// Height of the colour bar under the decision surface, in pixels.
pub const DECISION_BAR: usize = 30;

/// A two-player model's decision surface: `values(grid)` (D(x), σ(D(x)) or a
/// critic value, one per row of a 100 × 100 grid over the data's bounding
/// box) as a heat map (dark: low, yellow: high), with the data (white) and
/// samples (red) scattered over it, and a colour bar labelled `label`, min
/// and max below. The picture is [`DECISION_SIDE`] wide and
/// [`DECISION_SIDE`] + [`DECISION_BAR`] high.
pub fn decision_png(
    values: &dyn Fn(&Matrix) -> Result<Vec<f64>>,
    label: &str,
    data: &Matrix,
    samples: &Matrix,
    path: &Path,
) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let n = 100;
    let cell = DECISION_SIDE / n;
    let mut pts = Vec::with_capacity(n * n * 2);
    for j in 0..n {
        for i in 0..n {
            pts.push(b.x0 + (i as f64 + 0.5) / n as f64 * (b.x1 - b.x0));
            pts.push(b.y0 + (j as f64 + 0.5) / n as f64 * (b.y1 - b.y0));
        }
    }
    let v = values(&Matrix::new(n * n, 2, pts)?)?;
    let surface = heatmap(&v, n, n, cell)?;
    let side = surface.width();
    let mut c = gen_viz::Canvas::new(side, side + DECISION_BAR, [255, 255, 255]);
    for y in 0..side {
        for x in 0..side {
            c.set(x as i64, y as i64, surface.get(x, y));
        }
    }
    let pixel = |p: &[f64]| {
        let px = (p[0] - b.x0) / (b.x1 - b.x0) * (side as f64 - 1.0);
        let py = (b.y1 - p[1]) / (b.y1 - b.y0) * (side as f64 - 1.0);
        (px.round() as i64, py.round() as i64)
    };
    for (m, col) in [(data, [255, 255, 255]), (samples, [230, 30, 30])] {
        for r in m.iter_rows().take(1000) {
            if r[0].is_finite() && r[1].is_finite() {
                let (x, y) = pixel(r);
                if (0..side as i64).contains(&y) {
                    c.dot(x, y, 1, col);
                }
            }
        }
    }
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let (bar_x, bar_w) = (70i64, side as i64 - 140);
    for x in 0..bar_w {
        let col = gen_viz::colormap(x as f64 / (bar_w - 1).max(1) as f64);
        c.fill_rect(bar_x + x, side as i64 + 4, 1, 10, col);
    }
    let black = [0, 0, 0];
    c.text(4, side as i64 + 4, &format!("{lo:.3}"), 2, black);
    c.text(
        bar_x + bar_w + 6,
        side as i64 + 4,
        &format!("{hi:.3}"),
        2,
        black,
    );
    c.text(bar_x, side as i64 + 18, label, 2, black);
    c.save_png(path)
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
            if let Some(y) = v["metrics"][*name].as_f64() {
                out[k].push((step, y));
            }
        }
    }
    Ok(out)
}

/// The losses of both players from a run's `metrics.jsonl` as two series on
/// shared axes, D loss (blue) and G loss (orange), with a legend and the
/// y range; a player without logged values (MMD has no critic) is left
/// out. 600 × 300 pixels.
pub fn players_loss_png(metrics: &Path, d_key: &str, g_key: &str, path: &Path) -> Result<()> {
    let series = metric_series(metrics, &[d_key, g_key])?;
    let mut c = line_plot(&series, 600, 300);
    let ys = series
        .iter()
        .flatten()
        .map(|p| p.1)
        .filter(|y| y.is_finite());
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if lo.is_finite() {
        c.text(24, 22, &format!("max {hi:.3}"), 2, [0, 0, 0]);
        c.text(24, 268, &format!("min {lo:.3}"), 2, [0, 0, 0]);
    }
    let mut y = 4;
    for (k, (s, name)) in series.iter().zip(["D loss", "G loss"]).enumerate() {
        if !s.is_empty() {
            let col = gen_viz::PALETTE[k];
            c.fill_rect(420, y + 3, 14, 4, col);
            c.text(
                440,
                y,
                &format!("{name} ({})", if k == 0 { d_key } else { g_key }),
                2,
                col,
            );
            y += 14;
        }
    }
    c.save_png(path)
}
