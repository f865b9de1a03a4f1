#!/usr/bin/env node
// Calls cloudgate with @grpc/grpc-js, loading the repository's proto/ at run time
// with @grpc/proto-loader (no generated code).
//
// Usage: node client.js [HOST:PORT]
// The address is the argument, else $CLOUDGATE_ADDR, else 127.0.0.1:50051.
//
// Makes four calls:
//   1. Sddp DescribeUserStatus (Alibaba Cloud), a read;
//   2. DLC ModifyUserType (Tencent Cloud) in region ap-singapore (metadata x-cloud-region);
//   3. BssOpenApi SetResellerUserStatus with invalid fields, on purpose, and prints
//      the rich error details: the google.rpc.Status that cloudgate sends in the
//      `grpc-status-details-bin` trailer (ErrorInfo reason/metadata, BadRequest
//      field violations, and any RetryInfo, QuotaFailure or cloudgate VendorError);
//   4. Sddp DescribeUserStatus with an unknown credential profile (metadata
//      x-cloud-profile), on purpose: ErrorInfo reason UNKNOWN_PROFILE, metadata profile.
// Exits 0 when all four behave as expected, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const googleProtoFiles = require('google-proto-files');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
const TIMEOUT_MS = 10000; // sent as grpc-timeout: bounds the whole call, vendor round trip included

// The services: every .proto file the gateway is built from, as found in proto/.
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
const packageDefinition = protoLoader.loadSync(protoFiles(PROTO_ROOT), {
  includeDirs: [PROTO_ROOT],
  keepCase: true, // field names as in the proto (owner_id), like grpcurl's input
  longs: String, // int64 as strings: no precision loss
  enums: String,
  defaults: true,
  oneofs: true,
});
const api = grpc.loadPackageDefinition(packageDefinition);

// The error details: google.rpc.Status and google.rpc.*  from google-proto-files,
// cloudgate.v1.VendorError from proto/cloudgate/v1/options.proto.
const detailsRoot = new protobuf.Root();
detailsRoot.resolvePath = (origin, target) => {
  for (const dir of [PROTO_ROOT, path.dirname(googleProtoFiles.getProtoPath())]) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return protobuf.util.path.resolve(origin, target);
};
detailsRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto', 'cloudgate/v1/options.proto']);
const Status = detailsRoot.lookupType('google.rpc.Status');

// Decodes the google.rpc.Status of a failed call (null if the server sent none)
// and its details; each detail is {type, value} with value a plain object.
function richStatus(err) {
  const bins = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (!bins.length) return null;
  const status = Status.decode(bins[0]);
  const details = status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    let type;
    try {
      type = detailsRoot.lookupType(typeName);
    } catch {
      return { type: typeName, value: null };
    }
    const value = type.toObject(type.decode(any.value), { longs: String, defaults: true });
    return { type: typeName, value };
  });
  return { code: status.code, message: status.message, details };
}

function printError(err) {
  console.log(`  code: ${grpc.status[err.code]}`);
  console.log(`  message: ${err.details}`);
  const status = richStatus(err);
  if (!status) {
    console.log('  (no rich error details)');
    return [];
  }
  for (const { type, value } of status.details) {
    switch (type) {
      case 'google.rpc.ErrorInfo':
        console.log(
          `  ErrorInfo: reason=${value.reason} domain=${value.domain} metadata=${JSON.stringify(value.metadata)}`,
        );
        break;
      case 'google.rpc.BadRequest':
        for (const v of value.fieldViolations) console.log(`  BadRequest: ${v.field}: ${v.description}`);
        break;
      case 'google.rpc.RetryInfo': {
        const d = value.retryDelay || {};
        console.log(`  RetryInfo: retry after ${Number(d.seconds || 0) + (d.nanos || 0) / 1e9}s`);
        break;
      }
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
  return status.details;
}

// Promisified unary call with a deadline and optional metadata.
function call(client, method, request, metadataPairs = []) {
  const metadata = new grpc.Metadata();
  for (const [k, v] of metadataPairs) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + TIMEOUT_MS }, (err, reply) =>
      err ? reject(err) : resolve(reply),
    );
  });
}

async function main() {
  const addr = process.argv[2] || process.env.CLOUDGATE_ADDR || '127.0.0.1:50051';
  console.log(`cloudgate at ${addr}`);
  const creds = grpc.credentials.createInsecure();
  const sddp = new api.aliyun.sddp.v20190103.Sddp(addr, creds);
  const dlc = new api.tencentcloud.dlc.v20210125.Dlc(addr, creds);
  const bss = new api.aliyun.bssopenapi.v20171214.BssOpenApi(addr, creds);
  let ok = true;

  // 1. A read. Optional fields may be left out; lang picks the reply language.
  try {
    const reply = await call(sddp, 'DescribeUserStatus', { lang: 'en_us' });
    const s = reply.user_status;
    console.log(
      `DescribeUserStatus: ok request_id=${reply.request_id} purchased=${s.purchased} ` +
        `instance_id=${s.instance_id} charge_type=${s.charge_type} remain_days=${s.remain_days}`,
    );
    ok = ok && Boolean(reply.request_id);
  } catch (err) {
    console.log('DescribeUserStatus: failed');
    printError(err);
    ok = false;
  }

  // 2. A Tencent Cloud mutation, in a region chosen per call by metadata.
  try {
    const reply = await call(dlc, 'ModifyUserType', { user_id: '100021240181', user_type: 'ADMIN' }, [
      ['x-cloud-region', 'ap-singapore'],
    ]);
    console.log(`ModifyUserType: ok request_id=${reply.request_id}`);
    ok = ok && Boolean(reply.request_id);
  } catch (err) {
    console.log('ModifyUserType: failed');
    printError(err);
    ok = false;
  }

  // 3. Invalid on purpose: cloudgate refuses it before calling the vendor and
  //    names every bad field in a google.rpc.BadRequest.
  try {
    await call(bss, 'SetResellerUserStatus', { owner_id: '12ab', status: 'Frozen' });
    console.log('SetResellerUserStatus (invalid on purpose): unexpectedly succeeded');
    ok = false;
  } catch (err) {
    console.log('SetResellerUserStatus (invalid on purpose): refused');
    const details = printError(err);
    const fields = details
      .filter((d) => d.type === 'google.rpc.BadRequest')
      .flatMap((d) => d.value.fieldViolations.map((v) => v.field));
    const reasons = details.filter((d) => d.type === 'google.rpc.ErrorInfo').map((d) => d.value.reason);
    ok =
      ok &&
      err.code === grpc.status.INVALID_ARGUMENT &&
      fields.join(',') === 'owner_id,status,business_type' &&
      reasons.join(',') === 'INVALID_REQUEST';
  }

  // 4. A credential profile the gateway does not know (metadata x-cloud-profile):
  //    ErrorInfo carries the reason and metadata naming the profile.
  try {
    await call(sddp, 'DescribeUserStatus', {}, [['x-cloud-profile', 'no-such-profile']]);
    console.log('DescribeUserStatus (unknown profile on purpose): unexpectedly succeeded');
    ok = false;
  } catch (err) {
    console.log('DescribeUserStatus (unknown profile on purpose): refused');
    const infos = printError(err).filter((d) => d.type === 'google.rpc.ErrorInfo');
    ok =
      ok &&
      err.code === grpc.status.INVALID_ARGUMENT &&
      infos.length === 1 &&
      infos[0].value.reason === 'UNKNOWN_PROFILE' &&
      infos[0].value.metadata.profile === 'no-such-profile';
  }

  for (const client of [sddp, dlc, bss]) client.close();
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
