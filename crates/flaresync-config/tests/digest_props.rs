//! Property tests: the digest depends on content only, never on key order, comments,
//! whitespace, trailing commas or the file format.

use flaresync_config::parse_config;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Var {
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Var {
    fn literal(&self) -> String {
        match self {
            // JSON string escapes are valid TOML basic-string escapes too.
            Var::Text(s) => serde_json::to_string(s).expect("string serializes"),
            Var::Int(i) => i.to_string(),
            Var::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Content {
    vars: Vec<(String, Var)>,
    kv: Vec<(String, String)>,
    flags: Vec<String>,
}

fn content() -> impl Strategy<Value = Content> {
    let var = prop_oneof![
        "[ -~]{0,12}".prop_map(Var::Text),
        any::<i32>().prop_map(|i| Var::Int(i64::from(i))),
        any::<bool>().prop_map(Var::Bool),
    ];
    (
        prop::collection::btree_map("V[A-Z0-9_]{0,5}", var, 0..6),
        prop::collection::btree_map("KV[A-Z0-9_]{0,5}", "[a-f0-9]{8}", 0..4),
        prop::collection::btree_set("[a-z_]{1,10}", 0..3),
    )
        .prop_map(|(vars, kv, flags)| Content {
            vars: vars.into_iter().collect(),
            kv: kv.into_iter().collect(),
            flags: flags.into_iter().collect(),
        })
}

/// Layout choices: a shuffle key per element, comment and trailing-comma switches.
#[derive(Debug, Clone)]
struct Layout {
    order: Vec<u32>,
    comments: Vec<bool>,
    trailing_commas: bool,
    inline_tables: bool,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        prop::collection::vec(any::<u32>(), 32),
        prop::collection::vec(any::<bool>(), 32),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(order, comments, trailing_commas, inline_tables)| Layout {
            order,
            comments,
            trailing_commas,
            inline_tables,
        })
}

fn shuffled<T: Clone>(items: &[T], layout: &Layout, salt: usize) -> Vec<T> {
    let mut keyed: Vec<(u32, usize, T)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            (
                layout.order[(i + salt) % layout.order.len()],
                i,
                item.clone(),
            )
        })
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, item)| item).collect()
}

fn comment(layout: &Layout, i: usize, jsonc: bool) -> &'static str {
    match (layout.comments[i % layout.comments.len()], jsonc, i % 2) {
        (false, _, _) => "",
        (true, false, _) => "# a \"comment\" with = and [brackets]\n",
        (true, true, 0) => "// a comment with \"quotes\" and , commas\n",
        (true, true, _) => "/* block, \"comment\" */\n",
    }
}

