//! All-or-nothing validation of the bureau's files into a round.
//!
//! Every row of every file is checked and every problem collected; cross-row checks (duplicate
//! application ids, the same child twice, lone family links, leading zeros) use sorted vectors, so
//! the whole import is O(n log n) in the number of rows.

use super::date::{self, Date, DateError};
use super::idcard::{self, IdCard};
use super::private::salt_for;
use super::problem::{Problem, ProblemKind as K};
use super::read::{self, ColumnSpec, Table, fold_width, trim};
use super::{InputFiles, PrivateEntry, PublicFiles, ValidatedRound};
use lottery::policy::{Policy, is_id};
use lottery::round::{self, Applicant, FrozenRound, Gender, PrivateRecord, School, Teacher};
use std::collections::BTreeMap;

/// Columns of the schools file.
pub const SCHOOL_COLUMNS: [ColumnSpec; 10] = [
    ColumnSpec {
        key: "school_id",
        aliases: &["学校代码", "学校编号", "学校标识码"],
        required: true,
    },
    ColumnSpec {
        key: "name",
        aliases: &["学校名称", "校名"],
        required: true,
    },
    ColumnSpec {
        key: "kind",
        aliases: &["类型", "办学性质", "学校性质", "性质"],
        required: true,
    },
    ColumnSpec {
        key: "capacity",
        aliases: &["招生计划", "计划数", "学位数", "招生人数"],
        required: true,
    },
    ColumnSpec {
        key: "reserved",
        aliases: &["预留学位", "预留"],
        required: false,
    },
    ColumnSpec {
        key: "points_seats",
        aliases: &["积分学位", "积分入学学位"],
        required: false,
    },
    ColumnSpec {
        key: "classes",
        aliases: &["班级数", "计划班数", "班数"],
        required: false,
    },
    ColumnSpec {
        key: "x",
        aliases: &["坐标X", "X坐标"],
        required: false,
    },
    ColumnSpec {
        key: "y",
        aliases: &["坐标Y", "Y坐标"],
        required: false,
    },
    ColumnSpec {
        key: "graduates",
        aliases: &["毕业生数", "毕业生人数"],
        required: false,
    },
];

/// Columns of the teachers file.
pub const TEACHER_COLUMNS: [ColumnSpec; 2] = [
    ColumnSpec {
        key: "teacher_id",
        aliases: &["教师编号", "教师代码"],
        required: true,
    },
    ColumnSpec {
        key: "school_id",
        aliases: &["学校代码", "学校编号", "学校"],
        required: true,
    },
];

/// Columns of the applicants file: private ones first, then the public ones.
pub const APPLICANT_COLUMNS: [ColumnSpec; 17] = [
    ColumnSpec {
        key: "application_id",
        aliases: &["申请编号", "报名号", "申请号", "报名编号"],
        required: true,
    },
    ColumnSpec {
        key: "name",
        aliases: &["姓名", "学生姓名", "儿童姓名"],
        required: true,
    },
    ColumnSpec {
        key: "id_card",
        aliases: &["身份证号", "身份证号码", "公民身份号码", "证件号码"],
        required: true,
    },
    ColumnSpec {
        key: "birth_date",
        aliases: &["出生日期"],
        required: false,
    },
    ColumnSpec {
        key: "phone",
        aliases: &["监护人电话", "联系电话", "电话", "手机号码"],
        required: true,
    },
    ColumnSpec {
        key: "address",
        aliases: &["住址", "家庭住址", "地址", "居住地址"],
        required: true,
    },
    ColumnSpec {
        key: "track",
        aliases: &["报名通道", "通道"],
        required: true,
    },
    ColumnSpec {
        key: "gender",
        aliases: &["性别"],
        required: false,
    },
    ColumnSpec {
        key: "groups",
        aliases: &["群体"],
        required: false,
    },
    ColumnSpec {
        key: "choices",
        aliases: &["志愿", "志愿学校"],
        required: true,
    },
    ColumnSpec {
        key: "categories",
        aliases: &["类别", "入学类别", "招生类别"],
        required: false,
    },
    ColumnSpec {
        key: "indicators",
        aliases: &["积分指标"],
        required: false,
    },
    ColumnSpec {
        key: "family",
        aliases: &["家庭编号"],
        required: false,
    },
    ColumnSpec {
        key: "priority",
        aliases: &["优先", "预留学位资格"],
        required: false,
    },
    ColumnSpec {
        key: "manual",
        aliases: &["一人一案"],
        required: false,
    },
    ColumnSpec {
        key: "x",
        aliases: &["坐标X", "X坐标"],
        required: false,
    },
    ColumnSpec {
        key: "y",
        aliases: &["坐标Y", "Y坐标"],
        required: false,
    },
];

mod col {
    pub const APP_ID: usize = 0;
    pub const NAME: usize = 1;
    pub const ID_CARD: usize = 2;
    pub const BIRTH: usize = 3;
    pub const PHONE: usize = 4;
    pub const ADDRESS: usize = 5;
    pub const TRACK: usize = 6;
    pub const GENDER: usize = 7;
    pub const GROUPS: usize = 8;
    pub const CHOICES: usize = 9;
    pub const CATEGORIES: usize = 10;
    pub const INDICATORS: usize = 11;
    pub const FAMILY: usize = 12;
    pub const PRIORITY: usize = 13;
    pub const MANUAL: usize = 14;
    pub const X: usize = 15;
    pub const Y: usize = 16;
}

/// Largest indicator value accepted by the engine.
const MAX_INDICATOR: i64 = 1_000_000;

/// One row's cells, bound to the table's columns.
struct Cells<'a> {
    table: &'a Table,
    specs: &'a [ColumnSpec],
    row: usize,
    cells: &'a [String],
}

impl<'a> Cells<'a> {
    fn index(&self, j: usize) -> Option<usize> {
        self.table.columns[j].as_ref().map(|(i, _)| *i)
    }

    fn header(&self, j: usize) -> &'a str {
        match &self.table.columns[j] {
            Some((_, h)) => h.as_str(),
            None => self.specs[j].key,
        }
    }

    /// The trimmed cell; empty when the column is absent or the cell holds a spreadsheet error
    /// (reported once by [`Cells::error_cells`]).
    fn raw(&self, j: usize) -> &'a str {
        let v = self
            .index(j)
            .and_then(|i| self.cells.get(i))
            .map(|s| trim(s))
            .unwrap_or("");
        if read::is_error_value(v) { "" } else { v }
    }

    fn is_error(&self, j: usize) -> bool {
        self.index(j)
            .and_then(|i| self.cells.get(i))
            .is_some_and(|s| read::is_error_value(trim(s)))
    }

    /// Structured value: trimmed and folded to ASCII forms.
    fn folded(&self, j: usize) -> String {
        trim(&fold_width(self.raw(j))).to_string()
    }

    fn problem(&self, j: usize, kind: K, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        // The value is kept only as far as a message quotes it (60 characters and a mark): a
        // hostile cell with thousands of bad entries must not be copied into every problem.
        let v = self.raw(j);
        let v = v.char_indices().nth(61).map_or(v, |(i, _)| &v[..i]);
        Problem::file(&self.table.file, kind, zh, en)
            .at_row(self.row)
            .in_column(self.header(j))
            .with_value(v)
    }

    /// Reports spreadsheet error cells and a row wider than the header.
    fn error_cells(&self, p: &mut Vec<Problem>) {
        for j in 0..self.specs.len() {
            if self.is_error(j) {
                let v = self
                    .index(j)
                    .and_then(|i| self.cells.get(i))
                    .map(|s| trim(s))
                    .unwrap_or("");
                p.push(
                    Problem::file(
                        &self.table.file,
                        K::SpreadsheetError,
                        "单元格是表格的错误值（公式出错或引用失效），不是数据。请填入实际的值",
                        "the cell holds a spreadsheet error value (a broken formula or reference), not data. Enter the actual value",
                    )
                    .at_row(self.row)
                    .in_column(self.header(j))
                    .with_value(v),
                );
            }
        }
        if self.cells.len() > self.table.width
            && self.cells[self.table.width..]
                .iter()
                .any(|c| !trim(c).is_empty())
        {
            p.push(
                Problem::file(
                    &self.table.file,
                    K::RowShape,
                    format!(
                        "这一行有 {} 个单元格，表头只有 {} 列。常见原因：某个值里有英文逗号却没有加引号",
                        self.cells.len(),
                        self.table.width
                    ),
                    format!(
                        "the row has {} cells but the header has {} columns; usually a value with a comma that is not quoted",
                        self.cells.len(),
                        self.table.width
                    ),
                )
                .at_row(self.row),
            );
        }
    }

    /// A required value: reports `Required` when empty.
    fn required(&self, j: usize, p: &mut Vec<Problem>) -> Option<&'a str> {
        let v = self.raw(j);
        if !v.is_empty() {
            return Some(v);
        }
        if !self.is_error(j) {
            p.push(self.problem(
                j,
                K::Required,
                format!("“{}”不能为空", self.header(j)),
                format!("{} must not be empty", self.specs[j].key),
            ));
        }
        None
    }
}

