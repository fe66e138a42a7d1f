#!/bin/sh
# Regenerates the manual page and the shell completions.
#
# Both are rendered by ncrab itself (`ncrab --generate WHAT`) from the one
# definition of its options (src/cli/options.rs) and the manual's hand-written text
# (src/cli/manual.rs). Run this after changing either, and commit the result:
# tests/docs.rs fails while a committed file differs from what the code
# generates.
#
#   man/generate.sh
set -eu
cd "$(dirname "$0")/.."

cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/ncrab"

mkdir -p man completions
while read -r what file; do
    "$bin" --generate "$what" > "$file.tmp"
    mv "$file.tmp" "$file"
    echo "wrote $file"
done <<LIST
man man/ncrab.1
bash completions/ncrab.bash
zsh completions/_ncrab
fish completions/ncrab.fish
elvish completions/ncrab.elv
powershell completions/_ncrab.ps1
LIST
