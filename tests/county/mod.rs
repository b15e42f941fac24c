//! The generator of `examples/county*`: a junior-high (grade 7) round of 晋江市 (Jinjiang,
//! Quanzhou, Fujian) with 16 schools, their homeroom teachers and 600 applicants.
//!
//! Deterministic: the same code gives the same bytes (the workbooks carry a fixed creation
//! date). Regenerate with
//! `cargo test -p server --test import -- --ignored generate_county_example`; the test
//! `county_example_is_reproducible` fails when the committed files differ from what this writes.
//!
//! The names of people, the ID-card numbers, phones and addresses are invented; ID numbers carry
//! valid GB 11643 check characters. School names are those of real Jinjiang schools or plausible
//! ones; capacities, catchments and coordinates are illustrative.

#![allow(dead_code)]

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook};
use std::collections::BTreeSet;

/// The policy, byte for byte as committed (`examples/county/policy.toml`).
pub const POLICY: &str = include_str!("../../examples/county/policy.toml");

/// Number of applicants.
pub const APPLICANTS: usize = 600;

/// A table: header and rows of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// The three tables of the example round.
#[derive(Debug, Clone)]
pub struct County {
    pub schools: Table,
    pub teachers: Table,
    pub applicants: Table,
}

/// splitmix64: a small deterministic generator (test data only; never used by the engine).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// A town (镇/街道): name, centre on a local grid in metres, weight of applicants, catchment.
struct Town {
    name: &'static str,
    x: i64,
    y: i64,
    weight: u64,
    catchment: usize,
    roads: &'static [&'static str],
}

const TOWNS: &[Town] = &[
    Town {
        name: "青阳街道",
        x: 12000,
        y: 14000,
        weight: 70,
        catchment: 0,
        roads: &["迎宾路", "青华路", "梅峰路", "泉安中路", "和平路"],
    },
    Town {
        name: "梅岭街道",
        x: 11000,
        y: 13000,
        weight: 60,
        catchment: 0,
        roads: &["世纪大道", "晋新路", "岭山路", "桂山路"],
    },
    Town {
        name: "西园街道",
        x: 13200,
        y: 14600,
        weight: 45,
        catchment: 0,
        roads: &["曾井路", "西园路", "长兴路"],
    },
    Town {
        name: "罗山街道",
        x: 12500,
        y: 11800,
        weight: 50,
        catchment: 0,
        roads: &["罗裳路", "福埔路", "世纪大道南段"],
    },
    Town {
        name: "池店镇",
        x: 10000,
        y: 17000,
        weight: 40,
        catchment: 1,
        roads: &["池店大道", "三贤路", "唐厝路"],
    },
    Town {
        name: "灵源街道",
        x: 9500,
        y: 15500,
        weight: 25,
        catchment: 1,
        roads: &["灵源路", "林口路"],
    },
    Town {
        name: "紫帽镇",
        x: 7200,
        y: 16200,
        weight: 12,
        catchment: 1,
        roads: &["紫帽路", "园坂路"],
    },
    Town {
        name: "新塘街道",
        x: 14500,
        y: 12500,
        weight: 30,
        catchment: 2,
        roads: &["新塘路", "沙塘路"],
    },
    Town {
        name: "陈埭镇",
        x: 15500,
        y: 16000,
        weight: 55,
        catchment: 2,
        roads: &["陈埭大道", "鞋都路", "岸兜路", "四境路"],
    },
    Town {
        name: "磁灶镇",
        x: 6000,
        y: 18000,
        weight: 40,
        catchment: 3,
        roads: &["磁灶大道", "张林路", "大埔路"],
    },
    Town {
        name: "内坑镇",
        x: 5000,
        y: 11000,
        weight: 22,
        catchment: 3,
        roads: &["内坑路", "黄塘路"],
    },
    Town {
        name: "安海镇",
        x: 3000,
        y: 7000,
        weight: 50,
        catchment: 4,
        roads: &["安平路", "成功路", "五里桥路"],
    },
    Town {
        name: "东石镇",
        x: 4000,
        y: 3000,
        weight: 25,
        catchment: 4,
        roads: &["东石路", "檗谷路"],
    },
    Town {
        name: "英林镇",
        x: 9000,
        y: 3000,
        weight: 20,
        catchment: 5,
        roads: &["英林路", "嘉排路"],
    },
    Town {
        name: "永和镇",
        x: 10000,
        y: 8000,
        weight: 20,
        catchment: 5,
        roads: &["永和路", "马坪路"],
    },
    Town {
        name: "金井镇",
        x: 14000,
        y: 2500,
        weight: 20,
        catchment: 5,
        roads: &["金井路", "围头路"],
    },
    Town {
        name: "深沪镇",
        x: 17000,
        y: 5000,
        weight: 18,
        catchment: 5,
        roads: &["深沪路", "华峰路"],
    },
    Town {
        name: "龙湖镇",
        x: 13000,
        y: 6000,
        weight: 25,
        catchment: 5,
        roads: &["龙湖路", "衙口路"],
    },
];

