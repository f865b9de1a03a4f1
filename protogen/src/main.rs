//! `cloudgate-protogen`: generate cloudgate protos from vendor API metadata.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cloudgate_protogen::Cli::parse();
    let started = std::time::Instant::now();
    match cloudgate_protogen::run(&cli.args) {
        Ok(summary) => {
            print!("{summary}");
            eprintln!("done in {:.2} s", started.elapsed().as_secs_f64());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cloudgate-protogen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
