//! The image DDPM: the U-Net's shapes, time injection, architecture
//! (parameter count, every parameter on a gradient path), backend parity of
//! a training step, training on digits, the refused image sizes; and the
//! discretised decoder of the bound (normal tails, bins summing to one, the
//! narrow-bin limit). Part of the one diffusion test binary.

use gen_core::burn::module::{Module, ModuleVisitor, Param};
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::parity::check_parity;
use gen_core::tensor::to_vec;
use gen_core::{Checkpoint, GenError, Matrix, Result, StepContext, rng_from_seed};
use gen_diffusion::bound::{
    discretized_gaussian_nll, log_normal_cdf, log_normal_interval, log_normal_sf,
};
use gen_diffusion::{
    Ddpm, DdpmConfig, Decoder, Denoiser, DenoiserArch, FnDenoiser, NoiseSchedule, Prediction,
    SamplerKind, SamplerOptions, ScheduleConfig, UNetConfig, VarianceKind, variational_bound_with,
};

fn cpu() -> Device {
    gen_core::Backend::Flex.device().unwrap()
}

/// A tiny U-Net for `side × side` grey images: widths [8, 16] (one
/// halving), or [8, 16, 16] (two) for sides above 16; 4 groups, 2 heads.
fn tiny(side: usize) -> UNetConfig {
    UNetConfig {
        widths: if side > 16 {
            vec![8, 16, 16]
        } else {
            vec![8, 16]
        },
        groups: 4,
        heads: 2,
        time_dim: 8,
        ..UNetConfig::for_image(1, side, side)
    }
}

fn image_config(unet: UNetConfig, levels: u32, steps: usize) -> DdpmConfig {
    DdpmConfig {
        schedule: ScheduleConfig {
            steps,
            ..ScheduleConfig::default()
        },
        ema: Some(0.9),
        ..DdpmConfig::image(unet, levels)
    }
}

/// Rows of `n` images on the grid 2k/(L − 1) − 1, deterministic.
fn grid_images(n: usize, d: usize, levels: u32, seed: u64) -> Matrix {
    let top = (levels - 1) as u64;
    let v = (0..(n * d) as u64)
        .map(|i| {
            let k = (i * 2_654_435_761 + seed * 97) % (top + 1);
            2.0 * k as f64 / top as f64 - 1.0
        })
        .collect();
    Matrix::new(n, d, v).unwrap()
}

fn t1(v: Vec<f32>, dev: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), dev)
}

fn t2(v: Vec<f32>, shape: [usize; 2], dev: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn host(n: usize, seed: u64) -> Vec<f32> {
    gen_core::numerics::standard_normals(n, &mut rng_from_seed(seed))
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

#[test]
fn unet_output_has_the_input_shape_at_8x8_and_28x28() {
    let dev = cpu();
    for side in [8, 28] {
        let u = tiny(side);
        let net = u.init(&mut rng_from_seed(1), &dev).unwrap();
        let d = side * side;
        let x = t2(host(3 * d, 2), [3, d], &dev);
        let y = net.forward(x.clone(), t1(vec![0.0, 10.0, 999.0], &dev));
        assert_eq!(y.dims(), [3, d], "side {side}");
        let img = x.reshape([3, 1, side, side]);
        let y4 = net.forward_images(img, t1(vec![5.0; 3], &dev));
        assert_eq!(y4.dims(), [3, 1, side, side]);
        assert!(to_vec(y4).unwrap().iter().all(|v| v.is_finite()));
        // Through the model: one prediction per pixel for host rows.
        let m = Ddpm::new(image_config(u, 256, 50), &dev, 0).unwrap();
        let rows = grid_images(2, d, 256, 1);
        let out = m.denoiser().predict(&rows, &[3, 40]).unwrap();
        assert_eq!(out.shape(), (2, d));
    }
}

/// The same images at different timesteps give different outputs (the
/// time embedding reaches the output), the same timestep the same output,
/// and each image's output depends only on its own timestep.
#[test]
fn unet_output_depends_on_the_timestep() {
    let dev = cpu();
    let net = tiny(8).init(&mut rng_from_seed(3), &dev).unwrap();
    let x = host(64, 4);
    let batch = |ts: Vec<f32>| {
        let n = ts.len();
        let xs: Vec<f32> = (0..n).flat_map(|_| x.clone()).collect();
        to_vec(net.forward(t2(xs, [n, 64], &dev), t1(ts, &dev))).unwrap()
    };
    let out = batch(vec![0.0, 0.0, 300.0, 999.0]);
    let row = |i: usize| &out[i * 64..(i + 1) * 64];
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max)
    };
    assert!(diff(row(0), row(1)) < 1e-6, "same t, same output");
    assert!(
        diff(row(0), row(2)) > 1e-3,
        "t = 0 vs 300: {}",
        diff(row(0), row(2))
    );
    assert!(diff(row(2), row(3)) > 1e-3, "t = 300 vs 999");
    // Row 2 alone at t = 300 equals row 2 of the mixed batch.
    let alone = batch(vec![300.0]);
    assert!(diff(&alone, row(2)) < 1e-5);
}