/// Splits a multi-valued cell on `;` (also `；`, `、`, `,` and `，`), trimming each item.
fn items(v: &str) -> Vec<String> {
    fold_width(v)
        .split([';', ',', '、', '\n'])
        .map(|s| trim(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A whole number: optional `-`, digits (leading zeros allowed), an optional `.0…` tail that
/// spreadsheets add.
fn whole(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let int = match body.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => body,
    };
    if int.is_empty() || int.len() > 18 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = int.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn id_problem_text(what_zh: &str, what_en: &str) -> (String, String) {
    (
        format!("{what_zh}只能用 1–64 个英文字母、数字和 . _ -（不能有汉字、空格）"),
        format!(
            "{what_en} must be 1-64 characters of A-Z a-z 0-9 . _ - (no Chinese characters or spaces)"
        ),
    )
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn text_problem_zh() -> &'static str {
    "公开文字不能含英文逗号 , 英文引号 \" 英文分号 ; 或换行，长度 1–200 字节。可改用中文标点（，；）"
}

fn text_problem_en() -> &'static str {
    "public text must not contain an ASCII comma, double quote, semicolon or line break, and must be 1-200 bytes; use Chinese punctuation (，；) instead"
}

/// Schools as far as they could be read.
#[derive(Default)]
pub(crate) struct SchoolSet {
    /// Valid schools (any order; sorted at the end).
    valid: Vec<School>,
    /// Every school id seen (also on rows with problems): id → index in `valid` if valid.
    known: BTreeMap<String, Option<usize>>,
    /// Name → id.
    by_name: BTreeMap<String, String>,
    /// Lower-cased or zero-stripped id → id (for hints).
    hints: BTreeMap<String, String>,
    /// False when the schools file could not be read: references are then not checked.
    available: bool,
    /// Row of each valid school (same order as `valid`).
    rows: Vec<usize>,
    /// Headers of the capacity and classes columns as written.
    capacity_col: String,
    classes_col: String,
    /// Indices into `valid` in school-id order: the order of the round's schools, which the
    /// applicants' choice and category indices point into.
    order: Vec<usize>,
    /// Position of each valid school in `order` (its index in the round).
    rank: Vec<u32>,
}

enum Resolved<'a> {
    /// A valid school.
    Ok(&'a School),
    /// Known but invalid, or schools unavailable: already reported, do not report again.
    Skip,
    /// Unknown; a hint.
    Unknown(Option<String>),
}

impl SchoolSet {
    fn resolve(&self, r: &str) -> Resolved<'_> {
        if !self.available {
            return Resolved::Skip;
        }
        let id = match self.known.get_key_value(r) {
            Some((id, _)) => id.as_str(),
            None => match self.by_name.get(r) {
                Some(id) => id.as_str(),
                None => {
                    let stripped = r.trim_start_matches('0').to_ascii_lowercase();
                    return Resolved::Unknown(self.hints.get(&stripped).cloned());
                }
            },
        };
        match self.known.get(id) {
            Some(Some(i)) => Resolved::Ok(&self.valid[*i]),
            _ => Resolved::Skip,
        }
    }

    /// Sorts the valid schools by id (once, after reading them): fills `order` and `rank`.
    fn index_schools(&mut self) {
        let mut order: Vec<usize> = (0..self.valid.len()).collect();
        order.sort_by(|&a, &b| self.valid[a].id.as_bytes().cmp(self.valid[b].id.as_bytes()));
        let mut rank = vec![0u32; order.len()];
        for (k, &i) in order.iter().enumerate() {
            rank[i] = k as u32;
        }
        self.order = order;
        self.rank = rank;
    }

    /// Index in the round's schools (sorted by id) of the valid school with this exact id.
    fn round_index(&self, id: &str) -> Option<u32> {
        match self.known.get(id) {
            Some(Some(i)) => self.rank.get(*i).copied(),
            _ => None,
        }
    }

    fn unknown(&self, c: &Cells<'_>, j: usize, r: &str, hint: Option<String>) -> Problem {
        let (hz, he) = match hint {
            Some(h)
                if h.starts_with('0') && h.trim_start_matches('0') == r.trim_start_matches('0') =>
            {
                (
                    format!(
                        "；学校代码里有 {h}，可能是表格去掉了开头的 0（请把该列设为“文本”格式）"
                    ),
                    format!(
                        "; there is a school {h}: the spreadsheet may have stripped its leading zeros (format the column as Text)"
                    ),
                )
            }
            Some(h) => (format!("；是否指 {h}？"), format!("; did you mean {h}?")),
            None => (String::new(), String::new()),
        };
        c.problem(
            j,
            K::UnknownSchool,
            format!("学校“{r}”不在学校表中{hz}"),
            format!("school {r:?} is not in the schools file{he}"),
        )
    }
}

/// Reports numeric ids shorter than most: their leading zeros were probably stripped.
fn leading_zero_check(file: &str, column: &str, ids: &[(&str, usize)], p: &mut Vec<Problem>) {
    let numeric: Vec<&(&str, usize)> = ids
        .iter()
        .filter(|(s, _)| s.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    if numeric.len() < 2 {
        return;
    }
    let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
    for (s, _) in &numeric {
        *lengths.entry(s.len()).or_default() += 1;
    }
    let Some((&common, &count)) = lengths.iter().max_by_key(|(l, c)| (**c, **l)) else {
        return;
    };
    if count * 2 <= numeric.len() || !numeric.iter().any(|(s, _)| s.starts_with('0')) {
        return;
    }
    for (s, row) in numeric {
        if s.len() < common {
            p.push(
                Problem::file(
                    file,
                    K::LeadingZeros,
                    format!(
                        "编号只有 {} 位，而大多数是 {common} 位并以 0 开头：表格可能去掉了开头的 0。请把该列设为“文本”格式后重新录入",
                        s.len()
                    ),
                    format!(
                        "the id has {} digits where most have {common} and start with 0: the spreadsheet probably stripped its leading zeros. Format the column as Text and enter it again",
                        s.len()
                    ),
                )
                .at_row(*row)
                .in_column(column)
                .with_value(s),
            );
        }
    }
}

fn check_policy(name: &str, bytes: &[u8], p: &mut Vec<Problem>) -> Option<Policy> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        p.push(Problem::file(
            name,
            K::Policy,
            "策略文件以 BOM 开头。请存为“UTF-8（无 BOM）”：策略文件的字节会原样公布并计入哈希",
            "the policy starts with a byte-order mark. Save it as UTF-8 without BOM: its bytes are published and hashed exactly as they are",
        ));
        return None;
    }
    match Policy::parse(bytes) {
        Ok(pol) => {
            if let (Some(a), Some(b)) = (&pol.round.birth_from, &pol.round.birth_to)
                && a > b
            {
                p.push(Problem::file(
                    name,
                    K::Policy,
                    format!("round.birth_from（{a}）晚于 round.birth_to（{b}）"),
                    format!("round.birth_from ({a}) is after round.birth_to ({b})"),
                ));
            }
            for (k, v) in [
                ("birth_from", &pol.round.birth_from),
                ("birth_to", &pol.round.birth_to),
            ] {
                if let Some(d) = v
                    && Date::parse_canonical(d).is_none()
                {
                    p.push(Problem::file(
                        name,
                        K::Policy,
                        format!("round.{k}（{d}）不是真实日期"),
                        format!("round.{k} ({d}) is not a real date"),
                    ));
                }
            }
            Some(pol)
        }
        Err(e) => {
            let hint_zh = if std::str::from_utf8(bytes).is_err() {
                "（策略文件必须是 UTF-8 编码，不能是 GB18030）"
            } else {
                ""
            };
            p.push(Problem::file(
                name,
                K::Policy,
                format!("策略文件无效{hint_zh}：{e}"),
                format!("the policy is not valid: {e}"),
            ));
            None
        }
    }
}

