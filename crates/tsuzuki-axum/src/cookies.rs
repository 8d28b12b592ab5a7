//! Reading the browser's cookies: the two tsuzuki looks at for a session, and the whole header
//! to pass through.

use axum::http::{HeaderMap, HeaderValue, header};

/// tsuzuki ignores longer values (its `MAX_COOKIE_VALUE`); so do we, rather than hash them.
const MAX_COOKIE_VALUE: usize = 4096;

/// The value of cookie `name` across every `Cookie` header, read the way tsuzuki reads it.
pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE_VALUE)
}

/// Every `Cookie` header of the request as one (HTTP/2 clients send one per cookie; tsuzuki
/// reads them all, but one header is what HTTP/1.1 allows on the check request).
pub(crate) fn cookie_header(headers: &HeaderMap) -> Option<HeaderValue> {
    let parts: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    match parts.as_slice() {
        [] => None,
        [one] => HeaderValue::from_bytes(one).ok(),
        many => HeaderValue::from_bytes(&many.join(&b"; "[..])).ok(),
    }
}

/// Update the request's `Cookie` header as the browser will once it has `set_cookies`: set
/// values replace old ones, deletions (empty value or `Max-Age=0`) remove them.
pub(crate) fn apply_set_cookies(headers: &mut HeaderMap, set_cookies: &[HeaderValue]) {
    let mut jar: Vec<(String, String)> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for line in set_cookies.iter().filter_map(|v| v.to_str().ok()) {
        let mut parts = line.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            continue;
        };
        let deleted = value.is_empty()
            || parts.any(|a| {
                a.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k.eq_ignore_ascii_case("max-age") && v.trim() == "0")
            });
        jar.retain(|(n, _)| n != name);
        if !deleted {
            jar.push((name.to_string(), value.to_string()));
        }
    }
    headers.remove(header::COOKIE);
    let joined: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if let Ok(v) = HeaderValue::from_str(&joined.join("; "))
        && !jar.is_empty()
    {
        headers.insert(header::COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_a_cookie_from_any_cookie_header() {
        let h = headers(&["a=1; tsuzuki_session=abc", "tsuzuki_remember=\"r.s\""]);
        assert_eq!(read_cookie(&h, "tsuzuki_session"), Some("abc"));
        assert_eq!(read_cookie(&h, "tsuzuki_remember"), Some("r.s"));
        assert_eq!(read_cookie(&h, "tsuzuki"), None);
        assert_eq!(
            read_cookie(&headers(&["tsuzuki_session="]), "tsuzuki_session"),
            None
        );
        let long = format!("tsuzuki_session={}", "x".repeat(5000));
        assert_eq!(read_cookie(&headers(&[&long]), "tsuzuki_session"), None);
    }

    #[test]
    fn joins_cookie_headers_into_one() {
        assert_eq!(cookie_header(&headers(&[])), None);
        assert_eq!(cookie_header(&headers(&["a=1"])).unwrap(), "a=1");
        assert_eq!(
            cookie_header(&headers(&["a=1", "b=2"])).unwrap(),
            "a=1; b=2"
        );
    }

    #[test]
    fn set_cookies_update_the_request_cookies() {
        let mut h = headers(&["a=1; tsuzuki_session=old", "tsuzuki_remember=r1"]);
        apply_set_cookies(
            &mut h,
            &[
                HeaderValue::from_static("tsuzuki_session=new; Path=/; HttpOnly; SameSite=Lax"),
                HeaderValue::from_static("tsuzuki_remember=r2; Path=/; Max-Age=86400"),
                HeaderValue::from_static("tsuzuki_browser=b; Path=/"),
            ],
        );
        assert_eq!(h.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(read_cookie(&h, "a"), Some("1"));
        assert_eq!(read_cookie(&h, "tsuzuki_session"), Some("new"));
        assert_eq!(read_cookie(&h, "tsuzuki_remember"), Some("r2"));
        assert_eq!(read_cookie(&h, "tsuzuki_browser"), Some("b"));
        apply_set_cookies(
            &mut h,
            &[
                HeaderValue::from_static("tsuzuki_session=; Path=/; Max-Age=0"),
                HeaderValue::from_static("tsuzuki_remember=r2; Path=/; max-age=0"),
            ],
        );
        assert_eq!(read_cookie(&h, "tsuzuki_session"), None);
        assert_eq!(read_cookie(&h, "tsuzuki_remember"), None);
        assert_eq!(read_cookie(&h, "a"), Some("1"));
    }
}
