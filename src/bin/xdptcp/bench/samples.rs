//! The measured values of a run and their medians over the repetitions.

use super::Bench;

/// One measured value.
#[derive(Clone, Debug)]
pub(super) struct Sample {
    pub(super) case: &'static str,
    pub(super) variant: &'static str,
    pub(super) metric: &'static str,
    pub(super) rep: usize,
    pub(super) value: f64,
}

/// Median and spread of a metric over the repetitions.
#[derive(Copy, Clone, Debug)]
pub(super) struct Stat {
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) count: usize,
}

/// The median, min and max of `values`; `None` if there are none.
pub(super) fn stat(values: &[f64]) -> Option<Stat> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
        count: n,
    })
}

impl Bench<'_> {
    pub(super) fn record(
        &mut self,
        case: &'static str,
        variant: &'static str,
        metric: &'static str,
        rep: usize,
        value: f64,
    ) {
        self.samples.push(Sample {
            case,
            variant,
            metric,
            rep,
            value,
        });
    }

    pub(super) fn values(&self, case: &str, variant: &str, metric: &str) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|x| x.case == case && x.variant == variant && x.metric == metric)
            .map(|x| x.value)
            .collect()
    }

    pub(super) fn stat(&self, case: &str, variant: &str, metric: &str) -> Option<Stat> {
        stat(&self.values(case, variant, metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let st = stat(&[3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!((st.median, st.min, st.max, st.count), (3.0, 1.0, 10.0, 5));
        assert_eq!(stat(&[1.0, 2.0]).unwrap().median, 1.5);
        assert!(stat(&[]).is_none());
    }
}
