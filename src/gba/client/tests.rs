use super::*;

#[test]
fn url_split_gives_realm_and_uri() {
    assert_eq!(
        split_url("http://bsf.example:8080/gba").ok(),
        Some(("bsf.example".into(), "/gba".into()))
    );
    assert_eq!(
        split_url("http://127.0.0.1:80").ok(),
        Some(("127.0.0.1".into(), "/".into()))
    );
    assert_eq!(
        split_url("https://[::1]:443/").ok(),
        Some(("::1".into(), "/".into()))
    );
    assert!(split_url("ftp://x/").is_err());
    assert!(split_url("http://user@x/").is_err());
    assert!(split_url("http:///").is_err());
}
