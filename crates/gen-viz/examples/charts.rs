//! Renders one chart of each kind to a folder (PNG and SVG), to look at:
//! a loss curve on a log axis, two losses with a legend, a scatter pair,
//! a density heat map with its colour bar and a panel grid.
//!
//! `cargo run -p gen-viz --example charts -- [OUT_DIR]` (default `/tmp/gen-viz-charts`)

use std::path::PathBuf;

use gen_viz::PALETTE;
use gen_viz::chart::{Chart, Figure, HeatMap, Legend, Scale, Series};

fn main() -> gen_core::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/gen-viz-charts".into()),
    );
    // A noisy decaying loss.
    let loss: Vec<(f64, f64)> = (0..2000)
        .map(|t| {
            let t = t as f64;
            (
                t,
                3.0 * (-t / 300.0).exp() + 0.05 + 0.02 * (t * 0.7).sin().abs(),
            )
        })
        .collect();
    Chart::new("training loss")
        .x_label("step")
        .y_label("loss")
        .y_scale(Scale::LogIfPositive)
        .series(Series::line("loss", loss))
        .figure(600, 300)
        .save_png_and_svg(&out.join("loss.png"))?;

    // Two players, one of them negative: a linear axis.
    let d: Vec<(f64, f64)> = (0..100)
        .map(|k| (10.0 * k as f64, -0.5 + 0.4 * (k as f64 / 9.0).cos()))
        .collect();
    let g: Vec<(f64, f64)> = (0..100)
        .map(|k| (10.0 * k as f64, 0.7 + 0.2 * (k as f64 / 7.0).sin()))
        .collect();
    Chart::new("both players' losses")
        .x_label("step")
        .y_label("loss")
        .y_scale(Scale::LogIfPositive)
        .series(Series::line("D loss (d_loss)", d).color(PALETTE[0]))
        .series(Series::line("G loss (g_loss)", g).color(PALETTE[1]))
        .figure(600, 300)
        .save_png_and_svg(&out.join("players.png"))?;

    // Eight Gaussians on a ring: data and (wider) samples.
    let ring = |n: usize, s: f64| -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * (i % 8) as f64 / 8.0;
                let e = ((i * 7919) % 1000) as f64 / 1000.0 - 0.5;
                let f = ((i * 104_729) % 997) as f64 / 997.0 - 0.5;
                (2.0 * a.cos() + s * e, 2.0 * a.sin() + s * f)
            })
            .collect()
    };
    let panel = |title: &str, name: &str, pts, c| {
        Chart::new(title)
            .x_label("x1")
            .y_label("x2")
            .x_range(-2.8, 2.8)
            .y_range(-2.8, 2.8)
            .series(Series::points(name, pts).color(c).opacity(0.5))
    };
    Figure::new(880, 460)
        .cols(2)
        .chart(panel(
            "data (2000 points)",
            "data",
            ring(2000, 0.3),
            PALETTE[0],
        ))
        .chart(panel(
            "samples (2000 points)",
            "samples",
            ring(2000, 0.6),
            PALETTE[1],
        ))
        .save_png_and_svg(&out.join("scatter.png"))?;

    // A density on a grid with points over it.
    let n = 200;
    let mut v = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (x, y) = (
                -2.8 + 5.6 * (i as f64 + 0.5) / n as f64,
                -2.8 + 5.6 * (j as f64 + 0.5) / n as f64,
            );
            let r = (x * x + y * y).sqrt();
            v.push((-(r - 2.0).powi(2) / 0.1).exp() * 0.3);
        }
    }
    let heat = HeatMap::new(v, (n, n), (-2.8, 2.8), (-2.8, 2.8), "density p(x)")?;
    Chart::new("model density")
        .x_label("x1")
        .y_label("x2")
        .heatmap(heat.clone())
        .figure(560, 480)
        .save_png_and_svg(&out.join("density.png"))?;
    Chart::new("decision surface")
        .x_label("x1")
        .y_label("x2")
        .heatmap(heat)
        .series(
            Series::points("data", ring(500, 0.2))
                .color([255, 255, 255])
                .size(1.5),
        )
        .series(
            Series::points("samples", ring(500, 0.5))
                .color([230, 30, 30])
                .size(1.5),
        )
        .legend(Legend::UpperRight)
        .figure(560, 480)
        .save_png_and_svg(&out.join("decision.png"))?;

    // A grid of panels on a log x axis with error bars.
    let lengths: [f64; 5] = [64.0, 128.0, 256.0, 512.0, 1000.0];
    let mut fig = Figure::new(1320, 680)
        .title("free-running samples (blue) vs held-out text (orange)")
        .cols(3);
    for k in 0..6 {
        let m: Vec<(f64, f64)> = lengths
            .iter()
            .map(|&l| (l, 0.1 * k as f64 + l.ln() / 20.0))
            .collect();
        let r: Vec<(f64, f64)> = m.iter().map(|&(l, y)| (l, y * 0.8)).collect();
        let bars: Vec<(f64, f64)> = m
            .iter()
            .flat_map(|&(l, y)| [(l, y - 0.02), (l, y + 0.02), (f64::NAN, f64::NAN)])
            .collect();
        fig = fig.chart(
            Chart::new(format!("statistic {k}"))
                .x_label("prefix length L (log scale)")
                .y_label("fraction")
                .x_scale(Scale::Log)
                .x_ticks(lengths)
                .series(Series::line_points("gpt samples", m).color(PALETTE[0]))
                .series(Series::line_points("held-out text", r).color(PALETTE[1]))
                .series(Series::line("", bars).color(PALETTE[0]))
                .legend(if k == 0 {
                    Legend::UpperLeft
                } else {
                    Legend::Hidden
                }),
        );
    }
    fig.save_png_and_svg(&out.join("panels.png"))?;
    println!("wrote {}", out.display());
    Ok(())
}
