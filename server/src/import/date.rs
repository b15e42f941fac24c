//! Calendar dates as bureaus write them, normalised to `YYYY-MM-DD`.
//!
//! Accepted: `2019-03-05`, `2019-3-5`, `2019/3/5`, `2019.3.5`, `2019年3月5日`, `20190305`, the same
//! followed by a midnight time (`2019/3/5 0:00`, `2019-03-05T00:00:00`), and day-first or
//! month-first forms (`25/03/2019`, `03/25/2019`) when only one reading is a real date. Refused
//! with an explanation: two readings (`03/05/2019`), two-digit years, and Excel serial numbers
//! (`45123`), which appear when a date column is saved as numbers.

use std::fmt;

/// A Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date, if it exists (years 1900–2199).
    pub fn new(year: i64, month: i64, day: i64) -> Option<Date> {
        if !(1900..=2199).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Date {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Option<Date> {
        let (y, m, d) = civil_from_days(days);
        Date::new(y, m, d)
    }

    /// The date an Excel serial number stands for in the 1900 date system (Windows Excel, WPS).
    pub fn from_excel_serial(serial: i64) -> Option<Date> {
        // Serial 1 = 1900-01-01; Excel counts a 1900-02-29 that never was (serial 60).
        if serial < 61 {
            return None;
        }
        // 1899-12-30 is day -25569 from 1970-01-01.
        Date::from_days(serial - 25_569)
    }

    /// Parses `YYYY-MM-DD` exactly (the canonical form).
    pub fn parse_canonical(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let n = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
        if !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return None;
        }
        Date::new(n(0..4)?, n(5..7)?, n(8..10)?)
    }
}

/// Why a date cell cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Looks like an Excel serial number; the date it would be in the 1900 system.
    ExcelSerial(Option<Date>),
    /// Both day-first and month-first readings are real dates.
    Ambiguous(Date, Date),
    /// A two-digit year.
    TwoDigitYear,
    /// The numbers do not make a real date.
    NoSuchDate,
    /// Not a date form we know.
    Format,
}

impl DateError {
    /// Chinese explanation.
    pub fn zh(&self) -> String {
        match self {
            DateError::ExcelSerial(Some(d)) => format!(
                "这是 Excel 的日期序列号（按 1900 日期系统为 {d}）：日期列被存成了数字。请把该列设为“文本”或“日期”格式，按 YYYY-MM-DD 填写"
            ),
            DateError::ExcelSerial(None) => {
                "这像是 Excel 的日期序列号：日期列被存成了数字。请按 YYYY-MM-DD 填写".into()
            }
            DateError::Ambiguous(a, b) => format!(
                "日期有两种读法（{a} 或 {b}），无法判断日和月的顺序。请按 YYYY-MM-DD 填写"
            ),
            DateError::TwoDigitYear => "年份只有两位，无法确定世纪。请按 YYYY-MM-DD 填写".into(),
            DateError::NoSuchDate => "不存在这一天。请按 YYYY-MM-DD 填写真实日期".into(),
            DateError::Format => {
                "无法识别的日期格式。请按 YYYY-MM-DD 填写（也接受 2019/3/5、2019年3月5日、20190305）"
                    .into()
            }
        }
    }

    /// English explanation.
    pub fn en(&self) -> String {
        match self {
            DateError::ExcelSerial(Some(d)) => format!(
                "this is an Excel date serial number ({d} in the 1900 date system): the date column was saved as numbers. Format the column as Text or Date and write YYYY-MM-DD"
            ),
            DateError::ExcelSerial(None) => "this looks like an Excel date serial number: the date column was saved as numbers. Write YYYY-MM-DD".into(),
            DateError::Ambiguous(a, b) => format!(
                "the date can be read two ways ({a} or {b}): day and month order is unknown. Write YYYY-MM-DD"
            ),
            DateError::TwoDigitYear => "a two-digit year does not say the century. Write YYYY-MM-DD".into(),
            DateError::NoSuchDate => "there is no such day. Write a real date as YYYY-MM-DD".into(),
            DateError::Format => "not a date form we know. Write YYYY-MM-DD (2019/3/5, 2019年3月5日 and 20190305 are accepted too)".into(),
        }
    }
}