/// A school: id, name, private, capacity, reserved staff seats, classes, town index, graduates.
struct SchoolDef {
    id: &'static str,
    name: &'static str,
    private: bool,
    capacity: u32,
    staff: u32,
    classes: u32,
    town: usize,
    graduates: u32,
    catchment: Option<usize>,
}

const SCHOOLS: &[SchoolDef] = &[
    SchoolDef {
        id: "JJ-GB-01",
        name: "晋江市养正中学",
        private: false,
        capacity: 40,
        staff: 0,
        classes: 2,
        town: 0,
        graduates: 812,
        catchment: Some(0),
    },
    SchoolDef {
        id: "JJ-GB-02",
        name: "晋江市季延中学",
        private: false,
        capacity: 40,
        staff: 0,
        classes: 0,
        town: 1,
        graduates: 745,
        catchment: Some(0),
    },
    SchoolDef {
        id: "JJ-GB-03",
        name: "晋江市第二中学",
        private: false,
        capacity: 35,
        staff: 0,
        classes: 0,
        town: 3,
        graduates: 603,
        catchment: Some(0),
    },
    SchoolDef {
        id: "JJ-GB-04",
        name: "晋江市南侨中学",
        private: false,
        capacity: 35,
        staff: 0,
        classes: 0,
        town: 2,
        graduates: 588,
        catchment: Some(0),
    },
    SchoolDef {
        id: "JJ-GB-05",
        name: "晋江市平山中学",
        private: false,
        capacity: 55,
        staff: 0,
        classes: 0,
        town: 4,
        graduates: 526,
        catchment: Some(1),
    },
    SchoolDef {
        id: "JJ-GB-06",
        name: "晋江市子江中学",
        private: false,
        capacity: 50,
        staff: 0,
        classes: 0,
        town: 7,
        graduates: 437,
        catchment: Some(2),
    },
    SchoolDef {
        id: "JJ-GB-07",
        name: "晋江市陈埭民族中学",
        private: false,
        capacity: 55,
        staff: 0,
        classes: 0,
        town: 8,
        graduates: 690,
        catchment: Some(2),
    },
    SchoolDef {
        id: "JJ-GB-08",
        name: "晋江市磁灶中学",
        private: false,
        capacity: 55,
        staff: 0,
        classes: 0,
        town: 9,
        graduates: 512,
        catchment: Some(3),
    },
    SchoolDef {
        id: "JJ-GB-09",
        name: "晋江市安海中学",
        private: false,
        capacity: 60,
        staff: 0,
        classes: 0,
        town: 11,
        graduates: 655,
        catchment: Some(4),
    },
    SchoolDef {
        id: "JJ-GB-10",
        name: "晋江市英林中学",
        private: false,
        capacity: 40,
        staff: 0,
        classes: 0,
        town: 13,
        graduates: 402,
        catchment: Some(5),
    },
    SchoolDef {
        id: "JJ-GB-11",
        name: "晋江市金井中学",
        private: false,
        capacity: 40,
        staff: 0,
        classes: 0,
        town: 15,
        graduates: 388,
        catchment: Some(5),
    },
    SchoolDef {
        id: "JJ-GB-12",
        name: "晋江市龙湖中学",
        private: false,
        capacity: 40,
        staff: 0,
        classes: 0,
        town: 17,
        graduates: 371,
        catchment: Some(5),
    },
    SchoolDef {
        id: "JJ-MB-01",
        name: "晋江市华泰实验学校",
        private: true,
        capacity: 40,
        staff: 3,
        classes: 0,
        town: 0,
        graduates: 296,
        catchment: None,
    },
    SchoolDef {
        id: "JJ-MB-02",
        name: "晋江市侨声实验学校",
        private: true,
        capacity: 30,
        staff: 2,
        classes: 0,
        town: 1,
        graduates: 240,
        catchment: None,
    },
    SchoolDef {
        id: "JJ-MB-03",
        name: "晋江市英才学校",
        private: true,
        capacity: 25,
        staff: 2,
        classes: 0,
        town: 4,
        graduates: 198,
        catchment: None,
    },
    SchoolDef {
        id: "JJ-MB-04",
        name: "晋江市明德外国语学校",
        private: true,
        capacity: 20,
        staff: 0,
        classes: 0,
        town: 8,
        graduates: 150,
        catchment: None,
    },
];

