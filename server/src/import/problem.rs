//! One problem found in the input files, told in Chinese and in English.
//!
//! Messages may quote the offending value, which can be private (an ID-card number, a phone
//! number). They are meant for the clerk at the import PC: never publish them or put them in the
//! public bundle or the ceremony log.

use std::fmt;

/// What kind of rule a [`Problem`] breaks: a stable code for tests and for grouping in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file cannot be read at all (encoding, broken workbook, empty).
    FileUnreadable,
    /// The policy does not parse or breaks a rule.
    Policy,
    /// A required column is absent.
    MissingColumn,
    /// A column header that is not known.
    UnknownColumn,
    /// The same column appears twice.
    DuplicateColumn,
    /// A row with more cells than the header.
    RowShape,
    /// Values in a column whose header cell is blank (merged header cells).
    UnnamedColumn,
    /// A required value is empty.
    Required,
    /// A spreadsheet error value such as `#N/A` or `#REF!`.
    SpreadsheetError,
    /// A number turned into scientific notation (`4.50121E+17`): digits are lost.
    ScientificNotation,
    /// Leading zeros appear to have been stripped from an id or a phone number.
    LeadingZeros,
    /// A date turned into an Excel serial number (`45123`).
    ExcelSerialDate,
    /// A date that can be read two ways (`03/05/2019`).
    AmbiguousDate,
    /// A date that cannot be read or does not exist.
    BadDate,
    /// A line break or control character inside a cell.
    ControlCharacter,
    /// An ID-card number of the wrong length or with wrong characters.
    IdCardFormat,
    /// An ID-card number that lost its trailing `X`.
    IdCardLostX,
    /// An ID-card number with an unknown province code.
    IdCardRegion,
    /// An ID-card number whose birth-date digits are not a date.
    IdCardBirthDate,
    /// An ID-card number whose check digit is wrong (GB 11643, ISO 7064 MOD 11-2).
    IdCardCheckDigit,
    /// The birth date column disagrees with the ID-card number.
    BirthDateMismatch,
    /// The birth date is outside the policy's age window.
    BirthDateOutsideWindow,
    /// The gender column disagrees with the ID-card number.
    GenderMismatch,
    /// A gender value that is not F/M/女/男.
    BadGender,
    /// A value not among the allowed ones (e.g. a school kind other than public/private).
    BadValue,
    /// A phone number that is not a Chinese mobile or landline number.
    BadPhone,
    /// An id that is not 1–64 characters of `A-Z a-z 0-9 . _ -`.
    BadId,
    /// Public text with `,` `"` `;` or line breaks, or too long.
    BadText,
    /// Not a whole number where one is expected.
    BadNumber,
    /// A number that must be positive is zero or negative.
    NotPositive,
    /// The same application id twice.
    DuplicateApplicationId,
    /// The same child (ID-card number) under two application ids.
    DuplicateIdCard,
    /// The same school id twice.
    DuplicateSchool,
    /// Two schools with the same name.
    DuplicateSchoolName,
    /// The same teacher id twice.
    DuplicateTeacher,
    /// A reference to a school that is not in the schools file.
    UnknownSchool,
    /// The same entry twice in one list.
    RepeatedEntry,
    /// More choices than the policy allows.
    TooManyChoices,
    /// A track the policy does not define.
    UnknownTrack,
    /// A group the policy does not define.
    UnknownGroup,
    /// A category the policy does not define.
    UnknownCategory,
    /// A points indicator the policy does not define.
    UnknownIndicator,
    /// An indicator value that is not a whole number 0..=1000000.
    BadIndicatorValue,
    /// A list entry of the wrong shape (`SCHOOL:NUMBER`, `name=value`, …).
    BadListEntry,
    /// A family id carried by only one applicant: the linked sibling is missing.
    FamilyAlone,
    /// A priority group the school reserves no seats for.
    GroupNotReserved,
    /// A manual placement reason the policy does not define.
    UnknownManualReason,
    /// Reserved and points seats exceed the capacity.
    SeatsExceedCapacity,
    /// Coordinates incomplete or not whole metres.
    BadCoordinates,
    /// A school's fixed number of classes cannot hold its capacity.
    ClassesTooFew,
    /// Fewer homeroom teachers than the classes a school may need.
    TooFewTeachers,
    /// More manual placements at a school than its seats.
    ManualOverCapacity,
    /// A file with a header but no data rows.
    NoRows,
    /// The import produced files the engine refuses (a bug: please report).
    Internal,
}