/// Parameters of a convolution, a linear layer, a GroupNorm and a residual block.
fn conv(c_in: usize, c_out: usize, k: usize) -> usize {
    c_out * c_in * k * k + c_out
}
fn lin(i: usize, o: usize) -> usize {
    i * o + o
}
fn gn(c: usize) -> usize {
    2 * c
}
fn res(c_in: usize, c_out: usize, temb: usize) -> usize {
    let skip = if c_in == c_out {
        0
    } else {
        conv(c_in, c_out, 1)
    };
    gn(c_in)
        + conv(c_in, c_out, 3)
        + lin(temb, 2 * c_out)
        + gn(c_out)
        + conv(c_out, c_out, 3)
        + skip
}

/// The parameter count is that of the documented architecture: the up
/// blocks take [h, skip] (16 + 16 and 8 + 8 input channels), attention adds
/// GN + 4 projections at the lowest width, and every parameter tensor —
/// skips, attention and each block's time projection included — lies on a
/// path to the output (non-zero gradient of Σ out²).
#[test]
fn unet_has_the_documented_blocks_and_every_parameter_gets_a_gradient() {
    let dev = cpu().autodiff();
    let u = tiny(8);
    let temb = 4 * 8;
    let attention = gn(16) + 4 * lin(16, 16);
    let expected = lin(8, temb) + lin(temb, temb) // time MLP
        + conv(1, 8, 3) // stem
        + res(8, 8, temb) + conv(8, 8, 3) // level 0 down, stride-2 conv
        + res(8, 16, temb) // level 1 down
        + 2 * res(16, 16, temb) + attention // middle
        + res(16 + 16, 16, temb) + conv(16, 8, 3) // level 1 up (skip), up-sampling conv
        + res(8 + 8, 8, temb) // level 0 up (skip)
        + gn(8) + conv(8, 1, 3); // output
    let net = u.init(&mut rng_from_seed(5), &dev).unwrap();
    assert_eq!(net.num_params(), expected);
    let plain = UNetConfig {
        attention: false,
        ..u.clone()
    }
    .init(&mut rng_from_seed(5), &dev)
    .unwrap();
    assert_eq!(plain.num_params(), expected - attention);

    let x = t2(host(2 * 64, 6), [2, 64], &dev);
    let out = net.forward(x, t1(vec![7.0, 420.0], &dev));
    let grads = out.powi_scalar(2).sum().backward();
    struct Check<'a> {
        grads: &'a gen_core::burn::tensor::Gradients,
        path: Vec<String>,
        seen: usize,
        zero: Vec<String>,
    }
    impl ModuleVisitor for Check<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.seen += 1;
            let g = p.val().grad(self.grads).map(|g| to_vec(g).unwrap());
            if !g.is_some_and(|g| g.iter().any(|v| *v != 0.0) && g.iter().all(|v| v.is_finite())) {
                self.zero.push(self.path.join("."));
            }
        }
    }
    let mut check = Check {
        grads: &grads,
        path: Vec::new(),
        seen: 0,
        zero: Vec::new(),
    };
    net.visit(&mut check);
    assert!(check.seen > 40, "{} parameter tensors", check.seen);
    assert!(check.zero.is_empty(), "no gradient: {:?}", check.zero);
}

/// One training step (loss, live and EMA weights) agrees on every backend.
#[test]
fn one_unet_step_agrees_across_backends() {
    let cfg = image_config(tiny(8), 17, 50);
    let batch = grid_images(3, 64, 17, 2);
    let report = check_parity("unet step", false, 2e-5, 1e-4, |dev| {
        let mut m = Ddpm::new(cfg.clone(), dev, 3)?;
        let mut rng = rng_from_seed(4);
        let mut ctx = StepContext {
            step: 0,
            lr: 1e-4,
            rng: &mut rng,
        };
        let l = m.step(&batch, &mut ctx)?;
        let mut out = vec![l as f32];
        out.extend(m.net().model.weights()?);
        out.extend(m.ema().unwrap().model().weights()?);
        Ok(out)
    })
    .unwrap();
    eprintln!(
        "unet parity: {:?}, max |diff| {:e}",
        report.backends, report.max_abs_diff
    );
    assert!(report.backends.len() >= 2);
}