const SURNAMES: &[&str] = &[
    "陈", "陈", "陈", "林", "林", "黄", "黄", "吴", "许", "王", "张", "李", "蔡", "蔡", "施", "洪",
    "庄", "苏", "郑", "杨", "丁", "粘", "曾", "柯", "刘", "颜", "欧阳", "尤", "肖", "龚",
];
const MIGRANT_SURNAMES: &[&str] = &[
    "张", "王", "李", "刘", "杨", "罗", "周", "何", "唐", "邓", "谢", "冉", "彭", "熊", "余",
];
const BOY: &[&str] = &[
    "子轩", "浩然", "宇航", "俊杰", "思远", "泽宇", "梓豪", "铭哲", "嘉诚", "文博", "一鸣", "锦程",
    "志伟", "家豪", "天佑", "晨阳", "煜", "昊", "瀚", "睿", "毅", "宸", "诚",
];
const GIRL: &[&str] = &[
    "欣怡", "诗涵", "雨萱", "梓涵", "可馨", "佳琪", "语桐", "思妍", "紫萱", "婉清", "雅琳", "芷若",
    "晓彤", "慧敏", "静怡", "妍", "琳", "萌", "悦", "瑶", "菲",
];

/// Regions of ID numbers: 晋江市 and its neighbours for locals, other provinces for migrants.
const LOCAL_REGIONS: &[&str] = &[
    "350582", "350582", "350582", "350582", "350581", "350503", "350583",
];
const MIGRANT_REGIONS: &[&str] = &[
    "522425", "522426", "510722", "513030", "362427", "360731", "430524", "341221", "412726",
    "452123", "500235", "533321",
];

const COMMUNITIES: &[&str] = &[
    "阳光花园",
    "世茂御龙湾",
    "泰禾广场",
    "万科金域华府",
    "恒大名都",
    "宝龙城市广场",
    "中骏四季阳光",
    "建发央著",
    "佳源城",
    "五店市小区",
];

const MOBILE_PREFIXES: &[&str] = &[
    "134", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177", "180",
    "181", "186", "187", "188", "189", "199",
];

/// ISO 7064 MOD 11-2 check character of 17 digits (GB 11643).
pub fn check_char(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(b"10X98765432"[(sum % 11) as usize])
}

