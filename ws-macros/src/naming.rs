//! Names derived from type names.

/// Hyperf's AutoController prefix: `ServerController` -> `/server`,
/// `UserProfileController` -> `/user_profile`, `HTTPStatsController` -> `/http_stats`.
pub(crate) fn default_prefix(type_name: &str) -> String {
    let base = match type_name.strip_suffix("Controller") {
        Some(base) if !base.is_empty() => base,
        _ => type_name,
    };
    format!("/{}", snake_case(base))
}

/// `UserProfile` -> `user_profile`; an acronym stays one word (`HTTPServer` -> `http_server`).
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev != '_'
                && (prev.is_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_uppercase() && next_is_lower))
            {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_hyperf_auto_controller() {
        assert_eq!(default_prefix("ServerController"), "/server");
        assert_eq!(default_prefix("UserProfileController"), "/user_profile");
        assert_eq!(default_prefix("HTTPStatsController"), "/http_stats");
        assert_eq!(default_prefix("Api2Controller"), "/api2");
        assert_eq!(default_prefix("V2ApiController"), "/v2_api");
        assert_eq!(default_prefix("Controller"), "/controller");
        assert_eq!(default_prefix("Index"), "/index");
        assert_eq!(default_prefix("Snake_Case"), "/snake_case");
    }
}