fn bind_file(
    (name, bytes): &(String, Vec<u8>),
    specs: &[ColumnSpec],
    p: &mut Vec<Problem>,
) -> Option<Table> {
    match read::read_sheet(name, bytes) {
        Ok(sheet) => read::bind(sheet, specs, p),
        Err(e) => {
            p.push(e);
            None
        }
    }
}

fn check_schools(file: &(String, Vec<u8>), p: &mut Vec<Problem>) -> SchoolSet {
    let mut set = SchoolSet::default();
    let Some(t) = bind_file(file, &SCHOOL_COLUMNS, p) else {
        return set;
    };
    set.available = true;
    let header = |j: usize| {
        t.columns[j]
            .as_ref()
            .map(|x| x.1.clone())
            .unwrap_or_else(|| SCHOOL_COLUMNS[j].key.to_string())
    };
    set.capacity_col = header(3);
    set.classes_col = header(6);
    if t.rows.is_empty() {
        p.push(Problem::file(
            &t.file,
            K::NoRows,
            "学校表没有数据行",
            "the schools file has no rows",
        ));
    }
    let mut ids: Vec<(String, usize)> = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (row, cells) in &t.rows {
        let c = Cells {
            table: &t,
            specs: &SCHOOL_COLUMNS,
            row: *row,
            cells,
        };
        let before = p.len();
        c.error_cells(p);
        let id = c.folded(0);
        if id.is_empty() {
            c.required(0, p);
        } else if !is_id(&id) {
            let (zh, en) = id_problem_text("学校代码", "a school id");
            p.push(c.problem(0, K::BadId, zh, en));
        } else {
            ids.push((id.clone(), *row));
        }
        let name = c.raw(1);
        if name.is_empty() {
            c.required(1, p);
        } else if !round::is_text(name) {
            p.push(c.problem(1, K::BadText, text_problem_zh(), text_problem_en()));
        } else {
            names.push((name.to_string(), *row));
        }
        let kind = c.folded(2);
        let private = match kind.to_lowercase().as_str() {
            "public" | "公办" | "公立" => Some(false),
            "private" | "民办" | "私立" => Some(true),
            "" => {
                c.required(2, p);
                None
            }
            _ => {
                p.push(c.problem(
                    2,
                    K::BadValue,
                    "学校类型应为 公办 或 民办（public / private）",
                    "school kind must be public or private (公办 / 民办)",
                ));
                None
            }
        };
        let capacity = match c.folded(3).as_str() {
            "" => {
                if !c.is_error(3) {
                    p.push(c.problem(
                        3,
                        K::Required,
                        "缺少招生计划（学位数）：每所学校都必须有正整数的学位数",
                        "capacity is missing: every school needs a positive whole number of seats",
                    ));
                }
                None
            }
            v => match whole(v) {
                Some(n) if (1..=1_000_000).contains(&n) => Some(n as u32),
                Some(n) if n <= 0 => {
                    p.push(c.problem(
                        3,
                        K::NotPositive,
                        "招生计划必须是正整数（至少 1）",
                        "capacity must be a positive whole number (at least 1)",
                    ));
                    None
                }
                _ => {
                    p.push(c.problem(
                        3,
                        K::BadNumber,
                        "招生计划应为 1 到 1000000 之间的整数",
                        "capacity must be a whole number from 1 to 1000000",
                    ));
                    None
                }
            },
        };
        let mut reserved: Vec<(String, u32)> = Vec::new();
        for item in items(c.raw(4)) {
            let parsed = item
                .split_once(['=', ':'])
                .map(|(g, n)| (trim(g).to_string(), whole(trim(n))));
            match parsed {
                Some((g, Some(n))) if is_id(&g) && (1..=1_000_000).contains(&n) => {
                    if reserved.iter().any(|(x, _)| *x == g) {
                        p.push(c.problem(
                            4,
                            K::RepeatedEntry,
                            format!("预留群体 {g} 重复"),
                            format!("group {g} is listed twice"),
                        ));
                    } else {
                        reserved.push((g, n as u32));
                    }
                }
                _ => p.push(c.problem(
                    4,
                    K::BadListEntry,
                    format!(
                        "“{item}”应写成 群体=学位数，如 staff=5（群体名用英文字母），多个用 ; 分隔"
                    ),
                    format!("{item:?} must be group=seats, e.g. staff=5, several separated by ;"),
                )),
            }
        }
        reserved.sort();
        let count = |j: usize, zh: &str, en: &str, p: &mut Vec<Problem>| -> u64 {
            let v = c.folded(j);
            if v.is_empty() {
                return 0;
            }
            match whole(&v) {
                Some(n) if (0..=1_000_000_000).contains(&n) => n as u64,
                _ => {
                    p.push(c.problem(
                        j,
                        K::BadNumber,
                        format!("{zh}应为不小于 0 的整数"),
                        format!("{en} must be a whole number, 0 or more"),
                    ));
                    0
                }
            }
        };
        let points_seats = count(5, "积分学位", "points_seats", p);
        let classes = count(6, "班级数", "classes", p);
        if classes > 1000 {
            p.push(c.problem(
                6,
                K::BadNumber,
                "班级数不能超过 1000",
                "classes must be at most 1000",
            ));
        }
        let graduates = count(9, "毕业生数", "graduates", p);
        let xy = coords(&c, 7, 8, p);
        if let Some(cap) = capacity {
            let total: u64 =
                points_seats + reserved.iter().map(|(_, n)| u64::from(*n)).sum::<u64>();
            if total > u64::from(cap) {
                p.push(c.problem(
                    3,
                    K::SeatsExceedCapacity,
                    format!("预留学位与积分学位合计 {total}，超过招生计划 {cap}"),
                    format!(
                        "reserved and points seats add up to {total}, more than the capacity {cap}"
                    ),
                ));
            }
        }
        let valid = p.len() == before;
        let entry = set.known.entry(id.clone()).or_insert(None);
        if valid
            && entry.is_none()
            && is_id(&id)
            && let (Some(private), Some(capacity)) = (private, capacity)
        {
            set.valid.push(School {
                id: id.clone(),
                name: name.to_string(),
                private,
                capacity,
                reserved,
                points_seats: points_seats as u32,
                classes: classes as u32,
                xy,
                graduates,
            });
            *entry = Some(set.valid.len() - 1);
            set.rows.push(*row);
        }
        if is_id(&id) && !name.is_empty() {
            set.by_name.entry(name.to_string()).or_insert(id.clone());
        }
    }
    for id in set.known.keys() {
        set.hints
            .insert(id.trim_start_matches('0').to_ascii_lowercase(), id.clone());
    }
    duplicates(
        &t.file,
        t.columns[0]
            .as_ref()
            .map(|x| x.1.as_str())
            .unwrap_or("school_id"),
        &mut ids,
        p,
        |first| {
            (
                K::DuplicateSchool,
                format!("学校代码重复（第 {first} 行已有）"),
                format!("school id repeated (already on row {first})"),
            )
        },
    );
    let ids_ref: Vec<(&str, usize)> = ids.iter().map(|(s, r)| (s.as_str(), *r)).collect();
    leading_zero_check(
        &t.file,
        t.columns[0]
            .as_ref()
            .map(|x| x.1.as_str())
            .unwrap_or("school_id"),
        &ids_ref,
        p,
    );
    duplicates(
        &t.file,
        t.columns[1]
            .as_ref()
            .map(|x| x.1.as_str())
            .unwrap_or("name"),
        &mut names,
        p,
        |first| {
            (
                K::DuplicateSchoolName,
                format!("学校名称与第 {first} 行相同：志愿可以写学校名称，名称必须唯一"),
                format!(
                    "same school name as row {first}: choices may name schools, so names must be unique"
                ),
            )
        },
    );
    set.index_schools();
    set
}

