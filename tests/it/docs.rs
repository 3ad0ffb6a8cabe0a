//! The book in `docs/` and the README hold no broken link: every relative link resolves
//! to a file and, with a `#fragment`, to a heading of that file; every chapter of
//! `SUMMARY.md` exists and every page under `docs/src` is a chapter; every `{{#include}}`
//! names a file. (`mdbook build docs`, which scripts/test.sh runs, renders the pages.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::repo_root;

fn pages(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read docs/src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            pages(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

/// The text outside fenced code blocks and inline code spans, where links live.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") {
            continue;
        }
        // Drop inline code: the odd-numbered pieces between backticks.
        for (i, piece) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(piece);
            }
        }
        out.push('\n');
    }
    out
}

/// Targets of `[text](target)` links.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut found = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            found.push(rest[..end].trim().to_string());
        }
    }
    found
}

/// mdBook's anchor for a heading: lower case, spaces as dashes, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut all = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            all.insert(anchor(
                line.trim_start_matches('#').replace('`', "").as_str(),
            ));
        }
    }
    all
}

/// Broken relative links of one markdown file, as `file: target` lines.
fn broken_links(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read page");
    let dir = file.parent().expect("a page's folder");
    let mut broken = Vec::new();
    for target in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        let ok = resolved.exists()
            && (fragment.is_empty()
                || anchors(&std::fs::read_to_string(&resolved).unwrap_or_default())
                    .contains(fragment));
        if !ok {
            broken.push(format!("{}: {target}", file.display()));
        }
    }
    for include in text.split("{{#include ").skip(1) {
        let path = include.split([':', '}']).next().unwrap_or("").trim();
        if !dir.join(path).is_file() {
            broken.push(format!("{}: include {path}", file.display()));
        }
    }
    broken
}

#[test]
fn every_link_of_the_book_and_the_readme_resolves() {
    let src = repo_root().join("docs/src");
    let mut all = Vec::new();
    pages(&src, &mut all);
    all.sort();
    assert!(all.len() > 20, "{all:?}");
    let mut broken: Vec<String> = all.iter().flat_map(|p| broken_links(p)).collect();
    broken.extend(broken_links(&repo_root().join("README.md")));
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_is_a_chapter_and_every_chapter_exists() {
    let src = repo_root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md");
    let chapters: BTreeSet<PathBuf> = links(&summary).iter().map(|l| src.join(l)).collect();
    for chapter in &chapters {
        assert!(
            chapter.is_file(),
            "SUMMARY.md lists a missing chapter: {chapter:?}"
        );
    }
    let mut all = Vec::new();
    pages(&src, &mut all);
    for page in all.iter().filter(|p| !p.ends_with("SUMMARY.md")) {
        assert!(
            chapters.contains(page),
            "{page:?} is not a chapter of SUMMARY.md"
        );
    }
}

#[test]
fn anchors_follow_mdbook() {
    assert_eq!(anchor("Block pipeline"), "block-pipeline");
    assert_eq!(anchor("`[sync.poll]`"), "syncpoll");
    assert_eq!(
        broken_links(&repo_root().join("docs/src/SUMMARY.md")),
        Vec::<String>::new()
    );
}
