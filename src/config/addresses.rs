//! Lists of IPv4 addresses as people write them: `10.0.2.10`, or an inclusive range
//! `10.0.2.10-10.0.2.73`.

use std::net::Ipv4Addr;

/// Most addresses one range may name.
const MAX_RANGE: u32 = 1 << 16;

/// A text that is neither an address nor a range of them.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IPv4 address or a range FIRST-LAST of them (at most 65,536)")]
pub struct NotAnAddressRange(pub String);

/// The addresses `text` names, in order.
pub fn parse_address_range(text: &str) -> Result<Vec<Ipv4Addr>, NotAnAddressRange> {
    let bad = || NotAnAddressRange(text.to_string());
    let text = text.trim();
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (text, text),
    };
    let first: Ipv4Addr = first.parse().map_err(|_| bad())?;
    let last: Ipv4Addr = last.parse().map_err(|_| bad())?;
    let (a, b) = (first.to_bits(), last.to_bits());
    if b < a || b - a >= MAX_RANGE {
        return Err(bad());
    }
    Ok((a..=b).map(Ipv4Addr::from_bits).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_or_a_range_and_nothing_else() {
        assert_eq!(
            parse_address_range("10.0.2.9"),
            Ok(vec![Ipv4Addr::new(10, 0, 2, 9)])
        );
        let range = parse_address_range("10.0.2.254-10.0.3.1").unwrap();
        assert_eq!(range.len(), 4);
        assert_eq!(range[3], Ipv4Addr::new(10, 0, 3, 1));
        for bad in [
            "10.0.2",
            "10.0.2.9-10.0.2.1",
            "x-y",
            "10.0.0.0-10.1.0.0",
            "",
        ] {
            assert!(parse_address_range(bad).is_err(), "{bad}");
        }
    }
}