/// Sorts `(key, row)` pairs and reports every repeat after the first occurrence.
fn duplicates(
    file: &str,
    column: &str,
    v: &mut [(String, usize)],
    p: &mut Vec<Problem>,
    msg: impl Fn(usize) -> (K, String, String),
) {
    // Entries differ in their rows, so an unstable (parallel) sort orders them as a stable one.
    use rayon::slice::ParallelSliceMut;
    v.par_sort_unstable();
    let mut i = 0;
    while i < v.len() {
        let mut j = i + 1;
        while j < v.len() && v[j].0 == v[i].0 {
            let (kind, zh, en) = msg(v[i].1);
            p.push(
                Problem::file(file, kind, zh, en)
                    .at_row(v[j].1)
                    .in_column(column)
                    .with_value(&v[j].0),
            );
            j += 1;
        }
        i = j;
    }
}

fn coords(c: &Cells<'_>, jx: usize, jy: usize, p: &mut Vec<Problem>) -> Option<(i64, i64)> {
    let (x, y) = (c.folded(jx), c.folded(jy));
    match (x.is_empty(), y.is_empty()) {
        (true, true) => None,
        (false, false) => match (whole(&x), whole(&y)) {
            (Some(x), Some(y)) if x.abs() <= 1 << 40 && y.abs() <= 1 << 40 => Some((x, y)),
            _ => {
                p.push(c.problem(
                    jx,
                    K::BadCoordinates,
                    format!("坐标应为整数（米），这里是 x={x}，y={y}"),
                    format!("coordinates must be whole metres, found x={x}, y={y}"),
                ));
                None
            }
        },
        _ => {
            p.push(c.problem(
                jx,
                K::BadCoordinates,
                "坐标 x 和 y 要么都填，要么都不填",
                "give both x and y, or neither",
            ));
            None
        }
    }
}

fn check_teachers(
    file: &(String, Vec<u8>),
    schools: &SchoolSet,
    p: &mut Vec<Problem>,
) -> Vec<Teacher> {
    let Some(t) = bind_file(file, &TEACHER_COLUMNS, p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut ids: Vec<(String, usize)> = Vec::new();
    for (row, cells) in &t.rows {
        let c = Cells {
            table: &t,
            specs: &TEACHER_COLUMNS,
            row: *row,
            cells,
        };
        let before = p.len();
        c.error_cells(p);
        let id = c.folded(0);
        if id.is_empty() {
            c.required(0, p);
        } else if !is_id(&id) {
            p.push(c.problem(
                0,
                K::BadId,
                "教师编号只能用 1–64 个英文字母、数字和 . _ -：请用化名编号，不要写教师姓名（这个文件会公开）",
                "a teacher id must be 1-64 characters of A-Z a-z 0-9 . _ -: use a pseudonymous code, never the teacher's name (this file is published)",
            ));
        } else {
            ids.push((id.clone(), *row));
        }
        let s = c.folded(1);
        let school = if s.is_empty() {
            c.required(1, p);
            None
        } else {
            match schools.resolve(&s) {
                Resolved::Ok(sc) => Some(sc.id.clone()),
                Resolved::Skip => None,
                Resolved::Unknown(h) => {
                    p.push(schools.unknown(&c, 1, &s, h));
                    None
                }
            }
        };
        if let (true, Some(school)) = (p.len() == before, school) {
            out.push(Teacher { id, school });
        }
    }
    let col = t.columns[0]
        .as_ref()
        .map(|x| x.1.as_str())
        .unwrap_or("teacher_id");
    duplicates(&t.file, col, &mut ids, p, |first| {
        (
            K::DuplicateTeacher,
            format!("教师编号重复（第 {first} 行已有）"),
            format!("teacher id repeated (already on row {first})"),
        )
    });
    out
}

/// What one applicant row gave.
struct Draft {
    row: usize,
    app_id: Option<String>,
    id_card: Option<String>,
    family: Option<String>,
    ok: Option<(Applicant, PrivateEntry)>,
}

struct Ctx<'a> {
    policy: Option<&'a Policy>,
    schools: &'a SchoolSet,
    birth_from: Option<Date>,
    birth_to: Option<Date>,
}

fn check_applicants(
    file: &(String, Vec<u8>),
    policy: Option<&Policy>,
    schools: &SchoolSet,
    p: &mut Vec<Problem>,
) -> (Option<Table>, Vec<Draft>) {
    let Some(mut t) = bind_file(file, &APPLICANT_COLUMNS, p) else {
        return (None, Vec::new());
    };
    if t.rows.is_empty() {
        p.push(Problem::file(
            &t.file,
            K::NoRows,
            "申请表没有数据行",
            "the applicants file has no rows",
        ));
    }
    let ctx = Ctx {
        policy,
        schools,
        birth_from: policy
            .and_then(|x| x.round.birth_from.as_deref())
            .and_then(Date::parse_canonical),
        birth_to: policy
            .and_then(|x| x.round.birth_to.as_deref())
            .and_then(Date::parse_canonical),
    };
    // Rows are checked in parallel, each row's problems kept beside its draft and then joined
    // in row order, so the report is the one a row-by-row pass gives. The rows are consumed as
    // they are checked (their cells freed), and the drafts collected in place: at a million rows
    // the cells and the drafts are each about half a gigabyte.
    use rayon::prelude::*;
    let rows = std::mem::take(&mut t.rows);
    let (drafts, found): (Vec<Draft>, Vec<Vec<Problem>>) = rows
        .into_par_iter()
        .map(|(row, cells)| {
            let mut found = Vec::new();
            let c = Cells {
                table: &t,
                specs: &APPLICANT_COLUMNS,
                row,
                cells: &cells,
            };
            let d = applicant_row(&c, &ctx, &mut found);
            (d, found)
        })
        .unzip();
    p.extend(found.into_iter().flatten());
    (Some(t), drafts)
}

