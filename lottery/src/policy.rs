//! The policy file: a round's published rules, as TOML (PROTOCOL.md §6, docs/POLICY.md).
//!
//! The policy's exact bytes are a leaf of the input tree and their SHA-256 enters the seed, so the
//! rules cannot change after the freeze. Parsing is strict: unknown keys are refused.

use serde::Deserialize;

/// Highest class size allowed by the policy texts: primary 45, junior 50.
pub const PRIMARY_CLASS_CAP: u32 = 45;
/// Junior-high class cap.
pub const JUNIOR_CLASS_CAP: u32 = 50;

/// Largest weight (milli-points per unit) and cap (milli-points) of a points indicator. With
/// indicator values at most 1,000,000 (the applicant file's limit), `value × weight` stays below
/// 2^50 and a total needs billions of indicators to overflow: the draw's exact 64-bit points
/// arithmetic cannot fail on a policy that parses.
pub const MAX_POINTS_MILLI: i64 = 1_000_000_000;

/// The whole policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Must be `fairdraw/v1`.
    pub protocol: String,
    /// The round.
    pub round: RoundInfo,
    /// Applicant tracks, e.g. `local`, `migrant`.
    pub tracks: Vec<String>,
    /// Policy-named groups balanced in class assignment (e.g. `migrant`, `special_needs`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Priority categories at public schools, best first (1 = the first entry).
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Points indicators (积分).
    #[serde(default)]
    pub points: Vec<PointsIndicator>,
    /// How linked families (twins, siblings) are drawn.
    #[serde(default)]
    pub families: Families,
    /// Siblings follow: when one member of a linked family is admitted to a school in a choice
    /// stage, the members who listed that school are admitted with them, above capacity if need
    /// be (多胞胎一人录取、同胞随同录取). Default false.
    #[serde(default)]
    pub family_overflow: bool,
    /// Manual placement reason codes (一人一案).
    #[serde(default)]
    pub manual_reasons: Vec<String>,
    /// The stages, run in order.
    pub stages: Vec<Stage>,
    /// Class assignment after admission.
    #[serde(default)]
    pub classes: Option<ClassesPolicy>,
    /// Quota allocation (指标到校).
    #[serde(default)]
    pub quota: Option<QuotaPolicy>,
}

/// Round identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundInfo {
    /// Round id: 1–64 of `[A-Za-z0-9._-]`.
    pub id: String,
    /// Human title (may be Chinese).
    pub title: String,
    /// `primary` (grade 1) or `junior` (grade 7).
    pub grade: Grade,
    /// `real` or `rehearsal` (演练).
    pub mode: String,
    /// Date of the draw, `YYYY-MM-DD` (printed in the manifest).
    pub draw_date: String,
    /// Most choices an applicant may list.
    pub max_choices: u32,
    /// Earliest and latest birth dates accepted (`YYYY-MM-DD`), checked at import.
    #[serde(default)]
    pub birth_from: Option<String>,
    /// See `birth_from`.
    #[serde(default)]
    pub birth_to: Option<String>,
}

/// School level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// Primary grade 1.
    Primary,
    /// Junior-high grade 7.
    Junior,
}

/// A priority category.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Code used in files, e.g. `hukou_and_home`.
    pub code: String,
    /// Description (e.g. 房户一致).
    pub label: String,
}

/// One points indicator: `points = min(value × weight, cap)` in milli-points, and the applicant is
/// eligible only if `value ≥ threshold`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsIndicator {
    /// Name used in the applicant file, e.g. `social_insurance_months`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub label: String,
    /// Milli-points per unit.
    pub weight: i64,
    /// Maximum milli-points from this indicator.
    pub cap: i64,
    /// Minimum value to be eligible for the points track (0 = no threshold).
    #[serde(default)]
    pub threshold: i64,
}

/// Family handling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Families {
    /// Linked children share one ticket (a joint draw): they hold consecutive priority.
    #[default]
    Joint,
    /// Each child is drawn alone.
    Separate,
}

/// A placement mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MechanismKind {
    /// Student-proposing deferred acceptance.
    DeferredAcceptance,
    /// Immediate acceptance: all first choices, then second choices for the seats left, …
    FirstChoiceFirst,
    /// Serial dictatorship in priority order (the points track).
    SerialDictatorship,
    /// Coordinated reallocation (统筹调剂) of everyone still unplaced.
    Reallocation,
}

/// What decides priority at a school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityBasis {
    /// The lottery number alone.
    Lottery,
    /// (category, lottery number).
    Category,
    /// (points descending, lottery number).
    Points,
}