impl ProblemKind {
    /// A short stable code, e.g. `id_card_check_digit`.
    pub fn code(self) -> &'static str {
        use ProblemKind::*;
        match self {
            FileUnreadable => "file_unreadable",
            Policy => "policy",
            MissingColumn => "missing_column",
            UnknownColumn => "unknown_column",
            DuplicateColumn => "duplicate_column",
            RowShape => "row_shape",
            UnnamedColumn => "unnamed_column",
            Required => "required",
            SpreadsheetError => "spreadsheet_error",
            ScientificNotation => "scientific_notation",
            LeadingZeros => "leading_zeros",
            ExcelSerialDate => "excel_serial_date",
            AmbiguousDate => "ambiguous_date",
            BadDate => "bad_date",
            ControlCharacter => "control_character",
            IdCardFormat => "id_card_format",
            IdCardLostX => "id_card_lost_x",
            IdCardRegion => "id_card_region",
            IdCardBirthDate => "id_card_birth_date",
            IdCardCheckDigit => "id_card_check_digit",
            BirthDateMismatch => "birth_date_mismatch",
            BirthDateOutsideWindow => "birth_date_outside_window",
            GenderMismatch => "gender_mismatch",
            BadGender => "bad_gender",
            BadValue => "bad_value",
            BadPhone => "bad_phone",
            BadId => "bad_id",
            BadText => "bad_text",
            BadNumber => "bad_number",
            NotPositive => "not_positive",
            DuplicateApplicationId => "duplicate_application_id",
            DuplicateIdCard => "duplicate_id_card",
            DuplicateSchool => "duplicate_school",
            DuplicateSchoolName => "duplicate_school_name",
            DuplicateTeacher => "duplicate_teacher",
            UnknownSchool => "unknown_school",
            RepeatedEntry => "repeated_entry",
            TooManyChoices => "too_many_choices",
            UnknownTrack => "unknown_track",
            UnknownGroup => "unknown_group",
            UnknownCategory => "unknown_category",
            UnknownIndicator => "unknown_indicator",
            BadIndicatorValue => "bad_indicator_value",
            BadListEntry => "bad_list_entry",
            FamilyAlone => "family_alone",
            GroupNotReserved => "group_not_reserved",
            UnknownManualReason => "unknown_manual_reason",
            SeatsExceedCapacity => "seats_exceed_capacity",
            BadCoordinates => "bad_coordinates",
            ClassesTooFew => "classes_too_few",
            TooFewTeachers => "too_few_teachers",
            ManualOverCapacity => "manual_over_capacity",
            NoRows => "no_rows",
            Internal => "internal",
        }
    }
}

/// One problem: where it is (file, row, column, value) and what was expected, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File name as given (e.g. `applicants.xlsx`).
    pub file: String,
    /// Row number as a spreadsheet shows it (the header is usually row 1), when the problem is in
    /// a row.
    pub row: Option<usize>,
    /// Column header as written in the file, when the problem is in a cell.
    pub column: Option<String>,
    /// The offending value (may be private: do not publish).
    pub value: Option<String>,
    /// The rule broken.
    pub kind: ProblemKind,
    /// What is wrong and what was expected, in Chinese.
    pub detail_zh: String,
    /// What is wrong and what was expected, in English.
    pub detail_en: String,
}

/// Longest value quoted in a message.
const QUOTE_MAX: usize = 60;

fn quote(v: &str) -> String {
    let mut s: String = v.chars().take(QUOTE_MAX).collect();
    if v.chars().count() > QUOTE_MAX {
        s.push('…');
    }
    s.escape_debug().to_string()
}

impl Problem {
    /// A problem with the whole file.
    pub fn file(
        file: &str,
        kind: ProblemKind,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.to_string(),
            row: None,
            column: None,
            value: None,
            kind,
            detail_zh: zh.into(),
            detail_en: en.into(),
        }
    }

    /// Sets the row.
    pub fn at_row(mut self, row: usize) -> Problem {
        self.row = Some(row);
        self
    }

    /// Sets the column.
    pub fn in_column(mut self, column: &str) -> Problem {
        self.column = Some(column.to_string());
        self
    }

    /// Sets the value.
    pub fn with_value(mut self, value: &str) -> Problem {
        self.value = Some(value.to_string());
        self
    }

    /// The message in Chinese, e.g. `applicants.csv 第 12 行「身份证号」列，值“…”：校验位错误…`.
    pub fn zh(&self) -> String {
        let mut s = self.file.clone();
        if let Some(r) = self.row {
            s.push_str(&format!(" 第 {r} 行"));
        }
        if let Some(c) = &self.column {
            s.push_str(&format!("「{c}」列"));
        }
        if let Some(v) = &self.value {
            s.push_str(&format!("，值“{}”", quote(v)));
        }
        s.push('：');
        s.push_str(&self.detail_zh);
        s
    }

    /// The message in English, e.g. `applicants.csv, row 12, column "身份证号", value "…": …`.
    pub fn en(&self) -> String {
        let mut s = self.file.clone();
        if let Some(r) = self.row {
            s.push_str(&format!(", row {r}"));
        }
        if let Some(c) = &self.column {
            s.push_str(&format!(", column \"{c}\""));
        }
        if let Some(v) = &self.value {
            s.push_str(&format!(", value \"{}\"", quote(v)));
        }
        s.push_str(": ");
        s.push_str(&self.detail_en);
        s
    }
}

impl fmt::Display for Problem {
    /// Both languages: the Chinese line, then the English one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  {}", self.zh(), self.en())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_languages() {
        let p = Problem::file("applicants.csv", ProblemKind::Required, "必填", "required")
            .at_row(5)
            .in_column("姓名")
            .with_value("");
        assert_eq!(p.zh(), "applicants.csv 第 5 行「姓名」列，值“”：必填");
        assert_eq!(
            p.en(),
            "applicants.csv, row 5, column \"姓名\", value \"\": required"
        );
        assert!(p.to_string().contains("required"));
        assert_eq!(p.kind.code(), "required");
    }
}