fn render_toml(c: &Content, layout: &Layout) -> String {
    let mut simple = vec![
        "name = \"prop-worker\"\n".to_owned(),
        "main = \"dist/index.js\"\n".to_owned(),
        "compatibility_date = \"2025-06-01\"\n".to_owned(),
        format!(
            "compatibility_flags = [{}]\n",
            c.flags
                .iter()
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    let vars = shuffled(&c.vars, layout, 3);
    let kv = shuffled(&c.kv, layout, 7);
    let mut sections = Vec::new();
    if layout.inline_tables {
        let entries: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("{k} = {}", v.literal()))
            .collect();
        simple.push(format!("vars = {{ {} }}\n", entries.join(", ")));
        let items: Vec<String> = kv
            .iter()
            .map(|(b, id)| format!("{{ binding = \"{b}\", id = \"{id}\" }}"))
            .collect();
        simple.push(format!("kv_namespaces = [{}]\n", items.join(", ")));
    } else {
        let mut section = "[vars]\n".to_owned();
        for (i, (k, v)) in vars.iter().enumerate() {
            section.push_str(comment(layout, i + 11, false));
            section.push_str(&format!("{k}   =   {}\n", v.literal()));
        }
        sections.push(section);
        for (b, id) in &kv {
            sections.push(format!(
                "[[kv_namespaces]]\nid = \"{id}\"\nbinding = \"{b}\"\n"
            ));
        }
    }
    let mut out = String::new();
    for (i, line) in shuffled(&simple, layout, 0).iter().enumerate() {
        out.push_str(comment(layout, i, false));
        out.push_str(line);
    }
    // Array-of-tables order is content (binding order is normalized, but keep it stable).
    for section in sections {
        out.push('\n');
        out.push_str(&section);
    }
    out
}

fn render_jsonc(c: &Content, layout: &Layout) -> String {
    let comma_end = if layout.trailing_commas { "," } else { "" };
    let vars: Vec<String> = shuffled(&c.vars, layout, 5)
        .iter()
        .enumerate()
        .map(|(i, (k, v))| format!("{}\"{k}\": {}", comment(layout, i + 20, true), v.literal()))
        .collect();
    let kv: Vec<String> = shuffled(&c.kv, layout, 9)
        .iter()
        .map(|(b, id)| format!("{{ \"id\": \"{id}\", \"binding\": \"{b}\"{comma_end} }}"))
        .collect();
    let flags: Vec<String> = c.flags.iter().map(|f| format!("\"{f}\"")).collect();
    let members = vec![
        "\"name\": \"prop-worker\"".to_owned(),
        "\"main\": \"dist/index.js\"".to_owned(),
        "\"compatibility_date\": \"2025-06-01\"".to_owned(),
        format!("\"compatibility_flags\": [{}]", flags.join(", ")),
        format!("\"vars\": {{\n{}\n}}", vars.join(",\n")),
        format!("\"kv_namespaces\": [{}]", kv.join(", ")),
    ];
    let body: Vec<String> = shuffled(&members, layout, 1)
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{}  {m}", comment(layout, i, true)))
        .collect();
    format!("{{\n{}{comma_end}\n}}\n", body.join(",\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn digest_ignores_layout_and_format(c in content(), a in layout(), b in layout()) {
        let toml_a = render_toml(&c, &a);
        let toml_b = render_toml(&c, &b);
        let jsonc = render_jsonc(&c, &a);
        let pa = parse_config("wrangler.toml", toml_a.as_bytes(), None)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{toml_a}")))?;
        let pb = parse_config("wrangler.toml", toml_b.as_bytes(), None)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{toml_b}")))?;
        let pj = parse_config("wrangler.jsonc", jsonc.as_bytes(), None)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{jsonc}")))?;
        prop_assert!(pa.warnings.is_empty(), "{:?}", pa.warnings);
        prop_assert!(pj.warnings.is_empty(), "{:?}", pj.warnings);
        prop_assert_eq!(pa.spec.digest(), pb.spec.digest());
        prop_assert_eq!(pa.spec.digest(), pj.spec.digest());
        prop_assert_eq!(pa.spec.version_digest(), pj.spec.version_digest());
        prop_assert_eq!(pa.spec.bindings.len(), c.vars.len() + c.kv.len());
    }

    #[test]
    fn digest_changes_when_a_var_changes(c in content(), a in layout()) {
        prop_assume!(!c.vars.is_empty());
        let mut changed = c.clone();
        changed.vars[0].1 = match &changed.vars[0].1 {
            Var::Text(s) => Var::Text(format!("{s}!")),
            Var::Int(i) => Var::Int(i.wrapping_add(1)),
            Var::Bool(b) => Var::Bool(!b),
        };
        let before = parse_config("wrangler.jsonc", render_jsonc(&c, &a).as_bytes(), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = parse_config("wrangler.jsonc", render_jsonc(&changed, &a).as_bytes(), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_ne!(before.spec.digest(), after.spec.digest());
        prop_assert_ne!(before.spec.version_digest(), after.spec.version_digest());
    }

    #[test]
    fn strip_jsonc_preserves_length_and_string_values(s in "[ -~]{0,40}") {
        let text = format!("{{ \"k\": {} /* c */ , // x\n }}", serde_json::to_string(&s).expect("serializes"));
        let stripped = flaresync_config::strip_jsonc(&text);
        prop_assert_eq!(stripped.len(), text.len());
        let value: serde_json::Value = serde_json::from_str(&stripped)
            .map_err(|e| TestCaseError::fail(format!("{e}: {stripped}")))?;
        prop_assert_eq!(value["k"].as_str(), Some(s.as_str()));
    }
}