/// A complete 18-character ID number.
pub fn id_number(region: &str, y: i64, m: i64, d: i64, seq: u32) -> String {
    let first = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
    format!("{first}{}", check_char(&first))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A birth date in the school year starting `from_year`-09-01.
fn birth(rng: &mut Rng, from_year: i64) -> (i64, i64, i64) {
    let k = rng.below(12) as i64; // month index from September
    let (y, m) = if k < 4 {
        (from_year, 9 + k)
    } else {
        (from_year + 1, k - 3)
    };
    let d = 1 + rng.below(days_in_month(y, m) as u64) as i64;
    (y, m, d)
}

fn round100(v: i64) -> i64 {
    (v / 100) * 100
}

/// One applicant before it becomes a row.
#[derive(Clone)]
struct App {
    name: String,
    male: bool,
    birth: (i64, i64, i64),
    region: &'static str,
    phone: String,
    address: String,
    migrant: bool,
    special: bool,
    choices: Vec<&'static str>,
    categories: Vec<(&'static str, u32)>,
    indicators: Vec<(&'static str, i64)>,
    family: Option<String>,
    priority: Option<&'static str>,
    manual: Option<(&'static str, &'static str)>,
    xy: (i64, i64),
}

fn given_name(rng: &mut Rng, male: bool) -> &'static str {
    if male { rng.pick(BOY) } else { rng.pick(GIRL) }
}

fn phone(rng: &mut Rng) -> String {
    if rng.chance(40) {
        return format!("0595-8{:07}", rng.below(10_000_000));
    }
    let p = rng.pick(MOBILE_PREFIXES);
    let rest = rng.below(100_000_000);
    if rng.chance(100) {
        format!("{p} {:04} {:04}", rest / 10_000, rest % 10_000)
    } else {
        format!("{p}{rest:08}")
    }
}

fn address(rng: &mut Rng, town: &Town, migrant: bool) -> String {
    let road = rng.pick(town.roads);
    if migrant && rng.chance(600) {
        return format!(
            "福建省晋江市{}{}{}号出租房{}室",
            town.name,
            road,
            1 + rng.below(400),
            100 + rng.below(6) * 100 + 1 + rng.below(8)
        );
    }
    if rng.chance(500) {
        format!(
            "福建省晋江市{}{}{}{}幢{}室",
            town.name,
            road,
            rng.pick(COMMUNITIES),
            1 + rng.below(30),
            (2 + rng.below(30)) * 100 + 1 + rng.below(4)
        )
    } else {
        format!("福建省晋江市{}{}{}号", town.name, road, 1 + rng.below(600))
    }
}

fn pick_town(rng: &mut Rng, migrant: bool) -> usize {
    // Migrant families live mostly in the industrial towns.
    let weight = |i: usize, t: &Town| {
        if migrant && (7..=11).contains(&i) {
            t.weight * 3
        } else {
            t.weight
        }
    };
    let total: u64 = TOWNS.iter().enumerate().map(|(i, t)| weight(i, t)).sum();
    let mut r = rng.below(total);
    for (i, t) in TOWNS.iter().enumerate() {
        let w = weight(i, t);
        if r < w {
            return i;
        }
        r -= w;
    }
    0
}

fn catchment_schools(c: usize) -> Vec<&'static str> {
    SCHOOLS
        .iter()
        .filter(|s| s.catchment == Some(c))
        .map(|s| s.id)
        .collect()
}

fn new_app(rng: &mut Rng) -> App {
    let migrant = rng.chance(150);
    let t = pick_town(rng, migrant);
    let town = &TOWNS[t];
    let male = rng.chance(520);
    let surname = if migrant {
        rng.pick(MIGRANT_SURNAMES)
    } else {
        rng.pick(SURNAMES)
    };
    let name = format!("{surname}{}", given_name(rng, male));
    // About 3% were born a year earlier (deferred school start).
    let year = if rng.chance(30) { 2012 } else { 2013 };
    let birth = birth(rng, year);
    let region = if migrant {
        rng.pick(MIGRANT_REGIONS)
    } else {
        rng.pick(LOCAL_REGIONS)
    };
    let mut choices: Vec<&'static str> = Vec::new();
    if rng.chance(if migrant { 80 } else { 330 }) {
        let privates: Vec<&'static str> =
            SCHOOLS.iter().filter(|s| s.private).map(|s| s.id).collect();
        for _ in 0..1 + rng.below(2) {
            let p = rng.pick(&privates);
            if !choices.contains(&p) {
                choices.push(p);
            }
        }
    }
    let mut home = catchment_schools(town.catchment);
    rng.shuffle(&mut home);
    let mut categories = Vec::new();
    let mut indicators = Vec::new();
    if migrant {
        indicators.push(("social_insurance_months", rng.below(85) as i64));
        indicators.push(("residence_permit_years", rng.below(11) as i64));
        indicators.push(("housing", i64::from(rng.chance(100))));
    } else {
        let cat = match rng.below(100) {
            0..55 => 1,
            55..75 => 2,
            _ => 3,
        };
        for s in &home {
            categories.push((*s, cat));
        }
    }
    choices.extend(home.iter().copied());
    if rng.chance(150) {
        let other = SCHOOLS[rng.below(12) as usize].id;
        if !choices.contains(&other) {
            choices.push(other);
        }
    }
    choices.truncate(6);
    let priority = choices
        .first()
        .copied()
        .filter(|c| SCHOOLS.iter().any(|s| s.id == *c && s.staff > 0))
        .filter(|_| rng.chance(80));
    let xy = (
        round100(town.x + rng.below(2400) as i64 - 1200),
        round100(town.y + rng.below(2400) as i64 - 1200),
    );
    App {
        name,
        male,
        birth,
        region,
        phone: phone(rng),
        address: address(rng, town, migrant),
        migrant,
        special: rng.chance(15),
        choices,
        categories,
        indicators,
        family: None,
        priority,
        manual: None,
        xy,
    }
}

fn applicant_rows(rng: &mut Rng) -> Vec<App> {
    let mut apps: Vec<App> = Vec::with_capacity(APPLICANTS);
    let mut families = 0usize;
    while apps.len() < APPLICANTS {
        let a = new_app(rng);
        let left = APPLICANTS - apps.len();
        // Twins (about 1.5% of births), one set of triplets, and siblings a school year apart.
        let extra = if left >= 3 && families == 2 {
            2
        } else if left >= 2 && rng.chance(15) {
            1
        } else {
            0
        };
        if extra == 0 {
            apps.push(a);
            continue;
        }
        families += 1;
        let fam = format!("JJF-{families:03}");
        let siblings_not_twins = extra == 1 && (families == 5 || families == 8);
        let mut first = a;
        first.family = Some(fam.clone());
        let surname: String = first
            .name
            .chars()
            .next()
            .map(String::from)
            .unwrap_or_default();
        let mut members = vec![first.clone()];
        for _ in 0..extra {
            let mut b = first.clone();
            b.male = rng.chance(500);
            while members.iter().any(|m: &App| m.name == b.name) {
                b.name = format!("{surname}{}", given_name(rng, b.male));
            }
            if siblings_not_twins {
                // An older sibling whose school start was deferred.
                b.birth = birth(rng, 2012);
            }
            b.special = rng.chance(15);
            members.push(b);
        }
        apps.extend(members);
    }
    apps.truncate(APPLICANTS);
    // Manual placements (一人一案): decided by the bureau before the draw.
    let manual = [
        (17usize, "JJ-GB-01", "disability_plan"),
        (233, "JJ-GB-07", "military_family"),
        (418, "JJ-GB-09", "high_level_talent"),
    ];
    for (i, school, reason) in manual {
        if let Some(a) = apps.get_mut(i) {
            a.manual = Some((school, reason));
            if reason == "disability_plan" {
                a.special = true;
            }
        }
    }
    // Rare characters the encodings must carry: a supplementary-plane character (GB18030 four-
    // byte sequence), a compound surname and an ethnic-minority name with a middle dot.
    if let Some(a) = apps.get_mut(5) {
        a.name = format!("{}𬭚", a.name.chars().next().unwrap_or('陈'));
        a.male = true;
    }
    if let Some(a) = apps.iter_mut().find(|a| a.migrant && a.family.is_none()) {
        a.name = "阿依古丽·买买提".into();
        a.male = false;
        a.region = "653101";
    }
    apps
}

/// Builds the example's tables.
pub fn county() -> County {
    let mut rng = Rng(0x6A69_6E6A_6961_6E67); // "jinjiang"
    let mut schools = Table {
        header: vec![
            "学校代码",
            "学校名称",
            "办学性质",
            "招生计划",
            "预留学位",
            "积分学位",
            "班级数",
            "坐标X",
            "坐标Y",
            "毕业生数",
        ],
        rows: Vec::new(),
    };
    let mut teachers = Table {
        header: vec!["教师编号", "学校代码"],
        rows: Vec::new(),
    };
    for s in SCHOOLS {
        let town = &TOWNS[s.town];
        let points = if s.private { 0 } else { s.capacity / 10 };
        schools.rows.push(vec![
            s.id.into(),
            s.name.into(),
            if s.private { "民办" } else { "公办" }.into(),
            s.capacity.to_string(),
            if s.staff > 0 {
                format!("staff={}", s.staff)
            } else {
                String::new()
            },
            if points > 0 {
                points.to_string()
            } else {
                String::new()
            },
            if s.classes > 0 {
                s.classes.to_string()
            } else {
                String::new()
            },
            (town.x + 300).to_string(),
            (town.y - 200).to_string(),
            s.graduates.to_string(),
        ]);
        for t in 0..s.capacity.div_ceil(50) + 1 {
            teachers
                .rows
                .push(vec![format!("{}-T{:02}", s.id, t + 1), s.id.into()]);
        }
    }
    let apps = applicant_rows(&mut rng);
    let mut applicants = Table {
        header: vec![
            "申请编号",
            "姓名",
            "性别",
            "出生日期",
            "身份证号",
            "监护人电话",
            "家庭住址",
            "报名通道",
            "群体",
            "志愿学校",
            "类别",
            "积分指标",
            "家庭编号",
            "优先",
            "一人一案",
            "坐标X",
            "坐标Y",
        ],
        rows: Vec::new(),
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let label = |c: u32| match c {
        1 => "房户一致",
        2 => "有户无房",
        _ => "有房无户",
    };
    let indicator = |n: &str| match n {
        "social_insurance_months" => "社保月数",
        "residence_permit_years" => "居住证年限",
        _ => "自有住房",
    };
    let mut last_seq: Option<(String, u32)> = None;
    for (i, a) in apps.iter().enumerate() {
        let (y, m, d) = a.birth;
        // Twins born the same day get consecutive sequence numbers of the same registry.
        let prefix = format!("{}{y:04}{m:02}{d:02}", a.region);
        let mut seq = match &last_seq {
            Some((p, s)) if *p == prefix => s + 1,
            _ => rng.below(990) as u32,
        };
        loop {
            if (seq % 2 == 1) != a.male {
                seq += 1;
            }
            let id = id_number(a.region, y, m, d, seq % 1000);
            if seen.insert(id) {
                break;
            }
            seq += 1;
        }
        let seq = seq % 1000;
        last_seq = Some((prefix, seq));
        let id = id_number(a.region, y, m, d, seq);
        let mut groups = Vec::new();
        if a.migrant {
            groups.push("migrant");
        }
        if a.special {
            groups.push("special_needs");
        }
        // Most clerks separate list items with ";", some with "；" or "、".
        let sep = match i % 23 {
            7 => "；",
            13 => "、",
            _ => ";",
        };
        applicants.rows.push(vec![
            format!("JJ2607-{:04}", i + 1),
            a.name.clone(),
            if a.male { "男" } else { "女" }.into(),
            format!("{y:04}-{m:02}-{d:02}"),
            id,
            a.phone.clone(),
            a.address.clone(),
            if a.migrant { "migrant" } else { "local" }.into(),
            groups.join(";"),
            a.choices.join(sep),
            a.categories
                .iter()
                .map(|(s, c)| format!("{s}:{}", label(*c)))
                .collect::<Vec<_>>()
                .join(sep),
            a.indicators
                .iter()
                .map(|(n, v)| format!("{}={v}", indicator(n)))
                .collect::<Vec<_>>()
                .join(sep),
            a.family.clone().unwrap_or_default(),
            a.priority.map(|s| format!("{s}:staff")).unwrap_or_default(),
            a.manual
                .map(|(s, r)| format!("{s}:{r}"))
                .unwrap_or_default(),
            a.xy.0.to_string(),
            a.xy.1.to_string(),
        ]);
    }
    County {
        schools,
        teachers,
        applicants,
    }
}

/// CSV text (`\r\n` or `\n` line ends), fields quoted only when needed.
pub fn csv_text(t: &Table, crlf: bool) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let ok = w.write_record(&t.header).is_ok() && t.rows.iter().all(|r| w.write_record(r).is_ok());
    assert!(ok, "writing CSV to memory cannot fail");
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// UTF-8 CSV, with a byte-order mark when `bom` (Excel's "CSV UTF-8").
pub fn csv_utf8(t: &Table, bom: bool) -> Vec<u8> {
    let mut out = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    out.extend_from_slice(csv_text(t, false).as_bytes());
    out
}

/// GB18030 CSV with CRLF line ends (Excel's "CSV (逗号分隔)" on Chinese Windows).
pub fn csv_gb18030(t: &Table) -> Vec<u8> {
    let text = csv_text(t, true);
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable, "GB18030 encodes every Unicode character");
    bytes.into_owned()
}

/// Columns holding whole numbers in the workbooks (written as number cells).
fn numeric(header: &str) -> bool {
    matches!(
        header,
        "招生计划" | "积分学位" | "班级数" | "坐标X" | "坐标Y" | "毕业生数"
    )
}

/// A workbook as a bureau makes it: a merged title row, the header on row 2, ID numbers and
/// phones as text cells, birth dates as date cells, numbers as numbers, and an ignored remark
/// column (`#备注`).
pub fn xlsx(t: &Table, title: &str, sheet: &str) -> Vec<u8> {
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 6, 20).expect("a valid date");
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name(sheet).expect("a valid sheet name");
    let bold = Format::new().set_bold().set_align(FormatAlign::Center);
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let width = t.header.len() as u16;
    ws.merge_range(0, 0, 0, width, title, &bold)
        .expect("merge title");
    for (c, h) in t.header.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &bold)
            .expect("header");
    }
    ws.write_string_with_format(1, width, "#备注", &bold)
        .expect("remark header");
    for (r, row) in t.rows.iter().enumerate() {
        let r = r as u32 + 2;
        for (c, v) in row.iter().enumerate() {
            let c16 = c as u16;
            if v.is_empty() {
                continue;
            }
            let h = t.header[c];
            if h == "出生日期" {
                let p: Vec<u16> = v.split('-').filter_map(|x| x.parse().ok()).collect();
                let d = ExcelDateTime::from_ymd(p[0], p[1] as u8, p[2] as u8).expect("date");
                ws.write_datetime_with_format(r, c16, &d, &date)
                    .expect("date cell");
            } else if numeric(h) {
                let n: f64 = v.parse().expect("number");
                ws.write_number(r, c16, n).expect("number cell");
            } else {
                ws.write_string_with_format(r, c16, v, &text)
                    .expect("text cell");
            }
        }
    }
    for c in 0..=width {
        let w = match t.header.get(c as usize).copied() {
            Some("身份证号") => 22.0,
            Some("家庭住址") => 40.0,
            Some("志愿学校") | Some("类别") | Some("积分指标") => 30.0,
            Some("学校名称") => 24.0,
            _ => 12.0,
        };
        ws.set_column_width(c, w).expect("width");
    }
    wb.save_to_buffer().expect("workbook to memory")
}

