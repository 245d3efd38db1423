//! The man pages in `man/` and the completions in `completions/` are
//! generated from each command's clap definition (`commands::docs()`).
//! This test renders them and fails when a checked-in copy is stale;
//! `UPDATE_GENERATED=1 cargo test --test generated` (or `make generate`)
//! rewrites them. The output holds no dates or paths, so it is reproducible.

use std::path::{Path, PathBuf};

use clap::ArgAction;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use subunit_tools::commands::{Doc, docs};

const UPDATE_VAR: &str = "UPDATE_GENERATED";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The man page: clap's sections with our SYNOPSIS, then the command's own
/// sections and SEE ALSO before VERSION.
fn man_page(doc: &Doc, all: &[Doc]) -> String {
    let version = doc.command.get_version().unwrap_or_default().to_owned();
    let man = Man::new(doc.command.clone())
        .source(format!("subunit-tools {version}"))
        .manual("subunit-tools manual");
    let mut page = Vec::new();
    man.render(&mut page).expect("render to memory");
    let page = String::from_utf8(page).expect("roff is UTF-8");
    let page = with_synopsis(&page, &doc.command);

    let mut extra = Roff::new();
    for (heading, text) in doc.sections {
        extra.control("SH", [*heading]);
        for paragraph in text.split("\n\n") {
            if paragraph.lines().all(|l| l.starts_with("    ")) {
                // An example: keep its lines as they are, indented.
                extra.control("RS", ["4"]).control("nf", [] as [&str; 0]);
                for line in paragraph.lines() {
                    extra.text([roman(&line[4..])]);
                }
                extra
                    .control("fi", [] as [&str; 0])
                    .control("RE", [] as [&str; 0]);
            } else {
                extra
                    .control("PP", [] as [&str; 0])
                    .text([roman(paragraph)]);
            }
        }
    }
    extra.control("SH", ["SEE ALSO"]);
    let mut see_also = Vec::new();
    for other in all.iter().map(|d| d.command.get_name()) {
        if other != doc.command.get_name() {
            if !see_also.is_empty() {
                see_also.push(roman(", "));
            }
            see_also.push(bold(other));
            see_also.push(roman("(1)"));
        }
    }
    extra.text(see_also);
    let extra = extra.render();
    // Both renderings start with roff's preamble; keep the page's only.
    let extra = &extra[extra.find(".SH").expect("sections start with .SH")..];
    let at = page.find(".SH VERSION").unwrap_or(page.len());
    format!("{}{}{}", &page[..at], extra, &page[at..])
}

/// The page with a SYNOPSIS that shows what clap_mangen's leaves out: the
/// value of each option (`--with-tag TAG`), which ones may be repeated and
/// that several files may be given (`[FILE]...`). A command's own usage
/// (`override_usage`, for commands with several forms) is kept.
fn with_synopsis(page: &str, command: &clap::Command) -> String {
    if command.get_overridden_usage().is_some() {
        return page.to_owned();
    }
    let mut command = command.clone();
    command.build();
    let mut line = vec![bold(command.get_name())];
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || arg.is_positional() || id == "help" || id == "version" {
            continue;
        }
        line.push(roman(" ["));
        let names: Vec<String> = arg
            .get_short()
            .map(|s| format!("-{s}"))
            .into_iter()
            .chain(arg.get_long().map(|l| format!("--{l}")))
            .collect();
        line.push(bold(names.join("|")));
        let takes_values = arg.get_num_args().is_some_and(|n| n.takes_values());
        if takes_values {
            for value in arg.get_value_names().unwrap_or_default() {
                line.push(roman(" "));
                line.push(italic(value.as_str()));
            }
        }
        line.push(roman("]"));
        if takes_values && matches!(arg.get_action(), ArgAction::Append) {
            line.push(roman("..."));
        }
    }
    for arg in command.get_positionals() {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| arg.get_id().to_string(), ToString::to_string);
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let (open, close) = if arg.is_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push(roman(" "));
        if arg.is_last_set() {
            line.push(roman(format!("{open}-- ")));
        } else {
            line.push(roman(open));
        }
        line.push(italic(value));
        line.push(roman(close));
        if many {
            line.push(roman("..."));
        }
    }
    let mut synopsis = Roff::new();
    synopsis.control("SH", ["SYNOPSIS"]).text(line);
    let synopsis = synopsis.render();
    let synopsis = &synopsis[synopsis.find(".SH").expect("starts with .SH")..];
    let start = page
        .find(".SH SYNOPSIS")
        .expect("clap_mangen writes a SYNOPSIS");
    let end = page.find(".SH DESCRIPTION").expect("and a DESCRIPTION");
    format!("{}{}{}", &page[..start], synopsis, &page[end..])
}

fn completion(doc: &Doc, shell: Shell) -> (PathBuf, String) {
    let name = doc.command.get_name().to_owned();
    let file = match shell {
        Shell::Bash => format!("{name}.bash"),
        Shell::Zsh => format!("_{name}"),
        Shell::Fish => format!("{name}.fish"),
        _ => unreachable!("only bash, zsh and fish are shipped"),
    };
    let mut cmd = doc.command.clone();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, &name, &mut out);
    (
        root().join("completions").join(file),
        String::from_utf8(out).expect("completions are UTF-8"),
    )
}

fn expected_files() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let all = docs();
    for doc in &all {
        let name = doc.command.get_name().to_owned();
        files.push((
            root().join("man").join(format!("{name}.1")),
            man_page(doc, &all),
        ));
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            files.push(completion(doc, shell));
        }
    }
    files
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let update = std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, content) in expected_files() {
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(content.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(&path, content).expect("write generated file");
        } else {
            stale.push(
                path.strip_prefix(root())
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {}\nregenerate with `{UPDATE_VAR}=1 cargo test --test generated` \
         (or `make generate`) and commit them",
        stale.join(", ")
    );
}

#[test]
fn every_binary_has_docs_and_nothing_else_does() {
    let mut binaries: Vec<String> = std::fs::read_dir(root().join("src/bin"))
        .expect("src/bin")
        .map(|e| {
            let path = e.expect("entry").path();
            path.file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    binaries.sort();
    let mut documented: Vec<String> = docs()
        .iter()
        .map(|d| d.command.get_name().to_owned())
        .collect();
    documented.sort();
    assert_eq!(binaries, documented);
}

#[test]
fn man_pages_hold_no_dates_or_paths() {
    for (path, content) in expected_files() {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        assert!(
            !content.contains(env!("CARGO_MANIFEST_DIR")) && !content.contains(&home),
            "{} mentions a local path",
            path.display()
        );
        if path.extension().is_some_and(|e| e == "1") {
            let title = content
                .lines()
                .find(|l| l.starts_with(".TH"))
                .expect(".TH line");
            // .TH name section date source manual: the date stays empty.
            assert!(
                title.contains(" 1  \""),
                "{} has a date in {title}",
                path.display()
            );
        }
    }
}
