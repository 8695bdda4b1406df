//! `assets.run_worker_first` rules, checked as wrangler checks them (`parseStaticRouting`,
//! SPEC-2 §1.5): 1 to 100 rules, each starting with `/` (or `!/` for a negative rule), at most
//! 100 characters, unique, at least one positive, and none made redundant by a `X*` rule.

/// Most rules, and most characters in one rule.
pub const MAX_RULES: usize = 100;
pub const MAX_RULE_LENGTH: usize = 100;

/// Every problem of `rules`, in wrangler's order; empty when they are valid.
pub fn rule_problems(rules: &[String]) -> Vec<String> {
    if rules.is_empty() {
        return vec!["no rules were provided; give at least one, or `true`/`false`".into()];
    }
    if rules.len() > MAX_RULES {
        return vec![format!(
            "{} rules exceed the maximum of {MAX_RULES}",
            rules.len()
        )];
    }
    let mut invalid = Vec::new();
    let mut negative = Vec::new();
    let mut positive = Vec::new();
    for rule in rules {
        if rule.starts_with("!/") {
            negative.push(rule.clone());
        } else if rule.starts_with('/') {
            positive.push(rule.clone());
        } else if rule.starts_with('!') {
            invalid.push(format!("'{rule}': negative rules must start with '!/'"));
        } else {
            invalid.push(format!("'{rule}': rules must start with '/' or '!/'"));
        }
    }
    if !negative.is_empty() && positive.is_empty() {
        return vec!["only negative rules were provided; add at least one positive rule".into()];
    }
    invalid.extend(group_problems(&positive));
    invalid.extend(group_problems(&negative));
    invalid
}

/// Length, duplicates and redundancy within one group (positive or negative rules).
fn group_problems(rules: &[String]) -> Vec<String> {
    let mut invalid = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        if rule.len() > MAX_RULE_LENGTH {
            invalid.push(format!(
                "'{rule}': all rules must be less than {MAX_RULE_LENGTH} characters in length"
            ));
        }
        if rules[..index].contains(rule) {
            invalid.push(format!(
                "'{rule}': rule is a duplicate; rules must be unique"
            ));
        }
        if let Some(prefix) = rule.strip_suffix('*') {
            for other in rules {
                if other != rule && other.starts_with(prefix) {
                    invalid.push(format!("'{other}': rule '{rule}' makes it redundant"));
                }
            }
        }
    }
    invalid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn valid_rules_have_no_problems() {
        assert!(rule_problems(&rules(&["/api/*", "!/api/docs/*"])).is_empty());
    }

    #[test]
    fn wranglers_refusals_are_reported() {
        assert_eq!(rule_problems(&[]).len(), 1);
        assert_eq!(
            rule_problems(&rules(&["api/*"])),
            ["'api/*': rules must start with '/' or '!/'"]
        );
        assert_eq!(
            rule_problems(&rules(&["!api"])),
            ["'!api': negative rules must start with '!/'"]
        );
        assert_eq!(rule_problems(&rules(&["!/a"])).len(), 1);
        assert_eq!(
            rule_problems(&rules(&["/a", "/a"])),
            ["'/a': rule is a duplicate; rules must be unique"]
        );
        assert_eq!(
            rule_problems(&rules(&["/api/*", "/api/users"])),
            ["'/api/users': rule '/api/*' makes it redundant"]
        );
        let long = format!("/{}", "a".repeat(MAX_RULE_LENGTH));
        assert_eq!(rule_problems(&[long]).len(), 1);
        let many: Vec<String> = (0..=MAX_RULES).map(|i| format!("/r{i}")).collect();
        assert_eq!(rule_problems(&many).len(), 1);
    }
}
