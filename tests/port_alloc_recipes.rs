//! The harness recipes of port-alloc's README section and man page, run as
//! the scripts in tests/recipes/ hold them: a shell harness, a Makefile, a
//! pytest fixture and Mercurial's HGPORT convention. Each runs in a copy
//! of tests/recipes/ in a scratch directory (nothing is written into the
//! working tree), with our port-alloc first on PATH, a private lease
//! directory and a pool of 22970-22999; the README must show each
//! recipe's lines as the script has them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::port_alloc::*;

const RECIPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/recipes");

/// The fixture, and a copy of tests/recipes/ in its scratch directory.
fn recipes(tag: &str, pool: &str) -> (Fixture, PathBuf) {
    let fx = Fixture::new(tag, pool);
    let copy = fx.path("recipes");
    std::fs::create_dir(&copy).expect("mkdir recipes");
    for entry in std::fs::read_dir(RECIPES).expect("tests/recipes") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy a recipe");
    }
    (fx, copy)
}

/// `program ARGS` in `dir`, in the fixture's environment, with the
/// directory of our port-alloc first on PATH.
fn in_recipes(fx: &Fixture, dir: &Path, program: &str, args: &[&str]) -> Command {
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir.to_owned()];
    dirs.extend(std::env::split_paths(&path));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", std::env::join_paths(dirs).expect("PATH"));
    fx.env(&mut cmd);
    cmd
}

/// Fails unless README.md shows the lines between `# >>> recipe` and
/// `# <<< recipe` of `script`, in order and together.
fn assert_in_readme(script: &str) {
    let text = std::fs::read_to_string(Path::new(RECIPES).join(script)).expect("the recipe");
    let start = text.find("# >>> recipe\n").expect("a recipe start marker") + 13;
    let end = text.find("# <<< recipe").expect("a recipe end marker");
    let recipe = &text[start..end];
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(recipe),
        "README.md does not show tests/recipes/{script} as it is:\n{recipe}"
    );
}

/// The ports of a line `WORD... p0 p1 p2` after `prefix`.
fn ports_after(text: &str, prefix: &str) -> Vec<u16> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line '{prefix}...' in:\n{text}"));
    line.split_whitespace()
        .map(|p| p.parse().unwrap_or_else(|_| panic!("not a port: {p}")))
        .collect()
}

/// The shell recipe: three distinct ports of the pool, a real server
/// answering on the first, all three leased to the harness shell itself
/// (not to the subshell of `$(...)`), and nothing left once it has ended.
#[test]
fn the_shell_harness_recipe_leases_three_ports_to_the_harness_shell() {
    assert_in_readme("shell-harness.sh");
    let (fx, dir) = recipes("shell", "22970-22979");
    let out = run(in_recipes(&fx, &dir, "bash", &["shell-harness.sh"]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let ports = ports_after(&text, "ports ");
    assert_eq!(set(ports.clone()).len(), 3, "{text}");
    assert!(ports.iter().all(|p| (22970..=22979).contains(p)), "{text}");
    assert!(
        text.contains(&format!("served on {}\n", ports[0])),
        "{text}"
    );
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    assert_eq!(ports_after(&text, "held by this shell: "), sorted, "{text}");
    // The harness has ended, and with it the leases' owner.
    let list = stdout(&fx.run(&["list"]));
    for port in ports {
        let row = list
            .lines()
            .find(|l| l.starts_with(&port.to_string()))
            .unwrap_or_else(|| panic!("no lease of {port}:\n{list}"));
        assert!(
            row.contains(" gone "),
            "the owner of {port} lives on:\n{list}"
        );
    }
}

/// The Makefile recipe: `check` binds two ports held while its line runs
/// (leased to port-alloc itself), `whole-run` two leased to make; no lease
/// of `check` is left.
#[test]
fn the_makefile_recipe_holds_ports_for_a_line_or_for_the_whole_run() {
    assert_in_readme("Makefile");
    if Command::new("make").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED the_makefile_recipe_holds_ports_for_a_line_or_for_the_whole_run: no make on PATH"
        );
        return;
    }
    let (fx, dir) = recipes("make", "22980-22989");
    let out = run(in_recipes(&fx, &dir, "make", &["-s", "check", "whole-run"]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    let mut ports = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // "bound PORT, leased to PID, make is PID"
        assert_eq!(
            (line[0], line[2], line[3]),
            ("bound", "leased", "to"),
            "{text}"
        );
        ports.push(line[1].trim_end_matches(',').to_owned());
        let (owner, make) = (line[4].trim_end_matches(','), line[7]);
        if i < 2 {
            assert_ne!(owner, make, "check's ports are port-alloc's own:\n{text}");
        } else {
            assert_eq!(owner, make, "whole-run's ports are make's:\n{text}");
        }
    }
    // (check's ports are given back when its line ends: whole-run may get
    // one of them again.)
    assert!(ports[0] != ports[1] && ports[2] != ports[3], "{text}");
    let whole_run: std::collections::BTreeSet<u16> = ports[2..]
        .iter()
        .map(|p| p.parse().expect("port"))
        .collect();
    assert_eq!(
        fx.lease_ports(),
        whole_run,
        "only whole-run's leases (make's, in their grace) are left"
    );
}

/// The pytest recipe, run by pytest: test_port_alloc_recipe.py's two tests
/// pass (bound ports leased to pytest, a test's ports given back after it,
/// the session's kept), and nothing is left leased after the session
/// but the session's port, stale once pytest has ended.
#[test]
fn the_pytest_recipe_passes_its_tests() {
    assert_in_readme("conftest.py");
    let Some(bin) = common::python_subunit() else {
        return;
    };
    let python = bin.join("python");
    let has_pytest = Command::new(&python)
        .args(["-c", "import pytest"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pytest {
        let why = "the venv lacks pytest (the Makefile's PYTHON_SUBUNIT installs it)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}; CI=true requires the recipe to run");
        }
        eprintln!("SKIPPED the_pytest_recipe_passes_its_tests: {why}");
        return;
    }
    let (fx, dir) = recipes("pytest", "22990-22994");
    let python = python.to_str().expect("UTF-8 path");
    let mut cmd = in_recipes(
        &fx,
        &dir,
        python,
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_port_alloc_recipe.py",
        ],
    );
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("2 passed"), "{}", show(&out));
    assert_eq!(
        fx.lease_ports().len(),
        1,
        "only the session's port: {:?}",
        fx.files()
    );
}

/// The HGPORT recipe: HGPORT, HGPORT1 and HGPORT2 are three adjacent
/// ports, held while the command runs, given back after.
#[test]
fn the_hgport_recipe_gives_three_adjacent_ports() {
    assert_in_readme("hgport.sh");
    let (fx, dir) = recipes("hgport", "22995-22999");
    let script = r#"echo "$HGPORT $HGPORT1 $HGPORT2"; ls "$PORT_ALLOC_DIR""#;
    let out = run(in_recipes(
        &fx,
        &dir,
        "sh",
        &["hgport.sh", "sh", "-c", script],
    ));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let ports: Vec<u16> = lines
        .next()
        .expect("the ports")
        .split(' ')
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(ports.len(), 3, "{text}");
    assert_eq!((ports[1], ports[2]), (ports[0] + 1, ports[0] + 2), "{text}");
    let leased: Vec<u16> = lines.map(|l| l.parse().expect("a lease")).collect();
    assert_eq!(leased, ports, "leased while the command ran");
    assert!(fx.lease_ports().is_empty(), "given back: {:?}", fx.files());
}
