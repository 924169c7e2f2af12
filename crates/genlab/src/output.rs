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
