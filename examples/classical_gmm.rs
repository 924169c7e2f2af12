//! A Gaussian mixture fitted by expectation–maximisation (EM) to a 2-D toy,
//! scored with its exact log-likelihood, then sampled and used for inference.
//!
//! ```text
//! cargo run --example classical_gmm
//! ```
//!
//! The data come from FFJORD's "eight gaussians": a known mixture of eight
//! isotropic Gaussians on a circle, so the true log-density of every test
//! point is known and the fitted model can be compared with the truth. A
//! mixture of 8 Gaussians can represent this density exactly, so the gap
//! between the two is the fitting error of EM on 10,000 points.
//!
//! No neural network and no device here: the classical baselines are
//! plain f64 host code. The command-line equivalent, with pictures:
//! `cargo run -p genlab -- train gmm --data eight-gaussians --components 8 --out runs/gmm`.

use std::time::Instant;

use gen_classical::{Gmm, GmmConfig};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{Infer, Model, Result, Sample, SampleOptions, Score, ScoreOptions, rng_from_seed};
use gen_data::Toy2d;

fn main() -> Result<()> {
    let start = Instant::now();

    // 1. Data. `sample(n, seed)` draws n points; the command line uses seed 1
    //    for the 10,000 training points and seed 2 for the 5,000 test points.
    let toy = Toy2d::EightGaussians;
    let train = toy.sample(10_000, 1);
    let test = toy.sample(5_000, 2);

    // 2. The model. `Gmm::init` seeds the K means by k-means++ on the data
    //    (randomness from the RNG we pass), gives every component the pooled
    //    covariance of the data and equal weights. `reg_covar` is added to
    //    every covariance diagonal.
    let mut rng = rng_from_seed(0);
    let config = GmmConfig {
        components: 8,
        reg_covar: 1e-6,
    };
    let mut gmm = Gmm::init(&train, config, &mut rng)?;

    // 3. Learning. One EM iteration is one `Learn::learn_step` on the whole
    //    data set (a batch algorithm), so the workspace's one `Trainer` drives
    //    it like any neural model: here 100 iterations, no checkpoints kept
    //    beyond the run folder, no progress bar. The loss of each step is the
    //    negative mean log-likelihood, which EM never increases.
    let run_dir = genlab_examples::output_dir("classical_gmm")?;
    let trainer = Trainer::new(
        TrainConfig {
            steps: 100,
            log_every: 10,
            batch_size: train.rows(),
            progress: false,
            ..TrainConfig::default()
        },
        &run_dir,
    )?;
    let report = trainer.fit(&mut gmm, |_step, _rng| Ok(train.clone()))?;
    // `report.losses` holds every step's loss (`final_loss` is a mean over
    // the last 100 steps, for noisy minibatch losses).
    let (first, last) = (report.losses[0], report.losses[report.losses.len() - 1]);
    println!(
        "EM: mean train NLL {first:.4} nats after 1 iteration, {last:.4} after {} ({:.2} s)",
        report.steps, report.seconds
    );

    // 4. Scoring. `Score::score` returns per-row log-densities that say what
    //    they are; for a mixture the log-sum-exp over components is exact.
    let scores = gmm.score(&test, &ScoreOptions::default())?;
    println!(
        "test NLL: {:.4} nats per point ({} score: {})",
        scores.mean_nll(),
        scores.kind.name(),
        gmm.capabilities().score.how
    );
    //    The truth on the same points: the gap is a Monte-Carlo estimate of
    //    KL(p_data || p_model), which is zero only for a perfect fit.
    if let Some(true_ll) = toy.log_prob(&test)? {
        let true_nll = -true_ll.iter().sum::<f64>() / true_ll.len() as f64;
        println!(
            "true NLL:  {true_nll:.4} nats per point -> KL estimate {:.4} nats",
            scores.mean_nll() - true_nll
        );
    }

    // 5. The fitted parameters: eight weights near 1/8 and means on a circle
    //    of radius 4/1.414 = 2.83 when EM found every mode.
    for (k, (w, mu)) in gmm.weights().iter().zip(gmm.means()).enumerate() {
        let radius = (mu[0] * mu[0] + mu[1] * mu[1]).sqrt();
        println!(
            "  component {k}: weight {w:.3}, mean ({:+.2}, {:+.2}), |mean| {radius:.2}",
            mu[0], mu[1]
        );
    }

    // 6. Sampling is ancestral (pick a component, then draw from it);
    //    temperature τ scales each component's standard deviation.
    for tau in [1.0, 0.5] {
        let s = gmm.sample(2_000, &SampleOptions::with_temperature(tau), &mut rng)?;
        println!(
            "2,000 samples at temperature {tau}: mean NLL under the model {:.3} nats \
             (colder samples sit nearer the modes, where the density is higher)",
            -mean(&gmm.log_prob(&s)?)
        );
    }

    // 7. Inference: the exact posterior over the component, p(z | x), one
    //    row of K responsibilities per point.
    let posterior = gmm.infer(&test)?;
    let first_point = test.row(0);
    let (best, p) =
        posterior.row(0).iter().enumerate().fold(
            (0, 0.0),
            |acc, (k, &p)| if p > acc.1 { (k, p) } else { acc },
        );
    println!(
        "point ({:+.2}, {:+.2}) belongs to component {best} with probability {p:.3}",
        first_point[0], first_point[1]
    );

    println!(
        "run folder (checkpoint, metrics.jsonl): {}\ntotal {:.1} s",
        run_dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