/// The applicants table with the choices in numbered columns `第一志愿` … `第六志愿`, one school
/// each, as enrollment platforms export them.
pub fn numbered_choices(t: &Table) -> Table {
    const NUMBERED: [&str; 6] = [
        "第一志愿",
        "第二志愿",
        "第三志愿",
        "第四志愿",
        "第五志愿",
        "第六志愿",
    ];
    let j = t.header.iter().position(|h| *h == "志愿学校").unwrap_or(0);
    let mut header = t.header.clone();
    header.splice(j..=j, NUMBERED);
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let mut schools: Vec<String> = r[j]
                .split([';', '；', '、'])
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            schools.resize(NUMBERED.len(), String::new());
            let mut row = r.clone();
            row.splice(j..=j, schools);
            row
        })
        .collect();
    Table { header, rows }
}

/// Every example file: (path relative to the repository root, bytes).
pub fn files() -> Vec<(String, Vec<u8>)> {
    let c = county();
    let policy = POLICY.as_bytes().to_vec();
    let files = vec![
        (
            "examples/county/schools.csv".into(),
            csv_utf8(&c.schools, false),
        ),
        (
            "examples/county/teachers.csv".into(),
            csv_utf8(&c.teachers, false),
        ),
        (
            "examples/county/applicants.csv".into(),
            csv_utf8(&c.applicants, true),
        ),
        ("examples/county-xlsx/policy.toml".into(), policy.clone()),
        (
            "examples/county-xlsx/schools.xlsx".into(),
            xlsx(&c.schools, "晋江市2026年初中招生计划", "招生计划"),
        ),
        (
            "examples/county-xlsx/teachers.xlsx".into(),
            xlsx(&c.teachers, "晋江市2026年初一班主任（化名编号）", "班主任"),
        ),
        (
            "examples/county-xlsx/applicants.xlsx".into(),
            xlsx(
                &numbered_choices(&c.applicants),
                "晋江市2026年秋季初中一年级招生报名信息（电脑派位用）",
                "报名信息",
            ),
        ),
        ("examples/county-gb18030/policy.toml".into(), policy),
        (
            "examples/county-gb18030/schools.csv".into(),
            csv_gb18030(&c.schools),
        ),
        (
            "examples/county-gb18030/teachers.csv".into(),
            csv_gb18030(&c.teachers),
        ),
        (
            "examples/county-gb18030/applicants.csv".into(),
            csv_gb18030(&c.applicants),
        ),
    ];
    let b = broken();
    let mut files = files;
    files.push((
        "examples/county-broken/policy.toml".into(),
        POLICY.as_bytes().to_vec(),
    ));
    files.push((
        "examples/county-broken/schools.csv".into(),
        csv_utf8(&b.schools, false),
    ));
    files.push((
        "examples/county-broken/teachers.csv".into(),
        csv_utf8(&b.teachers, false),
    ));
    files.push((
        "examples/county-broken/applicants.csv".into(),
        csv_utf8(&b.applicants, true),
    ));
    files
}

