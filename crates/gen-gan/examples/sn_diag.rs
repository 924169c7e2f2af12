//! Diagnostics of a spectrally normalised GAN on a 2-D toy (docs/gans.md,
//! "Spectral normalisation and the hinge loss"): every `--every` steps, per
//! layer the `training` flag, σ̂ = uᵀWv and σ_max of the raw weight (f64
//! power iteration, 3,000 steps on WᵀW), then the critic's output range on
//! 512 data and 512 generated points, the fractions inside the hinge margins
//! (l_r < 1, l_f > −1), the mean finite-difference ‖∇ₓD‖ at the data points,
//! and the modes covered. The measurements draw from the training RNG, so a
//! run with another `--every` follows another trajectory.
//!
//! ```text
//! cargo run -p gen-gan --example sn_diag -- --steps 1000 --every 100
//! ```
//!
//! Options: `--steps` [1000], `--every` [100], `--seed` [0], `--sn 0|1` [1],
//! `--loss hinge|ns|wgan` [hinge; wgan is unclipped], `--n-critic` [1],
//! `--d-lr-mult` [1], `--lr` [1e-3], `--beta1` [0.5], `--hidden` [128],
//! `--data 8|25` [8], `--quiet 1` (one summary line: final modes and the
//! mean over the checks of the second half).
use gen_core::burn::module::Module;
use gen_core::burn::tensor::Device;
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::{Learn, Sample, SampleOptions, StepContext, rng_from_seed};
use gen_data::toy2d::Toy2d;
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
use gen_gan::{Gan, GanConfig, GanLoss};

/// σ_max of a row-major matrix by f64 power iteration on WᵀW (many steps).
fn sigma_exact(w: &[f32], rows: usize, cols: usize) -> f64 {
    let w: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    let mut v: Vec<f64> = (0..cols).map(|i| ((i * 7919 % 13) as f64) - 6.1).collect();
    let mut s = 0.0;
    for _ in 0..3000 {
        let wv: Vec<f64> = (0..rows)
            .map(|r| (0..cols).map(|c| w[r * cols + c] * v[c]).sum())
            .collect();
        let mut nv: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| w[r * cols + c] * wv[r]).sum())
            .collect();
        let n = nv.iter().map(|x| x * x).sum::<f64>().sqrt();
        nv.iter_mut().for_each(|x| *x /= n);
        s = n.sqrt();
        v = nv;
    }
    s
}

fn stats(v: &[f32]) -> (f32, f32, f32) {
    let mn = v.iter().cloned().fold(f32::INFINITY, f32::min);
    let mx = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    (mn, v.iter().sum::<f32>() / v.len() as f32, mx)
}