/// Splits off a trailing midnight time (`0:00`, `00:00:00`, `T00:00:00`, `00:00:00.000`).
fn strip_midnight(s: &str) -> Result<&str, DateError> {
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) if i >= 6 => (&s[..i], s[i + 1..].trim()),
        _ => return Ok(s),
    };
    let zero = time
        .split([':', '.'])
        .all(|p| !p.is_empty() && p.bytes().all(|b| b == b'0'));
    if zero {
        Ok(date.trim())
    } else {
        Err(DateError::Format)
    }
}

/// Parses a date in one of the accepted forms (the input is already trimmed and folded to ASCII
/// digits).
pub fn parse(raw: &str) -> Result<Date, DateError> {
    let s = strip_midnight(raw.trim())?;
    if s.is_empty() {
        return Err(DateError::Format);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.len() {
            8 => {
                let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap_or(0);
                Date::new(n(0..4), n(4..6), n(6..8)).ok_or(DateError::NoSuchDate)
            }
            1..=6 => {
                let v: i64 = s.parse().unwrap_or(0);
                Err(DateError::ExcelSerial(Date::from_excel_serial(v)))
            }
            _ => Err(DateError::Format),
        };
    }
    // An Excel serial written as a float ("45123.0").
    if let Some((int, frac)) = s.split_once('.')
        && !int.is_empty()
        && int.len() <= 6
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && !s[int.len() + 1..].contains('.')
        && int.parse::<i64>().is_ok_and(|v| v > 31)
    {
        let v: i64 = int.parse().unwrap_or(0);
        return Err(DateError::ExcelSerial(Date::from_excel_serial(v)));
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DateError::Format);
    }
    let n: Vec<i64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    if parts[0].len() == 4 {
        if parts[1].len() > 2 || parts[2].len() > 2 {
            return Err(DateError::Format);
        }
        return Date::new(n[0], n[1], n[2]).ok_or(DateError::NoSuchDate);
    }
    if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        let day_first = Date::new(n[2], n[1], n[0]);
        let month_first = Date::new(n[2], n[0], n[1]);
        return match (day_first, month_first) {
            (Some(a), Some(b)) if a == b => Ok(a),
            (Some(a), Some(b)) => Err(DateError::Ambiguous(a, b)),
            (Some(a), None) | (None, Some(a)) => Ok(a),
            (None, None) => Err(DateError::NoSuchDate),
        };
    }
    if parts.iter().all(|p| p.len() <= 2) {
        return Err(DateError::TwoDigitYear);
    }
    Err(DateError::Format)
}

/// (year, month, day) of the proleptic Gregorian date `days` after 1970-01-01, for any `days`
/// (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        match parse(s) {
            Ok(d) => d.to_string(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn common_forms() {
        for s in [
            "2019-03-05",
            "2019-3-5",
            "2019/3/5",
            "2019.03.05",
            "2019年3月5日",
            "20190305",
            "2019/3/5 0:00",
            "2019-03-05T00:00:00",
            "2019-03-05 00:00:00.000",
        ] {
            assert_eq!(d(s), "2019-03-05", "{s}");
        }
        assert_eq!(d("25/03/2019"), "2019-03-25");
        assert_eq!(d("03/25/2019"), "2019-03-25");
        assert_eq!(d("05/05/2019"), "2019-05-05");
    }

    #[test]
    fn refused_forms() {
        assert!(matches!(
            parse("03/05/2019"),
            Err(DateError::Ambiguous(_, _))
        ));
        assert!(matches!(parse("19-3-5"), Err(DateError::TwoDigitYear)));
        assert_eq!(parse("2019-02-29"), Err(DateError::NoSuchDate));
        assert_eq!(parse("2019-03-05 12:30"), Err(DateError::Format));
        assert_eq!(parse("March 5"), Err(DateError::Format));
        assert_eq!(
            parse("43529"),
            Err(DateError::ExcelSerial(Date::new(2019, 3, 5)))
        );
        assert_eq!(
            parse("43529.0"),
            Err(DateError::ExcelSerial(Date::new(2019, 3, 5)))
        );
    }

    #[test]
    fn day_arithmetic() {
        let e = Date::new(1970, 1, 1).map(Date::days);
        assert_eq!(e, Some(0));
        for s in ["2000-02-29", "2019-12-31", "2100-03-01", "1900-01-01"] {
            let x = Date::parse_canonical(s).map(|x| Date::from_days(x.days()));
            assert_eq!(x.flatten().map(|x| x.to_string()).as_deref(), Some(s));
        }
        assert_eq!(
            Date::from_excel_serial(45123)
                .map(|x| x.to_string())
                .as_deref(),
            Some("2023-07-16")
        );
    }
}
