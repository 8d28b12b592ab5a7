//! Phase two of loading: typed, validated reads of a TOML table that remember every problem.

use super::ConfigIssue;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

pub(super) struct Fields {
    table: toml::Table,
    issues: Vec<ConfigIssue>,
}

/// Set `path` in `table` to `value`, creating tables on the way (for environment overrides).
pub(super) fn set_path(
    table: &mut toml::Table,
    path: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a table"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

impl Fields {
    pub(super) fn new(table: toml::Table, issues: Vec<ConfigIssue>) -> Self {
        Fields { table, issues }
    }

    pub(super) fn issue(&mut self, key: &str, reason: &str) {
        self.issues.push(ConfigIssue {
            key: key.into(),
            reason: reason.into(),
        });
    }

    pub(super) fn check(&mut self, key: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.issue(key, &reason);
        }
    }

    /// Remove and return the value at a dotted key.
    fn take(&mut self, key: &str) -> Option<toml::Value> {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop()?;
        let mut t = &mut self.table;
        for p in parts {
            t = t.get_mut(p)?.as_table_mut()?;
        }
        t.remove(last)
    }

    /// Every key not consumed is unknown: report it, then return all issues.
    pub(super) fn finish(mut self) -> Vec<ConfigIssue> {
        let mut unknown = Vec::new();
        collect_leaves(&self.table, String::new(), &mut unknown);
        for key in unknown {
            self.issue(
                &key,
                "unknown key (check the spelling; see `tsuzuki config check` for every key)",
            );
        }
        self.issues
    }

    pub(super) fn string(&mut self, key: &str, default: &str) -> String {
        match self.take(key) {
            None => default.to_string(),
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                self.issue(key, "must be a string");
                default.to_string()
            }
        }
    }

    /// An integer within `[min, max]`, given natively or as a string (environment overrides).
    pub(super) fn integer<T>(&mut self, key: &str, default: T, min: i64, max: i64) -> T
    where
        T: TryFrom<i64> + Copy,
    {
        let raw = match self.take(key) {
            None => return default,
            Some(toml::Value::Integer(i)) => Ok(i),
            Some(toml::Value::String(s)) => s.trim().parse::<i64>().map_err(|_| ()),
            Some(_) => Err(()),
        };
        let Ok(i) = raw else {
            self.issue(key, "must be a whole number");
            return default;
        };
        match T::try_from(i) {
            Ok(v) if (min..=max).contains(&i) => v,
            _ => {
                self.issue(key, &format!("must be between {min} and {max}"));
                default
            }
        }
    }

    /// `true` or `false`, given natively or as a string (environment overrides).
    pub(super) fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.take(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => b,
            Some(toml::Value::String(s)) if s.trim() == "true" => true,
            Some(toml::Value::String(s)) if s.trim() == "false" => false,
            Some(_) => {
                self.issue(key, "must be true or false");
                default
            }
        }
    }

    /// A duration such as `"30m"`, `"12h"`, `"90s"`, `"250ms"` (humantime syntax).
    pub(super) fn duration(&mut self, key: &str, default: Duration, min: Duration) -> Duration {
        let text = match self.take(key) {
            None => return default,
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                self.issue(key, "must be a duration string such as \"30m\" or \"12h\"");
                return default;
            }
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d >= min => d,
            Ok(_) => {
                self.issue(
                    key,
                    &format!("must be at least {}", humantime::format_duration(min)),
                );
                default
            }
            Err(e) => {
                self.issue(
                    key,
                    &format!("not a duration ({e}); use e.g. \"30m\", \"12h\", \"7d\""),
                );
                default
            }
        }
    }

    pub(super) fn socket_addr(&mut self, key: &str, default: SocketAddr) -> SocketAddr {
        let text = self.string(key, &default.to_string());
        SocketAddr::from_str(&text).unwrap_or_else(|_| {
            self.issue(
                key,
                "must be an address and port such as \"127.0.0.1:8470\"",
            );
            default
        })
    }

    /// A table of names to strings, such as `[sms.headers]`, in name order. A value that is not a
    /// string is reported under its own key (`sms.headers.x-api-key`).
    pub(super) fn string_table(&mut self, key: &str) -> Vec<(String, String)> {
        let table = match self.take(key) {
            None => return Vec::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                self.issue(key, "must be a table of names to strings");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (name, value) in table {
            match value {
                toml::Value::String(s) => out.push((name, s)),
                _ => self.issue(&format!("{key}.{name}"), "must be a string"),
            }
        }
        out.sort();
        out
    }

    /// A list of strings, as a TOML array or a comma-separated string (environment overrides).
    pub(super) fn string_list(&mut self, key: &str) -> Vec<String> {
        match self.take(key) {
            None => Vec::new(),
            Some(toml::Value::String(s)) => s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
            Some(toml::Value::Array(a)) if a.iter().all(|v| v.is_str()) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(_) => {
                self.issue(key, "must be a list of strings");
                Vec::new()
            }
        }
    }

    /// An array of tables (`[[forward_auth.rules]]`); the caller reads and reports their keys.
    pub(super) fn table_array(&mut self, key: &str) -> Vec<toml::Table> {
        match self.take(key) {
            None => Vec::new(),
            Some(toml::Value::Array(a)) if a.iter().all(|v| v.is_table()) => a
                .into_iter()
                .filter_map(|v| match v {
                    toml::Value::Table(t) => Some(t),
                    _ => None,
                })
                .collect(),
            Some(_) => {
                self.issue(key, "must be an array of tables ([[...]] sections)");
                Vec::new()
            }
        }
    }

    /// A list of CIDR blocks, as a TOML array or a comma-separated string.
    pub(super) fn cidr_list(&mut self, key: &str) -> Vec<IpNet> {
        let items: Vec<String> = match self.take(key) {
            None => return Vec::new(),
            Some(toml::Value::String(s)) => s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
            Some(toml::Value::Array(a)) => a
                .into_iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or_default())
                .collect(),
            Some(_) => {
                self.issue(
                    key,
                    "must be a list of CIDR blocks such as [\"10.0.0.0/8\"]",
                );
                return Vec::new();
            }
        };
        let mut nets = Vec::new();
        for item in items {
            // A bare address means exactly that host.
            let parsed = IpNet::from_str(&item)
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(n) => nets.push(n),
                Err(_) => self.issue(key, &format!("{item:?} is not an address or CIDR block")),
            }
        }
        nets
    }
}

fn collect_leaves(table: &toml::Table, prefix: String, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => collect_leaves(t, key, out),
            _ => out.push(key),
        }
    }
}
