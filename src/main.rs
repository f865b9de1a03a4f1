//! The `cloudgate` command: `serve` (the gateway, optionally with the built-in
//! vendor emulator), `emulator` (the emulator alone), `catalog` (what would be
//! served), `check-config` and `loadtest` (drive a method of any gateway and
//! summarise what came back).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::config::LogFormat;
use cloudgate::credentials::{process_env, Credential, CredentialStore};
use cloudgate::emulator::{self, EmulatorConfig};
use cloudgate::{app, server};

#[derive(Parser)]
#[command(
    name = "cloudgate",
    version,
    about = "gRPC gateway to Alibaba Cloud and Tencent Cloud RPC APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC gateway.
    Serve {
        /// TOML config file (every key optional).
        #[arg(long)]
        config: Option<PathBuf>,
        /// gRPC listen address (overrides the config's `listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Start the vendor emulator in-process, point every endpoint at it and
        /// sign with throwaway credentials it accepts.
        #[arg(long)]
        emulate: bool,
        /// Allow listening on a non-loopback address without caller authentication.
        #[arg(long)]
        insecure: bool,
        /// Also serve every operation described by the .proto files under DIR (repeatable).
        #[arg(long = "proto-dir", value_name = "DIR")]
        proto_dirs: Vec<PathBuf>,
    },
    /// Run the vendor emulator alone (demo keys; see README).
    Emulator {
        /// HTTP listen address.
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: SocketAddr,
        /// Also emulate every operation described by the .proto files under DIR (repeatable).
        #[arg(long = "proto-dir", value_name = "DIR")]
        proto_dirs: Vec<PathBuf>,
    },
    /// Validate a config file and print the effective settings (secrets masked).
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
        /// Proto directories loaded on top of the config's `[catalog] proto_dirs`.
        #[arg(long = "proto-dir", value_name = "DIR")]
        proto_dirs: Vec<PathBuf>,
    },
    /// List every operation the gateway would serve: gRPC path, vendor, product,
    /// version, documented QPS and its source, mutating, safe to retry.
    Catalog {
        /// Proto directories loaded on top of the embedded operations (repeatable).
        #[arg(long = "proto-dir", value_name = "DIR")]
        proto_dirs: Vec<PathBuf>,
        /// One JSON array, an object per operation.
        #[arg(long)]
        json: bool,
        /// Also write the files loaded from the --proto-dir directories as one
        /// descriptor set (imports included, embedded files left out); a
        /// --proto-dir holding it starts much faster than one of .proto text.
        #[arg(long, value_name = "FILE")]
        descriptor_set_out: Option<PathBuf>,
    },
    /// Generate cloudgate protos from a vendor's published API metadata (Tencent
    /// api.json, Alibaba api-docs.json); serve them with --proto-dir.
    Protogen(cloudgate_protogen::Args),
    /// Drive one gRPC method of a gateway at a target rate and concurrency for a bounded
    /// time, showing progress on stderr, then print a summary.
    Loadtest(LoadtestArgs),
}