/// Which schools a stage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchoolKind {
    /// Public schools.
    Public,
    /// Private (民办) schools.
    Private,
    /// All schools.
    Any,
}

/// Which seats of a school a stage fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatPool {
    /// capacity − points seats.
    #[default]
    General,
    /// The seats set aside for the points track.
    Points,
    /// Every seat still free.
    All,
}

/// One lottery number for every school, or an independent draw per school.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreaking {
    /// One ticket per applicant (`lottery`).
    #[default]
    Single,
    /// A ticket per school (`lottery/school/ID`).
    PerSchool,
}

/// Whether reserved seats are filled before the open seats or after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReserveOrder {
    /// A group member tries the reserved seats first.
    #[default]
    ReservedFirst,
    /// A group member competes for the open seats first.
    OpenFirst,
}

/// Reallocation fallback when an applicant's further choices are full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Nearest school with spare seats (when coordinates are given), else bureau order.
    #[default]
    Distance,
    /// The bureau's published order (schools.csv order).
    BureauOrder,
    /// No fallback: stay unplaced.
    None,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Unique name, e.g. `private`, `catchment`, `points`, `reallocation`.
    pub name: String,
    /// The mechanism.
    pub mechanism: MechanismKind,
    /// The schools it uses.
    pub schools: SchoolKind,
    /// Tracks that take part.
    pub tracks: Vec<String>,
    /// What decides priority.
    #[serde(default = "default_priority")]
    pub priority: PriorityBasis,
    /// Seat pool.
    #[serde(default)]
    pub seats: SeatPool,
    /// Tie-breaking.
    #[serde(default)]
    pub tie_breaking: TieBreaking,
    /// Reserved-seat order.
    #[serde(default)]
    pub reserve_order: ReserveOrder,
    /// First-choice-first: how many choice rounds (default: all).
    #[serde(default)]
    pub choice_rounds: Option<u32>,
    /// Reallocation fallback.
    #[serde(default)]
    pub fallback: Fallback,
}

fn default_priority() -> PriorityBasis {
    PriorityBasis::Lottery
}

/// Class assignment rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesPolicy {
    /// Maximum class size (default: 45 primary, 50 junior).
    #[serde(default)]
    pub max_size: Option<u32>,
    /// Groups spread evenly (names from `groups`).
    #[serde(default)]
    pub balance: Vec<String>,
    /// `together`, `apart` or `ignore` for linked families.
    #[serde(default = "default_family_rule")]
    pub families: String,
    /// Draw homeroom teachers from teachers.csv.
    #[serde(default)]
    pub teachers: bool,
}

fn default_family_rule() -> String {
    "together".to_string()
}

/// Quota allocation (指标到校) of demonstration high schools' seats to junior highs by cohort.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPolicy {
    /// High schools and their quota seats.
    pub high_schools: Vec<QuotaHighSchool>,
}

/// One demonstration high school.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaHighSchool {
    /// Id, e.g. `H01`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Quota seats to allocate.
    pub seats: u64,
}

