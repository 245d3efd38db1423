//! subunit-wrap: lossless wrapping, command mode, result lines, live output,
//! signals passed on to the command.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::procs::{Running, TempDir, gone_within, line_in, pid_in, send, wait_within};
use common::runs::{self, OwnedEvent, Rng, RunShape};
use common::{Decoded, decode_all, ours, run_with_input};
use proptest::prelude::*;
use subunit_tools::{Event, Status, encode};

/// The chatter and packets of `input` as our reader sees them.
fn split(input: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut chatter = Vec::new();
    let mut packets = Vec::new();
    for item in decode_all(input) {
        match item {
            Decoded::Chatter(bytes) => chatter.extend(bytes),
            Decoded::Packet(_, raw) => packets.push(raw),
        }
    }
    (chatter, packets)
}

/// Checks the output of wrapping `input` (with `--name wrapped`): nothing
/// but packets; the input's packets byte for byte and in order; the
/// `wrapped` file's contents equal to the input's chatter; every other
/// packet is a result (a test id and a final status); and with
/// each wrapped packet replaced by its content and results left out, the
/// output is the input again (every byte in its place). Returns the
/// results.
fn check_wrapped(input: &[u8], output: &[u8]) -> Result<Vec<(Status, String)>, String> {
    let (chatter, packets) = split(input);
    let mut expected = packets.iter().peekable();
    let mut contents = Vec::new();
    let mut results = Vec::new();
    let mut rebuilt = Vec::new();
    for item in decode_all(output) {
        let Decoded::Packet(event, raw) = item else {
            return Err("the output holds chatter".into());
        };
        if expected.peek().is_some_and(|p| **p == raw) {
            expected.next();
            rebuilt.extend_from_slice(&raw);
            continue;
        }
        match &event.file {
            Some((name, content)) if name == "wrapped" && event.test_id.is_none() => {
                if content.len() > 64 * 1024 {
                    return Err(format!("a packet of {} bytes of chatter", content.len()));
                }
                contents.extend_from_slice(content);
                rebuilt.extend_from_slice(content);
            }
            // A result, perhaps with an attachment (TAP's "tap comment").
            _ if event.status.is_final() && event.test_id.is_some() => {
                results.push((event.status, event.test_id.clone().unwrap_or_default()));
            }
            _ => return Err(format!("unexpected packet {event:?}")),
        }
    }
    if let Some(missing) = expected.next() {
        return Err(format!(
            "input packet of {} bytes missing or out of order",
            missing.len()
        ));
    }
    if contents != chatter {
        return Err(format!(
            "wrapped contents ({} bytes) differ from the chatter ({} bytes) at {}",
            contents.len(),
            chatter.len(),
            common::first_difference(&contents, &chatter)
        ));
    }
    if rebuilt != input {
        return Err(format!(
            "chatter and packets out of place: unwrapped output differs from the input at {}",
            common::first_difference(&rebuilt, input)
        ));
    }
    Ok(results)
}

fn wrap_cmd(args: &[&str]) -> Command {
    let mut cmd = ours("subunit-wrap");
    cmd.args(["--name", "wrapped"]).args(args);
    cmd
}

