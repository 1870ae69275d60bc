//! Embeds the playground's example operations (`playground/examples/<role>/<name>.graphql`, with
//! optional `<name>.json` variables) so the binary serves them without reading the disk.
use std::{fs, path::Path};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground/examples");
    println!("cargo:rerun-if-changed=playground");
    let mut entries = Vec::new();
    if let Ok(roles) = fs::read_dir(&root) {
        for role in roles.flatten().filter(|e| e.path().is_dir()) {
            for file in fs::read_dir(role.path()).into_iter().flatten().flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "graphql") {
                    let vars = path.with_extension("json");
                    entries.push((
                        role.file_name().to_string_lossy().to_string(),
                        path.file_stem().unwrap().to_string_lossy().to_string(),
                        path.display().to_string(),
                        vars.exists().then(|| vars.display().to_string()),
                    ));
                }
            }
        }
    }
    entries.sort();
    let mut out = String::from(
        "/// (role, name, document, variables JSON) of every playground example.\npub const EXAMPLES: &[(&str, &str, &str, Option<&str>)] = &[\n",
    );
    for (role, name, path, vars) in entries {
        let vars = match vars {
            Some(v) => format!("Some(include_str!({v:?}))"),
            None => "None".into(),
        };
        out.push_str(&format!(
            "    ({role:?}, {name:?}, include_str!({path:?}), {vars}),\n"
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("playground_examples.rs");
    fs::write(dest, out).unwrap();
}
