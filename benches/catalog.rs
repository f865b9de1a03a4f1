//! What loading the catalog costs, and what the first call of each product
//! adds: `cargo bench --bench catalog`. Prints the time to read every
//! operation's options (each product's descriptor pool built and dropped),
//! the resident memory after it, and for each product the time and memory of
//! building its descriptors on first use. Figures, not assertions.

use std::time::Instant;

use cloudgate::catalog::Catalog;

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    println!(
        "catalog bench ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let before = rss_mib();
    let started = Instant::now();
    let catalog = Catalog::load().expect("embedded catalog");
    println!(
        "  load, embedded: {} operations in {} services, {:.0} ms, RSS {:.0} -> {:.0} MiB",
        catalog.operations().len(),
        catalog.services().len(),
        started.elapsed().as_secs_f64() * 1e3,
        before,
        rss_mib()
    );
    let mut services: Vec<_> = catalog.services().iter().collect();
    services.sort_by_key(|s| {
        std::cmp::Reverse(
            catalog
                .operations()
                .iter()
                .filter(|o| o.service.full_name == s.full_name)
                .count(),
        )
    });
    println!("  first use of each product (descriptor pool + field specs built):");
    for s in services {
        let ops = catalog
            .operations()
            .iter()
            .filter(|o| o.service.full_name == s.full_name)
            .count();
        let before = rss_mib();
        let started = Instant::now();
        let _ = s.unit.runtime();
        println!(
            "    {:<45} {:>5} ops  {:>7.1} ms  +{:>5.1} MiB",
            s.full_name,
            ops,
            started.elapsed().as_secs_f64() * 1e3,
            rss_mib() - before
        );
    }
    println!("  RSS with every product built: {:.0} MiB", rss_mib());
}
