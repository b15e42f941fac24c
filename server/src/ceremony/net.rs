//! Offline by default: which non-loopback network interfaces are up (Linux
//! `/sys/class/net/*/operstate`). The ceremony PC should have none; every step logs the answer
//! and the ceremony sheet prints a warning.

/// Names of the network interfaces other than loopback whose state is `up`, sorted.
/// Empty when none is up or when the system does not tell (non-Linux).
pub fn interfaces_up() -> Vec<String> {
    let mut up = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/class/net") else {
        return up;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "lo" {
            continue;
        }
        let state = std::fs::read_to_string(e.path().join("operstate")).unwrap_or_default();
        if state.trim() == "up" {
            up.push(name);
        }
    }
    up.sort();
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
