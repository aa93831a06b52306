//! Keeping Redis passwords out of messages.

/// The password in a URL's user info, as written (the parsed one may be
/// percent-decoded; both are redacted).
pub(crate) fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    Some(password.to_string())
}

/// `text` with every secret replaced by `***`.
pub(crate) fn redact(mut text: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_hides_passwords() {
        let url = "redis://user:s3cr%40t@host:6379/0";
        let pw = url_password(url).unwrap();
        assert_eq!(pw, "s3cr%40t");
        assert_eq!(
            redact(format!("bad {url}"), &[pw]),
            "bad redis://user:***@host:6379/0"
        );
        assert_eq!(url_password("redis://:pw@h").as_deref(), Some("pw"));
        assert_eq!(url_password("redis://h:1"), None);
    }
}
