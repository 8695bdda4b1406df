//! Cloudflare's rule for Worker (script) names, so a name Cloudflare would reject is refused
//! locally, with the rule, before anything is uploaded: SPEC §1.1 `^[a-z0-9_][a-z0-9-_]*$`,
//! at most 63 characters (the name is also a DNS label under workers.dev). Pure.

/// The longest script name Cloudflare accepts.
pub const MAX_SCRIPT_NAME_LEN: usize = 63;

/// The rule, as messages state it.
pub const SCRIPT_NAME_RULE: &str = "lowercase letters, digits, '-' and '_', not starting with \
                                    '-', at most 63 characters";

/// Why a script name breaks [`SCRIPT_NAME_RULE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptNameError {
    #[error("is empty")]
    Empty,
    #[error("starts with '-'")]
    LeadingDash,
    #[error("contains {0:?}")]
    InvalidChar(char),
    #[error("is {0} characters long")]
    TooLong(usize),
}

/// Checks `name` against Cloudflare's script-name rule; the first reason it breaks it.
pub fn check_script_name(name: &str) -> Result<(), ScriptNameError> {
    if name.is_empty() {
        return Err(ScriptNameError::Empty);
    }
    if name.starts_with('-') {
        return Err(ScriptNameError::LeadingDash);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(ScriptNameError::InvalidChar(bad));
    }
    if name.len() > MAX_SCRIPT_NAME_LEN {
        return Err(ScriptNameError::TooLong(name.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cloudflare_accepts() {
        let longest = "a".repeat(MAX_SCRIPT_NAME_LEN);
        for name in [
            "api",
            "my-worker",
            "_internal",
            "a1_b-2",
            "0",
            "end-",
            &longest,
        ] {
            assert_eq!(check_script_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn names_cloudflare_rejects_say_why() {
        let too_long = "a".repeat(MAX_SCRIPT_NAME_LEN + 1);
        let cases = [
            ("", ScriptNameError::Empty),
            ("-api", ScriptNameError::LeadingDash),
            ("My-Api", ScriptNameError::InvalidChar('M')),
            ("api.v2", ScriptNameError::InvalidChar('.')),
            ("api v2", ScriptNameError::InvalidChar(' ')),
            ("{{project-name}}", ScriptNameError::InvalidChar('{')),
            ("caf\u{e9}", ScriptNameError::InvalidChar('\u{e9}')),
            (too_long.as_str(), ScriptNameError::TooLong(64)),
        ];
        for (name, expected) in cases {
            assert_eq!(check_script_name(name), Err(expected), "{name:?}");
        }
        assert_eq!(
            ScriptNameError::TooLong(64).to_string(),
            "is 64 characters long"
        );
        assert_eq!(
            ScriptNameError::InvalidChar('.').to_string(),
            "contains '.'"
        );
    }
}
