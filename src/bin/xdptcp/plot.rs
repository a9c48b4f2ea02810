//! `xdptcp plot`: latency-by-percentile chart of one or more `.hgrm` files.

use std::path::PathBuf;

use clap::Args;
use xdptcp::load::report::{self, ChartError};

use crate::common::{file_error, FileError};

/// Why `xdptcp plot` failed.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(transparent)]
    Read(#[from] FileError),
    #[error("drawing {}: {source}", path.display())]
    Chart { path: PathBuf, source: ChartError },
}

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

pub fn run(args: &PlotArgs) -> Result<(), PlotError> {
    let mut series = Vec::new();
    for input in &args.inputs {
        let (path, label) = match input.split_once('=') {
            Some((p, l)) => (PathBuf::from(p), l.to_string()),
            None => (PathBuf::from(input), input.clone()),
        };
        let points = report::read_hgrm(&path).map_err(file_error(&path))?;
        series.push((label, points));
    }
    report::plot_svg(&args.out, &args.title, &series).map_err(|source| PlotError::Chart {
        path: args.out.clone(),
        source,
    })?;
    println!("wrote {}", args.out.display());
    Ok(())
}