/// Digits in [−1, 1]: 40 Adam steps of the tiny U-Net lower the denoising
/// loss; the bound is finite, in bits/dim between 0 and the 4.09 bits of
/// 17 uniform levels plus slack; samples are finite and clipped to [−1, 1].
#[test]
fn a_few_dozen_steps_on_digits_reduce_the_loss() {
    let digits = gen_data::digits8x8(gen_data::Split::Train).unwrap();
    let x = Matrix::new(
        digits.images.rows(),
        64,
        digits
            .images
            .as_slice()
            .iter()
            .map(|k| 2.0 * k / 16.0 - 1.0)
            .collect(),
    )
    .unwrap();
    let cfg = image_config(tiny(8), 17, 100);
    let mut m = Ddpm::new(cfg, &cpu(), 7).unwrap();
    let mut rng = rng_from_seed(8);
    let mut losses = Vec::new();
    for step in 0..40u64 {
        let idx: Vec<usize> = (0..32)
            .map(|i| (step as usize * 32 + i) % x.rows())
            .collect();
        let mut ctx = StepContext {
            step,
            lr: 2e-3,
            rng: &mut rng,
        };
        losses.push(m.step(&x.select_rows(&idx).unwrap(), &mut ctx).unwrap());
    }
    let early = losses[..8].iter().sum::<f64>() / 8.0;
    let late = losses[32..].iter().sum::<f64>() / 8.0;
    eprintln!("unet on digits: loss {early:.3} → {late:.3}");
    assert!(late < 0.7 * early, "loss {early} → {late}");
    let xs = x.select_rows(&[0, 500, 1000]).unwrap();
    let bpd = m.bound_bits_per_dim(&xs, 0).unwrap();
    assert!(bpd.iter().all(|b| b.is_finite() && *b > 0.0), "{bpd:?}");
    let s = m
        .sample_with(4, &m.config().default_sampler(), &mut rng_from_seed(9))
        .unwrap();
    assert!(s.as_slice().iter().all(|v| v.is_finite()));
    // The default image sampler clips x̂₀, and its last step returns x̂₀.
    assert!(s.as_slice().iter().all(|v| v.abs() <= 1.0), "{s:?}");
}

/// Sides the down-sampling cannot halve are refused with the reason and a
/// fix; a U-Net whose image is not the data's width too.
#[test]
fn unsupported_image_sizes_are_refused_clearly() {
    let bad = UNetConfig {
        height: 10,
        width: 10,
        ..tiny(28)
    };
    let e = bad.init(&mut rng_from_seed(0), &cpu()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, GenError::InvalidConfig { .. }), "{e:?}");
    assert!(msg.contains("divisible by 4"), "{msg}");
    assert!(msg.contains("--unet-channels 8,16"), "{msg}");
    let e = Ddpm::new(image_config(bad, 256, 50), &cpu(), 0).unwrap_err();
    assert!(e.to_string().contains("divisible by 4"), "{e}");
    // 28 = 4·7: three levels fit, four (factor 8) do not.
    let four = UNetConfig {
        widths: vec![8, 8, 16, 16],
        ..tiny(28)
    };
    assert!(
        four.validate()
            .unwrap_err()
            .to_string()
            .contains("divisible by 8")
    );
    assert!(tiny(28).validate().is_ok());
    // Data width ≠ C·H·W.
    let wrong = DdpmConfig {
        data_dim: 63,
        ..image_config(tiny(8), 17, 50)
    };
    assert!(Ddpm::new(wrong, &cpu(), 0).is_err());
    // Groups must divide the widths; the MLP's coordinate embedding is refused.
    let groups = UNetConfig {
        widths: vec![6, 12],
        ..tiny(8)
    };
    assert!(
        groups
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiples of 4")
    );
    let embed = DdpmConfig {
        x_embed: 8,
        ..image_config(tiny(8), 17, 50)
    };
    assert!(Ddpm::new(embed, &cpu(), 0).is_err());
}

