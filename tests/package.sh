#!/usr/bin/env bash
# Builds the deployment zip with scripts/package and checks it:
#   - it holds exactly host.json, functions/*/function.json and handler (nothing else: no
#     target/, no .git), with handler executable (mode 755 in the zip);
#   - the handler unpacked from it starts as the Functions host starts it
#     (FUNCTIONS_CUSTOMHANDLER_PORT=<port> ./handler handler), answers GET / within 20 s, and
#     exits after SIGTERM.
# Usage: tests/package.sh [--no-build]   (passed to scripts/package). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
finish() {
  echo "package tests: $passed passed, $failed failed"
  ((failed == 0))
}

zip_path="$(scripts/package "$@" | tail -n 1)"
[[ "$zip_path" == "dist/azcops-functions.zip" && -f "$zip_path" ]] || {
  fail "scripts/package did not produce dist/azcops-functions.zip (got '$zip_path')"
  finish
  exit 1
}
ok "scripts/package built $zip_path ($(du -h "$zip_path" | cut -f1))"

# --- contents
expected="$(
  {
    echo host.json
    ls functions/*/function.json
    echo handler
  } | sort
)"
actual="$(python3 -c 'import sys, zipfile; print("\n".join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))' "$zip_path")"
if [[ "$actual" == "$expected" ]]; then
  ok "zip holds exactly: $(tr '\n' ' ' <<<"$actual")"
else
  fail "zip contents differ from the expected ones"
  diff <(echo "$expected") <(echo "$actual") >&2 || true
fi
if grep -Eq '(^|/)(target|\.git|\.local|src)(/|$)' <<<"$actual"; then
  fail "zip holds build or repository files"
else
  ok "no target/, .git, .local or src in the zip"
fi
mode="$(python3 -c 'import sys, zipfile; print(oct((zipfile.ZipFile(sys.argv[1]).getinfo("handler").external_attr >> 16) & 0o777))' "$zip_path")"
if [[ "$mode" == "0o755" ]]; then ok "handler is stored with mode 755"; else fail "handler is stored with mode $mode"; fi
if python3 -c 'import json, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); d = json.loads(z.read("host.json")); assert d["customHandler"]["description"]["defaultExecutablePath"] == "handler"' "$zip_path"; then
  ok "host.json in the zip names handler"
else
  fail "host.json in the zip does not name handler"
fi

# --- the unpacked handler starts as the host starts it
work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Unpack with Python, applying the stored Unix modes (as unzip does).
python3 - "$zip_path" "$work" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for info in z.infolist():
    path = z.extract(info, sys.argv[2])
    mode = (info.external_attr >> 16) & 0o777
    if mode:
        os.chmod(path, mode)
PY
if [[ -x "$work/handler" ]] && file_type="$(head -c 4 "$work/handler" | od -An -c | tr -d ' ')" && [[ "$file_type" == "177ELF" ]]; then
  ok "unpacked handler is an executable ELF file"
else
  fail "unpacked handler is not an executable ELF file"
fi

# What is deployed cannot mint tokens: the development identity provider is azure-sim's alone.
if "$work/handler" dev-idp --help >/dev/null 2>&1; then
  fail "the packaged handler still has a dev-idp subcommand"
else
  ok "the packaged handler has no dev-idp subcommand (it cannot mint tokens)"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
(
  cd "$work"
  exec env FUNCTIONS_CUSTOMHANDLER_PORT="$port" AZCOPS_AUTH_MODE=disabled \
    DATABASE_URL=postgres://postgres@127.0.0.1:1/x AZCOPS_LOG_FORMAT=text RUST_LOG=warn \
    ./handler handler
) >"$work/handler.log" 2>&1 &
pid=$!

answered=""
for _ in $(seq 1 40); do
  if body="$(curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null)"; then
    answered=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if [[ -n "$answered" ]]; then
  ok "handler answered GET / on port $port: $body"
else
  fail "handler did not answer GET / on port $port within 20 s; its log:"
  cat "$work/handler.log" >&2 || true
fi

if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  code=""
  for _ in $(seq 1 40); do
    if ! kill -0 "$pid" 2>/dev/null; then
      code=0
      wait "$pid" || code=$?
      break
    fi
    sleep 0.25
  done
  if [[ -z "$code" ]]; then
    fail "handler still running 10 s after SIGTERM"
  elif [[ "$code" == 0 ]]; then
    ok "handler exited with code 0 after SIGTERM"
  else
    fail "handler exited with code $code after SIGTERM; its log:"
    cat "$work/handler.log" >&2 || true
  fi
  pid=""
else
  fail "handler exited before SIGTERM"
fi

finish
