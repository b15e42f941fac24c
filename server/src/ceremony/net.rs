//! Offline by default: which non-loopback network interfaces are up (Linux
//! `/sys/class/net/*/operstate`). The ceremony PC should have none; every step logs the answer
//! and the ceremony sheet prints a warning.

/// Names of the network interfaces other than loopback whose state is `up`, sorted.
///
/// The interfaces of this process's network namespace are listed by `/proc/net/dev`; their state
/// is read from `/sys/class/net/NAME/operstate` (an interface sysfs does not show counts as up).
/// Empty when none is up or when the system does not tell (non-Linux).
pub fn interfaces_up() -> Vec<String> {
    let names: Vec<String> = match std::fs::read_to_string("/proc/net/dev") {
        Ok(t) => t
            .lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
            .collect(),
        Err(_) => std::fs::read_dir("/sys/class/net")
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut up: Vec<String> = names
        .into_iter()
        .filter(|n| n != "lo")
        .filter(
            |n| match std::fs::read_to_string(format!("/sys/class/net/{n}/operstate")) {
                Ok(state) => state.trim() == "up",
                Err(_) => true,
            },
        )
        .collect();
    up.sort();
    up.dedup();
    up
}

/// The value logged: `offline` or `online: eth0, wlan0`.
pub fn status() -> String {
    let up = interfaces_up();
    if up.is_empty() {
        "offline".into()
    } else {
        format!("online: {}", up.join(", "))
    }
}

/// A warning line, or `None` when offline.
pub fn warning() -> Option<String> {
    let up = interfaces_up();
    (!up.is_empty()).then(|| {
        format!(
            "WARNING: network interface(s) up: {} — the ceremony PC should be offline / 警告：网络接口处于连接状态，仪式电脑应断网",
            up.join(", ")
        )
    })
}