/// The trajectory's last frame is the sample of the same draws; its first
/// is x_T; frames are labelled with decreasing timesteps.
#[test]
fn trajectory_ends_in_the_sample_of_the_same_draws() {
    let m = Ddpm::new(image_config(tiny(8), 17, 30), &cpu(), 2).unwrap();
    for opts in [
        m.config().default_sampler(),
        SamplerOptions {
            steps: Some(10),
            clip_x0: Some(1.0),
            ..SamplerOptions::of(SamplerKind::Ddim)
        },
    ] {
        let frames = m
            .sample_trajectory(5, &opts, 6, &mut rng_from_seed(11))
            .unwrap();
        assert_eq!(frames.len(), 6);
        let direct = m.sample_with(5, &opts, &mut rng_from_seed(11)).unwrap();
        assert_eq!(frames.last().unwrap().1, direct);
        assert_eq!(frames.last().unwrap().0, None);
        let ts: Vec<usize> = frames.iter().filter_map(|f| f.0).collect();
        assert_eq!(ts.len(), 5);
        assert_eq!(ts[0], 29);
        assert!(ts.windows(2).all(|w| w[0] > w[1]), "{ts:?}");
        let x_t =
            gen_diffusion::sampler::initial_noise(5, 64, 1.0, &mut rng_from_seed(11)).unwrap();
        assert_eq!(frames[0].1, x_t);
    }
    assert!(
        m.sample_trajectory(2, &m.config().default_sampler(), 1, &mut rng_from_seed(0))
            .is_err()
    );
}

