//! The repository documents itself: references point at sections of `ARCHITECTURE.md` that
//! exist, and nothing points at design notes kept outside the repository, which whoever clones
//! it does not have.
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's text files: what git tracks, or, without git, every file outside
/// `target/`, `.git/` and `data/`. Files that are not UTF-8 (images) are left out.
fn text_files() -> Vec<(PathBuf, String)> {
    let tracked = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            o.stdout
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
                .collect::<Vec<_>>()
        });
    let paths = tracked.unwrap_or_else(|| {
        let mut found = Vec::new();
        let mut dirs = vec![root().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if !["target", ".git", "data"].contains(&name.to_string_lossy().as_ref()) {
                        dirs.push(path);
                    }
                } else {
                    found.push(path);
                }
            }
        }
        found
    });
    paths
        .into_iter()
        .filter_map(|p| {
            let text = String::from_utf8(std::fs::read(&p).ok()?).ok()?;
            Some((p, text))
        })
        .collect()
}

/// Section numbers a reference names right after `marker`: `§4`, `§9.2`, and lists such as
/// `§3.5, §11` or `§7–§12`.
fn sections_after(text: &str, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(marker) {
        let mut rest = text[at + marker.len()..].trim_start();
        while let Some(after_sign) = rest.strip_prefix('§') {
            let end = after_sign
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(after_sign.len());
            let number = after_sign[..end].trim_end_matches('.');
            if number.is_empty() {
                break;
            }
            found.push(number.to_string());
            rest = &after_sign[end..];
            rest = [", ", " and ", " or ", "–", "-"]
                .iter()
                .find_map(|sep| rest.strip_prefix(sep))
                .unwrap_or(rest);
        }
    }
    found
}

/// The numbers of `## N.` and `### N.M` headings.
fn headings(architecture: &str) -> BTreeSet<String> {
    architecture
        .lines()
        .filter_map(|line| {
            let title = line
                .strip_prefix("### ")
                .or_else(|| line.strip_prefix("## "))?;
            let number = title.split_whitespace().next()?.trim_end_matches('.');
            (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| number.to_string())
        })
        .collect()
}

#[test]
fn section_references_are_parsed_as_written() {
    assert_eq!(
        sections_after(
            "see NOTES.md §4. Also NOTES.md §3.5, §11 and (NOTES.md §7–§12), but not §2",
            "NOTES.md"
        ),
        ["4", "3.5", "11", "7", "12"]
    );
    assert!(sections_after("NOTES.md, section 4", "NOTES.md").is_empty());
    assert_eq!(
        headings("# Title\n## 1. Shape\n### 3.8 Calls\n## Notes\n"),
        ["1", "3.8"].map(String::from).into()
    );
}

#[test]
fn every_architecture_reference_names_an_existing_section() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is at the repository root");
    let sections = headings(&architecture);
    assert!(sections.len() > 10, "ARCHITECTURE.md has numbered sections");
    let mut dangling = Vec::new();
    for (path, text) in text_files() {
        let relative = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        let mut named = sections_after(&text, "ARCHITECTURE.md");
        if relative == "ARCHITECTURE.md" {
            // Inside the document, a bare `§N` refers to its own sections.
            named.extend(sections_after(&text.replace('§', " §"), " "));
        }
        for number in named {
            if !sections.contains(&number) {
                dangling.push(format!("{relative}: §{number}"));
            }
        }
    }
    assert!(
        dangling.is_empty(),
        "references to sections ARCHITECTURE.md does not have (sections: {sections:?}):\n{}",
        dangling.join("\n")
    );
}

#[test]
fn nothing_points_at_design_notes_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let outside = [
        format!("{} §", "DESIGN"),
        format!("{}.md", "DESIGN"),
        format!("{}/", "../shared"),
    ];
    let mut found = Vec::new();
    for (path, text) in text_files() {
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                let relative = path.strip_prefix(root()).unwrap_or(&path).display();
                found.push(format!("{relative}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "these point at design notes outside the repository; point at ARCHITECTURE.md instead:\n{}",
        found.join("\n")
    );
}
