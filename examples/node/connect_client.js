#!/usr/bin/env node
// Calls cloudgate with a Connect client (@connectrpc/connect-node, JSON over
// HTTP/1.1, no gRPC stack): the same four calls as client.js, on the same port.
// The schema is the repository's proto/ read at run time (protobufjs) and handed
// to @bufbuild/protobuf as a registry, so no generated code is needed.
//
// Usage: node connect_client.js [HOST:PORT]
// The address is the argument, else $CLOUDGATE_ADDR, else 127.0.0.1:50051.
// Exits 0 when all four calls behave as expected, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');
require('protobufjs/ext/descriptor');
const googleProtoFiles = require('google-proto-files');
const { createFileRegistry, fromBinary, toJson } = require('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt');
const { Code, ConnectError, createClient } = require('@connectrpc/connect');
const { createConnectTransport } = require('@connectrpc/connect-node');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
const TIMEOUT_MS = 10000; // sent as Connect-Timeout-Ms: bounds the whole call

function protoFiles(dir, prefix = '') {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? protoFiles(path.join(dir, e.name), `${prefix}${e.name}/`)
        : e.name.endsWith('.proto')
          ? [`${prefix}${e.name}`]
          : [],
    )
    .sort();
}

// proto/ and google.rpc's error details as a @bufbuild/protobuf registry. protobufjs
// writes type references relative to their scope and folds the cloudgate.v1 option
// extensions into google.protobuf's messages; the registry wants fully qualified
// references, and a client needs no options, so those are dropped.
function registry() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of [PROTO_ROOT, path.dirname(googleProtoFiles.getProtoPath())]) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync([...protoFiles(PROTO_ROOT), 'google/rpc/error_details.proto']);
  root.resolveAll();
  const bytes = protobuf.descriptor.FileDescriptorSet.encode(root.toDescriptor('proto3')).finish();
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  const known = new Map(); // fully qualified type name -> its file
  const collect = (file, scope, messages, enums) => {
    for (const e of enums) known.set(`${scope}.${e.name}`, file);
    for (const m of messages) {
      known.set(`${scope}.${m.name}`, file);
      collect(file, `${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  const scopeOf = (file) => (file.package ? `.${file.package}` : '');
  for (const f of set.file) collect(f, scopeOf(f), f.messageType, f.enumType);
  const qualify = (scope, name) => {
    if (!name || name.startsWith('.')) return name;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (known.has(`${s}.${name}`)) return `${s}.${name}`;
      if (!s) throw new Error(`cannot resolve type ${name} from ${scope}`);
    }
  };
  const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  const fix = (scope, messages) => {
    for (const m of messages) {
      const s = `${scope}.${m.name}`;
      m.field = m.field.filter((f) => !f.name.startsWith('.'));
      m.extension = [];
      for (const f of m.field) {
        f.typeName = qualify(s, f.typeName);
        f.jsonName = f.jsonName || camel(f.name);
      }
      fix(s, m.nestedType);
    }
  };
  for (const f of set.file) {
    const scope = scopeOf(f);
    f.extension = [];
    fix(scope, f.messageType);
    for (const svc of f.service) {
      for (const m of svc.method) {
        m.inputType = qualify(scope, m.inputType);
        m.outputType = qualify(scope, m.outputType);
      }
    }
  }
  // The registry adds files in order: each after the files it uses.
  const uses = (f) => {
    const refs = [];
    const walk = (messages) => {
      for (const m of messages) {
        for (const field of m.field) if (field.typeName) refs.push(field.typeName);
        walk(m.nestedType);
      }
    };
    walk(f.messageType);
    for (const svc of f.service) for (const m of svc.method) refs.push(m.inputType, m.outputType);
    return new Set(refs.map((r) => known.get(r)).filter((d) => d && d !== f));
  };
  const ordered = [];
  const visit = (f, seen = new Set()) => {
    if (ordered.includes(f) || seen.has(f)) return;
    seen.add(f);
    for (const dep of uses(f)) visit(dep, seen);
    ordered.push(f);
  };
  for (const f of set.file) visit(f);
  set.file = ordered;
  return createFileRegistry(set);
}

const reg = registry();

// The details of a Connect error as {type, value}, value the detail as proto3 JSON.
function details(err) {
  return err.details.map((d) => {
    const desc = reg.getMessage(d.type);
    if (!desc) return { type: d.type, value: d.debug ?? null };
    return { type: d.type, value: toJson(desc, fromBinary(desc, d.value)) };
  });
}

// Connect's code names are gRPC's: InvalidArgument is INVALID_ARGUMENT.
const codeName = (code) => Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

function printError(e) {
  const err = ConnectError.from(e);
  console.log(`  code: ${codeName(err.code)}`);
  console.log(`  message: ${err.rawMessage}`);
  const list = details(err);
  if (!list.length) console.log('  (no rich error details)');
  for (const { type, value } of list) {
    switch (type) {
      case 'google.rpc.ErrorInfo':
        console.log(
          `  ErrorInfo: reason=${value.reason} domain=${value.domain} metadata=${JSON.stringify(value.metadata || {})}`,
        );
        break;
      case 'google.rpc.BadRequest':
        for (const v of value.fieldViolations) console.log(`  BadRequest: ${v.field}: ${v.description}`);
        break;
      case 'google.rpc.RetryInfo':
        console.log(`  RetryInfo: retry after ${value.retryDelay}`);
        break;
      case 'google.rpc.QuotaFailure':
        for (const v of value.violations) console.log(`  QuotaFailure: ${v.subject}: ${v.description}`);
        break;
      case 'cloudgate.v1.VendorError':
        console.log(
          `  VendorError: vendor=${value.vendor} code=${value.code} message=${JSON.stringify(value.message)} request_id=${value.requestId}`,
        );
        break;
      default:
        console.log(`  detail of another type: ${type}`);
    }
  }
  return { code: err.code, details: list };
}

async function main() {
  const addr = process.argv[2] || process.env.CLOUDGATE_ADDR || '127.0.0.1:50051';
  console.log(`cloudgate at ${addr}`);
  // Connect with JSON bodies over plain HTTP/1.1, the gRPC port.
  const transport = createConnectTransport({ baseUrl: `http://${addr}`, httpVersion: '1.1' });
  const client = (name) => createClient(reg.getService(name), transport);
  const sddp = client('aliyun.sddp.v20190103.Sddp');
  const dlc = client('tencentcloud.dlc.v20210125.Dlc');
  const bss = client('aliyun.bssopenapi.v20171214.BssOpenApi');
  const opts = (headers = {}) => ({ timeoutMs: TIMEOUT_MS, headers });
  let ok = true;

  // 1. A read.
  try {
    const reply = await sddp.describeUserStatus({ lang: 'en_us' }, opts());
    const s = reply.userStatus;
    console.log(
      `DescribeUserStatus: ok request_id=${reply.requestId} purchased=${s.purchased} ` +
        `instance_id=${s.instanceId} charge_type=${s.chargeType} remain_days=${s.remainDays}`,
    );
    ok = ok && Boolean(reply.requestId);
  } catch (err) {
    console.log('DescribeUserStatus: failed');
    printError(err);
    ok = false;
  }

  // 2. A Tencent Cloud mutation, in a region chosen per call by a header.
  try {
    const reply = await dlc.modifyUserType(
      { userId: '100021240181', userType: 'ADMIN' },
      opts({ 'x-cloud-region': 'ap-singapore' }),
    );
    console.log(`ModifyUserType: ok request_id=${reply.requestId}`);
    ok = ok && Boolean(reply.requestId);
  } catch (err) {
    console.log('ModifyUserType: failed');
    printError(err);
    ok = false;
  }

  // 3. Invalid on purpose: refused before any vendor call, every bad field named.
  try {
    await bss.setResellerUserStatus({ ownerId: '12ab', status: 'Frozen' }, opts());
    console.log('SetResellerUserStatus (invalid on purpose): unexpectedly succeeded');
    ok = false;
  } catch (err) {
    console.log('SetResellerUserStatus (invalid on purpose): refused');
    const { code, details: list } = printError(err);
    const fields = list
      .filter((d) => d.type === 'google.rpc.BadRequest')
      .flatMap((d) => d.value.fieldViolations.map((v) => v.field));
    const reasons = list.filter((d) => d.type === 'google.rpc.ErrorInfo').map((d) => d.value.reason);
    ok =
      ok &&
      code === Code.InvalidArgument &&
      fields.join(',') === 'owner_id,status,business_type' &&
      reasons.join(',') === 'INVALID_REQUEST';
  }

  // 4. A credential profile the gateway does not know (header x-cloud-profile).
  try {
    await sddp.describeUserStatus({}, opts({ 'x-cloud-profile': 'no-such-profile' }));
    console.log('DescribeUserStatus (unknown profile on purpose): unexpectedly succeeded');
    ok = false;
  } catch (err) {
    console.log('DescribeUserStatus (unknown profile on purpose): refused');
    const { code, details: list } = printError(err);
    const infos = list.filter((d) => d.type === 'google.rpc.ErrorInfo');
    ok =
      ok &&
      code === Code.InvalidArgument &&
      infos.length === 1 &&
      infos[0].value.reason === 'UNKNOWN_PROFILE' &&
      infos[0].value.metadata.profile === 'no-such-profile';
  }

  console.log(ok ? 'all calls behaved as expected' : 'SOME CALLS DID NOT BEHAVE AS EXPECTED');
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