/// A saved U-Net DDPM loads into a fresh one with the same outputs; a
/// checkpoint of another architecture is refused; an MLP config saved
/// before the U-Net existed (no `arch`, no `levels`) still reads as the MLP.
#[test]
fn unet_checkpoints_round_trip_and_old_mlp_configs_still_load() {
    let dir = std::env::temp_dir().join(format!("genlab-unet-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = image_config(tiny(8), 17, 20);
    let mut m = Ddpm::new(cfg.clone(), &cpu(), 1).unwrap();
    let mut rng = rng_from_seed(2);
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    m.step(&grid_images(4, 64, 17, 3), &mut ctx).unwrap();
    m.save_checkpoint(&dir).unwrap();
    let mut fresh = Ddpm::new(cfg.clone(), &cpu(), 99).unwrap();
    fresh.load_checkpoint(&dir).unwrap();
    let x = grid_images(2, 64, 17, 5);
    assert_eq!(
        fresh.denoiser().predict(&x, &[3, 9]).unwrap(),
        m.denoiser().predict(&x, &[3, 9]).unwrap()
    );
    let other = UNetConfig {
        attention: false,
        ..tiny(8)
    };
    let mut wrong = Ddpm::new(image_config(other, 17, 20), &cpu(), 0).unwrap();
    let e = wrong.load_checkpoint(&dir).unwrap_err().to_string();
    assert!(e.contains("unet"), "{e}");
    let mut mlp = Ddpm::new(DdpmConfig::default(), &cpu(), 0).unwrap();
    assert!(mlp.load_checkpoint(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);

    let mut old = serde_json::to_value(DdpmConfig::default()).unwrap();
    old.as_object_mut().unwrap().remove("arch");
    old.as_object_mut().unwrap().remove("levels");
    let back: DdpmConfig = serde_json::from_value(old).unwrap();
    assert_eq!(back.arch, DenoiserArch::Mlp);
    assert_eq!(back, DdpmConfig::default());
    // The MLP's parameters keep their paths (mlp.layers.i.*).
    let net = Ddpm::new(DdpmConfig::default(), &cpu(), 0).unwrap();
    let paths = gen_core::optim::vector_param_paths(&net.net().model);
    assert_eq!(paths[0], "mlp.layers.0.bias", "{paths:?}");
}

/// ln Q and ln Φ against mpmath (30 digits) from the centre to Q(40) ≈ 1e-350.
#[test]
fn normal_tail_logs_match_reference_values() {
    for (z, want) in [
        (0.5, -1.175_911_761_593_618_8),
        (1.0, -1.841_021_645_009_263_4),
        (3.0, -6.607_726_221_510_348),
        (10.0, -53.231_285_150_512_47),
        (40.0, -804.608_442_013_753_8),
    ] {
        let got = log_normal_sf(z);
        assert!(
            (got - want).abs() < 2e-7 * want.abs().max(1.0),
            "ln Q({z}) = {got} vs {want}"
        );
        assert!((log_normal_cdf(-z) - want).abs() < 2e-7 * want.abs().max(1.0));
    }
    // ln Φ(z) + ln-free identity Φ(z) + Q(z) = 1.
    for z in [-4.0, -0.3, 0.0, 0.7, 2.5] {
        let s = log_normal_cdf(z).exp() + log_normal_sf(z).exp();
        assert!((s - 1.0).abs() < 3e-7, "z {z}: {s}");
    }
    assert!((log_normal_sf(0.0) - 0.5f64.ln()).abs() < 1e-7);
    // Intervals in the far tail (no cancellation) and across the centre (mpmath).
    let a = log_normal_interval(30.0, 30.01);
    assert!((a + 455.670_376_958_586).abs() < 1e-6, "{a}");
    let b = log_normal_interval(-1.0, 2.0);
    assert!((b + 0.200_166_294_324_462_6).abs() < 1e-6, "{b}");
    assert_eq!(log_normal_interval(f64::NEG_INFINITY, f64::INFINITY), 0.0);
}

/// The L bins tile the line: their probabilities sum to one for any mean and
/// scale; and for bins narrow against σ the mass is density × width.
#[test]
fn discretised_decoder_is_a_distribution_and_tends_to_density_times_width() {
    for levels in [2u32, 17, 256] {
        for mean in [-1.3, 0.2, 0.97] {
            for std in [0.01, 0.3, 2.0] {
                let total: f64 = (0..levels)
                    .map(|k| {
                        let x = 2.0 * k as f64 / (levels - 1) as f64 - 1.0;
                        (-discretized_gaussian_nll(x, mean, std, levels)).exp()
                    })
                    .sum();
                assert!(
                    (total - 1.0).abs() < 1e-6,
                    "L {levels} μ {mean} σ {std}: {total}"
                );
            }
        }
    }
    let (levels, std) = (4097u32, 0.05);
    let width = 2.0 / (levels - 1) as f64;
    for (k, mean) in [(2000u32, 0.01), (2100, -0.02), (1500, -0.2)] {
        let x = 2.0 * k as f64 / (levels - 1) as f64 - 1.0;
        let nll = discretized_gaussian_nll(x, mean, std, levels);
        let approx = -(gen_core::numerics::normal_log_pdf(x, mean, std) + width.ln());
        assert!((nll - approx).abs() < 1e-3, "k {k}: {nll} vs {approx}");
    }
}

/// With the same draws the discretised bound differs from the Gaussian one
/// only in L₀, by ≈ −D ln(2δ) for narrow bins; rows off the grid are refused.
#[test]
fn discretised_bound_changes_only_the_decoder_term() {
    let s = NoiseSchedule::new(ScheduleConfig {
        steps: 40,
        ..ScheduleConfig::default()
    })
    .unwrap();
    // A fixed imperfect ε̂ = 0.3·x_t.
    let den = FnDenoiser {
        prediction: Prediction::Epsilon,
        f: |x: &Matrix, _t: &[usize]| -> Result<Matrix> {
            Matrix::new(
                x.rows(),
                x.cols(),
                x.as_slice().iter().map(|v| 0.3 * v).collect(),
            )
        },
    };
    let levels = 4097;
    let x = grid_images(3, 4, levels, 1);
    let var = VarianceKind::FixedLarge;
    let g = variational_bound_with(&den, &s, var, Decoder::Gaussian, &x, &mut rng_from_seed(5))
        .unwrap();
    let d = variational_bound_with(
        &den,
        &s,
        var,
        Decoder::Discretized { levels },
        &x,
        &mut rng_from_seed(5),
    )
    .unwrap();
    assert_eq!(g.prior, d.prior);
    assert_eq!(g.diffusion, d.diffusion);
    let shift = -4.0 * (2.0 / (levels - 1) as f64).ln();
    for i in 0..3 {
        assert!(
            (d.decoder[i] - (g.decoder[i] + shift)).abs() < 0.02,
            "row {i}: {} vs {} + {shift}",
            d.decoder[i],
            g.decoder[i]
        );
    }
    let off = Matrix::new(1, 4, vec![0.1234, 0.0, 0.5, -1.0]).unwrap();
    let e = variational_bound_with(
        &den,
        &s,
        var,
        Decoder::Discretized { levels: 17 },
        &off,
        &mut rng_from_seed(5),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("2k/16 − 1"), "{e}");
}