/// `cloudgate loadtest` options.
#[derive(Args)]
struct LoadtestArgs {
    /// The gateway, http://host:port (or host:port).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// pkg.Service/Method, /pkg.Service/Method or pkg.Service.Method.
    #[arg(long)]
    method: String,
    /// The request, proto3 JSON of the method's input message.
    #[arg(long, default_value = "{}")]
    data: String,
    /// Calls started per second on a fixed schedule; 0 = as fast as the concurrency allows.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Most calls in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long calls are started (10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = cloudgate::loadtest::parse_duration)]
    duration: Duration,
    /// Most calls started (at most 1000000).
    #[arg(long, default_value_t = cloudgate::loadtest::MAX_CALLS_CAP)]
    max_calls: u64,
    /// gRPC metadata for every call, `key: value` (repeatable).
    #[arg(short = 'H', long = "header", value_parser = cloudgate::loadtest::parse_header)]
    headers: Vec<(String, String)>,
    /// Bound of one call (and of connecting).
    #[arg(long, default_value = "5s", value_parser = cloudgate::loadtest::parse_duration)]
    timeout: Duration,
    /// The vendor emulator's base URL: report what it saw of the action.
    #[arg(long)]
    emulator: Option<String>,
    /// Reset the emulator before the run (POST /_emulator/reset).
    #[arg(long, requires = "emulator")]
    emulator_reset: bool,
    /// Print the summary as one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a file or a pipe gets plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        init_tracing(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Serve {
            config,
            listen,
            emulate,
            insecure,
            proto_dirs,
        } => serve(config, listen, emulate, insecure, &proto_dirs).await,
        Command::Emulator { listen, proto_dirs } => run_emulator(listen, &proto_dirs).await,
        Command::CheckConfig { file, proto_dirs } => check_config(&file, &proto_dirs).await,
        Command::Catalog {
            proto_dirs,
            json,
            descriptor_set_out,
        } => list_catalog(&proto_dirs, json, descriptor_set_out.as_deref()),
        Command::Protogen(args) => cloudgate_protogen::run(&args)
            .map(|summary| print!("{summary}"))
            .map_err(|e| e.to_string()),
        Command::Loadtest(args) => loadtest(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloudgate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    config_path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    emulate: bool,
    insecure: bool,
    proto_dirs: &[PathBuf],
) -> Result<(), String> {
    let (catalog, mut config) =
        cloudgate::config::load_with_catalog(config_path.as_deref(), proto_dirs)?;
    let catalog = Arc::new(catalog);
    if let Some(addr) = listen {
        config.listen = addr;
    }
    init_tracing(config.log_format);
    // Without caller authentication, anyone who reaches the port acts with the
    // gateway's cloud credentials.
    let authenticated = config
        .auth
        .as_ref()
        .is_some_and(|a| a.authenticates_callers());
    if let Some(auth) = config.auth.as_ref() {
        if auth.tls.is_none() && !auth.tokens.is_empty() {
            tracing::warn!(
                "[auth.tokens] without [auth.tls]: bearer tokens cross the network in plaintext"
            );
        }
    }
    if !config.listen.ip().is_loopback() && !insecure && !authenticated {
        return Err(format!(
            "refusing to listen on {}: no caller authentication is configured, so anyone who can \
             reach this port could act with the gateway's cloud credentials; configure [auth] callers \
             (client certificates or tokens), listen on a loopback address, or pass --insecure if the network itself restricts who can connect",
            config.listen
        ));
    }

    let mut emulator_handle = None;
    let credentials = if emulate {
        let emu_config = EmulatorConfig::random();
        let pick = |vendor: Vendor| -> Result<Credential, String> {
            let key = emu_config
                .keys
                .iter()
                .find(|k| k.vendor == vendor)
                .ok_or("emulator has no key for a vendor")?;
            Credential::new(
                key.id.clone(),
                key.secret.clone(),
                key.token.clone(),
                "emulator (throwaway)",
            )
        };
        let store = CredentialStore::fixed(pick(Vendor::Alibaba)?, pick(Vendor::Tencent)?);
        let handle = emulator::spawn(
            "127.0.0.1:0".parse().expect("valid address"),
            emu_config,
            catalog.clone(),
        )
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
        let base: url::Url = handle
            .base_url()
            .parse()
            .map_err(|e| format!("emulator URL: {e}"))?;
        for key in catalog.endpoint_keys() {
            config.endpoints.insert(key.to_string(), base.clone());
        }
        println!("vendor emulator listening on {}", handle.base_url());
        emulator_handle = Some(handle);
        store
    } else {
        let home = dirs::home_dir();
        CredentialStore::from_config(&config, &process_env, home.as_deref())
    };
    // Expiring sources (STS, instance roles) fetch their first credential now.
    credentials.prefetch().await;
    for (profile, vendor, what) in credentials.describe() {
        tracing::info!(%profile, vendor, credential = %what, "credentials");
    }

    if !config.preload.is_empty() {
        let started = std::time::Instant::now();
        let built = catalog.preload(&config.preload);
        tracing::info!(
            products = built,
            ms = started.elapsed().as_millis() as u64,
            "catalog.preload: descriptors built before listening"
        );
    }

    let listen = config.listen;
    let grace = config.shutdown_grace;
    let metrics = cloudgate::metrics::install();
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = match config.admin_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} (admin.listen): {e}"))?;
            println!(
                "admin (metrics) listening on http://{}/metrics",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            Some(tokio::spawn(cloudgate::admin::serve(
                listener,
                metrics,
                async move {
                    let _ = admin_stopped.await;
                },
            )))
        }
        None => None,
    };
    let gateway = app::build(config, catalog, credentials).map_err(|e| e.to_string())?;
    let listener = server::bind(listen).await.map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("cloudgate listening on {local}");
    let result = server::serve(listener, gateway, grace, server::shutdown_signal()).await;
    let _ = admin_stop.send(());
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    if let Some(handle) = emulator_handle {
        handle.shutdown().await;
    }
    result.map_err(|e| e.to_string())
}

async fn check_config(file: &std::path::Path, proto_dirs: &[PathBuf]) -> Result<(), String> {
    let (catalog, config) = cloudgate::config::load_with_catalog(Some(file), proto_dirs)?;
    let home = dirs::home_dir();
    let credentials = CredentialStore::from_config(&config, &process_env, home.as_deref());
    credentials.prefetch().await;
    print!(
        "{}",
        cloudgate::check_config::report(&config, &catalog, &credentials)
    );
    println!("\n{}: OK", file.display());
    Ok(())
}

/// The embedded catalog plus `dirs`.
fn catalog_with(dirs: &[PathBuf]) -> Result<Catalog, String> {
    Catalog::load_with_dirs(dirs).map_err(|e| format!("catalog: {e}"))
}

fn list_catalog(proto_dirs: &[PathBuf], json: bool, set_out: Option<&Path>) -> Result<(), String> {
    let catalog = catalog_with(proto_dirs)?;
    if let Some(out) = set_out {
        if proto_dirs.is_empty() {
            return Err("--descriptor-set-out writes the files of --proto-dir; none given".into());
        }
        std::fs::write(out, catalog.loaded_descriptor_set())
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    let ops = cloudgate::catalog::listing(&catalog);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&ops).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", cloudgate::catalog::table(&ops));
    }
    Ok(())
}

async fn run_emulator(listen: SocketAddr, proto_dirs: &[PathBuf]) -> Result<(), String> {
    let catalog = Arc::new(catalog_with(proto_dirs)?);
    let handle = emulator::spawn(listen, EmulatorConfig::demo(), catalog)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("emulator listening on {}", handle.base_url());
    server::shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

async fn loadtest(args: LoadtestArgs) -> Result<(), String> {
    let opts = cloudgate::loadtest::LoadTestOptions {
        addr: args.addr,
        method: args.method,
        data: args.data,
        rate: args.rate,
        concurrency: args.concurrency,
        duration: args.duration,
        max_calls: args.max_calls,
        headers: args.headers,
        timeout: args.timeout,
        emulator: args.emulator,
        emulator_reset: args.emulator_reset,
    };
    let report = cloudgate::loadtest::run(opts, |p| eprintln!("{p}"))
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", report.to_json().map_err(|e| e.to_string())?);
    } else {
        print!("{report}");
    }
    Ok(())
}