fn applicant_row(c: &Cells<'_>, ctx: &Ctx<'_>, p: &mut Vec<Problem>) -> Draft {
    let before = p.len();
    c.error_cells(p);
    let mut d = Draft {
        row: c.row,
        app_id: None,
        id_card: None,
        family: None,
        ok: None,
    };

    // application_id
    let app_id = c.folded(col::APP_ID);
    if app_id.is_empty() {
        c.required(col::APP_ID, p);
    } else if !is_id(&app_id) {
        let (zh, en) = id_problem_text("申请编号", "an application id");
        p.push(c.problem(col::APP_ID, K::BadId, zh, en));
    } else {
        d.app_id = Some(app_id.clone());
    }

    // name (private: any text without control characters)
    let name = c.required(col::NAME, p).unwrap_or("");
    private_text(c, col::NAME, name, 100, p);

    // id_card
    let card: Option<IdCard> = match c.required(col::ID_CARD, p) {
        Some(raw) => match idcard::parse(raw) {
            Ok(card) => {
                d.id_card = Some(card.number.clone());
                Some(card)
            }
            Err(e) => {
                p.push(c.problem(col::ID_CARD, e.kind(), e.zh(), e.en()));
                None
            }
        },
        None => None,
    };

    // birth_date: optional, derived from the ID number; must agree with it.
    let birth_raw = c.folded(col::BIRTH);
    let mut birth: Option<Date> = card.as_ref().map(|k| k.birth);
    if !birth_raw.is_empty() {
        match date::parse(&birth_raw) {
            Ok(b) => match &card {
                Some(k) if k.birth != b => p.push(c.problem(
                    col::BIRTH,
                    K::BirthDateMismatch,
                    format!("出生日期 {b} 与身份证号中的出生日期 {} 不一致", k.birth),
                    format!(
                        "birth date {b} disagrees with the ID-card number, which says {}",
                        k.birth
                    ),
                )),
                Some(_) => {}
                None => birth = Some(b),
            },
            Err(e) => {
                let kind = match e {
                    DateError::ExcelSerial(_) => K::ExcelSerialDate,
                    DateError::Ambiguous(_, _) => K::AmbiguousDate,
                    _ => K::BadDate,
                };
                p.push(c.problem(col::BIRTH, kind, e.zh(), e.en()));
            }
        }
    }
    if let Some(b) = birth {
        let below = ctx.birth_from.is_some_and(|f| b < f);
        let above = ctx.birth_to.is_some_and(|t| b > t);
        if below || above {
            let j = if birth_raw.is_empty() {
                col::ID_CARD
            } else {
                col::BIRTH
            };
            let from = ctx
                .birth_from
                .map(|d| d.to_string())
                .unwrap_or_else(|| "…".into());
            let to = ctx
                .birth_to
                .map(|d| d.to_string())
                .unwrap_or_else(|| "…".into());
            p.push(c.problem(
                j,
                K::BirthDateOutsideWindow,
                format!("出生日期 {b} 不在本轮招生的年龄范围内（{from} 至 {to}，见策略 round.birth_from/birth_to）"),
                format!("birth date {b} is outside this round's age window ({from} to {to}, policy round.birth_from/birth_to)"),
            ));
        }
    }

    // phone
    let phone = match c.required(col::PHONE, p) {
        Some(raw) => phone(c, raw, p),
        None => String::new(),
    };

    // address
    let address = c.required(col::ADDRESS, p).unwrap_or("");
    private_text(c, col::ADDRESS, address, 200, p);

    // track
    let track = c.folded(col::TRACK);
    if track.is_empty() {
        c.required(col::TRACK, p);
    } else if let Some(pol) = ctx.policy
        && !pol.tracks.contains(&track)
    {
        p.push(c.problem(
            col::TRACK,
            K::UnknownTrack,
            format!("策略没有定义这个报名通道；可用：{}", pol.tracks.join("、")),
            format!(
                "the policy defines no such track; tracks: {}",
                pol.tracks.join(", ")
            ),
        ));
    }

    // gender: optional, derived from the ID number; must agree with it.
    let g = c.folded(col::GENDER);
    let from_card = card
        .as_ref()
        .map(|k| if k.male { Gender::M } else { Gender::F });
    let gender = match g.to_lowercase().as_str() {
        "" => from_card,
        "f" | "女" | "female" => Some(Gender::F),
        "m" | "男" | "male" => Some(Gender::M),
        _ => {
            p.push(c.problem(
                col::GENDER,
                K::BadGender,
                "性别应为 男/女（或 M/F）",
                "gender must be M or F (男/女)",
            ));
            None
        }
    };
    if let (Some(a), Some(b)) = (gender, from_card)
        && a != b
    {
        let zh = |x: Gender| if x == Gender::M { "男" } else { "女" };
        p.push(c.problem(
            col::GENDER,
            K::GenderMismatch,
            format!("性别为{}，但身份证号第 17 位表示{}", zh(a), zh(b)),
            format!(
                "gender {:?} disagrees with the ID-card number (its 17th digit says {:?})",
                a, b
            ),
        ));
    }

    // groups
    let mut groups: Vec<String> = Vec::new();
    for gname in items(c.raw(col::GROUPS)) {
        if let Some(pol) = ctx.policy
            && !pol.groups.contains(&gname)
        {
            p.push(c.problem(
                col::GROUPS,
                K::UnknownGroup,
                format!(
                    "群体“{gname}”未在策略中定义；可用：{}",
                    pol.groups.join("、")
                ),
                format!(
                    "group {gname:?} is not defined by the policy; groups: {}",
                    pol.groups.join(", ")
                ),
            ));
            continue;
        }
        if groups.contains(&gname) {
            p.push(c.problem(
                col::GROUPS,
                K::RepeatedEntry,
                format!("群体“{gname}”重复"),
                format!("group {gname:?} is listed twice"),
            ));
        } else {
            groups.push(gname);
        }
    }
    groups.sort();

    // choices: one list column (`志愿学校` = `A;B;C`) or numbered columns (`第一志愿`, `第二志愿`, …)
    let mut choices: Vec<String> = Vec::new();
    // (school as written, index into the numbered columns when they are used)
    let mut listed: Vec<(String, Option<usize>)> = Vec::new();
    if c.table.choice_columns.is_empty() {
        listed.extend(items(c.raw(col::CHOICES)).into_iter().map(|s| (s, None)));
    } else {
        for (k, (_, i, h)) in c.table.choice_columns.iter().enumerate() {
            let v = c.cells.get(*i).map(|x| trim(x)).unwrap_or("");
            if read::is_error_value(v) {
                p.push(
                    Problem::file(
                        &c.table.file,
                        K::SpreadsheetError,
                        "单元格是表格的错误值（公式出错或引用失效），不是数据。请填入实际的值",
                        "the cell holds a spreadsheet error value (a broken formula or reference), not data. Enter the actual value",
                    )
                    .at_row(c.row)
                    .in_column(h)
                    .with_value(v),
                );
                continue;
            }
            listed.extend(items(v).into_iter().map(|s| (s, Some(k))));
        }
    }
    // A problem about the choices, placed in the numbered column it concerns.
    let at = |k: Option<usize>, x: Problem| -> Problem {
        match k.and_then(|k| c.table.choice_columns.get(k)) {
            Some((_, i, h)) => x
                .in_column(h)
                .with_value(c.cells.get(*i).map(|v| trim(v)).unwrap_or("")),
            None => x,
        }
    };
    // Counted first: a hostile cell of thousands of choices gets one problem, not one per entry.
    let max = ctx.policy.map_or(64, |pol| pol.round.max_choices as usize);
    if listed.len() > max {
        p.push(at(
            listed[max].1,
            c.problem(
                col::CHOICES,
                K::TooManyChoices,
                format!("填了 {} 个志愿，策略最多允许 {max} 个", listed.len()),
                format!("{} choices, the policy allows at most {max}", listed.len()),
            ),
        ));
    }
    for (s, k) in listed.iter().take(max) {
        match ctx.schools.resolve(s) {
            Resolved::Ok(sc) => {
                if choices.contains(&sc.id) {
                    p.push(at(
                        *k,
                        c.problem(
                            col::CHOICES,
                            K::RepeatedEntry,
                            format!("志愿学校 {} 填了两次", sc.id),
                            format!("school {} is chosen twice", sc.id),
                        ),
                    ));
                } else {
                    choices.push(sc.id.clone());
                }
            }
            Resolved::Skip => {}
            Resolved::Unknown(h) => p.push(at(*k, ctx.schools.unknown(c, col::CHOICES, s, h))),
        }
    }

    // categories: SCHOOL:NUMBER, SCHOOL:CODE or SCHOOL:LABEL
    let mut categories: Vec<(String, u32)> = Vec::new();
    for item in items(c.raw(col::CATEGORIES)) {
        let Some((s, v)) = item.split_once(':') else {
            p.push(c.problem(
                col::CATEGORIES,
                K::BadListEntry,
                format!(
                    "“{item}”应写成 学校:类别，如 JJ-GB-01:1 或 JJ-GB-01:房户一致，多个用 ; 分隔"
                ),
                format!(
                    "{item:?} must be SCHOOL:CATEGORY, e.g. JJ-GB-01:1, several separated by ;"
                ),
            ));
            continue;
        };
        let (s, v) = (trim(s), trim(v));
        let school = match ctx.schools.resolve(s) {
            Resolved::Ok(sc) => Some(sc.id.clone()),
            Resolved::Skip => None,
            Resolved::Unknown(h) => {
                p.push(ctx.schools.unknown(c, col::CATEGORIES, s, h));
                None
            }
        };
        let number = match ctx.policy {
            Some(pol) => {
                let n = pol.categories.len() as i64;
                let found = whole(v)
                    .filter(|k| (1..=n).contains(k))
                    .map(|k| k as u32)
                    .or_else(|| pol.category_number(v))
                    .or_else(|| {
                        pol.categories
                            .iter()
                            .position(|k| k.label == v)
                            .map(|i| i as u32 + 1)
                    });
                if found.is_none() {
                    let list: Vec<String> = pol
                        .categories
                        .iter()
                        .enumerate()
                        .map(|(i, k)| format!("{}={}({})", i + 1, k.code, k.label))
                        .collect();
                    p.push(c.problem(
                        col::CATEGORIES,
                        K::UnknownCategory,
                        format!("类别“{v}”未在策略中定义；可用：{}", list.join("、")),
                        format!(
                            "category {v:?} is not defined by the policy; categories: {}",
                            list.join(", ")
                        ),
                    ));
                }
                found
            }
            None => None,
        };
        if let (Some(s), Some(n)) = (school, number) {
            if categories.iter().any(|(x, _)| *x == s) {
                p.push(c.problem(
                    col::CATEGORIES,
                    K::RepeatedEntry,
                    format!("学校 {s} 的类别填了两次"),
                    format!("school {s} has two categories"),
                ));
            } else {
                categories.push((s, n));
            }
        }
    }
    categories.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    // indicators: name=value
    let mut indicators: Vec<(String, i64)> = Vec::new();
    for item in items(c.raw(col::INDICATORS)) {
        let Some((n, v)) = item.split_once(['=', ':']) else {
            p.push(c.problem(
                col::INDICATORS,
                K::BadListEntry,
                format!("“{item}”应写成 指标=数值，如 social_insurance_months=24，多个用 ; 分隔"),
                format!("{item:?} must be name=value, e.g. social_insurance_months=24, several separated by ;"),
            ));
            continue;
        };
        let (n, v) = (trim(n), trim(v));
        let name = match ctx.policy {
            Some(pol) => {
                match pol
                    .points
                    .iter()
                    .find(|x| x.name == n || (!x.label.is_empty() && x.label == n))
                {
                    Some(x) => Some(x.name.clone()),
                    None => {
                        let names: Vec<String> = pol
                            .points
                            .iter()
                            .map(|x| {
                                if x.label.is_empty() {
                                    x.name.clone()
                                } else {
                                    format!("{}({})", x.name, x.label)
                                }
                            })
                            .collect();
                        p.push(c.problem(
                        col::INDICATORS,
                        K::UnknownIndicator,
                        format!("积分指标“{n}”未在策略中定义；可用：{}", names.join("、")),
                        format!("points indicator {n:?} is not defined by the policy; indicators: {}", names.join(", ")),
                    ));
                        None
                    }
                }
            }
            None => None,
        };
        let value = match whole(v) {
            Some(x) if (0..=MAX_INDICATOR).contains(&x) => Some(x),
            _ => {
                p.push(c.problem(
                    col::INDICATORS,
                    K::BadIndicatorValue,
                    format!("{n} 的值“{v}”应为 0 到 1000000 的整数（如月数、年数）"),
                    format!("{n}: value {v:?} must be a whole number from 0 to 1000000 (months, years, …)"),
                ));
                None
            }
        };
        if let (Some(name), Some(value)) = (name, value) {
            if indicators.iter().any(|(x, _)| *x == name) {
                p.push(c.problem(
                    col::INDICATORS,
                    K::RepeatedEntry,
                    format!("积分指标 {name} 填了两次"),
                    format!("indicator {name} is listed twice"),
                ));
            } else {
                indicators.push((name, value));
            }
        }
    }
    indicators.sort();

    // family
    let fam = c.folded(col::FAMILY);
    let family = if fam.is_empty() {
        None
    } else if is_id(&fam) {
        d.family = Some(fam.clone());
        Some(fam)
    } else {
        let (zh, en) = id_problem_text("家庭编号", "a family id");
        p.push(c.problem(col::FAMILY, K::BadId, zh, en));
        None
    };

    // priority: SCHOOL:GROUP where the school reserves seats for the group
    let mut priority: Vec<(String, String)> = Vec::new();
    for item in items(c.raw(col::PRIORITY)) {
        let Some((s, g)) = item.split_once(':') else {
            p.push(c.problem(
                col::PRIORITY,
                K::BadListEntry,
                format!("“{item}”应写成 学校:群体，如 JJ-MB-01:staff"),
                format!("{item:?} must be SCHOOL:GROUP, e.g. JJ-MB-01:staff"),
            ));
            continue;
        };
        let (s, g) = (trim(s), trim(g));
        match ctx.schools.resolve(s) {
            Resolved::Ok(sc) => {
                if !sc.reserved.iter().any(|(x, _)| x == g) {
                    p.push(c.problem(
                        col::PRIORITY,
                        K::GroupNotReserved,
                        format!("学校 {} 没有为“{g}”预留学位（见学校表 reserved 列）", sc.id),
                        format!("school {} reserves no seats for {g:?} (see the reserved column of the schools file)", sc.id),
                    ));
                } else {
                    let key = (sc.id.clone(), g.to_string());
                    if priority.contains(&key) {
                        p.push(c.problem(
                            col::PRIORITY,
                            K::RepeatedEntry,
                            format!("“{item}”重复"),
                            format!("{item:?} is listed twice"),
                        ));
                    } else {
                        priority.push(key);
                    }
                }
            }
            Resolved::Skip => {}
            Resolved::Unknown(h) => p.push(ctx.schools.unknown(c, col::PRIORITY, s, h)),
        }
    }
    priority
        .sort_by(|a, b| (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes())));

    // manual: SCHOOL:REASON
    let m = c.folded(col::MANUAL);
    let manual = if m.is_empty() {
        None
    } else {
        match m.split_once(':') {
            None => {
                p.push(c.problem(
                    col::MANUAL,
                    K::BadListEntry,
                    "一人一案应写成 学校:原因代码，如 JJ-GB-01:disability_plan",
                    "a manual placement must be SCHOOL:REASON, e.g. JJ-GB-01:disability_plan",
                ));
                None
            }
            Some((s, r)) => {
                let (s, r) = (trim(s), trim(r));
                let school = match ctx.schools.resolve(s) {
                    Resolved::Ok(sc) => Some(sc.id.clone()),
                    Resolved::Skip => None,
                    Resolved::Unknown(h) => {
                        p.push(ctx.schools.unknown(c, col::MANUAL, s, h));
                        None
                    }
                };
                let reason_ok = match ctx.policy {
                    Some(pol) if !pol.manual_reasons.iter().any(|x| x == r) => {
                        p.push(c.problem(
                            col::MANUAL,
                            K::UnknownManualReason,
                            format!(
                                "一人一案原因“{r}”未在策略 manual_reasons 中定义；可用：{}",
                                pol.manual_reasons.join("、")
                            ),
                            format!(
                                "manual placement reason {r:?} is not in the policy's manual_reasons; reasons: {}",
                                pol.manual_reasons.join(", ")
                            ),
                        ));
                        false
                    }
                    _ => true,
                };
                match (school, reason_ok) {
                    (Some(s), true) => Some((s, r.to_string())),
                    _ => None,
                }
            }
        }
    };

    let xy = coords(c, col::X, col::Y, p);

    if p.len() == before
        && let (Some(id), Some(card), Some(birth), Some(gender), Some(_)) =
            (d.app_id.clone(), card, birth, gender, ctx.policy)
    {
        let public = Applicant {
            id: id.as_str().into(),
            track: track.into(),
            gender,
            groups: groups.into_iter().map(Into::into).collect(),
            // Resolved ids of valid schools: each has a round index.
            choices: choices
                .iter()
                .filter_map(|s| ctx.schools.round_index(s))
                .collect(),
            categories: categories
                .iter()
                .filter_map(|(s, n)| ctx.schools.round_index(s).map(|k| (k, *n)))
                .collect(),
            indicators: indicators.into_iter().map(|(n, v)| (n.into(), v)).collect(),
            family: family.map(Into::into),
            priority: priority
                .into_iter()
                .map(|(s, g)| (s.into(), g.into()))
                .collect(),
            manual: manual.map(|(s, r)| Box::new((s.into(), r.into()))),
            xy,
            private_hash: lottery::Digest::default(),
        };
        let private = PrivateEntry {
            application_id: id,
            name: name.to_string(),
            id_card: card.number,
            birth_date: birth.to_string(),
            phone,
            address: address.to_string(),
            salt: [0; 16],
            private_hash: lottery::Digest::default(),
        };
        d.ok = Some((public, private));
    }
    d
}

