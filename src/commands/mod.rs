//! One module per command: its arguments (a clap derive struct), its `run`
//! function and the extra sections of its man page. The binaries in
//! `src/bin/` parse arguments and call `run`; the man pages and completions
//! in `man/` and `completions/` are generated from [`docs`].

use clap::CommandFactory;

pub mod csv;
pub mod filter;
pub mod gojson2subunit;
pub mod held;
pub mod html;
pub mod junitxml2subunit;
pub mod ls;
pub mod mux;
pub mod notify;
pub mod output;
pub mod port_alloc;
pub mod stats;
pub mod subunit2disk;
pub mod subunit2json;
pub mod subunit2junitxml;
pub mod tags;
pub mod tap2subunit;
pub mod text_input;
pub mod trace;
pub mod v1_to_v2;
pub mod v2_to_v1;
pub mod wrap;

/// What the man page and completions of one command are made from.
pub struct Doc {
    /// The command's clap definition (name, options, help).
    pub command: clap::Command,
    /// Man page sections after OPTIONS: (heading, roff-free text) pairs;
    /// blank lines separate paragraphs.
    pub sections: &'static [(&'static str, &'static str)],
}

/// Every command of the toolkit.
pub fn docs() -> Vec<Doc> {
    vec![
        Doc {
            command: crate::cli::command(stats::Args::command()),
            sections: stats::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(subunit2json::Args::command()),
            sections: subunit2json::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(wrap::Args::command()),
            sections: wrap::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(filter::Args::command()),
            sections: filter::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(v2_to_v1::Args::command()),
            sections: v2_to_v1::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(v1_to_v2::Args::command()),
            sections: v1_to_v2::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(mux::Args::command()),
            sections: mux::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(port_alloc::Args::command()),
            sections: port_alloc::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(subunit2disk::Args::command()),
            sections: subunit2disk::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(notify::Args::command()),
            sections: notify::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(junitxml2subunit::Args::command()),
            sections: junitxml2subunit::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(tap2subunit::Args::command()),
            sections: tap2subunit::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(gojson2subunit::Args::command()),
            sections: gojson2subunit::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(ls::Args::command()),
            sections: ls::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(tags::Args::command()),
            sections: tags::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(csv::Args::command()),
            sections: csv::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(output::Args::command()),
            sections: output::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(html::Args::command()),
            sections: html::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(trace::Args::command()),
            sections: trace::MAN_SECTIONS,
        },
        Doc {
            command: crate::cli::command(subunit2junitxml::Args::command()),
            sections: subunit2junitxml::MAN_SECTIONS,
        },
    ]
}