/// A policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not UTF-8.
    #[error("policy.toml: the file is not valid UTF-8")]
    NotUtf8,
    /// TOML syntax or an unknown/missing key.
    #[error("policy.toml: {0}")]
    Toml(String),
    /// A semantic rule.
    #[error("policy.toml: {field}: {reason}")]
    Invalid {
        /// The offending key.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Is `s` a valid identifier for ids in files (`[A-Za-z0-9._-]`, 1–64 chars)?
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Policy {
    /// Parses and checks a policy file.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8)?;
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PolicyError> {
        if self.protocol != "fairdraw/v1" {
            return Err(invalid(
                "protocol",
                format!(
                    "unsupported protocol {:?}; this engine speaks fairdraw/v1",
                    self.protocol
                ),
            ));
        }
        if !is_id(&self.round.id) {
            return Err(invalid(
                "round.id",
                "use 1-64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        if crate::encoding::Domain::parse(&self.round.mode).is_none() {
            return Err(invalid("round.mode", "must be \"real\" or \"rehearsal\""));
        }
        if !is_date(&self.round.draw_date) {
            return Err(invalid("round.draw_date", "must be YYYY-MM-DD"));
        }
        for (k, v) in [
            ("round.birth_from", &self.round.birth_from),
            ("round.birth_to", &self.round.birth_to),
        ] {
            if let Some(d) = v
                && !is_date(d)
            {
                return Err(invalid(k, "must be YYYY-MM-DD"));
            }
        }
        if self.round.max_choices == 0 || self.round.max_choices > 64 {
            return Err(invalid("round.max_choices", "must be 1..=64"));
        }
        check_names("tracks", &self.tracks)?;
        if self.tracks.is_empty() {
            return Err(invalid("tracks", "at least one track is needed"));
        }
        check_names("groups", &self.groups)?;
        check_names(
            "categories",
            &self
                .categories
                .iter()
                .map(|c| c.code.clone())
                .collect::<Vec<_>>(),
        )?;
        if self.categories.len() > 99 {
            return Err(invalid("categories", "at most 99 categories"));
        }
        check_names(
            "points",
            &self
                .points
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>(),
        )?;
        for p in &self.points {
            if p.weight < 0 || p.cap < 0 || p.threshold < 0 {
                return Err(invalid(
                    format!("points.{}", p.name),
                    "weight, cap and threshold must not be negative",
                ));
            }
            if p.cap > MAX_POINTS_MILLI || p.weight > MAX_POINTS_MILLI {
                return Err(invalid(
                    format!("points.{}", p.name),
                    "weight and cap must be at most 1000000000 milli-points",
                ));
            }
        }
        check_names("manual_reasons", &self.manual_reasons)?;
        check_names(
            "stages",
            &self
                .stages
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
        )?;
        if self.stages.is_empty() {
            return Err(invalid("stages", "at least one stage is needed"));
        }
        for s in &self.stages {
            let f = format!("stages.{}", s.name);
            if s.name == "manual" {
                return Err(invalid(
                    f,
                    "\"manual\" is reserved for manual placements in results.csv",
                ));
            }
            for t in &s.tracks {
                if !self.tracks.contains(t) {
                    return Err(invalid(
                        format!("{f}.tracks"),
                        format!("unknown track {t:?}"),
                    ));
                }
            }
            if s.priority == PriorityBasis::Points && self.points.is_empty() {
                return Err(invalid(
                    format!("{f}.priority"),
                    "points priority needs [[points]] indicators",
                ));
            }
            if s.priority == PriorityBasis::Category && self.categories.is_empty() {
                return Err(invalid(
                    format!("{f}.priority"),
                    "category priority needs [[categories]]",
                ));
            }
            if s.choice_rounds == Some(0) {
                return Err(invalid(format!("{f}.choice_rounds"), "must be at least 1"));
            }
        }
        if let Some(c) = &self.classes {
            check_names("classes.balance", &c.balance)?;
            if c.balance.iter().filter(|g| *g != "gender").count() > 32 {
                return Err(invalid(
                    "classes.balance",
                    "at most 32 groups besides gender can be balanced",
                ));
            }
            for g in &c.balance {
                if g != "gender" && !self.groups.contains(g) {
                    return Err(invalid("classes.balance", format!("unknown group {g:?}")));
                }
            }
            if !matches!(c.families.as_str(), "together" | "apart" | "ignore") {
                return Err(invalid(
                    "classes.families",
                    "must be together, apart or ignore",
                ));
            }
            if c.max_size == Some(0) {
                return Err(invalid("classes.max_size", "must be at least 1"));
            }
        }
        if let Some(q) = &self.quota {
            check_names(
                "quota.high_schools",
                &q.high_schools
                    .iter()
                    .map(|h| h.id.clone())
                    .collect::<Vec<_>>(),
            )?;
        }
        Ok(())
    }

    /// The domain of this round.
    pub fn domain(&self) -> crate::encoding::Domain {
        crate::encoding::Domain::parse(&self.round.mode)
            .unwrap_or(crate::encoding::Domain::Rehearsal)
    }

    /// The class cap in force.
    pub fn class_cap(&self) -> u32 {
        let default = match self.round.grade {
            Grade::Primary => PRIMARY_CLASS_CAP,
            Grade::Junior => JUNIOR_CLASS_CAP,
        };
        self.classes
            .as_ref()
            .and_then(|c| c.max_size)
            .unwrap_or(default)
    }

    /// 1-based category number of a code.
    pub fn category_number(&self, code: &str) -> Option<u32> {
        self.categories
            .iter()
            .position(|c| c.code == code)
            .map(|i| i as u32 + 1)
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn check_names(field: &str, names: &[String]) -> Result<(), PolicyError> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !is_id(n) {
            return Err(invalid(
                field,
                format!("{n:?} is not a valid name (A-Z a-z 0-9 . _ -)"),
            ));
        }
        if seen.contains(&n.as_str()) {
            return Err(invalid(field, format!("{n:?} appears twice")));
        }
        seen.push(n);
    }
    Ok(())
}
