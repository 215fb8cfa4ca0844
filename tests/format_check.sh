#!/usr/bin/env bash
# Fails when a tracked C++ file is not formatted as .clang-format says. Lists the offenders.
set -u
clang_format=${1:-clang-format}
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    '*.cpp' '*.hpp' '*.h' '*.cc' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
else
  mapfile -t files < <(find kernel sdk plugins frontends tools tests \
    -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc')
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "format_check: no C++ files found" >&2
  exit 1
fi
bad=0
for f in "${files[@]}"; do
  if ! "$clang_format" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: $clang_format -i $f)"
    bad=$((bad + 1))
  fi
done
echo "format_check: ${#files[@]} files, $bad not formatted"
[ "$bad" -eq 0 ]