fn private_text(c: &Cells<'_>, j: usize, v: &str, max_chars: usize, p: &mut Vec<Problem>) {
    if has_control(v) {
        p.push(c.problem(
            j,
            K::ControlCharacter,
            "单元格里有换行或控制字符（Excel 中 Alt+Enter 会产生换行）。请删去",
            "the cell contains a line break or control character (Alt+Enter in Excel makes one). Remove it",
        ));
    } else if v.chars().count() > max_chars {
        p.push(c.problem(
            j,
            K::BadText,
            format!("太长：最多 {max_chars} 个字"),
            format!("too long: at most {max_chars} characters"),
        ));
    }
}

/// Checks a guardian phone number and returns its canonical digits.
fn phone(c: &Cells<'_>, raw: &str, p: &mut Vec<Problem>) -> String {
    let s: String = fold_width(raw)
        .chars()
        .filter(|x| !read::is_blank(*x))
        .collect();
    if s.contains(['E', 'e'])
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b"Ee+.".contains(&b))
    {
        p.push(c.problem(
            col::PHONE,
            K::ScientificNotation,
            "电话号码变成了科学计数法：表格把它当成数字，部分数字可能已经丢失。请把该列设为“文本”格式后重新录入",
            "the phone number was turned into scientific notation: the spreadsheet stored it as a number and digits may be lost. Format the column as Text and enter it again",
        ));
        return s;
    }
    let plain: String = s
        .chars()
        .filter(|x| !matches!(x, '-' | '(' | ')'))
        .collect();
    let digits = plain
        .strip_prefix("+86")
        .or_else(|| plain.strip_prefix("0086"))
        .unwrap_or(&plain)
        .to_string();
    let b = digits.as_bytes();
    let all_digits = !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let mobile = all_digits && b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = all_digits && b[0] == b'0' && (10..=12).contains(&b.len());
    if mobile || landline {
        return digits;
    }
    if all_digits && (9..=11).contains(&b.len()) && b[0] != b'0' && b[0] != b'1' {
        p.push(c.problem(
            col::PHONE,
            K::LeadingZeros,
            format!("像是开头的 0 被表格去掉了的固定电话（应为 0{digits}）。请把该列设为“文本”格式后重新录入"),
            format!("looks like a landline number whose leading 0 the spreadsheet stripped (0{digits}?). Format the column as Text and enter it again"),
        ));
    } else {
        p.push(c.problem(
            col::PHONE,
            K::BadPhone,
            "不是有效的电话号码：手机号为 1 开头的 11 位数字，固定电话含区号（如 0595-85681234）",
            "not a valid phone number: a mobile number has 11 digits starting with 1, a landline starts with its area code (e.g. 0595-85681234)",
        ));
    }
    digits
}

