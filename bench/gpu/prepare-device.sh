#!/usr/bin/env bash
# Packs what a GPU device machine needs to run batchlab's GPU checks, into .gpu/ (git-ignored): the
# device machines have PyTorch, Lightning and JAX but no Node. Run from the repository root of a built
# checkout (npm ci done):
#
#   bash bench/gpu/prepare-device.sh
#
# .gpu/node.xz         this machine's Node binary, xz-compressed (about 24 MB)
# .gpu/batchlab.mjs    batchlab's CLI bundled into one file (esbuild), better-sqlite3 left outside
# .gpu/node_modules/   better-sqlite3 with its native build, and the two packages it loads it with
# .gpu/go.sh           a copy of bench/gpu/device-go.sh, the script the device runs
#
# Then, with the device tool: command "bash .gpu/go.sh", carry [".gpu"], timeout about 370 s. go.sh runs
# bench/gpu/resnet18-capped/run.sh (issue 17's check) with the bundle and leaves results.tgz in $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] || {
  echo "prepare-device: node_modules/better-sqlite3 has no native build: run npm ci first" >&2
  exit 2
}
echo "prepare-device: building (npm run build)"
npm run build --silent  # the bundle takes dist/ as it is: never pack a stale build
mkdir -p .gpu/node_modules
echo "prepare-device: compressing $(node -p process.execPath) (about half a minute)"
xz -T0 -6 -c "$(node -p process.execPath)" > .gpu/node.xz  # the binary itself, not a version manager's shim
npx esbuild bin/batchlab.js --bundle --platform=node --format=esm --target=node20 --minify \
  --external:better-sqlite3 --outfile=.gpu/batchlab.mjs \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" --log-level=error
for pkg in better-sqlite3 bindings file-uri-to-path; do
  rm -rf ".gpu/node_modules/$pkg"
  cp -r "node_modules/$pkg" ".gpu/node_modules/$pkg"
done
# Only the addon itself is needed to run: its sources and the build's objects are most of the 22 MB.
rm -rf .gpu/node_modules/better-sqlite3/deps .gpu/node_modules/better-sqlite3/src
find .gpu/node_modules/better-sqlite3/build -mindepth 1 -maxdepth 2 ! -name better_sqlite3.node ! -name Release -exec rm -rf {} +
cp bench/gpu/device-go.sh .gpu/go.sh
echo "prepare-device: bundled; checking the bundle and its SQLite addon"
# Before it travels: the bundle starts, and the addon it will load (from .gpu/node_modules) opens a database.
node .gpu/batchlab.mjs --version >/dev/null
node --input-type=module -e "
import { createRequire } from 'node:module';
const require = createRequire('$PWD/.gpu/batchlab.mjs');
const at = require.resolve('better-sqlite3');
if (!at.startsWith('$PWD/.gpu/')) throw new Error('better-sqlite3 resolves outside .gpu: ' + at);
new (require('better-sqlite3'))(':memory:').close();
"
du -sh .gpu | awk '{print "prepare-device: .gpu is " $1 " (the carry limit is 64 MiB)"}'
