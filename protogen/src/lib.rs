//! cloudgate protogen: protos from the vendors' API metadata.
