//! Resident ID-card numbers (公民身份号码, GB 11643-1999).
//!
//! 18 characters: a 6-digit administrative region code, the birth date `YYYYMMDD`, a 3-digit
//! sequence number (odd for men, even for women) and a check character computed with ISO 7064
//! MOD 11-2 (`0`–`9` or `X`). Residence permits of Hong Kong, Macao and Taiwan residents (region
//! codes 81, 82, 83) have the same form and are accepted.
//!
//! What spreadsheets do to these numbers, and what we say about it:
//! - a number cell shows `4.50121E+17` and keeps only 15 significant digits → [`IdCardError::Scientific`];
//! - a trailing `X` is dropped when the cell is retyped as a number → [`IdCardError::LostX`];
//! - full-width digits (`３５０５…`), a lower-case `x` and spaces are folded silently.

use super::date::Date;

/// A checked ID-card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCard {
    /// The 18 characters, upper-case `X`.
    pub number: String,
    /// Birth date from characters 7–14.
    pub birth: Date,
    /// Sequence number odd: male.
    pub male: bool,
}

/// Why a value is not a valid ID-card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdCardError {
    /// Scientific notation: the spreadsheet stored the number as a float and lost digits.
    Scientific,
    /// 17 digits whose check character would be `X`: the `X` was lost.
    LostX,
    /// A 15-digit first-generation number (issued before 1999; children do not have these).
    FirstGeneration,
    /// Wrong length (characters found).
    Length(usize),
    /// Characters other than digits and a final `X`.
    Characters,
    /// Unknown province code.
    Region,
    /// The birth-date digits are not a date.
    BirthDate,
    /// Check character wrong; the expected one.
    CheckDigit(char),
    /// Check character wrong and the number ends in `000`: a spreadsheet kept 15 significant
    /// digits and filled the rest with zeros.
    ZeroedTail,
}

impl IdCardError {
    /// The problem kind this maps to.
    pub fn kind(&self) -> super::ProblemKind {
        use super::ProblemKind as K;
        match self {
            IdCardError::Scientific | IdCardError::ZeroedTail => K::ScientificNotation,
            IdCardError::LostX => K::IdCardLostX,
            IdCardError::FirstGeneration | IdCardError::Length(_) | IdCardError::Characters => {
                K::IdCardFormat
            }
            IdCardError::Region => K::IdCardRegion,
            IdCardError::BirthDate => K::IdCardBirthDate,
            IdCardError::CheckDigit(_) => K::IdCardCheckDigit,
        }
    }

    /// Chinese explanation.
    pub fn zh(&self) -> String {
        match self {
            IdCardError::Scientific => "身份证号变成了科学计数法（如 4.50121E+17）：表格把它当成数字，后几位已经丢失，无法恢复。请把该列设为“文本”格式，重新录入完整的 18 位号码".into(),
            IdCardError::LostX => "只有 17 位，按校验规则第 18 位应为 X：末尾的 X 很可能被表格丢掉了。请把该列设为“文本”格式，补上 X".into(),
            IdCardError::FirstGeneration => "这是 15 位的一代身份证号；适龄儿童的号码应为 18 位。请核对".into(),
            IdCardError::Length(n) => format!("身份证号应为 18 位，这里是 {n} 位"),
            IdCardError::Characters => "身份证号前 17 位应为数字，第 18 位为数字或 X".into(),
            IdCardError::Region => "身份证号前两位不是有效的省级行政区划代码".into(),
            IdCardError::BirthDate => "身份证号第 7–14 位不是有效的出生日期".into(),
            IdCardError::ZeroedTail => "身份证号以 000 结尾且校验位不对：表格把它当成数字，只保留了前 15 位，后 3 位变成了 0，无法恢复。请把该列设为“文本”格式，重新录入完整的 18 位号码".into(),
            IdCardError::CheckDigit(c) => format!(
                "身份证号校验位错误（GB 11643，ISO 7064 MOD 11-2）：按前 17 位，第 18 位应为 {c}。请核对是否有数字录错"
            ),
        }
    }

    /// English explanation.
    pub fn en(&self) -> String {
        match self {
            IdCardError::Scientific => "the ID-card number was turned into scientific notation (e.g. 4.50121E+17): the spreadsheet stored it as a number and its last digits are lost for good. Format the column as Text and enter the full 18 characters again".into(),
            IdCardError::LostX => "only 17 digits, and the check character computed from them is X: the spreadsheet most likely dropped the trailing X. Format the column as Text and add the X".into(),
            IdCardError::FirstGeneration => "a 15-digit first-generation ID number; a child's number has 18 characters. Please check".into(),
            IdCardError::Length(n) => format!("an ID-card number has 18 characters, this one has {n}"),
            IdCardError::Characters => "the first 17 characters must be digits and the 18th a digit or X".into(),
            IdCardError::Region => "the first two digits are not a valid province code".into(),
            IdCardError::BirthDate => "characters 7-14 are not a valid birth date".into(),
            IdCardError::ZeroedTail => "the ID-card number ends in 000 and its check character is wrong: the spreadsheet stored it as a number, kept 15 digits and replaced the last 3 with zeros, which cannot be undone. Format the column as Text and enter the full 18 characters again".into(),
            IdCardError::CheckDigit(c) => format!(
                "wrong check character (GB 11643, ISO 7064 MOD 11-2): from the first 17 digits the 18th must be {c}. A digit was probably mistyped"
            ),
        }
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character of 17 digits (ISO 7064 MOD 11-2), or `None` if they are not 17 ASCII
/// digits.
pub fn check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(char::from(CHECK[(sum % 11) as usize]))
}

const PROVINCES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
];