fn main() -> gen_core::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str, d: &str| -> String {
        a.iter()
            .position(|x| x == k)
            .map(|i| a[i + 1].clone())
            .unwrap_or(d.to_string())
    };
    let steps: u64 = get("--steps", "1000").parse().unwrap();
    let sn = get("--sn", "1") == "1";
    let lr: f64 = get("--lr", "1e-3").parse().unwrap();
    let n_critic: usize = get("--n-critic", "1").parse().unwrap();
    let dmult: f64 = get("--d-lr-mult", "1").parse().unwrap();
    let hidden: usize = get("--hidden", "128").parse().unwrap();
    let seed: u64 = get("--seed", "0").parse().unwrap();
    let every: u64 = get("--every", "100").parse().unwrap();
    let beta1: f32 = get("--beta1", "0.5").parse().unwrap();
    let loss = match get("--loss", "hinge").as_str() {
        "hinge" => GanLoss::Hinge,
        "ns" => GanLoss::NonSaturating,
        "wgan" => GanLoss::Wasserstein { clip: 1e9 },
        _ => panic!(),
    };
    let toy = match get("--data", "8").as_str() {
        "8" => Toy2d::EightGaussians,
        _ => Toy2d::TwentyFiveGaussians,
    };
    let cfg = GanConfig {
        spectral_norm: sn,
        n_critic,
        d_lr_mult: dmult,
        beta1,
        hidden: vec![hidden, hidden],
        ..GanConfig::with_loss(loss)
    };
    let (c, sigma) = toy.mode_centres().unwrap();
    let quiet = get("--quiet", "0") == "1";
    let (mut tail, mut tailq) = (Vec::new(), Vec::new());
    let mut gan = Gan::new(cfg, &Device::flex(), seed)?;
    let mut rng = rng_from_seed(1000 + seed);
    for step in 0..=steps {
        if step % every == 0 {
            let d = &gan.players().d.model;
            let mut line = format!("step {step:5}");
            for (i, l) in d.spectral.iter().enumerate() {
                let w = l.inner.weight.val();
                let [din, dout] = w.dims();
                let wt = to_vec(w.transpose()).unwrap();
                let ex = sigma_exact(&wt, dout, din);
                let est = l.sigma().unwrap();
                line += &format!(
                    " | L{i} tr={} σ̂={est:.4} σ={ex:.4} r={:.4}",
                    l.sn.training.is_enabled() as u8,
                    est / ex
                );
            }
            // logits on real / fake, input-gradient norms
            let dev = gan.device().clone();
            let real = toy.sample_with(512, &mut rng);
            let xr = to_tensor(&real, &dev);
            let fake = gan.players().g.model.generate(512, &mut rng, &dev).detach();
            let xf = fake;
            let dmod = gan.players().d.model.valid();
            let lr_v = to_vec(dmod.forward(xr.clone().without_autodiff())).unwrap();
            let lf_v = to_vec(dmod.forward(xf.clone().without_autodiff())).unwrap();
            // finite-difference ‖∇ₓD‖ at the real points
            let h = 1e-3f32;
            let ex = gen_core::burn::tensor::Tensor::<2>::from_data(
                gen_core::burn::tensor::TensorData::new([1.0f32, 0.0].repeat(512), [512, 2]),
                &dev.clone().inner(),
            );
            let ey = gen_core::burn::tensor::Tensor::<2>::from_data(
                gen_core::burn::tensor::TensorData::new([0.0f32, 1.0].repeat(512), [512, 2]),
                &dev.clone().inner(),
            );
            let x0 = xr.clone().without_autodiff();
            let gx = to_vec(dmod.forward(x0.clone() + ex * h)).unwrap();
            let gy = to_vec(dmod.forward(x0 + ey * h)).unwrap();
            let gn: f32 = (0..512)
                .map(|i| (((gx[i] - lr_v[i]) / h).powi(2) + ((gy[i] - lr_v[i]) / h).powi(2)).sqrt())
                .sum::<f32>()
                / 512.0;
            let (r0, rm, r1) = stats(&lr_v);
            let (f0, fm, f1) = stats(&lf_v);
            let act_r = lr_v.iter().filter(|&&x| x < 1.0).count() as f32 / 512.0;
            let act_f = lf_v.iter().filter(|&&x| x > -1.0).count() as f32 / 512.0;
            let x = gan.sample(2000, &SampleOptions::default(), &mut rng)?;
            let m = mode_coverage(&x, &c, sigma, &ModeCoverageOptions::default())?;
            line += &format!(
                " || real [{r0:.2},{rm:.2},{r1:.2}] fake [{f0:.2},{fm:.2},{f1:.2}] active r {act_r:.2} f {act_f:.2} |∇D| {gn:.3} | modes {} hq {:.2} {:?}",
                m.modes_covered, m.high_quality_fraction, m.counts
            );
            if quiet {
                if step * 2 >= steps {
                    tail.push(m.modes_covered as f64);
                    tailq.push(m.high_quality_fraction);
                }
                if step == steps {
                    println!(
                        "final modes {} hq {:.2} | mean over 2nd half: modes {:.2} hq {:.2} | |∇D| {gn:.3} real [{r0:.2},{r1:.2}] fake [{f0:.2},{f1:.2}]",
                        m.modes_covered,
                        m.high_quality_fraction,
                        tail.iter().sum::<f64>() / tail.len() as f64,
                        tailq.iter().sum::<f64>() / tailq.len() as f64
                    );
                }
            } else {
                println!("{line}");
            }
        }
        if step == steps {
            break;
        }
        let batch = toy.sample_with(256, &mut rng);
        let mut ctx = StepContext {
            step,
            lr,
            rng: &mut rng,
        };
        gan.learn_step(&batch, &mut ctx)?;
    }
    Ok(())
}
