//! An alarm's times as its receivers write them: RFC 5424's TIMESTAMP (RFC 3339 with at
//! most six fraction digits, section 6.2.3) and SNMPv2-TC's DateAndTime (RFC 2579).

use analysis::format::rfc3339_ns;

/// A UTC time broken into its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Microseconds into the second.
    pub micros: u32,
}

impl Civil {
    /// `ns` since the Unix epoch, in UTC.
    pub fn of_ns(ns: i64) -> Civil {
        // rfc3339_ns writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: its fields are read back
        // rather than doing the calendar twice.
        let text = rfc3339_ns(ns);
        let field = |range: std::ops::Range<usize>| -> u32 {
            text.get(range).and_then(|f| f.parse().ok()).unwrap_or(0)
        };
        Civil {
            year: field(0..4) as u16,
            month: field(5..7) as u8,
            day: field(8..10) as u8,
            hour: field(11..13) as u8,
            minute: field(14..16) as u8,
            second: field(17..19) as u8,
            micros: field(20..26),
        }
    }

    /// RFC 5424 6.2.3 TIMESTAMP: `2024-05-06T12:00:00.250000Z` (microseconds, UTC).
    pub fn rfc5424(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }

    /// SNMPv2-TC DateAndTime, the 11-octet form with the UTC offset: year (2 octets, network
    /// order), month, day, hour, minutes, seconds, deci-seconds, '+', 0 hours, 0 minutes.
    pub fn date_and_time(&self) -> [u8; 11] {
        let [y0, y1] = self.year.to_be_bytes();
        [
            y0,
            y1,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            (self.micros / 100_000) as u8,
            b'+',
            0,
            0,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_written_in_both_forms() {
        let t = Civil::of_ns(1_714_998_896_789_012_345);
        assert_eq!(t.rfc5424(), "2024-05-06T12:34:56.789012Z");
        assert_eq!(
            t.date_and_time(),
            [0x07, 0xE8, 5, 6, 12, 34, 56, 7, b'+', 0, 0]
        );
    }
}
