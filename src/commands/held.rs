//! What subunit-filter and subunit-2to1 share: tests in progress held until
//! they end, in at most `--max-held` of memory (see
//! [`crate::results::group`]), with the grouper's warnings shown and its
//! read-back errors named.

use crate::cli::{self, Error};
use crate::codec::packet::Packet;
use crate::results::group::{Grouper, Test};

/// The `--max-held` option.
#[derive(Clone, Debug, clap::Args)]
pub struct HeldArgs {
    /// Memory for the packets of tests in progress (K, M, G, T: powers of
    /// 1024); beyond it, those of the tests that started first wait in a
    /// temporary file in $TMPDIR until they end.
    #[arg(
        long = "max-held",
        value_name = "SIZE",
        default_value = "256M",
        value_parser = cli::parse_size,
    )]
    pub max_held: usize,
}

/// The man page section on tests in progress, with what the command does
/// with a test it hands on early (`$forced`, a sentence).
macro_rules! held_man {
    ($forced:literal) => {
        (
            "TESTS IN PROGRESS",
            concat!(
                "A test's packets are held until its outcome is known, in at most \
                 --max-held of memory (256M unless given). Beyond it, the packets of the \
                 tests that started first go to a temporary file in $TMPDIR (/tmp when it \
                 is not set), which has no name and is gone when the command ends, and \
                 are read back when their test ends, so the output is the same; a warning \
                 says so on standard error the first time. A test is read back whole when \
                 it ends, so the largest single test is still in memory once, while it is \
                 written. If the temporary file cannot be written (a full disk), the test \
                 held that started first is handed on before its end instead, with a \
                 warning naming it: ",
                $forced,
                " python-subunit holds every test in progress in memory, without a bound."
            ),
        )
    };
}
pub(crate) use held_man;

/// Tests in progress; see the module documentation.
#[derive(Debug)]
pub struct HeldTests {
    grouper: Grouper,
    command: &'static str,
}

impl HeldTests {
    /// None yet, for the command called `command`.
    pub fn new(command: &'static str, args: &HeldArgs) -> HeldTests {
        HeldTests {
            grouper: Grouper::with_max_held(args.max_held, &std::env::temp_dir()),
            command,
        }
    }

    /// [`Grouper::add`]; its warnings go to stderr.
    #[inline(always)]
    pub fn add(&mut self, packet: &Packet<'_>) -> Result<bool, Error> {
        let added = self.grouper.add(packet);
        if self.grouper.has_notice() {
            self.tell();
        }
        added.map_err(read_back_error)
    }

    #[cold]
    fn tell(&mut self) {
        while let Some(notice) = self.grouper.notice() {
            eprintln!("{}: warning: {notice}", self.command);
        }
    }

    /// [`Grouper::forced_out`].
    #[inline]
    pub fn forced_out(&mut self) -> Option<Test> {
        self.grouper.forced_out()
    }

    /// [`Grouper::ended`].
    #[inline]
    pub fn ended(&self) -> &Test {
        self.grouper.ended()
    }

    /// [`Grouper::finish`].
    pub fn finish(&mut self) -> impl Iterator<Item = Result<Test, Error>> + '_ {
        self.grouper
            .finish()
            .map(|test| test.map_err(read_back_error))
    }
}

fn read_back_error(source: std::io::Error) -> Error {
    Error::Read {
        input: "the temporary file of tests in progress".into(),
        source,
    }
}