/// A random mix of text, binary noise, stray 0xB3 bytes, result lines,
/// valid packets and damaged ones.
fn noisy_stream(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let packets = runs::stream_with_chatter(
        &RunShape {
            seed,
            tests: 20,
            ..RunShape::default()
        },
        10,
    );
    let mut out = Vec::new();
    for _ in 0..rng.below(40) + 1 {
        match rng.below(7) {
            0 => out.extend_from_slice(b"make[1]: Entering directory '/build'\n"),
            1 => out.extend_from_slice("accion ó con texto\r\n".as_bytes()),
            2 => out.extend((0..rng.below(300)).map(|_| rng.next_u64() as u8)),
            3 => out.extend_from_slice(b"\xb3 stray\n\xb3\x2b"),
            4 => {
                let name = rng.below(1000);
                out.extend_from_slice(format!("PASS: t{name}\nFAIL: f{name}\n").as_bytes())
            }
            5 => {
                let start = rng.below(packets.len() as u64) as usize;
                let len = rng.below(400) as usize;
                out.extend_from_slice(&packets[start..(start + len).min(packets.len())]);
            }
            _ => {
                let mut packet = Vec::new();
                OwnedEvent {
                    status: Status::Success,
                    test_id: Some(format!("ok{}", rng.below(100))),
                    ..OwnedEvent::default()
                }
                .encode(&mut packet);
                if rng.chance(30) {
                    let at = rng.below(packet.len() as u64) as usize;
                    packet[at] ^= 0x55; // damaged
                }
                out.extend_from_slice(&packet);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn wrapping_loses_nothing_and_keeps_packets(seed in any::<u64>(), results in any::<bool>()) {
        let input = noisy_stream(seed);
        let args: &[&str] = if results { &[] } else { &["--no-results"] };
        let out = run_with_input(wrap_cmd(args), &input);
        prop_assert!(out.status.success(), "seed {}: {:?}", seed, out);
        let found = check_wrapped(&input, &out.stdout).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        if !results {
            prop_assert!(found.is_empty());
        }
    }
}

#[test]
fn large_chatter_from_a_file_is_lossless() {
    let mut rng = Rng::new(7);
    let mut input = Vec::new();
    for i in 0..3000 {
        input.extend(noisy_stream(i).iter().take(rng.below(2000) as usize));
    }
    let path = std::env::temp_dir().join(format!("subunit-wrap-{}-large", std::process::id()));
    std::fs::write(&path, &input).expect("write");
    let out = wrap_cmd(&[]).arg(&path).output().expect("run");
    assert!(out.status.success());
    check_wrapped(&input, &out.stdout).expect("lossless");
    std::fs::remove_file(path).ok();
}

#[test]
fn automake_results_are_counted_like_python_counts_them() {
    let input = b"PASS: a\nFAIL: b\nSKIP: c\n";
    let wrapped = run_with_input(ours("subunit-wrap"), input).stdout;
    let stats = run_with_input(ours("subunit-stats"), &wrapped);
    let text = String::from_utf8(stats.stdout).expect("UTF-8");
    assert!(
        text.ends_with(
            "Total tests:       3\nPassed tests:      1\nFailed tests:      1\nSkipped tests:     1\nSeen tags: \n"
        ),
        "{text}"
    );
    assert_eq!(stats.status.code(), Some(1));
    let Some(py) = common::python_subunit() else {
        return;
    };
    let python = run_with_input(Command::new(py.join("subunit-stats")), &wrapped);
    assert_eq!(String::from_utf8_lossy(&python.stdout), text);
    assert_eq!(python.status.code(), Some(1));
}

#[test]
fn tap_results_with_tap_only() {
    let input = b"1..4\nok 1 - a\nnot ok 2 - b\nok 3 # SKIP no db\nnot ok 4 # TODO later\n";
    let plain =
        check_wrapped(input, &run_with_input(wrap_cmd(&[]), input).stdout).expect("lossless");
    assert!(plain.is_empty(), "TAP needs --tap: {plain:?}");
    let tap = check_wrapped(input, &run_with_input(wrap_cmd(&["--tap"]), input).stdout)
        .expect("lossless");
    assert_eq!(
        tap,
        [
            (Status::Success, "test 1 - a".to_string()),
            (Status::Fail, "test 2 - b".to_string()),
            (Status::Skip, "test 3".to_string()),
            (Status::XFail, "test 4".to_string()),
        ]
    );
}

/// subunit-wrap with every labelling option, and no timestamps.
fn labelled() -> Command {
    let mut cmd = ours("subunit-wrap");
    cmd.args([
        "--name",
        "log",
        "--test-id",
        "build",
        "--route-code",
        "3",
        "--mime",
        "text/plain",
        "--no-timestamps",
    ]);
    cmd
}

#[test]
fn options_label_every_packet_made() {
    let input = b"hello\nPASS: t\n";
    let out = run_with_input(labelled(), input);
    let items = decode_all(&out.stdout[..]);
    let events: Vec<&OwnedEvent> = items
        .iter()
        .map(|i| match i {
            Decoded::Packet(e, _) => e,
            Decoded::Chatter(_) => panic!("chatter in output"),
        })
        .collect();
    let files: Vec<_> = events.iter().filter(|e| e.file.is_some()).collect();
    assert!(!files.is_empty());
    for e in &files {
        assert_eq!(e.file.as_ref().map(|f| f.0.as_str()), Some("log"));
        assert_eq!(e.test_id.as_deref(), Some("build"));
        assert_eq!(e.route_code.as_deref(), Some("3"));
        assert_eq!(e.mime.as_deref(), Some("text/plain"));
        assert_eq!(e.timestamp, None);
    }
    assert!(files.last().expect("files").eof, "the file ends with EOF");
    let result = events
        .iter()
        .find(|e| e.file.is_none())
        .expect("a result packet");
    assert_eq!(
        (
            result.test_id.as_deref(),
            result.status,
            result.route_code.as_deref()
        ),
        (Some("t"), Status::Success, Some("3"))
    );
    // Reproducible: the same input gives the same bytes.
    let again = run_with_input(labelled(), input);
    assert_eq!(again.stdout, out.stdout);
}

/// The command test's packets and the contents of the stdout and stderr
/// files in the output of command mode.
struct CommandRun {
    code: Option<i32>,
    statuses: Vec<Status>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_note: Option<String>,
    test_ids: Vec<String>,
}

fn run_command(script: &str) -> CommandRun {
    let out = ours("subunit-wrap")
        .args(["--", "sh", "-c", script])
        .output()
        .expect("run");
    let mut run = CommandRun {
        code: out.status.code(),
        statuses: Vec::new(),
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_note: None,
        test_ids: Vec::new(),
    };
    for item in decode_all(&out.stdout[..]) {
        let Decoded::Packet(e, _) = item else {
            panic!("chatter in command mode output")
        };
        match (&e.test_id, &e.file) {
            (None, Some((name, content))) if name == "stdout" => run.stdout.extend(content),
            (None, Some((name, content))) if name == "stderr" => run.stderr.extend(content),
            (Some(id), file) => {
                run.test_ids.push(id.clone());
                run.statuses.push(e.status);
                if let Some((name, content)) = file {
                    assert_eq!(name, "exit-status");
                    run.exit_note = Some(String::from_utf8_lossy(content).into_owned());
                }
            }
            _ => panic!("unexpected packet {e:?}"),
        }
    }
    run
}

#[test]
fn command_mode_separates_streams_and_passes_the_status_on() {
    let run = run_command("echo to-out; echo to-err >&2; exit 0");
    assert_eq!(run.code, Some(0));
    assert_eq!(run.stdout, b"to-out\n");
    assert_eq!(run.stderr, b"to-err\n");
    assert_eq!(run.statuses, [Status::InProgress, Status::Success]);
    assert_eq!(
        run.test_ids[0],
        "sh -c 'echo to-out; echo to-err >&2; exit 0'"
    );
    assert_eq!(run.exit_note, None);

    let run = run_command("echo failing; exit 3");
    assert_eq!(run.code, Some(3));
    assert_eq!(run.statuses, [Status::InProgress, Status::Fail]);
    assert_eq!(run.exit_note.as_deref(), Some("exit status 3\n"));

    let run = run_command("echo before; kill -TERM $$");
    assert_eq!(run.code, Some(128 + 15));
    assert_eq!(run.stdout, b"before\n");
    assert_eq!(run.statuses, [Status::InProgress, Status::Fail]);
    assert_eq!(
        run.exit_note.as_deref(),
        Some("killed by signal 15 (SIGTERM)\n")
    );
}

#[test]
fn command_mode_survives_a_flood_on_stderr() {
    // 8 MB on stderr while stdout waits: neither pipe may block the other.
    let run = run_command(
        "echo start; head -c 8000000 /dev/zero | tr '\\0' x >&2; echo end; echo more >&2",
    );
    assert_eq!(run.code, Some(0));
    assert_eq!(run.stdout, b"start\nend\n");
    assert_eq!(run.stderr.len(), 8_000_005);
}

#[test]
fn command_mode_passes_the_commands_packets_through() {
    let wrap = env!("CARGO_BIN_EXE_subunit-wrap");
    let out = ours("subunit-wrap")
        .args(["--test-id", "outer", "--"])
        .args([
            wrap,
            "--test-id",
            "inner",
            "--",
            "sh",
            "-c",
            "echo PASS: deep",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let ids: Vec<(String, Status)> = decode_all(&out.stdout[..])
        .into_iter()
        .filter_map(|i| match i {
            Decoded::Packet(e, _) if e.file.is_none() => Some((e.test_id?, e.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("outer".to_string(), Status::InProgress),
            ("inner".to_string(), Status::InProgress),
            ("deep".to_string(), Status::Success),
            ("inner".to_string(), Status::Success),
            ("outer".to_string(), Status::Success),
        ]
    );
}

#[test]
fn a_command_that_cannot_start_is_a_failing_test() {
    let out = ours("subunit-wrap")
        .args(["--", "/nonexistent/tool", "arg"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "subunit-wrap: cannot run /nonexistent/tool: No such file or directory\n"
    );
    let items = decode_all(&out.stdout[..]);
    let [Decoded::Packet(e, _)] = &items[..] else {
        panic!("one packet expected: {items:?}")
    };
    assert_eq!(e.status, Status::Fail);
    assert_eq!(e.test_id.as_deref(), Some("/nonexistent/tool arg"));
}

#[test]
fn files_and_a_command_together_are_a_usage_error() {
    let out = ours("subunit-wrap")
        .args(["some-file", "--", "true"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("subunit-wrap: "));
}

/// `subunit-wrap` piped into `subunit2json`, whose lines arrive on a
/// channel as they come.
struct LivePipeline {
    wrap: std::process::Child,
    json: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl LivePipeline {
    fn next_line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} did not come out while the producer waited"))
    }

    /// Waits for both; returns whether subunit-wrap succeeded.
    fn wait(mut self) -> bool {
        let ok = self.wrap.wait().expect("wait").success();
        self.json.wait().expect("wait");
        ok
    }

    fn kill(mut self) {
        self.wrap.kill().ok();
        self.wrap.wait().ok();
        self.json.wait().ok();
    }
}

fn live_lines(wrap_args: &[&str], stdin: Stdio) -> LivePipeline {
    let mut wrap = ours("subunit-wrap")
        .args(wrap_args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wrap");
    let mut json = ours("subunit2json")
        .stdin(wrap.stdout.take().expect("stdout"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn subunit2json");
    let (tx, lines) = mpsc::channel();
    let stdout = json.stdout.take().expect("stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.expect("line")).is_err() {
                break;
            }
        }
    });
    LivePipeline { wrap, json, lines }
}

#[test]
fn a_line_shows_downstream_while_the_producer_sleeps() {
    // Filter mode: the producer writes a line, then waits for us.
    let mut producer = Command::new("sh")
        .args(["-c", "echo 'PASS: early'; read _"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("producer");
    let live = live_lines(&[], Stdio::from(producer.stdout.take().expect("stdout")));
    let first = live.next_line("the line");
    assert!(
        first.contains("\"file_hex\": \"504153533a206561726c790a\""),
        "{first}"
    );
    let result = live.next_line("the result");
    assert!(result.contains("\"test_id\": \"early\""), "{result}");
    producer
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\n")
        .expect("release");
    assert!(producer.wait().expect("wait").success());
    assert!(live.wait());

    // Command mode, and a line without its newline yet.
    let live = live_lines(
        &["--", "sh", "-c", "printf 'partial'; sleep 10"],
        Stdio::null(),
    );
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("7061727469616c")) {
        seen.push(live.next_line("the partial line"));
    }
    live.kill();
}

#[test]
fn packets_between_text_keep_their_place() {
    let mut input = b"one\n".to_vec();
    encode(
        &Event {
            status: Status::Success,
            test_id: Some("x"),
            ..Event::default()
        },
        &mut input,
    )
    .expect("encode");
    input.extend_from_slice(b"two");
    let out = run_with_input(wrap_cmd(&["--no-timestamps"]), &input);
    let order: Vec<String> = decode_all(&out.stdout[..])
        .into_iter()
        .map(|i| match i {
            Decoded::Packet(e, _) => match e.file {
                Some((_, c)) => String::from_utf8_lossy(&c).into_owned(),
                None => format!("<{}>", e.test_id.unwrap_or_default()),
            },
            Decoded::Chatter(_) => panic!("chatter"),
        })
        .collect();
    assert_eq!(order, ["one\n", "<x>", "two", ""]);
}

#[test]
fn route_is_a_visible_alias_of_route_code() {
    let input = b"hello\nPASS: t\n";
    let run = |option: &str| {
        let mut cmd = ours("subunit-wrap");
        cmd.args(["--no-timestamps", option, "7"]);
        run_with_input(cmd, input)
    };
    let (long, alias) = (run("--route-code"), run("--route"));
    assert!(long.status.success() && alias.status.success(), "{alias:?}");
    assert_eq!(alias.stdout, long.stdout);
    let routes: Vec<Option<String>> = decode_all(&alias.stdout[..])
        .into_iter()
        .map(|i| match i {
            Decoded::Packet(e, _) => e.route_code,
            Decoded::Chatter(_) => panic!("chatter in the output"),
        })
        .collect();
    assert!(routes.len() >= 3, "{routes:?}");
    assert!(
        routes.iter().all(|r| r.as_deref() == Some("7")),
        "{routes:?}"
    );
    let help = ours("subunit-wrap").arg("--help").output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(
        help.contains("--route-code <CODE>") && help.contains("[alias: --route]"),
        "{help}"
    );
}

// ---------------------------------------------------------------------
// Signals in command mode
// ---------------------------------------------------------------------

/// `subunit-wrap --no-timestamps -- sh -c SCRIPT` with its stdout read on a
/// thread, started with every signal at its default action (a test run in
/// the background of a script would otherwise pass SIGINT on ignored).
struct Wrapped {
    wrap: Running,
    stdout: thread::JoinHandle<Vec<u8>>,
    test_id: String,
}

fn spawn_wrapped(script: &str, stdin: Stdio, setup: fn() -> std::io::Result<()>) -> Wrapped {
    use std::os::unix::process::CommandExt;
    let mut cmd = ours("subunit-wrap");
    cmd.args(["--no-timestamps", "--", "sh", "-c", script])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only signal(2) and the setup's
    // system calls, on no shared data.
    unsafe {
        cmd.pre_exec(move || {
            for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            setup()
        });
    }
    let mut wrap = Running(cmd.spawn().expect("spawn subunit-wrap"));
    let mut out = wrap.stdout.take().expect("stdout");
    let stdout = thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).expect("read the output");
        bytes
    });
    Wrapped {
        wrap,
        stdout,
        // As subunit-wrap quotes the command line.
        test_id: format!("sh -c '{}'", script.replace('\'', r"'\''")),
    }
}

impl Wrapped {
    /// Waits for subunit-wrap to end; its status, the contents of the
    /// command's stdout file, and the command's test's last packet, which
    /// must be the last of the output. The output must be whole packets.
    fn finish(mut self, what: &str) -> (ExitStatus, Vec<u8>, OwnedEvent) {
        let status = wait_within(&mut self.wrap, what);
        let out = self.stdout.join().expect("stdout thread");
        let mut stdout = Vec::new();
        let mut last = None;
        for item in decode_all(&out[..]) {
            let Decoded::Packet(e, _) = item else {
                panic!("{what}: chatter (a torn packet?) in the output: {item:?}")
            };
            match &e.file {
                Some((name, content)) if e.test_id.is_none() && name == "stdout" => {
                    stdout.extend_from_slice(content)
                }
                _ => {}
            }
            last = Some(e);
        }
        let last = last.unwrap_or_else(|| panic!("{what}: no output"));
        assert_eq!(
            last.test_id.as_deref(),
            Some(self.test_id.as_str()),
            "{what}: the command's test ends the output"
        );
        (status, stdout, last)
    }
}

/// The command's test's exit-status note.
fn exit_note(e: &OwnedEvent) -> String {
    let (name, content) = e.file.as_ref().expect("an exit-status attachment");
    assert_eq!(name, "exit-status");
    String::from_utf8_lossy(content).into_owned()
}

fn no_setup() -> std::io::Result<()> {
    Ok(())
}

#[test]
fn a_signal_to_wrap_reaches_the_command_and_wrap_ends_by_it() {
    use std::os::unix::process::ExitStatusExt;
    for (signal, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
    ] {
        let dir = TempDir::new(&format!("signal-{signal}"));
        let pid_file = dir.path("pid");
        let script = format!(
            "echo ready; echo $$ > '{}'; exec sleep 60",
            pid_file.display()
        );
        let run = spawn_wrapped(&script, Stdio::null(), no_setup);
        let wrap_pid = run.wrap.id();
        // The command runs: "ready" is in its pipe, and it is sleep now.
        let child = pid_in(&pid_file);
        send(wrap_pid, signal);
        let (status, stdout, last) = run.finish(&format!("after {name}"));
        assert_eq!(status.signal(), Some(signal), "{name}: {status:?}");
        assert!(gone_within(child), "{name}: the command {child} still runs");
        assert_eq!(stdout, b"ready\n", "{name}: what the command wrote");
        assert_eq!(last.status, Status::Fail, "{name}");
        assert_eq!(
            exit_note(&last),
            format!("killed by signal {signal} ({name})\n")
        );
    }
}

/// What a command started and left running (`server &`) may hold its
/// output open after it ended: a signal must still end subunit-wrap, with
/// whole packets and the command's result last, whether it came before
/// the command ended (and was passed on) or after (nobody else to take it).
/// The signal reaches that process too: here it ignores it.
#[test]
fn a_signal_ends_wrap_though_what_the_command_started_holds_its_output() {
    use std::os::unix::process::ExitStatusExt;
    for after_the_end in [false, true] {
        let dir = TempDir::new(&format!("held-open-{after_the_end}"));
        let (pid_file, bg_file, ignoring) = (dir.path("pid"), dir.path("bg"), dir.path("ignoring"));
        let ending = if after_the_end { "exit 0" } else { "wait" };
        let script = format!(
            "(trap '' TERM; echo > '{}'; exec sleep 60) & echo $! > '{}'; echo ready; \
             echo $$ > '{}'; {ending}",
            ignoring.display(),
            bg_file.display(),
            pid_file.display()
        );
        let run = spawn_wrapped(&script, Stdio::null(), no_setup);
        let wrap_pid = run.wrap.id();
        let child = pid_in(&pid_file);
        // Killed at the end, whatever happens.
        struct Kill(u32);
        impl Drop for Kill {
            fn drop(&mut self) {
                send(self.0, libc::SIGKILL);
            }
        }
        let _held_by = Kill(pid_in(&bg_file));
        line_in(&ignoring);
        if after_the_end {
            assert!(gone_within(child), "the command ended");
        }
        send(wrap_pid, libc::SIGTERM);
        let (status, stdout, last) =
            run.finish(&format!("SIGTERM, after the end: {after_the_end}"));
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
        assert_eq!(stdout, b"ready\n");
        let (outcome, note) = if after_the_end {
            (Status::Success, "exit status 0 after SIGTERM")
        } else {
            (Status::Fail, "killed by signal 15 (SIGTERM)")
        };
        assert_eq!(last.status, outcome);
        assert_eq!(
            exit_note(&last),
            format!("{note}; its output was still open\n")
        );
    }
}

#[test]
fn a_command_that_handles_the_signal_decides_the_outcome() {
    let dir = TempDir::new("handled");
    let pid_file = dir.path("pid");
    // The trap stops the command's own sleep (so that nothing keeps its
    // output open), says so and exits 0.
    let script = format!(
        "trap 'kill $s; echo handled; exit 0' TERM; sleep 60 >/dev/null 2>&1 & s=$!; \
         echo $$ > '{}'; wait $s",
        pid_file.display()
    );
    let run = spawn_wrapped(&script, Stdio::null(), no_setup);
    let wrap_pid = run.wrap.id();
    let child = pid_in(&pid_file);
    send(wrap_pid, libc::SIGTERM);
    let (status, stdout, last) = run.finish("after SIGTERM, handled");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(gone_within(child), "the command {child} still runs");
    assert_eq!(stdout, b"handled\n");
    assert_eq!(last.status, Status::Success);
    assert_eq!(exit_note(&last), "exit status 0 after SIGTERM\n");
}

/// A pseudo-terminal: the master the test types into, the slave that is
/// subunit-wrap's standard input and controlling terminal.
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // SAFETY: the fd is checked and owned by the File made from it; the
    // name buffer is large enough and NUL-terminated by ptsname_r.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = std::fs::File::from_raw_fd(master);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let name = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .expect("UTF-8 pty name")
            .to_owned();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&name)
            .expect("open the pty's slave");
        (master, slave)
    }
}

/// subunit-wrap in a session of its own on the terminal on its stdin, its
/// process group in the foreground there, as a shell runs a command.
fn on_the_terminal() -> std::io::Result<()> {
    // SAFETY: system calls on our own process and standard input.
    unsafe {
        if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits until every thread of process `pid` is stopped (by SIGSTOP).
fn stopped_within(pid: u32) {
    let deadline = std::time::Instant::now() + common::procs::TIMEOUT;
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
        let all_stopped = tasks.filter_map(Result::ok).all(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('T'))
            })
        });
        if all_stopped {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{pid} did not stop");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_reaches_the_command_once_and_wrap_ends_as_it_did() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("ctrl-c");
    let (pid_file, count, last_count) = (dir.path("pid"), dir.path("count"), dir.path("last"));

    // A command that counts the SIGINTs it gets, and on SIGTERM writes the
    // count down and exits 0 (or does so after 30 s).
    let script = format!(
        "trap 'n=$((n+1)); echo $n > {count}' INT; trap 'echo $n > {last}; exit 0' TERM; \
         n=0; i=0; echo $$ > {pid}; \
         while [ $i -lt 600 ]; do sleep 0.05 </dev/null; i=$((i+1)); done",
        count = count.display(),
        last = last_count.display(),
        pid = pid_file.display(),
    );
    let (mut master, slave) = pty();
    let run = spawn_wrapped(&script, Stdio::from(slave), on_the_terminal);
    let wrap_pid = run.wrap.id();
    let child = pid_in(&pid_file);
    // Ctrl-C while subunit-wrap is stopped: the command takes the
    // terminal's SIGINT first, so that one passed on by subunit-wrap once
    // it goes on could not merge with it, and would be counted.
    send(wrap_pid, libc::SIGSTOP);
    stopped_within(wrap_pid);
    master.write_all(b"\x03").expect("type Ctrl-C");
    assert_eq!(
        line_in(&count),
        "1",
        "the command got the terminal's SIGINT"
    );
    send(wrap_pid, libc::SIGCONT);
    // subunit-wrap takes the SIGINT (pending, a lower number) before this
    // SIGTERM, which it passes on: the command counts a SIGINT passed on
    // before it ends.
    send(wrap_pid, libc::SIGTERM);
    let (status, _, last) = run.finish("after Ctrl-C and SIGTERM, handled");
    assert_eq!(
        line_in(&last_count),
        "1",
        "the command got the terminal's SIGINT again from subunit-wrap"
    );
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(gone_within(child), "the command {child} still runs");
    assert_eq!(last.status, Status::Success);
    assert_eq!(exit_note(&last), "exit status 0 after SIGINT, SIGTERM\n");

    // A command that Ctrl-C kills: subunit-wrap reports it and ends by
    // SIGINT too, so that a shell running it knows it was interrupted.
    let pid_file = dir.path("pid2");
    let script = format!(
        "echo ready; echo $$ > '{}'; exec sleep 60",
        pid_file.display()
    );
    let (mut master, slave) = pty();
    let run = spawn_wrapped(&script, Stdio::from(slave), on_the_terminal);
    let child = pid_in(&pid_file);
    master.write_all(b"\x03").expect("type Ctrl-C");
    let (status, stdout, last) = run.finish("after Ctrl-C");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(gone_within(child), "the command {child} still runs");
    assert_eq!(stdout, b"ready\n");
    assert_eq!(last.status, Status::Fail);
    assert_eq!(exit_note(&last), "killed by signal 2 (SIGINT)\n");
    drop(master);
}
