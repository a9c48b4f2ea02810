//! Reading what the tools print: `xdptcp load` and `xdptcp floor` summaries, sockperf's
//! percentiles, a server's start line, criterion's estimates.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{file_error, FileError};

/// "name value" lines.
pub(super) fn read_summary(path: &Path) -> Result<BTreeMap<String, f64>, FileError> {
    let text = std::fs::read_to_string(path).map_err(file_error(path))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((key.to_string(), value))
        })
        .collect())
}

/// sockperf's "---> percentile 50.000 =   12.553" lines (µs, half round trip).
pub(super) fn sockperf_percentile(output: &str, percentile: &str) -> Option<f64> {
    output.lines().find_map(|line| {
        let rest = line.split("percentile").nth(1)?;
        let (p, value) = rest.split_once('=')?;
        (p.trim() == percentile).then(|| value.trim().parse().ok())?
    })
}

/// The parenthesized part of the first line of `output` that contains `marker`: the
/// datapath modes a server prints when it starts.
pub(super) fn parenthesized(output: &str, marker: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains(marker))?;
    let (a, b) = (line.find('(')?, line.rfind(')')?);
    (a < b).then(|| line[a + 1..b].to_string())
}

/// A measured value from a run's summary; NaN (shown as missing) when it has none.
pub(super) fn value(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(f64::NAN)
}

/// The median of a criterion `estimates.json`, in ns.
pub(super) fn criterion_median_ns(json: &str) -> Option<f64> {
    let at = json.find("\"median\"")?;
    let rest = &json[at..];
    let p = rest.find("\"point_estimate\"")?;
    let rest = &rest[p + "\"point_estimate\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')
        })
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_modes_a_server_prints() {
        let out = "log line\nxdptcp: serving Echo on 10.77.1.2:7 via xdp0 (1 queue(s), XDP generic (SKB), AF_XDP copy mode); Ctrl-C stops\n";
        assert_eq!(
            parenthesized(out, "serving").as_deref(),
            Some("1 queue(s), XDP generic (SKB), AF_XDP copy mode")
        );
        assert_eq!(parenthesized(out, "reflecting"), None);
        assert_eq!(parenthesized("serving )(", "serving"), None);
    }

    #[test]
    fn parses_sockperf_and_criterion_output() {
        let out = "sockperf: ---> percentile 99.000 =   21.369\nsockperf: ---> percentile 50.000 =   12.553\n";
        assert_eq!(sockperf_percentile(out, "50.000"), Some(12.553));
        assert_eq!(sockperf_percentile(out, "99.000"), Some(21.369));
        assert_eq!(sockperf_percentile(out, "99.900"), None);
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":120.1,"upper_bound":125.0},"point_estimate":122.75,"standard_error":0.2}}"#;
        assert_eq!(criterion_median_ns(json), Some(122.75));
    }
}
