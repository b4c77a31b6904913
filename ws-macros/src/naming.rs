//! Names derived from the user's identifiers.

use heck::ToSnakeCase;
use syn::Ident;

/// Hyperf's AutoController prefix: `ServerController` -> `/server`,
/// `UserProfileController` -> `/user_profile`, `HTTPStatsController` -> `/http_stats`.
///
/// Words are split the way `heck` splits them, the rule the scaffolder (`ws-cli gen:controller`)
/// names controllers by, so a generated controller's default prefix is its module name.
pub(crate) fn default_prefix(type_name: &str) -> String {
    let base = match type_name.strip_suffix("Controller") {
        Some(base) if !base.is_empty() => base,
        _ => type_name,
    };
    format!("/{}", base.to_snake_case())
}

/// The identifier as the user reads it: `r#type` -> `type`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
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

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let ident: Ident = syn::parse_quote!(r#type);
        assert_eq!(unraw(&ident), "type");
    }
}
