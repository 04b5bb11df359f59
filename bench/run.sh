#!/bin/bash
# `npm run bench [-- section ...]`: save, endpoint, memory, browser (bench/run.ts)
# and deployment (bench/deployment.ts); every section when none is named.
set -euo pipefail
main=()
deployment=0
for section in "$@"; do
  if [ "$section" = deployment ]; then deployment=1; else main+=("$section"); fi
done
if [ $# -eq 0 ] || [ ${#main[@]} -gt 0 ]; then node --import tsx bench/run.ts "${main[@]}"; fi
if [ $# -eq 0 ] || [ $deployment = 1 ]; then node --import tsx bench/deployment.ts; fi
