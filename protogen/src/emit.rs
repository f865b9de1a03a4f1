//! Writes a product as `.proto` text in the seeds' style.

use std::fmt::Write;

use crate::model::{Field, Message, Method, Product, Type, Vendor};
use crate::text::{proto_string, wrap};

const WIDTH: usize = 96;

fn comment(out: &mut String, indent: &str, text: &str, fallback: &str) {
    let text = if text.trim().is_empty() {
        fallback
    } else {
        text
    };
    for para in text.split('\n') {
        let lines = wrap(para.trim(), WIDTH.saturating_sub(indent.len()));
        if lines.is_empty() {
            let _ = writeln!(out, "{indent}//");
        }
        for l in lines {
            let _ = writeln!(out, "{indent}// {l}");
        }
    }
}

fn qps(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn type_name(p: &Product, t: &Type) -> String {
    match t {
        Type::Scalar(s) => s.clone(),
        Type::Message(id) => p.messages[*id].name.clone(),
        Type::Value => "google.protobuf.Value".into(),
        Type::Map(v) => format!("map<string, {}>", type_name(p, v)),
    }
}

/// Whether any field uses `google.protobuf.Value`.
fn uses_value(p: &Product) -> bool {
    fn has(t: &Type) -> bool {
        match t {
            Type::Value => true,
            Type::Map(v) => has(v),
            _ => false,
        }
    }
    p.messages
        .iter()
        .any(|m| m.fields.iter().any(|f| has(&f.ty)))
}

fn field_options(f: &Field) -> Vec<String> {
    let r = &f.rule;
    let mut o = vec![format!("name: {}", proto_string(&f.vendor_name))];
    if r.required {
        o.push("required: true".into());
    }
    if !r.allowed_values.is_empty() {
        let vals: Vec<String> = r.allowed_values.iter().map(|v| proto_string(v)).collect();
        o.push(format!("allowed_values: [{}]", vals.join(", ")));
    }
    if let Some(e) = &r.encoding {
        o.push(format!("encoding: WIRE_ENCODING_{e}"));
    }
    if !r.pattern.is_empty() {
        o.push(format!("pattern: {}", proto_string(&r.pattern)));
    }
    if !r.pattern_description.is_empty() {
        o.push(format!(
            "pattern_description: {}",
            proto_string(&r.pattern_description)
        ));
    }
    if r.min_value != 0 {
        o.push(format!("min_value: {}", r.min_value));
    }
    if r.max_value != 0 {
        o.push(format!("max_value: {}", r.max_value));
    }
    if r.max_length != 0 {
        o.push(format!("max_length: {}", r.max_length));
    }
    if !r.example.is_empty() {
        o.push(format!("example: {}", proto_string(&r.example)));
    }
    if r.sensitive {
        o.push("sensitive: true".into());
    }
    if r.form {
        o.push("form: true".into());
    }
    if r.idempotency_token {
        o.push("idempotency_token: true".into());
    }
    if r.min_length != 0 {
        o.push(format!("min_length: {}", r.min_length));
    }
    o
}

/// Request scalars with explicit presence: every optional one, and required
/// numbers and booleans, so that a required 0 or false can be sent (proto3
/// implicit presence cannot tell it from "not set"). Required strings and
/// bytes keep implicit presence: empty means missing.
fn explicit_presence(f: &Field) -> bool {
    match &f.ty {
        Type::Scalar(t) => !f.rule.required || !matches!(t.as_str(), "string" | "bytes"),
        _ => false,
    }
}

fn write_field(out: &mut String, p: &Product, m: &Message, f: &Field) {
    comment(
        out,
        "  ",
        &f.comment,
        &format!("The vendor's {} member.", f.vendor_name),
    );
    let ty = type_name(p, &f.ty);
    let label = if matches!(f.ty, Type::Map(_)) {
        ""
    } else if f.repeated {
        "repeated "
    } else if m.request_side && explicit_presence(f) {
        "optional "
    } else {
        ""
    };
    let opts = field_options(f);
    let deprecated = if f.deprecated {
        "deprecated = true, "
    } else {
        ""
    };
    if opts.len() == 1 {
        let _ = writeln!(
            out,
            "  {label}{ty} {} = {} [{deprecated}(cloudgate.v1.field) = {{{}}}];",
            f.name, f.number, opts[0]
        );
    } else {
        let _ = writeln!(
            out,
            "  {label}{ty} {} = {} [{deprecated}(cloudgate.v1.field) = {{",
            f.name, f.number
        );
        for o in opts {
            let _ = writeln!(out, "    {o}");
        }
        let _ = writeln!(out, "  }}];");
    }
}

fn write_message(out: &mut String, p: &Product, m: &Message) {
    out.push('\n');
    comment(
        out,
        "",
        &m.comment,
        &format!("The vendor's {} structure.", m.key),
    );
    let _ = writeln!(out, "message {} {{", m.name);
    let mut fields: Vec<&Field> = m.fields.iter().collect();
    fields.sort_by_key(|f| f.number);
    for f in fields {
        write_field(out, p, m, f);
    }
    if !m.reserved.is_empty() {
        let nums: Vec<String> = m.reserved.iter().map(|r| r.0.to_string()).collect();
        let names: Vec<String> = m.reserved.iter().map(|r| proto_string(&r.1)).collect();
        let _ = writeln!(out, "  reserved {};", nums.join(", "));
        let _ = writeln!(out, "  reserved {};", names.join(", "));
    }
    out.push_str("}\n");
}

fn write_method(out: &mut String, p: &Product, m: &Method) {
    out.push('\n');
    comment(out, "  ", &m.comment, &format!("Calls {}.", m.action));
    let req = &p.messages[m.request].name;
    let resp = &p.messages[m.response].name;
    let _ = writeln!(out, "  rpc {}({req}) returns ({resp}) {{", m.name);
    let _ = writeln!(out, "    option (cloudgate.v1.method) = {{");
    let _ = writeln!(out, "      action: {}", proto_string(&m.action));
    if m.documented_qps != 0.0 {
        let _ = writeln!(out, "      documented_qps: {}", qps(m.documented_qps));
        if !m.qps_scope.is_empty() {
            let _ = writeln!(out, "      qps_scope: {}", proto_string(&m.qps_scope));
        }
        if !m.qps_source.is_empty() {
            let _ = writeln!(out, "      qps_source: {}", proto_string(&m.qps_source));
        }
    }
    let _ = writeln!(out, "      mutating: {}", m.mutating);
    let _ = writeln!(out, "      safe_to_retry: {}", m.safe_to_retry);
    if !m.iam_action.is_empty() {
        let _ = writeln!(out, "      iam_action: {}", proto_string(&m.iam_action));
    }
    for e in &m.errors {
        let mut line = format!("      errors {{code: {}", proto_string(&e.code));
        if e.http_status != 0 {
            let _ = write!(line, " http_status: {}", e.http_status);
        }
        if !e.meaning.is_empty() {
            let _ = write!(line, " meaning: {}", proto_string(&e.meaning));
        }
        let _ = write!(
            line,
            " grpc_code: GRPC_CODE_{} class: ERROR_CLASS_{}}}",
            e.grpc_code, e.class
        );
        let _ = writeln!(out, "{line}");
    }
    if !m.sample_response.is_empty() {
        let _ = writeln!(
            out,
            "      sample_response: {}",
            proto_string(&m.sample_response)
        );
    }
    let _ = writeln!(out, "    }};");
    if m.deprecated {
        let _ = writeln!(out, "    option deprecated = true;");
    }
    let _ = writeln!(out, "  }}");
}

/// The proto file text of a product (names and numbers already assigned).
pub fn render(p: &Product) -> String {
    let mut out = String::new();
    for h in &p.header {
        let lines = wrap(h, WIDTH);
        if lines.is_empty() {
            out.push_str("//\n");
        }
        for (i, l) in lines.iter().enumerate() {
            let indent = if i == 0 { "" } else { "  " };
            let _ = writeln!(out, "// {indent}{l}");
        }
    }
    out.push_str("syntax = \"proto3\";\n\n");
    let _ = writeln!(out, "package {};\n", p.package());
    out.push_str("import \"cloudgate/v1/options.proto\";\n");
    if uses_value(p) {
        out.push_str("import \"google/protobuf/struct.proto\";\n");
    }
    out.push('\n');
    comment(&mut out, "", &p.service_comment, "The vendor's API.");
    let _ = writeln!(out, "service {} {{", p.service_name);
    out.push_str("  option (cloudgate.v1.service) = {\n");
    let vendor = match p.vendor {
        Vendor::Alibaba => "VENDOR_ALIBABA",
        Vendor::Tencent => "VENDOR_TENCENT",
    };
    let _ = writeln!(out, "    vendor: {vendor}");
    let _ = writeln!(out, "    product: {}", proto_string(&p.product));
    let _ = writeln!(out, "    version: {}", proto_string(&p.version));
    let _ = writeln!(out, "    endpoint_key: {}", proto_string(&p.endpoint_key));
    let _ = writeln!(out, "    host_template: {}", proto_string(&p.host_template));
    for (region, host) in &p.region_hosts {
        let _ = writeln!(
            out,
            "    region_hosts {{region: {} host: {}}}",
            proto_string(region),
            proto_string(host)
        );
    }
    if !p.default_region.is_empty() {
        let _ = writeln!(
            out,
            "    default_region: {}",
            proto_string(&p.default_region)
        );
    }
    if p.region_required {
        out.push_str("    region_required: true\n");
    }
    if !p.signing_service.is_empty() {
        let _ = writeln!(
            out,
            "    signing_service: {}",
            proto_string(&p.signing_service)
        );
    }
    out.push_str("  };\n");
    for m in &p.methods {
        write_method(&mut out, p, m);
    }
    out.push_str("}\n");
    // Messages in method order: request, response, then what they reach.
    let mut order = Vec::new();
    let mut seen = vec![false; p.messages.len()];
    fn visit(p: &Product, id: usize, seen: &mut Vec<bool>, order: &mut Vec<usize>) {
        if seen[id] {
            return;
        }
        seen[id] = true;
        order.push(id);
        for f in &p.messages[id].fields {
            let mut t = &f.ty;
            if let Type::Map(v) = t {
                t = v;
            }
            if let Type::Message(child) = t {
                visit(p, *child, seen, order);
            }
        }
    }
    for m in &p.methods {
        visit(p, m.request, &mut seen, &mut order);
        visit(p, m.response, &mut seen, &mut order);
    }
    for id in order {
        write_message(&mut out, p, &p.messages[id]);
    }
    out
}
