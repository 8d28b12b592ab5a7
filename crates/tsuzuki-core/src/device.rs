//! A short, human description of a device from its User-Agent ("Firefox 132 on Linux"), for
//! device lists (R8) and notifications.
//!
//! Deliberately small: it names the common browsers and systems by their tokens, in the order
//! that disambiguates them (Edge and Opera carry "Chrome", Chrome carries "Safari", Android
//! carries "Linux"). The `ua-parser` crate needs uap-core's regular expressions, which are not
//! published on crates.io; copying them in was the alternative. Unknown agents read "Unknown
//! browser", never an error.

/// Browser and operating system, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub browser: String,
    pub os: String,
}

impl Device {
    pub fn label(&self) -> String {
        format!("{} on {}", self.browser, self.os)
    }
}

/// The kind of device a User-Agent says it is, for support details (S11).
pub fn kind(user_agent: &str) -> &'static str {
    if user_agent.contains("iPad") || user_agent.contains("Tablet") {
        "tablet"
    } else if user_agent.contains("Mobile")
        || user_agent.contains("iPhone")
        || user_agent.contains("Android")
    {
        "mobile"
    } else if user_agent.is_empty() {
        "unknown"
    } else {
        "desktop"
    }
}

fn version_after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    let start = ua.find(token)? + token.len();
    let v: &str = &ua[start..];
    let end = v.find(|c: char| !(c.is_ascii_digit())).unwrap_or(v.len());
    (end > 0).then(|| &v[..end])
}

fn browser(ua: &str) -> String {
    // (token to find, name, version token) — first match wins.
    const BROWSERS: &[(&str, &str, &str)] = &[
        ("Edg/", "Edge", "Edg/"),
        ("EdgA/", "Edge", "EdgA/"),
        ("OPR/", "Opera", "OPR/"),
        ("SamsungBrowser/", "Samsung Internet", "SamsungBrowser/"),
        ("Firefox/", "Firefox", "Firefox/"),
        ("FxiOS/", "Firefox", "FxiOS/"),
        ("CriOS/", "Chrome", "CriOS/"),
        ("Chromium/", "Chromium", "Chromium/"),
        ("HeadlessChrome/", "Headless Chrome", "HeadlessChrome/"),
        ("Chrome/", "Chrome", "Chrome/"),
        ("Safari/", "Safari", "Version/"),
        ("curl/", "curl", "curl/"),
    ];
    for (token, name, version_token) in BROWSERS {
        if ua.contains(token) {
            return match version_after(ua, version_token) {
                Some(v) => format!("{name} {v}"),
                None => (*name).to_string(),
            };
        }
    }
    "Unknown browser".into()
}

fn os(ua: &str) -> String {
    if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        let v = ua
            .split("OS ")
            .nth(1)
            .and_then(|r| r.split(['_', ' ']).next())
            .filter(|v| v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty());
        return match v {
            Some(v) => format!("iOS {v}"),
            None => "iOS".into(),
        };
    }
    if ua.contains("Android") {
        return match version_after(ua, "Android ") {
            Some(v) => format!("Android {v}"),
            None => "Android".into(),
        };
    }
    if ua.contains("Windows") {
        return "Windows".into();
    }
    if ua.contains("CrOS") {
        return "ChromeOS".into();
    }
    if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        return "macOS".into();
    }
    if ua.contains("Linux") || ua.contains("X11") {
        return "Linux".into();
    }
    "unknown system".into()
}

pub fn describe(user_agent: &str) -> Device {
    Device {
        browser: browser(user_agent),
        os: os(user_agent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_agents() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
                "Firefox 132 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge 131 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari 18 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari 18 on iOS 18",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 on Android 14",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Headless Chrome 156 on Linux",
            ),
            ("curl/7.88.1", "curl 7 on unknown system"),
            ("", "Unknown browser on unknown system"),
        ];
        for (ua, label) in cases {
            assert_eq!(describe(ua).label(), label, "{ua}");
        }
    }

    #[test]
    fn kinds_of_device() {
        assert_eq!(
            kind("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"),
            "mobile"
        );
        assert_eq!(
            kind("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile Safari/537.36"),
            "mobile"
        );
        assert_eq!(
            kind("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)"),
            "tablet"
        );
        assert_eq!(
            kind("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
            "desktop"
        );
        assert_eq!(kind(""), "unknown");
    }
}