/// Runs the whole import.
pub(crate) fn run(files: &InputFiles, key: &[u8; 32]) -> Result<ValidatedRound, Vec<Problem>> {
    let mut p: Vec<Problem> = Vec::new();
    let policy = check_policy(&files.policy.0, &files.policy.1, &mut p);
    let schools = check_schools(&files.schools, &mut p);
    let teachers = match &files.teachers {
        Some(t) => check_teachers(t, &schools, &mut p),
        None => Vec::new(),
    };
    let (table, drafts) = check_applicants(&files.applicants, policy.as_ref(), &schools, &mut p);
    if let Some(t) = &table {
        cross_checks(t, &drafts, &mut p);
    }
    if let Some(pol) = &policy {
        class_checks(pol, &schools, &teachers, files, &mut p);
        seat_checks(pol, &schools, &drafts, files, &mut p);
    }
    let order = [
        files.policy.0.as_str(),
        files.schools.0.as_str(),
        files.teachers.as_ref().map(|t| t.0.as_str()).unwrap_or(""),
        files.applicants.0.as_str(),
    ];
    let rank = |f: &str| order.iter().position(|o| *o == f).unwrap_or(order.len());
    let (Some(policy), true) = (policy, p.is_empty()) else {
        p.sort_by_key(|x| (rank(&x.file), x.row.unwrap_or(0)));
        return Err(p);
    };
    build(files, policy, schools, teachers, drafts, key)
}

/// Checks the other draw failures that the files alone decide: more manual placements at a school
/// than its seats, and a quota allocation with no graduates to share by.
fn seat_checks(
    pol: &Policy,
    schools: &SchoolSet,
    drafts: &[Draft],
    files: &InputFiles,
    p: &mut Vec<Problem>,
) {
    let mut manual: BTreeMap<&str, u32> = BTreeMap::new();
    for d in drafts {
        if let Some((a, _)) = &d.ok
            && let Some((s, _)) = a.manual.as_deref()
        {
            *manual.entry(s.as_str()).or_default() += 1;
        }
    }
    for (s, row) in schools.valid.iter().zip(&schools.rows) {
        let n = manual.get(s.id.as_str()).copied().unwrap_or(0);
        if n > s.capacity {
            p.push(
                Problem::file(
                    &files.schools.0,
                    K::ManualOverCapacity,
                    format!(
                        "一人一案安排到学校 {} 的有 {n} 人，超过招生计划 {} 人",
                        s.id, s.capacity
                    ),
                    format!(
                        "{n} manual placements (一人一案) at school {} exceed its capacity of {}",
                        s.id, s.capacity
                    ),
                )
                .at_row(*row)
                .in_column(&schools.capacity_col)
                .with_value(&s.capacity.to_string()),
            );
        }
    }
    if let Some(q) = &pol.quota
        && schools.available
        && !schools.valid.is_empty()
        && schools.valid.len() == schools.known.len()
        && q.high_schools.iter().any(|h| h.seats > 0)
        && schools.valid.iter().all(|s| s.graduates == 0)
    {
        p.push(Problem::file(
            &files.schools.0,
            K::Required,
            "策略有指标到校（[quota]），但学校表中没有毕业生数（graduates/毕业生数 列全为空或 0），无法按比例分配",
            "the policy allocates quota seats ([quota]) but no school has graduates (the graduates/毕业生数 column is empty or 0), so there is nothing to share by",
        ));
    }
}