/// The example round with one mistake of each common kind, as a clerk's files might have them
/// (`examples/county-broken/`). Its problem report is `examples/county-broken/problems.txt`.
pub fn broken() -> County {
    let mut c = county();
    let col = |t: &Table, h: &str| t.header.iter().position(|x| *x == h).unwrap_or(0);
    let s = &mut c.schools;
    let j = col(s, "招生计划");
    s.rows[5][j] = "0".into();
    let a = &mut c.applicants;
    let (jid, jb, jc, jk, ji, jf, jp) = (
        col(a, "身份证号"),
        col(a, "出生日期"),
        col(a, "志愿学校"),
        col(a, "类别"),
        col(a, "积分指标"),
        col(a, "家庭编号"),
        col(a, "监护人电话"),
    );
    // A mistyped digit: the check character no longer matches.
    let id = a.rows[9][jid].clone();
    let wrong = if id.ends_with('7') { '8' } else { '7' };
    a.rows[9][jid] = format!("{}{wrong}", &id[..17]);
    // An ID number that became a number in a spreadsheet.
    a.rows[10][jid] = "3.50582E+17".into();
    // A child too young for this round.
    let old = a.rows[11][jid].clone();
    let seq: u32 = old[14..17].parse().unwrap_or(0);
    a.rows[11][jid] = id_number(&old[..6], 2014, 9, 3, seq);
    a.rows[11][jb] = "2014-09-03".into();
    // The same child under a second application id.
    for h in [jid, jb, col(a, "性别")] {
        a.rows[120][h] = a.rows[12][h].clone();
    }
    // A school that does not exist, a repeated choice, too many choices.
    a.rows[13][jc] = "JJ-GB-01;JJ-GB-21".into();
    a.rows[14][jc] = "JJ-GB-02;JJ-GB-03;JJ-GB-02".into();
    a.rows[15][jc] = "JJ-GB-01;JJ-GB-02;JJ-GB-03;JJ-GB-04;JJ-MB-01;JJ-MB-02;JJ-MB-03".into();
    // A category and an indicator the policy does not define.
    a.rows[16][jk] = "JJ-GB-01:学区房".into();
    a.rows[17][ji] = "社保月数=24;纳税年限=3".into();
    // A landline whose leading 0 a spreadsheet dropped.
    a.rows[18][jp] = "59585681234".into();
    // A twin whose sibling's row was deleted.
    if let Some(i) = a.rows.iter().position(|r| !r[jf].is_empty()) {
        a.rows.remove(i);
    }
    c
}
