//! Plays one game and writes its PNG (validity/novelty over time and the
//! density curve) and its JSON summary.
//!
//! `cargo run -p gen-km-game --example km_plot -- COLLECTION TARGET ADVERSARY LEARNER HORIZON OUT.png`

use gen_km_game::{RunSpec, plot, run_from_spec};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 6 {
        eprintln!("usage: km_plot COLLECTION TARGET ADVERSARY LEARNER HORIZON OUT.png");
        std::process::exit(2);
    }
    let (Ok(target), Ok(horizon)) = (a[1].parse(), a[4].parse()) else {
        eprintln!("error: TARGET and HORIZON must be non-negative integers");
        std::process::exit(2);
    };
    let spec = RunSpec::new(&a[0], target, &a[2], &a[3], horizon);
    let result = run_from_spec(&spec).and_then(|r| {
        plot::write_run_png(&r, std::path::Path::new(&a[5]))?;
        Ok(r)
    });
    match result {
        Ok(r) => println!("{}", r.summary_json()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
