//! Prints the results table: every learner against every collection and
//! adversary at a fixed horizon (full table, then a compact pivot).
//!
//! `cargo run -p gen-km-game --example km_table -- [HORIZON] [SEED]`

use gen_km_game::table::{results_rows, rows_to_markdown, rows_to_pivot};

fn main() {
    let mut args = std::env::args().skip(1);
    let horizon = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let start = std::time::Instant::now();
    match results_rows(horizon, seed) {
        Ok(rows) => {
            println!("{}", rows_to_pivot(&rows, horizon));
            println!("{}", rows_to_markdown(&rows, horizon));
            eprintln!("({:.1} s)", start.elapsed().as_secs_f64());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
