// What an exchange costs inside V8, without Envoy: each module of the spec
// runs the same calls Envoy makes for one exchange (context create, request
// headers, response headers, delete) against a lean emulated host, in
// Node's V8 with Liftoff off, as Envoy runs its V8. Rounds interleave the
// modules, so that drift of the machine spreads over all of them.
// The spec is JSON (BenchmarkExchangeInV8 in crossings_bench_test.go
// writes it): Modules [{Name, Path, Config}], the serialized request and
// response pairs (base64) and their counts, the upstream address, warm-up
// exchanges, exchanges per round, rounds. One line of JSON per module and
// round on stdout: {Module, Round, NS} (ns per exchange).
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const reqPairs = Buffer.from(spec.Request, 'base64');
const respPairs = Buffer.from(spec.Response, 'base64');
const upstream = Buffer.from(spec.Upstream);
const enc = new TextEncoder();

function start(m) {
  const module = new WebAssembly.Module(readFileSync(m.Path));
  const config = enc.encode(m.Config);
  let exports;
  const mem = () => exports.memory.buffer;
  const give = (data, retPtr, retSize) => {
    const alloc = exports.proxy_on_memory_allocate || exports.malloc;
    const p = alloc(data.length) >>> 0;
    new Uint8Array(mem(), p, data.length).set(data);
    const dv = new DataView(mem());
    dv.setUint32(retPtr, p, true);
    dv.setUint32(retSize, data.length, true);
    return 0;
  };
  let metrics = 0;
  const host = {
    proxy_get_buffer_bytes: (type, start, max, retPtr, retSize) => give(config, retPtr, retSize),
    proxy_get_header_map_pairs: (type, retPtr, retSize) => give(type === 2 ? respPairs : reqPairs, retPtr, retSize),
    proxy_get_property: (pathPtr, pathLen, retPtr, retSize) => {
      const path = Buffer.from(mem(), pathPtr, pathLen).toString('latin1');
      return path === 'upstream\0address' ? give(upstream, retPtr, retSize) : 1;
    },
    proxy_replace_header_map_value: (type, kPtr, kLen, vPtr, vLen) => {
      const v = Buffer.from(mem(), vPtr, vLen);
      if (!v.equals(upstream)) throw new Error(`${m.Name} pinned to ${v}, want ${upstream}`);
      return 0;
    },
    proxy_define_metric: (type, namePtr, nameLen, retId) => {
      new DataView(mem()).setUint32(retId, ++metrics, true);
      return 0;
    },
  };
  const env = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === 'env') env[imp.name] = host[imp.name] || (() => 0);
  }
  const wasi = new WASI({ version: 'preview1', returnOnExit: true });
  const instance = new WebAssembly.Instance(module, { env, ...wasi.getImportObject() });
  exports = instance.exports;
  wasi.initialize(instance);
  exports.proxy_on_context_create(1, 0);
  exports.proxy_on_vm_start(1, 0);
  if (exports.proxy_on_configure(1, config.length) !== 1) throw new Error(`${m.Name}: plugin start failed`);
  let next = 2;
  const nReq = spec.RequestCount, nResp = spec.ResponseCount;
  const x = exports;
  return (n) => {
    for (let i = 0; i < n; i++) {
      const id = next++;
      x.proxy_on_context_create(id, 1);
      x.proxy_on_request_headers(id, nReq, 1);
      x.proxy_on_response_headers(id, nResp, 0);
      x.proxy_on_delete(id);
    }
  };
}

const runs = spec.Modules.map((m) => ({ name: m.Name, run: start(m) }));
for (const r of runs) r.run(spec.Warmup); // TurboFan has compiled it all; buffers grown
for (let round = 1; round <= spec.Rounds; round++) {
  for (const r of runs) {
    const t0 = process.hrtime.bigint();
    r.run(spec.Exchanges);
    const ns = Number(process.hrtime.bigint() - t0) / spec.Exchanges;
    console.log(JSON.stringify({ Module: r.name, Round: round, NS: ns }));
  }
}
