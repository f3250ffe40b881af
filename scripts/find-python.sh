#!/usr/bin/env bash
# Prints the path of a Python >= 3.13 interpreter: PATH first, then pyenv's versions.
# A pyenv shim that refuses to run (version not selected) is skipped, not trusted.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1; }

for name in python3.14 python3.13 python3 python; do
  path=$(command -v "$name" 2>/dev/null) || continue
  if ok "$path"; then "$path" -c 'import sys; print(sys.executable)'; exit 0; fi
done

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for path in $(ls -d "$root"/versions/3.*/bin/python3.* 2>/dev/null | grep -E '/python3\.[0-9]+$' | sort -rV); do
  if ok "$path"; then echo "$path"; exit 0; fi
done

echo "bucketd needs Python >= 3.13: none on PATH nor under pyenv ($root/versions)." >&2
echo "Install one (e.g. 'pyenv install 3.13') and run this again." >&2
exit 1
