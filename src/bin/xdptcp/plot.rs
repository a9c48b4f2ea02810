//! `xdptcp plot`: latency-by-percentile chart of one or more `.hgrm` files.

use std::path::PathBuf;

use clap::Args;
use xdptcp::load::report;

#[derive(Args)]
pub struct PlotArgs {
    /// The SVG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Chart title.
    #[arg(long, default_value = "latency by percentile")]
    title: String,
    /// Percentile distributions to draw, each FILE.hgrm or FILE.hgrm=LABEL.
    #[arg(required = true)]
    inputs: Vec<String>,
}

pub fn run(args: &PlotArgs) -> Result<(), String> {
    let mut series = Vec::new();
    for input in &args.inputs {
        let (path, label) = match input.split_once('=') {
            Some((p, l)) => (PathBuf::from(p), l.to_string()),
            None => (PathBuf::from(input), input.clone()),
        };
        let points = report::read_hgrm(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        series.push((label, points));
    }
    report::plot_svg(&args.out, &args.title, &series)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