/// Checks that class assignment cannot fail at the draw, whatever the draw admits: a school's
/// fixed number of classes holds its capacity, and it has a homeroom teacher for every class it
/// can need. (At the draw these failures would come after the randomness is fixed.)
fn class_checks(
    pol: &Policy,
    schools: &SchoolSet,
    teachers: &[Teacher],
    files: &InputFiles,
    p: &mut Vec<Problem>,
) {
    let Some(cp) = &pol.classes else {
        return;
    };
    let cap = pol.class_cap();
    if cp.teachers && files.teachers.is_none() {
        p.push(Problem::file(
            &files.schools.0,
            K::TooFewTeachers,
            "策略要求随机确定班主任（classes.teachers = true），但没有教师表 teachers.csv/xlsx",
            "the policy draws homeroom teachers (classes.teachers = true) but there is no teachers file (teachers.csv/xlsx)",
        ));
        return;
    }
    let mut per_school: BTreeMap<&str, u32> = BTreeMap::new();
    for t in teachers {
        *per_school.entry(t.school.as_str()).or_default() += 1;
    }
    for (s, row) in schools.valid.iter().zip(&schools.rows) {
        let at = |col: &str, value: String, kind: K, zh: String, en: String| {
            Problem::file(&files.schools.0, kind, zh, en)
                .at_row(*row)
                .in_column(col)
                .with_value(&value)
        };
        if s.classes > 0 && u64::from(s.classes) * u64::from(cap) < u64::from(s.capacity) {
            p.push(at(
                &schools.classes_col,
                s.classes.to_string(),
                K::ClassesTooFew,
                format!(
                    "{} 个班、每班最多 {cap} 人，容纳不下招生计划 {} 人",
                    s.classes, s.capacity
                ),
                format!(
                    "{} classes of at most {cap} cannot hold the capacity of {}",
                    s.classes, s.capacity
                ),
            ));
            continue;
        }
        if !cp.teachers {
            continue;
        }
        let needed = if s.classes > 0 {
            s.classes
        } else {
            s.capacity.div_ceil(cap)
        };
        let have = per_school.get(s.id.as_str()).copied().unwrap_or(0);
        if have < needed {
            p.push(at(
                &schools.capacity_col,
                s.capacity.to_string(),
                K::TooFewTeachers,
                format!(
                    "学校 {} 招满时最多要分 {needed} 个班，教师表中只有 {have} 位班主任。请补足教师，否则派位到编班时会失败",
                    s.id
                ),
                format!(
                    "school {} may need {needed} classes when full, but the teachers file has {have} homeroom teachers for it. Add teachers, or the draw would fail at class assignment",
                    s.id
                ),
            ));
        }
    }
}

fn cross_checks(t: &Table, drafts: &[Draft], p: &mut Vec<Problem>) {
    use rayon::slice::ParallelSliceMut;
    let column = |j: usize| -> String {
        t.columns[j]
            .as_ref()
            .map(|x| x.1.clone())
            .unwrap_or_else(|| APPLICANT_COLUMNS[j].key.to_string())
    };
    let mut ids: Vec<(String, usize)> = drafts
        .iter()
        .filter_map(|d| d.app_id.clone().map(|a| (a, d.row)))
        .collect();
    {
        let refs: Vec<(&str, usize)> = ids.iter().map(|(s, r)| (s.as_str(), *r)).collect();
        leading_zero_check(&t.file, &column(col::APP_ID), &refs, p);
    }
    duplicates(&t.file, &column(col::APP_ID), &mut ids, p, |first| {
        (
            K::DuplicateApplicationId,
            format!("申请编号重复（第 {first} 行已有）"),
            format!("application id repeated (already on row {first})"),
        )
    });
    // The same child under two application ids.
    let mut cards: Vec<(&str, usize, &str)> = drafts
        .iter()
        .filter_map(|d| {
            d.id_card
                .as_deref()
                .map(|c| (c, d.row, d.app_id.as_deref().unwrap_or("?")))
        })
        .collect();
    // (rows differ: the order is the stable sort's)
    cards.par_sort_unstable();
    for w in cards.windows(2) {
        if w[0].0 == w[1].0 {
            p.push(
                Problem::file(
                    &t.file,
                    K::DuplicateIdCard,
                    format!(
                        "同一个孩子报名了两次：身份证号与第 {} 行（申请编号 {}）相同，这里的申请编号是 {}。一个孩子只能有一份申请",
                        w[0].1, w[0].2, w[1].2
                    ),
                    format!(
                        "the same child applied twice: same ID-card number as row {} (application {}), here application {}. A child may hold only one application",
                        w[0].1, w[0].2, w[1].2
                    ),
                )
                .at_row(w[1].1)
                .in_column(&column(col::ID_CARD))
                .with_value(w[1].0),
            );
        }
    }
    // Family links come in pairs or more.
    let mut fams: Vec<(&str, usize)> = drafts
        .iter()
        .filter_map(|d| d.family.as_deref().map(|f| (f, d.row)))
        .collect();
    fams.par_sort_unstable();
    for (i, (f, row)) in fams.iter().enumerate() {
        let alone = (i == 0 || fams[i - 1].0 != *f) && (i + 1 == fams.len() || fams[i + 1].0 != *f);
        if alone {
            p.push(
                Problem::file(
                    &t.file,
                    K::FamilyAlone,
                    "只有这一个申请人使用这个家庭编号：家庭关联（双胞胎、兄弟姐妹）至少要有两人，另一位申请人缺失或编号填错",
                    "no other applicant carries this family id: a family link (twins, siblings) needs two applicants or more, so the other one is missing or their family id is mistyped",
                )
                .at_row(*row)
                .in_column(&column(col::FAMILY))
                .with_value(f),
            );
        }
    }
}

fn build(
    files: &InputFiles,
    policy: Policy,
    schools: SchoolSet,
    mut teachers: Vec<Teacher>,
    drafts: Vec<Draft>,
    key: &[u8; 32],
) -> Result<ValidatedRound, Vec<Problem>> {
    let domain = policy.domain();
    // In id order, exactly as the applicants' school indices were given (`SchoolSet::order`).
    let mut valid: Vec<Option<School>> = schools.valid.into_iter().map(Some).collect();
    let sch: Vec<School> = schools
        .order
        .iter()
        .filter_map(|&i| valid.get_mut(i).and_then(Option::take))
        .collect();
    teachers.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
    let mut pairs: Vec<(Applicant, PrivateEntry)> =
        drafts.into_iter().filter_map(|d| d.ok).collect();
    pairs.sort_by(|a, b| a.0.id.as_bytes().cmp(b.0.id.as_bytes()));
    // Each family's secret and private-record hash (independent, so in parallel).
    use rayon::prelude::*;
    let (applicants, private): (Vec<Applicant>, Vec<PrivateEntry>) = pairs
        .into_par_iter()
        .map(|(mut a, mut e)| {
            e.salt = salt_for(domain, key, &e.application_id);
            e.private_hash = round::private_hash(
                domain,
                &e.salt,
                &PrivateRecord {
                    application_id: &e.application_id,
                    name: &e.name,
                    id_card: &e.id_card,
                    birth_date: &e.birth_date,
                    phone: &e.phone,
                    address: &e.address,
                },
            );
            a.private_hash = e.private_hash;
            (a, e)
        })
        .unzip();
    let refused = |e: &dyn std::fmt::Display| {
        vec![Problem::file(
            &files.applicants.0,
            K::Internal,
            format!("导入结果被引擎拒绝（这是软件缺陷，请报告）：{e}"),
            format!("the engine refuses the imported files (a bug, please report it): {e}"),
        )]
    };
    let listed = round::Applicants::from_applicants(&applicants).map_err(|e| refused(&e))?;
    let public = PublicFiles {
        policy: files.policy.1.clone(),
        schools: round::write_schools(&sch).into_bytes(),
        teachers: round::write_teachers(&teachers).into_bytes(),
        applicants: round::write_applicants(&listed, &sch).into_bytes(),
    };
    // The engine's own parser must accept what we wrote.
    let frozen = FrozenRound::parse(
        &public.policy,
        &public.schools,
        &public.teachers,
        &public.applicants,
    )
    .map_err(|e| refused(&e))?;
    Ok(ValidatedRound {
        public,
        private,
        round: frozen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers() {
        assert_eq!(whole("120"), Some(120));
        assert_eq!(whole("120.0"), Some(120));
        assert_eq!(whole("007"), Some(7));
        assert_eq!(whole("-5"), Some(-5));
        assert_eq!(whole("36.5"), None);
        assert_eq!(whole("1,200"), None);
        assert_eq!(whole(""), None);
    }

    #[test]
    fn list_separators() {
        assert_eq!(items("A；B、C, D;;"), vec!["A", "B", "C", "D"]);
        assert!(items("  ").is_empty());
    }
}
