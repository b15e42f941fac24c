//! Report language: Chinese or English.

/// The report language.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `--lang` if given, else LC_ALL / LC_MESSAGES / LANG starting with `zh`, else English.
    pub fn pick(flag: Option<&str>) -> Lang {
        let from = |s: &str| {
            if s.to_ascii_lowercase().starts_with("zh") {
                Lang::Zh
            } else {
                Lang::En
            }
        };
        if let Some(f) = flag {
            return from(f);
        }
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var)
                && !v.is_empty()
            {
                return from(&v);
            }
        }
        Lang::En
    }

    /// Picks the text for this language.
    pub fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}