/// Folds what a clerk or a spreadsheet may add: surrounding and inner spaces, full-width
/// characters, a lower-case `x`.
pub fn normalise(raw: &str) -> String {
    super::read::fold_width(raw)
        .chars()
        .filter(|c| !super::read::is_blank(*c))
        .map(|c| if c == 'x' { 'X' } else { c })
        .collect()
}

fn looks_scientific(s: &str) -> bool {
    let Some(i) = s.find(['E', 'e']) else {
        return false;
    };
    let (mant, exp) = (&s[..i], &s[i + 1..]);
    !mant.is_empty()
        && mant.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && exp
            .strip_prefix('+')
            .unwrap_or(exp)
            .bytes()
            .all(|b| b.is_ascii_digit())
}

/// Parses and checks an ID-card number.
pub fn parse(raw: &str) -> Result<IdCard, IdCardError> {
    let s = normalise(raw);
    if looks_scientific(&s) {
        return Err(IdCardError::Scientific);
    }
    // A float rendering of an integer, e.g. "350582201903051234.0", lost digits too.
    if s.contains('.') && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(IdCardError::Scientific);
    }
    let n = s.chars().count();
    if n == 17 && check_char(&s) == Some('X') {
        return Err(IdCardError::LostX);
    }
    if n == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdCardError::FirstGeneration);
    }
    if n != 18 {
        return Err(IdCardError::Length(n));
    }
    let b = s.as_bytes();
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(IdCardError::Characters);
    }
    if !PROVINCES.contains(&&s[..2]) {
        return Err(IdCardError::Region);
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap_or(0);
    let birth = Date::new(num(6..10), num(10..12), num(12..14)).ok_or(IdCardError::BirthDate)?;
    let expected = check_char(&s[..17]).ok_or(IdCardError::Characters)?;
    if char::from(b[17]) != expected {
        if s.ends_with("000") {
            return Err(IdCardError::ZeroedTail);
        }
        return Err(IdCardError::CheckDigit(expected));
    }
    Ok(IdCard {
        male: (b[16] - b'0') % 2 == 1,
        number: s,
        birth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        // The standard's worked example.
        assert_eq!(check_char("11010519491231002"), Some('X'));
        let ok = parse("11010519491231002X").expect("valid");
        assert_eq!(ok.birth.to_string(), "1949-12-31");
        assert!(!ok.male);
        let c = check_char("35058220190305123").expect("digits");
        let good = format!("35058220190305123{c}");
        let card = parse(&good).expect("valid");
        assert!(card.male);
        assert_eq!(card.birth.to_string(), "2019-03-05");
        let wrong = if c == '0' { '1' } else { '0' };
        assert_eq!(
            parse(&format!("35058220190305123{wrong}")),
            Err(IdCardError::CheckDigit(c))
        );
    }

    #[test]
    fn spreadsheet_damage() {
        assert_eq!(parse("4.50121E+17"), Err(IdCardError::Scientific));
        assert_eq!(parse("4.501212019030512e17"), Err(IdCardError::Scientific));
        assert_eq!(parse("11010519491231002"), Err(IdCardError::LostX));
        // 350582201309160237 kept to 15 significant digits by a spreadsheet.
        assert_eq!(parse("350582201309160000"), Err(IdCardError::ZeroedTail));
        assert_eq!(
            parse("11010519491231002x").map(|c| c.number),
            Ok("11010519491231002X".into())
        );
        assert_eq!(
            parse(" １１０１０５１９４９１２３１００２Ｘ ").map(|c| c.number),
            Ok("11010519491231002X".into())
        );
        assert_eq!(
            parse("110105 19491231 002X").map(|c| c.number),
            Ok("11010519491231002X".into())
        );
        assert_eq!(parse("110105491231002"), Err(IdCardError::FirstGeneration));
        assert_eq!(parse("1101051949123100"), Err(IdCardError::Length(16)));
        assert_eq!(parse("99010519491231002X"), Err(IdCardError::Region));
        assert_eq!(parse("11010519491331002X"), Err(IdCardError::BirthDate));
        assert_eq!(parse("1101051949123100AX"), Err(IdCardError::Characters));
    }
}
